//! Coffer's domain core: entities and value objects with their invariants.
//!
//! This crate performs no I/O and depends on no framework; values are parsed once at the edge
//! ("parse, don't validate") so that everything past a constructor can rely on its invariants.

pub mod account;
mod error;
pub mod files;
pub mod plugins;
pub mod sharing;

pub use error::DomainError;

/// A point in time, always UTC. Adapters truncate it to microseconds (what both databases keep).
pub type Timestamp = chrono::DateTime<chrono::Utc>;
