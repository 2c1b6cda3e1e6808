//! The `logging` host implementation.

use crate::runtime::PluginState;
use crate::runtime::bindings::logging::{Host, Level};

impl Host for PluginState {
    fn panicked(&mut self, message: String) -> wasmtime::Result<()> {
        let message = self.secrets.mask(&message);
        wasmtime::bail!("the plugin panicked: {message}")
    }

    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.log_target;
        let message = if self.secrets.is_empty() {
            message
        } else {
            self.secrets.mask(&message)
        };
        match level {
            Level::Trace => tracing::trace!(target: "sluice::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "sluice::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "sluice::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "sluice::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "sluice::plugin", plugin, "{message}"),
        }
    }
}
