//! Block hashing pipeline and blob stores.
