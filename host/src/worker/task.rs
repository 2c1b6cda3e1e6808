//! One task: the context a source or sink loop runs with, the thread it
//! runs on, and how calls into its plugin are retried or fail the task.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio_util::sync::CancellationToken;

use super::error_policy::ErrorHandler;
use super::isolation::describe_trap;
use super::status::{State, StatusBoard};
use super::topics::ActiveTopics;
use crate::config::{ConnectorConfig, WorkerConfig};
use crate::offsets::OffsetStore;
use crate::plugin::{ConnectorInstance, Identity, Plugin, PluginState, Runtime, WitConfig};
use crate::redact::Secrets;
use crate::runtime::bindings::types::{ConnectError, ErrorKind};
use crate::runtime::limits::{LimitExceeded, Sandbox, TaskMetrics};

/// What a task runs until it is cancelled or fails: the source or the
/// sink loop (`worker::task_loop` picks one by the plugin's kind); the
/// error is the task's trace.
pub type TaskLoop = fn(&TaskContext) -> Result<()>;

/// Everything a task loop needs.
pub struct TaskContext {
    pub connector: Arc<ConnectorConfig>,
    pub task_id: u32,
    pub task_config: WitConfig,
    pub worker: Arc<WorkerConfig>,
    pub runtime: Runtime,
    pub plugin: Arc<Plugin>,
    pub offsets: Arc<dyn OffsetStore>,
    pub cancel: CancellationToken,
    /// For the async Kafka admin calls made from the task's thread.
    pub tokio: tokio::runtime::Handle,
    /// The worker's id (its REST address), part of the sink consumer's
    /// static group membership.
    pub worker_id: String,
    pub topics: ActiveTopics,
    /// The connector's resolved secrets, masked in traces and log lines.
    pub secrets: Arc<Secrets>,
    /// What the task's instances used, kept across restarts.
    pub metrics: Arc<TaskMetrics>,
    /// Where the task says why it is making no progress.
    pub status: StatusBoard,
}

/// A running task, as the worker holds it: how to stop it, and how to wait
/// until it has.
pub struct TaskHandle {
    pub id: u32,
    cancel: CancellationToken,
    done: tokio::task::JoinHandle<()>,
}

/// Starts `ctx`'s loop on a thread of its own and marks it RUNNING. A loop
/// that fails on its own marks the task FAILED with its trace, and is
/// started again after a backoff when the connector's restart policy says
/// so; one that ends because it was asked to stop leaves the state to
/// whoever asked.
pub fn spawn(ctx: TaskContext, status: StatusBoard, run: TaskLoop) -> TaskHandle {
    let id = ctx.task_id;
    let cancel = ctx.cancel.clone();
    status.set_task(&ctx.connector.name, id, State::Running, None);
    let done = tokio::task::spawn_blocking(move || supervise(&ctx, &status, run));
    TaskHandle { id, cancel, done }
}

