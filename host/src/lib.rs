//! Sluice: a Kafka Connect-compatible connector host whose connectors,
//! converters and transforms are sandboxed WebAssembly components.

pub mod capability;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod configdef;
pub mod durable;
pub mod kafka;
pub mod logs;
pub mod offsets;
pub mod plugin;
pub mod redact;
pub mod rest;
pub mod runtime;
pub mod worker;
