//! Plugins: administration (install, configure, enable, order, limits, dry runs, audit) and
//! [`PluginHost`], through which the file use cases run hooks.

mod admin;
mod host;
mod schema;

use crate::Ports;

pub use admin::{DryRunInput, DryRunReport, MAX_AUDIT_PAGE, Manifest, SettingsChange};
pub use host::PluginHost;

/// The plugin administration use cases.
#[derive(Clone)]
pub struct Plugins {
    ports: Ports,
    host: PluginHost,
}

impl Plugins {
    /// Wires the use cases to their ports and the host they administer.
    pub fn new(ports: Ports, host: PluginHost) -> Self {
        Self { ports, host }
    }
}
#[cfg(test)]
mod tests;
