//! The worker: turns connector configurations into running tasks, each a
//! plugin instance driven by a source or sink loop on its own thread,
//! supervised under one cancellation token.

pub mod convert;
pub mod sink_task;
pub mod source_task;
pub mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::WasiCtxBuilder;

use crate::capability::files;
use crate::config::connector::identity;
use crate::config::{ConfigError, ConfigErrors, ConnectorConfig, WorkerConfig};
use crate::offsets::FileOffsetStore;
use crate::plugin::instance::WitConfig;
use crate::plugin::{ConnectorInstance, Plugin, PluginKind, PluginRegistry, bare_state};
use crate::runtime::bindings::types::{ConnectError, ErrorKind, SinkRecord};
use crate::runtime::{PluginState, Runtime};
pub use status::{State, StatusBoard};

/// Why a connector could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddConnectorError {
    #[error("{0}")]
    Invalid(#[from] ConfigErrors),
    #[error("connector {0} already exists")]
    Duplicate(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What the worker keeps of a running connector.
#[derive(Clone, Debug)]
pub struct ConnectorEntry {
    /// The configuration as given.
    pub config: BTreeMap<String, String>,
    pub kind: PluginKind,
    /// What the connector's `task-configs` returned, one per task.
    pub task_configs: Vec<BTreeMap<String, String>>,
}

/// A standalone worker.
pub struct Worker {
    config: Arc<WorkerConfig>,
    runtime: Runtime,
    plugins: Arc<PluginRegistry>,
    offsets: Arc<FileOffsetStore>,
    status: StatusBoard,
    connectors: std::sync::RwLock<BTreeMap<String, ConnectorEntry>>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
    cancel: CancellationToken,
    worker_id: String,
}

impl Worker {
    /// Loads the plugins and the offset store.
    pub async fn start(config: WorkerConfig) -> Result<Arc<Self>> {
        let runtime = Runtime::new(&config.plugin_cache_dir)?;
        let plugin_path = config.plugin_path.clone();
        let loader = runtime.clone();
        // Compiling components is CPU work; keep it off the async threads.
        let plugins =
            tokio::task::spawn_blocking(move || PluginRegistry::load(&loader, &plugin_path))
                .await
                .context("loading plugins")??;
        let offsets = FileOffsetStore::open(&config.offset_file)?;
        let worker_id = config
            .listener
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Ok(Arc::new(Worker {
            config: Arc::new(config),
            runtime,
            plugins: Arc::new(plugins),
            offsets: Arc::new(offsets),
            status: StatusBoard::default(),
            connectors: Default::default(),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
            cancel: CancellationToken::new(),
            worker_id,
        }))
    }

    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// A connector's configuration, kind and task configurations.
    pub fn connector(&self, name: &str) -> Option<ConnectorEntry> {
        self.connectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The names of the connectors on this worker, in order.
    pub fn connector_names(&self) -> Vec<String> {
        self.connectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub fn plugins(&self) -> &PluginRegistry {
        &self.plugins
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// Checks a connector configuration: the plugin exists, every key is
    /// known and well-typed, grants name defined resources, and the plugin's
    /// own `validate` agrees.
    pub fn validate(
        &self,
        raw: &BTreeMap<String, String>,
    ) -> Result<(Arc<Plugin>, ConnectorConfig), ConfigErrors> {
        let (_, class) = identity(raw)?;
        let plugin = self.plugins.resolve_connector(&class).map_err(|reason| {
            ConfigErrors(vec![ConfigError::invalid(
                "connector.class",
                &class,
                reason,
            )])
        })?;
        let config = ConnectorConfig::check(
            raw,
            plugin.kind,
            &plugin.config_keys,
            &self.config.file_roots,
        )?;
        let issues = ConnectorInstance::new(
            &self.runtime,
            &plugin.component,
            plugin.kind,
            bare_state(&config.name),
        )
        .and_then(|mut instance| Ok(instance.validate(&wit_config(raw))?))
        .map_err(|e| {
            ConfigErrors(vec![ConfigError::invalid(
                "connector.class",
                &class,
                format!("the plugin failed to validate the configuration: {e:#}"),
            )])
        })?;
        if !issues.is_empty() {
            return Err(ConfigErrors(
                issues
                    .into_iter()
                    .map(|issue| {
                        let value = raw.get(&issue.key).cloned().unwrap_or_default();
                        ConfigError::invalid(&issue.key, &value, issue.message)
                    })
                    .collect(),
            ));
        }
        Ok((plugin, config))
    }

    /// Validates a connector, splits it into tasks and starts them.
    pub async fn add_connector(
        &self,
        raw: BTreeMap<String, String>,
    ) -> Result<(), AddConnectorError> {
        let (plugin, config) = self.validate(&raw)?;
        if self.status.get(&config.name).is_some() {
            return Err(AddConnectorError::Duplicate(config.name));
        }
        let config = Arc::new(config);
        let mut instance = ConnectorInstance::new(
            &self.runtime,
            &plugin.component,
            plugin.kind,
            plugin_state(&self.config, &config, &config.name)?,
        )?;
        let task_configs = match instance.task_configs(&wit_config(&config.raw), config.tasks_max) {
            Ok(Ok(configs)) if !configs.is_empty() => configs,
            Ok(Ok(_)) => {
                return Err(anyhow::anyhow!("the connector returned no task configuration").into());
            }
            Ok(Err(e)) => {
                return Err(anyhow::anyhow!(
                    "the connector failed to split its work: {}",
                    e.message
                )
                .into());
            }
            Err(trap) => {
                return Err(
                    anyhow::anyhow!("the connector trapped splitting its work: {trap:?}").into(),
                );
            }
        };
        let count = task_configs.len().min(config.tasks_max as usize) as u32;
        self.connectors
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                config.name.clone(),
                ConnectorEntry {
                    config: config.raw.clone(),
                    kind: plugin.kind,
                    task_configs: task_configs
                        .iter()
                        .take(count as usize)
                        .map(|c| c.iter().cloned().collect())
                        .collect(),
                },
            );
        self.status
            .add_connector(&config.name, plugin.kind, count, &self.worker_id);
        tracing::info!(
            "starting connector {} ({}@{}) with {count} task(s)",
            config.name,
            plugin.metadata.name,
            plugin.metadata.version
        );
        let mut tasks = self.tasks.lock().await;
        for (task_id, task_config) in task_configs.into_iter().take(count as usize).enumerate() {
            let ctx = TaskContext {
                connector: Arc::clone(&config),
                task_id: task_id as u32,
                task_config,
                worker: Arc::clone(&self.config),
                runtime: self.runtime.clone(),
                plugin: Arc::clone(&plugin),
                offsets: Arc::clone(&self.offsets),
                cancel: self.cancel.child_token(),
                tokio: tokio::runtime::Handle::current(),
                worker_id: self.worker_id.clone(),
            };
            let status = self.status.clone();
            status.set_task(&config.name, task_id as u32, State::Running, None);
            tasks.spawn_blocking(move || {
                let label = ctx.label();
                let outcome = match ctx.plugin.kind {
                    PluginKind::Source => source_task::run(&ctx),
                    _ => sink_task::run(&ctx),
                };
                match outcome {
                    Ok(()) => {
                        tracing::info!("{label}: stopped");
                        status.set_task(&ctx.connector.name, ctx.task_id, State::Stopped, None);
                    }
                    Err(e) => {
                        let trace = format!("{e:?}");
                        tracing::error!("{label}: task failed: {trace}");
                        status.set_task(
                            &ctx.connector.name,
                            ctx.task_id,
                            State::Failed,
                            Some(trace),
                        );
                    }
                }
            });
        }
        Ok(())
    }

    /// Stops every task: each flushes and commits what it can within the
    /// graceful timeout; what is still running after that is abandoned.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let mut tasks = self.tasks.lock().await;
        let grace = self.config.task_shutdown_timeout + Duration::from_secs(1);
        let drained = tokio::time::timeout(grace, async {
            while let Some(result) = tasks.join_next().await {
                if let Err(e) = result {
                    tracing::error!("a task thread panicked: {e}");
                }
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!("tasks still running after {grace:?}; abandoning them");
            tasks.abort_all();
        }
    }
}

/// A plugin's view of the world: the connector's granted roots, its stderr
/// (for panics) and nothing else.
fn plugin_state(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    label: &str,
) -> Result<PluginState> {
    let mut builder = WasiCtxBuilder::new();
    builder.inherit_stderr();
    files::preopen(&mut builder, &worker.file_roots, &connector.file_grants)?;
    Ok(PluginState {
        wasi: builder.build(),
        table: ResourceTable::new(),
        log_target: label.into(),
    })
}

fn wit_config(raw: &BTreeMap<String, String>) -> WitConfig {
    raw.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

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
        let state = plugin_state(&self.worker, &self.connector, &self.label())?;
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
                            e.message
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
