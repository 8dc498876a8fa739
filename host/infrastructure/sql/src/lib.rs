//! SQLite and PostgreSQL adapters of the repository and unit-of-work ports.
//!
//! One set of SQL serves both databases (`$n` placeholders, BIGINT microsecond timestamps, UUIDs
//! bound natively); the transaction type is instantiated once per backend by a macro, so the
//! repositories are written once. Schema changes live in `migrations/<backend>/`.

mod notify;
mod queries;
mod rows;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod transaction;

pub use notify::{ChangeHub, SqlChangeNotifier};
pub use store::{Backend, SqlError, SqlStore, StoreOptions};
