//! The `logging` host implementation.

use super::LogContext;
use super::bindings::logging::{Host, Level};
use crate::capability::lifecycle::View;

impl Host for View<'_, LogContext> {
    fn panicked(&mut self, message: String) -> wasmtime::Result<()> {
        let message = self.state.secrets.mask(&message);
        wasmtime::bail!("the plugin panicked: {message}")
    }

    fn log(&mut self, level: Level, message: String) {
        let plugin = &*self.state.target;
        let message = if self.state.secrets.is_empty() {
            message
        } else {
            self.state.secrets.mask(&message)
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
