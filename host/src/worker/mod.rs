//! The worker: turns connector configurations into running tasks, each a
//! plugin instance driven by a source or sink loop on its own thread, and
//! carries out what operators ask over REST (create, reconfigure, pause,
//! resume, stop, restart, delete, offsets) one request at a time.

mod acks;
mod client_health;
mod connector_offsets;
pub mod dead_letter;
pub mod distributed;
pub mod error_policy;
pub mod herder;
pub mod isolation;
mod lifecycle;
pub mod pipeline;
pub mod records;
pub mod sink_task;
pub mod source_task;
pub mod status;
mod subscription;
pub mod task;
pub mod topics;

pub use crate::config::store::TargetState;
pub use connector_offsets::{OffsetChange, OffsetEntry};
pub use herder::{ConnectorEntry, Prepared, Worker, WorkerError};
pub use status::{State, StatusBoard};
pub use task::TaskContext;
pub use topics::ActiveTopics;

use crate::plugin::PluginKind;
use task::TaskLoop;

/// The loop a task of a `kind` plugin runs: the source side (poll, convert,
/// produce, commit once acknowledged) or the sink side (consume, convert,
/// put, flush, commit).
pub fn task_loop(kind: PluginKind) -> TaskLoop {
    match kind {
        PluginKind::Source => source_task::run,
        _ => sink_task::run,
    }
}
