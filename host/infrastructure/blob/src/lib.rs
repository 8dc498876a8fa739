//! Block hashing pipeline and blob stores.
//!
//! - [`Sha256BlockHasher`] cuts uploads into 4 MiB blocks and hashes them on a thread of its own.
//! - [`LocalBlobStore`] keeps blocks as files on a local disk.
//! - [`S3BlobStore`] keeps blocks as objects in an S3-compatible bucket.
//! - [`DiskScratch`] holds bodies that are checked whole before they are kept.

mod hasher;
mod local;
mod s3;
mod scratch;
#[cfg(feature = "testing")]
pub mod testing;

pub use hasher::Sha256BlockHasher;
pub use local::LocalBlobStore;
pub use s3::{S3BlobStore, S3Settings, S3Timeouts};
pub use scratch::DiskScratch;
