//! Sluice: a Kafka Connect-compatible connector host whose connectors,
//! converters and transforms are sandboxed WebAssembly components.

pub mod capability;
pub mod config;
pub mod plugin;
pub mod runtime;
