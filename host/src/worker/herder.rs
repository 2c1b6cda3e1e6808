//! The standalone herder (Kafka Connect's word for what manages
//! connectors on a worker): the worker's plugins, stores and status board,
//! the connectors under management, and the checks and contexts their
//! tasks start from. Changes to connectors are in `lifecycle`; offsets in
//! `connector_offsets`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

use super::distributed::Cluster;
use super::pipeline;
use super::status::{ConnectorStatus, StatusBoard};
use super::task::{self, TaskContext, TaskHandle};
use super::topics::ActiveTopics;
use crate::config::connector::{CheckContext, identity, password_keys};
use crate::config::definitions::{self, ConfigInfos};
use crate::config::pipeline::PipelineSpec;
use crate::config::secrets::Resolved;
use crate::config::store::{ConnectorStore, TargetState};
use crate::config::{ConnectorConfig, WorkerConfig, WorkerMode};
use crate::configdef::{ConfigError, ConfigErrors};
use crate::offsets::{FileOffsetStore, OffsetStore};
use crate::plugin::{
    ConnectorInstance, Identity, Plugin, PluginDescriber, PluginKind, PluginRegistry, PluginState,
    Runtime, WitConfig, bare_state,
};
use crate::runtime::limits::Sandbox;

/// Why a request to the worker failed, in terms the REST API maps onto
/// status codes.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("Connector {0} not found")]
    NotFound(String),
    #[error("Task {0}-{1} not found")]
    TaskNotFound(String, String),
    #[error("Connector {0} already exists")]
    Duplicate(String),
    #[error("Unknown connector plugin {0}: {1}")]
    PluginNotFound(String, String),
    #[error("{0}")]
    Invalid(ConfigErrors),
    #[error("{0}")]
    BadRequest(String),
    /// The cluster is rebalancing or this worker does not lead (409).
    #[error("{0}")]
    Rebalancing(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// What the REST API shows of a connector: its configuration as given
/// (secret references unresolved), its kind, and its tasks' configurations
/// (with references, never resolved secrets).
#[derive(Clone, Debug)]
pub struct ConnectorEntry {
    pub config: BTreeMap<String, String>,
    /// `None` when the connector's plugin is not installed.
    pub kind: Option<PluginKind>,
    pub task_configs: Vec<BTreeMap<String, String>>,
}

impl ConnectorEntry {
    /// Kafka Connect's `type`: source, sink or unknown.
    pub fn type_name(&self) -> String {
        type_name(self.kind)
    }
}

/// Kafka Connect's `type` of a connector whose plugin is `kind`.
pub(super) fn type_name(kind: Option<PluginKind>) -> String {
    kind.map(|k| k.to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A configuration that passed every check, ready to run.
#[derive(Clone)]
pub struct Prepared {
    pub plugin: Arc<Plugin>,
    pub config: Arc<ConnectorConfig>,
    pub resolved: Arc<Resolved>,
}

/// Where the worker keeps its connectors.
pub(super) enum Stores {
    /// In the standalone connector file.
    Standalone(ConnectorStore),
    /// In the cluster's internal topics.
    Distributed(Arc<Cluster>),
}

/// A worker, standalone or one of a cluster.
pub struct Worker {
    pub(super) config: Arc<WorkerConfig>,
    pub(super) runtime: Runtime,
    pub(super) plugins: Arc<PluginRegistry>,
    pub(super) offsets: Arc<dyn OffsetStore>,
    pub(super) stores: Stores,
    /// A leader carries out one REST write at a time.
    pub(super) leader_writes: tokio::sync::Mutex<()>,
    pub(super) status: StatusBoard,
    pub(super) topics: ActiveTopics,
    /// What readers see; updated at the end of every change.
    pub(super) views: std::sync::RwLock<BTreeMap<String, ConnectorEntry>>,
    /// The connectors under management. Changes hold this lock from start
    /// to end, so requests apply one after another, as Kafka Connect's
    /// herder applies them.
    pub(super) managed: tokio::sync::Mutex<BTreeMap<String, Managed>>,
    pub(super) cancel: CancellationToken,
    pub(super) worker_id: String,
    pub(super) cluster_id: Option<String>,
}

/// A connector under management.
pub struct Managed {
    /// The configuration as given, secret references unresolved.
    pub(super) raw: BTreeMap<String, String>,
    pub(super) target: TargetState,
    /// The checked configuration, or why the connector cannot run.
    pub(super) prepared: Result<Prepared, String>,
    /// The resolved configuration of each task, as the connector split its
    /// work. Empty until computed, and while stopped.
    pub(super) task_configs: Vec<WitConfig>,
    pub(super) tasks: Vec<TaskHandle>,
}

impl Managed {
    pub(super) fn new(
        raw: BTreeMap<String, String>,
        target: TargetState,
        prepared: Result<Prepared, String>,
    ) -> Self {
        Managed {
            raw,
            target,
            prepared,
            task_configs: Vec::new(),
            tasks: Vec::new(),
        }
    }

    pub fn target(&self) -> TargetState {
        self.target
    }

    pub(super) fn prepared(&self) -> Result<&Prepared, WorkerError> {
        self.prepared
            .as_ref()
            .map_err(|why| WorkerError::BadRequest(format!("the connector cannot run: {why}")))
    }

    pub(super) fn is_running(&self) -> bool {
        !self.tasks.is_empty()
    }
}

impl Worker {
    /// Loads the plugins, the offset store and the connector store. Stored
    /// connectors are started by [`Worker::start_connectors`].
    pub async fn start(config: WorkerConfig) -> Result<Arc<Self>> {
        let runtime = Runtime::new(&config.plugin_cache_dir, config.limits_enabled)?;
        let plugin_path = config.plugin_path.clone();
        let loader = runtime.clone();
        // Compiling components is CPU work; keep it off the async threads.
        let plugins =
            tokio::task::spawn_blocking(move || PluginRegistry::load(&loader, &plugin_path))
                .await
                .context("loading plugins")??;
        // The worker's converters must exist now that the plugins are
        // known, not only once a connector falls back on them.
        let mut problems = Vec::new();
        let defaults = PipelineSpec::check(
            &BTreeMap::new(),
            &config.converters,
            &plugins,
            &mut problems,
        );
        problems.extend(pipeline::probe(&runtime, &defaults));
        if !problems.is_empty() {
            anyhow::bail!("invalid worker configuration: {}", ConfigErrors(problems));
        }
        let (stores, offsets, worker_id): (Stores, Arc<dyn OffsetStore>, String) =
            match &config.mode {
                WorkerMode::Standalone {
                    offset_file,
                    connector_store,
                } => (
                    Stores::Standalone(ConnectorStore::open(connector_store)?),
                    Arc::new(FileOffsetStore::open(offset_file)?),
                    config
                        .listeners
                        .first()
                        .map(|l| l.address.clone())
                        .unwrap_or_default(),
                ),
                WorkerMode::Distributed(settings) => {
                    let cluster = Arc::new(Cluster::open(&config, settings).await?);
                    let offsets: Arc<dyn OffsetStore> = cluster.offsets();
                    // Kafka Connect's worker id: the advertised host and port.
                    let id =
                        crate::config::distributed::worker_id(&settings.advertised_url).to_string();
                    (Stores::Distributed(cluster), offsets, id)
                }
            };
        // In a cluster, the status topic's, which every worker reads.
        let topics = match &stores {
            Stores::Distributed(cluster) => cluster.topics.clone(),
            Stores::Standalone(_) => ActiveTopics::default(),
        };
        let cluster_id = crate::kafka::cluster_id(&config).await;
        let worker = Arc::new(Worker {
            config: Arc::new(config),
            runtime,
            plugins: Arc::new(plugins),
            offsets,
            stores,
            leader_writes: Default::default(),
            status: StatusBoard::default(),
            topics,
            views: Default::default(),
            managed: Default::default(),
            cancel: CancellationToken::new(),
            worker_id,
            cluster_id,
        });
        if let Some(cluster) = worker.cluster() {
            worker.status.observe(cluster.status_observer());
            worker.topics.observe(cluster.topic_observer());
        }
        Ok(worker)
    }

    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The cluster this worker is one of, when distributed.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        match &self.stores {
            Stores::Distributed(cluster) => Some(cluster),
            Stores::Standalone(_) => None,
        }
    }

    /// The standalone connector store (an error on a distributed worker,
    /// whose requests never come this way).
    pub(super) fn store(&self) -> Result<&ConnectorStore, WorkerError> {
        match &self.stores {
            Stores::Standalone(store) => Ok(store),
            Stores::Distributed(_) => Err(WorkerError::Other(anyhow::anyhow!(
                "a distributed worker has no connector file"
            ))),
        }
    }

    /// A connector's status: this worker's own, or in a cluster what the
    /// status topic says.
    pub fn connector_status(&self, name: &str) -> Option<ConnectorStatus> {
        if self.cluster().is_some() {
            return self.cluster_status(name);
        }
        self.status.get(name)
    }

    /// A connector's configuration, kind and task configurations.
    pub fn connector(&self, name: &str) -> Option<ConnectorEntry> {
        if self.cluster().is_some() {
            return self.cluster_connector(name);
        }
        self.views
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The names of the connectors (of the cluster, when distributed), in
    /// order.
    pub fn connector_names(&self) -> Vec<String> {
        if self.cluster().is_some() {
            return self.cluster_connector_names();
        }
        self.views
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

    /// The Kafka cluster's id, if the broker told it at start.
    pub fn cluster_id(&self) -> Option<&str> {
        self.cluster_id.as_deref()
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// The topics a connector used (404 semantics are the caller's).
    pub fn active_topics(&self, name: &str) -> Vec<String> {
        self.topics.get(name)
    }

    /// `PUT /connectors/{name}/topics/reset`.
    pub fn reset_active_topics(&self, name: &str) -> Result<(), WorkerError> {
        if self.connector(name).is_none() {
            return Err(WorkerError::NotFound(name.to_string()));
        }
        self.topics.reset(name);
        Ok(())
    }

    /// Checks a connector configuration: its config provider references
    /// stand only in password keys and resolve, the plugin exists, every key is known and well-typed, grants name
    /// defined resources, and the plugin's own `validate` agrees. Errors
    /// never show a resolved secret.
    pub fn prepare(&self, raw: &BTreeMap<String, String>) -> Result<Prepared, ConfigErrors> {
        let passwords = password_keys(raw, &self.plugins);
        let resolved = self
            .config
            .providers
            .resolve(raw, |key| passwords.contains(key))?;
        let secrets = Arc::clone(&resolved.secrets);
        self.check_resolved(raw, resolved)
            .map_err(|e| secrets.mask_errors(e))
    }

    fn check_resolved(
        &self,
        raw: &BTreeMap<String, String>,
        resolved: Resolved,
    ) -> Result<Prepared, ConfigErrors> {
        let (_, class) = identity(&resolved.config)?;
        let plugin = self.plugins.resolve_connector(&class).map_err(|reason| {
            ConfigErrors(vec![ConfigError::invalid(
                "connector.class",
                &class,
                reason,
            )])
        })?;
        let context = CheckContext {
            capabilities: &self.config.capabilities,
            registry: &self.plugins,
            worker_converters: &self.config.converters,
            task_limits: &self.config.task_limits,
        };
        let config =
            ConnectorConfig::check(&resolved.config, plugin.kind, &plugin.config_keys, &context)?;
        let problems = pipeline::probe(&self.runtime, &config.pipeline);
        if !problems.is_empty() {
            return Err(ConfigErrors(problems));
        }
        // The plugin sees the resolved values, as its tasks will.
        let issues = PluginDescriber::new(
            &self.runtime,
            &plugin.component,
            plugin.kind,
            bare_state(&config.name),
        )
        .and_then(|mut instance| Ok(instance.validate(&wit_config(&resolved.config))?))
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
        Ok(Prepared {
            plugin,
            config: Arc::new(config),
            resolved: Arc::new(resolved),
        })
    }

    /// The connector plugin `name` (a name, name@version or alias).
    pub fn connector_plugin(&self, name: &str) -> Result<Arc<Plugin>, WorkerError> {
        self.plugins
            .resolve_connector(name)
            .map_err(|why| WorkerError::PluginNotFound(name.to_string(), why))
    }

    /// `PUT /connector-plugins/{plugin}/config/validate`: every key of the
    /// plugin with the given value and its problems. The configuration's
    /// `connector.class`, when given, must name the same plugin.
    pub fn validate_config(
        &self,
        plugin_name: &str,
        mut raw: BTreeMap<String, String>,
    ) -> Result<ConfigInfos, WorkerError> {
        let plugin = self.connector_plugin(plugin_name)?;
        match raw.get("connector.class") {
            Some(class) => {
                let same = self
                    .plugins
                    .resolve_connector(class)
                    .is_ok_and(|p| Arc::ptr_eq(&p, &plugin));
                if !same {
                    return Err(WorkerError::BadRequest(format!(
                        "Included connector type {class} does not match request type {plugin_name}"
                    )));
                }
            }
            None => {
                raw.insert("connector.class".into(), plugin_name.to_string());
            }
        }
        let errors = self.prepare(&raw).err().unwrap_or_default();
        Ok(definitions::report(&plugin, &raw, &errors))
    }

    /// The kind of plugin a configuration names, when it can be found, even
    /// if the configuration is otherwise invalid.
    pub(super) fn kind_of(&self, raw: &BTreeMap<String, String>) -> Option<PluginKind> {
        let class = raw.get("connector.class")?;
        self.plugins.resolve_connector(class).ok().map(|p| p.kind)
    }

    /// Asks the connector to split its work: the resolved configuration of
    /// each task, at most `tasks.max` of them.
    pub(super) fn task_configs(&self, prepared: &Prepared) -> Result<Vec<WitConfig>, String> {
        let config = &prepared.config;
        let state = PluginState::new(
            &self.config.capabilities,
            &config.grants,
            Identity {
                connector: &config.name,
                log_target: &config.name,
                secrets: Arc::clone(&prepared.resolved.secrets),
            },
            // The connector part runs under the limits of its tasks.
            Sandbox::new(Arc::clone(&config.sandbox.limits), Default::default()),
        )
        .map_err(|e| format!("{e:#}"))?;
        let mut instance = ConnectorInstance::new(
            &self.runtime,
            &prepared.plugin.component,
            prepared.plugin.kind,
            state,
        )
        .map_err(|e| format!("instantiating the connector: {e:#}"))?;
        let mask = |s: String| prepared.resolved.secrets.mask(&s);
        match instance.task_configs(&wit_config(&config.raw), config.tasks_max) {
            Ok(Ok(configs)) if !configs.is_empty() => Ok(configs
                .into_iter()
                .take(config.tasks_max as usize)
                .collect()),
            Ok(Ok(_)) => Err("the connector returned no task configuration".into()),
            Ok(Err(e)) => Err(mask(format!(
                "the connector failed to split its work: {}",
                e.message
            ))),
            Err(trap) => Err(mask(format!(
                "the connector trapped splitting its work: {trap:?}"
            ))),
        }
    }

    /// The context a task of `prepared` runs with.
    pub(super) fn task_context(
        &self,
        prepared: &Prepared,
        task_id: u32,
        task_config: WitConfig,
    ) -> TaskContext {
        TaskContext {
            connector: Arc::clone(&prepared.config),
            task_id,
            task_config,
            worker: Arc::clone(&self.config),
            runtime: self.runtime.clone(),
            plugin: Arc::clone(&prepared.plugin),
            offsets: Arc::clone(&self.offsets),
            cancel: self.cancel.child_token(),
            tokio: tokio::runtime::Handle::current(),
            worker_id: self.worker_id.clone(),
            topics: self.topics.clone(),
            secrets: Arc::clone(&prepared.resolved.secrets),
            metrics: self.status.task_metrics(&prepared.config.name, task_id),
            status: self.status.clone(),
        }
    }

    /// How long stopping tasks may take before they are left behind.
    pub fn stop_grace(&self) -> Duration {
        self.config.task_shutdown_timeout + Duration::from_secs(1)
    }

    /// Stops every task: each flushes and commits what it can within the
    /// graceful timeout; what is still running after that is abandoned.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        let mut managed = self.managed.lock().await;
        let mut tasks: Vec<_> = managed
            .values_mut()
            .flat_map(|m| std::mem::take(&mut m.tasks))
            .collect();
        if let Some(cluster) = self.cluster() {
            let mut running = cluster.running.lock().await;
            tasks.extend(running.tasks.values_mut().filter_map(|t| t.handle.take()));
        }
        task::stop_all(tasks, self.stop_grace()).await;
        if let Some(cluster) = self.cluster() {
            // Only now may the group give this worker's tasks to others.
            cluster.tasks_stopped.notify_one();
        }
    }
}

pub(super) fn wit_config(raw: &BTreeMap<String, String>) -> WitConfig {
    raw.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
