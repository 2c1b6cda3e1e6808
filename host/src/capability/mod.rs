//! Host capabilities a plugin can be granted. Each is a module of the same
//! shape: `mod.rs` holds the worker-level configuration, the per-connector
//! grant and the linking; `host.rs` (where there is one) the `Host` impl of
//! the generated WIT trait.

pub mod files;
pub mod logging;
pub mod sql;
