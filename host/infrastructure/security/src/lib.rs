//! Security adapters: argon2id password hashing, random secrets with SHA-256 digests, an
//! in-process login throttle, the system clock and time-ordered ids.

mod clock;
mod passwords;
mod secrets;
mod throttle;

pub use clock::{SystemClock, UuidV7Ids};
pub use passwords::{Argon2Hasher, Argon2Params};
pub use secrets::RandomSecrets;
pub use throttle::{InMemoryLoginThrottle, ThrottleRules};
