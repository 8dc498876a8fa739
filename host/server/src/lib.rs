//! The `coffer` server: settings, telemetry, the composition root and the command line.

pub mod app;
pub mod cli;
pub mod connections;
pub mod settings;
pub mod telemetry;

pub use app::{Server, StartupError};
pub use settings::Settings;