/// Runs the task's loop until it stops, restarting it after each failure
/// as `task.restart.*` allows: the wait doubles from failure to failure,
/// and starts over once the task has run long enough without failing.
fn supervise(ctx: &TaskContext, status: &StatusBoard, run: TaskLoop) {
    let label = ctx.label();
    let policy = &ctx.connector.sandbox.restart;
    let mut backoff = None;
    loop {
        let started = Instant::now();
        let error = match run(ctx) {
            Ok(()) => {
                tracing::info!("{label}: stopped");
                return;
            }
            Err(e) => e,
        };
        let trace = ctx.secrets.mask(&format!("{error:?}"));
        tracing::error!("{label}: task failed: {trace}");
        if ctx.cancel.is_cancelled() {
            return;
        }
        if !policy.enabled {
            status.set_task(&ctx.connector.name, ctx.task_id, State::Failed, Some(trace));
            return;
        }
        if started.elapsed() >= policy.reset_after {
            backoff = None;
        }
        let wait = policy.next_backoff(backoff);
        backoff = Some(wait);
        let restarts = ctx.metrics.snapshot().restarts;
        status.set_task(
            &ctx.connector.name,
            ctx.task_id,
            State::Failed,
            Some(format!(
                "{trace}\n\nRestarting in {:.1} s (restart {} of this task; task.restart.enabled=false turns this off)",
                wait.as_secs_f64(),
                restarts + 1
            )),
        );
        let cancelled = ctx.tokio.block_on(async {
            tokio::select! {
                () = ctx.cancel.cancelled() => true,
                () = tokio::time::sleep(wait) => false,
            }
        });
        if cancelled {
            return;
        }
        ctx.metrics.count_restart();
        tracing::info!("{label}: restarting after a failure {wait:?} ago");
        status.set_task(&ctx.connector.name, ctx.task_id, State::Running, None);
    }
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

/// The first wait before retrying a call that failed retriably; it
/// doubles up to `errors.retry.delay.max.ms`.
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Why a plugin call did not succeed.
#[derive(Debug)]
pub enum CallError {
    /// The plugin trapped: its instance is dead and must not be reused.
    Trapped(String),
    /// The plugin broke one of the task's limits (and trapped): not a
    /// record's fault, so the task fails rather than isolating a record.
    LimitExceeded(String),
    /// The plugin returned an error (fatal, or retriable past
    /// `errors.retry.timeout`), naming a record of the call's batch or not.
    Failed {
        message: String,
        record: Option<u32>,
        /// The error was retriable: the plugin asked for the whole call
        /// again, so none of the batch was accepted, not even the records
        /// before the one it named.
        retriable: bool,
    },
}

impl TaskContext {
    /// The task's name, as Kafka Connect writes it: `<connector>-<task>`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.connector.name, self.task_id)
    }

    /// A fresh plugin instance with the connector's grants.
    pub fn instantiate(&self) -> Result<ConnectorInstance> {
        ConnectorInstance::new(
            &self.runtime,
            &self.plugin.component,
            self.plugin.kind,
            self.plugin_state()?,
        )
    }

    /// The store state of a plugin instance of this task: the connector's
    /// grants, its secrets masked, its log lines attributed to the task.
    pub fn plugin_state(&self) -> Result<PluginState> {
        PluginState::new(
            &self.worker.capabilities,
            &self.connector.grants,
            Identity {
                connector: &self.connector.name,
                log_target: &self.label(),
                secrets: Arc::clone(&self.secrets),
            },
            self.sandbox(),
        )
    }

    /// A new instance's share of the task's limits.
    fn sandbox(&self) -> Sandbox {
        Sandbox::new(
            Arc::clone(&self.connector.sandbox.limits),
            Arc::clone(&self.metrics),
        )
    }

    /// How the task's converter, transform and predicate instances get
    /// their stores: attributed to the task and masking its secrets, but
    /// granted nothing, since only connectors reach outside systems.
    pub fn pipeline_state(&self) -> impl Fn() -> PluginState + Clone + Send + 'static {
        let label = self.label();
        let secrets = Arc::clone(&self.secrets);
        let limits = Arc::clone(&self.connector.sandbox.limits);
        let metrics = Arc::clone(&self.metrics);
        move || {
            PluginState::ungranted(
                Identity {
                    connector: "",
                    log_target: &label,
                    secrets: Arc::clone(&secrets),
                },
                Sandbox::new(Arc::clone(&limits), Arc::clone(&metrics)),
            )
        }
    }

    /// Shows in the task's status why it is making no progress while it
    /// is still RUNNING (`None` clears it): see [`StatusBoard::set_trouble`].
    pub fn report_trouble(&self, trouble: Option<String>) {
        let trouble = trouble.map(|t| self.secrets.mask(&t));
        self.status
            .set_trouble(&self.connector.name, self.task_id, trouble);
    }

    /// The task's error policy, ready to handle failed records.
    pub fn error_handler(&self) -> ErrorHandler {
        ErrorHandler::new(
            self.connector.pipeline.errors.clone(),
            &self.connector.name,
            self.task_id,
            Arc::clone(&self.secrets),
        )
    }

    /// Calls the plugin: a trap fails the task (the instance is dead), a
    /// retriable error is retried as [`TaskContext::try_call`] does, a
    /// fatal error fails the task with the plugin's message.
    pub fn call<T>(
        &self,
        what: &str,
        f: impl FnMut() -> wasmtime::Result<Result<T, ConnectError>>,
    ) -> Result<T> {
        match self.try_call(what, f) {
            Ok(value) => Ok(value),
            Err(CallError::Trapped(trap) | CallError::LimitExceeded(trap)) => bail!(
                "the plugin {} trapped in {what}: {trap}",
                self.plugin.metadata.name
            ),
            Err(CallError::Failed { message, .. }) => bail!(
                "{what} failed in plugin {}: {message}",
                self.plugin.metadata.name
            ),
        }
    }

    /// Calls the plugin, retrying a retriable error with exponential
    /// backoff (up to `errors.retry.delay.max.ms` between tries) until
    /// `errors.retry.timeout` has passed or the task is stopped.
    pub fn try_call<T>(
        &self,
        what: &str,
        mut f: impl FnMut() -> wasmtime::Result<Result<T, ConnectError>>,
    ) -> Result<T, CallError> {
        let policy = &self.connector.pipeline.errors;
        let started = Instant::now();
        let since = chrono::Utc::now().format("%H:%M:%S UTC");
        let mut backoff = FIRST_RETRY_BACKOFF.min(policy.retry_delay_max);
        let mut tries = 0u32;
        loop {
            tries += 1;
            match f() {
                Ok(Ok(value)) => {
                    if tries > 1 {
                        self.report_trouble(None);
                    }
                    return Ok(value);
                }
                Err(trap) if LimitExceeded::caused(&trap) => {
                    return Err(CallError::LimitExceeded(describe_trap(&trap)));
                }
                Err(trap) => return Err(CallError::Trapped(describe_trap(&trap))),
                Ok(Err(e)) => {
                    let message = self.secrets.mask(&e.message);
                    let in_time = policy
                        .retry_timeout
                        .is_none_or(|limit| started.elapsed() + backoff <= limit);
                    if e.kind == ErrorKind::Retriable && in_time && !self.cancel.is_cancelled() {
                        tracing::warn!(
                            "{}: {what} failed, retrying in {backoff:?}: {message}",
                            self.label()
                        );
                        // A time rather than a duration: the next try may
                        // block (a connect to an unanswering host) and
                        // leave this note up for a while.
                        self.report_trouble(Some(format!(
                            "{what} has been failing since {since} ({tries} tries so far), \
                             retrying (errors.retry.timeout bounds this): {message}"
                        )));
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(policy.retry_delay_max);
                        continue;
                    }
                    let message = if e.kind == ErrorKind::Retriable && !in_time {
                        format!(
                            "{message} (still failing after retrying for {:?}, errors.retry.timeout)",
                            started.elapsed()
                        )
                    } else {
                        message
                    };
                    if tries > 1 {
                        self.report_trouble(None);
                    }
                    return Err(CallError::Failed {
                        message,
                        record: e.record,
                        retriable: e.kind == ErrorKind::Retriable,
                    });
                }
            }
        }
    }
}
