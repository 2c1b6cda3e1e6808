//! Worker and connector configuration. Key names follow Kafka Connect where
//! a key with the same meaning exists; every key is checked, and a problem is
//! reported with the key's name. The words for problems are shared with the
//! layers below (`configdef`).

pub mod client_security;
pub mod connector;
pub mod definitions;
pub mod distributed;
pub mod listeners;
pub mod pipeline;
pub mod plugin_keys;
pub mod properties;
pub mod sandbox;
pub mod secrets;
pub mod store;
pub mod topic_creation;
pub mod worker;

pub use crate::configdef::{ConfigError, ConfigErrors, list, suggest};
pub use connector::ConnectorConfig;
pub use worker::{RestAuth, WorkerConfig, WorkerMode, read_config_file};
