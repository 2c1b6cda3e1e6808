//! One task: the context a source or sink loop runs with, the thread it
//! runs on, and how calls into its plugin are retried or fail the task.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtxBuilder;

use super::status::{State, StatusBoard};
use super::topics::ActiveTopics;
use super::{sink_task, source_task};
use crate::capability::files;
use crate::config::secrets::Secrets;
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::offsets::FileOffsetStore;
use crate::plugin::instance::WitConfig;
use crate::plugin::{ConnectorInstance, Plugin, PluginKind};
use crate::runtime::bindings::types::{ConnectError, ErrorKind, SinkRecord};
use crate::runtime::{PluginState, Runtime};

/// Everything a task loop needs.
pub struct TaskContext {
    pub connector: Arc<ConnectorConfig>,
    pub task_id: u32,
    pub task_config: WitConfig,
    pub worker: Arc<WorkerConfig>,
    pub runtime: Runtime,
    pub plugin: Arc<Plugin>,
    pub offsets: Arc<FileOffsetStore>,
    pub cancel: CancellationToken,
    /// For the async Kafka admin calls made from the task's thread.
    pub tokio: tokio::runtime::Handle,
    /// The worker's id (its REST address), part of the sink consumer's
    /// static group membership.
    pub worker_id: String,
    pub topics: ActiveTopics,
    /// The connector's resolved secrets, masked in traces and log lines.
    pub secrets: Arc<Secrets>,
}

/// A running task, as the worker holds it: how to stop it, and how to wait
/// until it has.
pub struct TaskHandle {
    pub id: u32,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

/// Starts `ctx`'s loop on a thread of its own and marks it RUNNING. A loop
/// that fails on its own marks the task FAILED with its trace; one that
/// ends because it was asked to stop leaves the state to whoever asked.
pub fn spawn(ctx: TaskContext, status: StatusBoard) -> TaskHandle {
    let id = ctx.task_id;
    let cancel = ctx.cancel.clone();
    status.set_task(&ctx.connector.name, id, State::Running, None);
    let done = tokio::task::spawn_blocking(move || {
        let label = ctx.label();
        let outcome = match ctx.plugin.kind {
            PluginKind::Source => source_task::run(&ctx),
            _ => sink_task::run(&ctx),
        };
        match outcome {
            Ok(()) => tracing::info!("{label}: stopped"),
            Err(e) => {
                let trace = ctx.secrets.mask(&format!("{e:?}"));
                tracing::error!("{label}: task failed: {trace}");
                if !ctx.cancel.is_cancelled() {
                    status.set_task(&ctx.connector.name, ctx.task_id, State::Failed, Some(trace));
                }
            }
        }
    });
    TaskHandle { id, cancel, done }
}

/// Stops tasks: each flushes and commits what it can within `grace`; a task
/// still running after that is left to finish on its own and reported.
pub async fn stop_all(tasks: Vec<TaskHandle>, grace: Duration) {
    for task in &tasks {
        task.cancel.cancel();
    }
    let deadline = tokio::time::Instant::now() + grace;
    for task in tasks {
        match tokio::time::timeout_at(deadline, task.done).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("task {} panicked: {e}", task.id),
            Err(_) => tracing::warn!(
                "task {} still running after {grace:?}; it stops on its own once its plugin call returns",
                task.id
            ),
        }
    }
}

/// A plugin's view of the world: the connector's granted roots, its stderr
/// (for panics) and nothing else.
pub fn plugin_state(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    label: &str,
    secrets: Arc<Secrets>,
) -> Result<PluginState> {
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stderr();
    files::preopen(&mut builder, &worker.file_roots, &connector.file_grants)?;
    Ok(PluginState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        log_target: label.into(),
        secrets,
    })
}

/// The longest wait between retries of a call that failed retriably.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5);

impl TaskContext {
    /// The task's name, as Kafka Connect writes it: `<connector>-<task>`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.connector.name, self.task_id)
    }

    /// A fresh plugin instance with the connector's grants.
    pub fn instantiate(&self) -> Result<ConnectorInstance> {
        let state = plugin_state(
            &self.worker,
            &self.connector,
            &self.label(),
            Arc::clone(&self.secrets),
        )?;
        ConnectorInstance::new(
            &self.runtime,
            &self.plugin.component,
            self.plugin.kind,
            state,
        )
    }

    /// Calls the plugin: a trap fails the task (the instance is dead), a
    /// retriable error is retried with backoff until the task is stopped, a
    /// fatal error fails the task with the plugin's message.
    pub fn call<T>(
        &self,
        what: &str,
        f: impl FnMut() -> wasmtime::Result<Result<T, ConnectError>>,
    ) -> Result<T> {
        self.call_with_records(what, &[], f)
    }

    /// As [`TaskContext::call`], for a call that carries sink records: an
    /// error that names a record is reported with its topic, partition and
    /// offset.
    pub fn call_with_records<T>(
        &self,
        what: &str,
        records: &[SinkRecord],
        mut f: impl FnMut() -> wasmtime::Result<Result<T, ConnectError>>,
    ) -> Result<T> {
        let mut backoff = Duration::from_millis(100);
        loop {
            match f() {
                Ok(Ok(value)) => return Ok(value),
                Err(trap) => bail!(
                    "the plugin {} trapped in {what}: {trap:?}",
                    self.plugin.metadata.name
                ),
                Ok(Err(e)) => {
                    let record = e
                        .record
                        .and_then(|i| records.get(i as usize).map(|r| (i, r)))
                        .map(|(i, r)| {
                            format!(
                                " (record {i} of the batch: topic {}, partition {}, offset {})",
                                r.topic, r.partition, r.offset
                            )
                        })
                        .unwrap_or_default();
                    if e.kind == ErrorKind::Retriable && !self.cancel.is_cancelled() {
                        tracing::warn!(
                            "{}: {what} failed, retrying in {backoff:?}: {}{record}",
                            self.label(),
                            self.secrets.mask(&e.message)
                        );
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                        continue;
                    }
                    bail!(
                        "{what} failed in plugin {}: {}{record}",
                        self.plugin.metadata.name,
                        e.message
                    );
                }
            }
        }
    }
}
