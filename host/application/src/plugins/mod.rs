//! Plugins: administration (install, configure, enable, order, limits, dry runs, audit) and
//! [`PluginHost`], through which the file use cases run hooks.

mod admin;
mod host;
mod schema;

use crate::Ports;

pub use admin::{DryRunInput, DryRunReport, MAX_AUDIT_PAGE, Manifest, OPERATOR, SettingsChange};
pub use host::PluginHost;

/// Upload content held in memory (dry runs, plugin tests), readable by scanners.
pub struct ContentInMemory(pub Vec<u8>);

#[async_trait::async_trait]
impl crate::ports::UploadContentReader for ContentInMemory {
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
    async fn read(&self, offset: u64, len: u32) -> Result<Vec<u8>, crate::InfrastructureError> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let end = start.saturating_add(len as usize).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

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
