//! A connector's life under the worker: create, reconfigure, pause,
//! resume, stop, restart and delete, each persisted in the connector store
//! and reflected in the status board as Kafka Connect shows it.
//!
//! Pausing stops a connector's tasks (they flush and commit first) and
//! keeps its task configurations; resuming starts them again. Stopping
//! also drops the task configurations, as Kafka Connect's STOPPED does.

use std::collections::BTreeMap;

use super::herder::{ConnectorEntry, Managed, Worker, WorkerError, type_name};
use super::status::{ConnectorStatus, State};
use super::task;
use super::task_loop;
use crate::config::secrets;
use crate::config::store::{StoredConnector, TargetState};
use crate::plugin::PluginKind;

impl Worker {
    /// Starts the stored connectors together with `given` (the connector
    /// files of the command line, which replace stored ones of the same
    /// name and keep their stored target state). An invalid given
    /// configuration is an error; an invalid stored one starts FAILED.
    pub async fn start_connectors(
        &self,
        given: Vec<BTreeMap<String, String>>,
    ) -> Result<(), WorkerError> {
        let mut stored = self.store()?.all();
        let mut checked = BTreeMap::new();
        for raw in given {
            let prepared = self.prepare(&raw).map_err(WorkerError::Invalid)?;
            let name = prepared.config.name.clone();
            let state = stored.remove(&name).map(|s| s.state).unwrap_or_default();
            checked.insert(name, (raw, state, Ok(prepared)));
        }
        for (name, connector) in stored {
            let prepared = self.prepare(&connector.config).map_err(|e| e.to_string());
            checked.insert(name, (connector.config, connector.state, prepared));
        }
        let mut managed = self.managed.lock().await;
        for (name, (raw, target, prepared)) in checked {
            self.store()?.put(
                &name,
                StoredConnector {
                    config: raw.clone(),
                    state: target,
                },
            )?;
            let mut m = Managed::new(raw, target, prepared);
            self.bring_to_target(&name, &mut m).await;
            managed.insert(name, m);
        }
        Ok(())
    }

    /// `POST /connectors`: a new connector in `initial` state.
    pub async fn create_connector(
        &self,
        raw: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorEntry, WorkerError> {
        let name = crate::config::connector::identity(&raw)
            .map_err(WorkerError::Invalid)?
            .0;
        if self.cluster().is_some() {
            return self.cluster_create(&name, raw, initial).await;
        }
        let mut managed = self.managed.lock().await;
        if managed.contains_key(&name) {
            return Err(WorkerError::Duplicate(name));
        }
        self.install(&mut managed, &name, raw, initial).await
    }

    /// `PUT /connectors/{name}/config`: creates the connector (true) or
    /// replaces its configuration (false), restarting its tasks.
    pub async fn put_connector_config(
        &self,
        name: &str,
        mut raw: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorEntry), WorkerError> {
        match raw.get("name") {
            Some(given) if given != name => {
                return Err(WorkerError::BadRequest(format!(
                    "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
                )));
            }
            Some(_) => {}
            None => {
                raw.insert("name".into(), name.to_string());
            }
        }
        if self.cluster().is_some() {
            return self.cluster_put(name, raw).await;
        }
        let mut managed = self.managed.lock().await;
        let (created, target) = match managed.get(name) {
            Some(m) => (false, m.target),
            None => (true, TargetState::Started),
        };
        let entry = self.install(&mut managed, name, raw, target).await?;
        Ok((created, entry))
    }

    /// `PATCH /connectors/{name}/config`: merges `patch` into the
    /// configuration (`None` removes a key) and applies it as a PUT would.
    pub async fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorEntry, WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_patch(name, patch).await;
        }
        let mut managed = self.managed.lock().await;
        let m = managed
            .get(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        let mut raw = m.raw.clone();
        let target = m.target;
        apply_patch(name, &mut raw, patch)?;
        self.install(&mut managed, name, raw, target).await
    }

    /// Checks `raw`, stores it and (re)starts the connector with it.
    async fn install(
        &self,
        managed: &mut BTreeMap<String, Managed>,
        name: &str,
        raw: BTreeMap<String, String>,
        target: TargetState,
    ) -> Result<ConnectorEntry, WorkerError> {
        let prepared = self.prepare(&raw).map_err(WorkerError::Invalid)?;
        self.store()?.put(
            name,
            StoredConnector {
                config: raw.clone(),
                state: target,
            },
        )?;
        let old_tasks = managed
            .get_mut(name)
            .map(|m| std::mem::take(&mut m.tasks))
            .unwrap_or_default();
        task::stop_all(old_tasks, self.stop_grace()).await;
        let mut m = Managed::new(raw, target, Ok(prepared));
        tracing::info!("connector {name}: configuration set, target state {target:?}");
        self.bring_to_target(name, &mut m).await;
        managed.insert(name.to_string(), m);
        Ok(self.connector(name).expect("just published"))
    }

    /// `DELETE /connectors/{name}`: stops the tasks and forgets the
    /// connector. Its source offsets are kept, as Kafka Connect keeps them,
    /// so a connector created again under the name resumes.
    pub async fn delete_connector(&self, name: &str) -> Result<(), WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_delete(name).await;
        }
        let mut managed = self.managed.lock().await;
        let m = managed
            .remove(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        task::stop_all(m.tasks, self.stop_grace()).await;
        self.store()?.remove(name)?;
        self.status.remove(name);
        self.topics.reset(name);
        self.views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        tracing::info!("connector {name}: deleted");
        Ok(())
    }

    /// `PUT pause`, `PUT resume` and `PUT stop`.
    pub async fn set_target_state(
        &self,
        name: &str,
        target: TargetState,
    ) -> Result<(), WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_set_target(name, target).await;
        }
        let mut managed = self.managed.lock().await;
        let m = managed
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        if m.target == target && (target != TargetState::Started || m.is_running()) {
            return Ok(());
        }
        self.store()?.put(
            name,
            StoredConnector {
                config: m.raw.clone(),
                state: target,
            },
        )?;
        m.target = target;
        task::stop_all(std::mem::take(&mut m.tasks), self.stop_grace()).await;
        if target == TargetState::Stopped {
            m.task_configs.clear();
        }
        tracing::info!("connector {name}: target state {target:?}");
        self.bring_to_target(name, m).await;
        Ok(())
    }

    /// `POST /connectors/{name}/restart`. The connector is restarted (its
    /// configuration checked and its secrets resolved again, its work split
    /// again) unless `only_failed` and it has not failed; with
    /// `include_tasks` its tasks are restarted too (only the failed ones
    /// with `only_failed`). Returns the status as of the request, with
    /// what is being restarted RESTARTING.
    pub async fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_restart(name, include_tasks, only_failed).await;
        }
        let mut managed = self.managed.lock().await;
        let m = managed
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        let mut snapshot = self
            .status
            .get(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        let connector_failed = snapshot.connector.state == State::Failed;
        let restart_connector = !only_failed || connector_failed;
        let restart_tasks: Vec<u32> = if include_tasks {
            snapshot
                .tasks
                .iter()
                .filter(|t| !only_failed || t.state == State::Failed)
                .map(|t| t.id)
                .collect()
        } else {
            Vec::new()
        };
        if restart_connector {
            snapshot.connector.state = State::Restarting;
            snapshot.connector.trace = None;
        }
        for t in snapshot.tasks.iter_mut() {
            if restart_tasks.contains(&t.id) {
                t.state = State::Restarting;
                t.trace = None;
            }
        }
        let mut restarted_all = false;
        if restart_connector {
            tracing::info!("connector {name}: restarting");
            let prepared = self.prepare(&m.raw).map_err(|e| e.to_string());
            let failed_before = m.prepared.is_err() || connector_failed;
            let old = std::mem::take(&mut m.task_configs);
            m.prepared = prepared;
            // The work is split again; tasks restart only if that changed
            // it (or the connector had failed), as in Kafka Connect.
            let fresh = match (&m.prepared, m.target) {
                (Ok(p), TargetState::Started | TargetState::Paused) => self.task_configs(p).ok(),
                _ => None,
            };
            if fresh.as_ref() == Some(&old) && !failed_before && m.is_running() {
                m.task_configs = old;
                self.set_connector_running(name, m);
            } else {
                task::stop_all(std::mem::take(&mut m.tasks), self.stop_grace()).await;
                m.task_configs = fresh.unwrap_or_default();
                self.bring_to_target(name, m).await;
                restarted_all = true;
            }
        }
        if !restarted_all && m.target == TargetState::Started {
            for id in restart_tasks {
                self.restart_one_task(m, id).await;
            }
        }
        Ok(snapshot)
    }

    /// `POST /connectors/{name}/tasks/{id}/restart`; `forwarded` when
    /// another worker of the cluster sent it here.
    pub async fn restart_task(
        &self,
        name: &str,
        task: &str,
        forwarded: bool,
    ) -> Result<(), WorkerError> {
        if self.cluster().is_some() {
            let count = self
                .connector(name)
                .ok_or_else(|| WorkerError::NotFound(name.to_string()))?
                .task_configs
                .len();
            let id = task
                .parse::<u32>()
                .ok()
                .filter(|id| (*id as usize) < count)
                .ok_or_else(|| WorkerError::TaskNotFound(name.to_string(), task.to_string()))?;
            return self.cluster_restart_task(name, id, forwarded).await;
        }
        let mut managed = self.managed.lock().await;
        let m = managed
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        let id = task
            .parse::<u32>()
            .ok()
            .filter(|id| (*id as usize) < m.task_configs.len())
            .ok_or_else(|| WorkerError::TaskNotFound(name.to_string(), task.to_string()))?;
        if m.target == TargetState::Started {
            tracing::info!("connector {name}: restarting task {id}");
            self.restart_one_task(m, id).await;
        }
        Ok(())
    }

    async fn restart_one_task(&self, m: &mut Managed, id: u32) {
        let Ok(prepared) = m.prepared.clone() else {
            return;
        };
        if let Some(i) = m.tasks.iter().position(|t| t.id == id) {
            let old = m.tasks.remove(i);
            task::stop_all(vec![old], self.stop_grace()).await;
        }
        if let Some(config) = m.task_configs.get(id as usize).cloned() {
            let ctx = self.task_context(&prepared, id, config);
            let run = task_loop(prepared.plugin.kind);
            m.tasks.push(task::spawn(ctx, self.status.clone(), run));
            m.tasks.sort_by_key(|t| t.id);
        }
    }

    /// Brings a connector whose tasks are not running to its target state:
    /// splits its work if needed, starts the tasks if it is STARTED, and
    /// publishes its status and view. A connector that cannot run is
    /// FAILED with the reason as its trace.
    async fn bring_to_target(&self, name: &str, m: &mut Managed) {
        let kind = self.kind(m);
        let type_name = type_name(kind);
        let failure = match (&m.prepared, m.target) {
            (Err(why), _) => Some(why.clone()),
            (Ok(_), TargetState::Stopped) => None,
            (Ok(p), _) if m.task_configs.is_empty() => match self.task_configs(p) {
                Ok(configs) => {
                    m.task_configs = configs;
                    None
                }
                Err(why) => Some(why),
            },
            (Ok(_), _) => None,
        };
        let id = &self.worker_id;
        if let Some(trace) = failure {
            tracing::error!("connector {name} failed: {trace}");
            m.task_configs.clear();
            self.status.set_connector(
                name,
                &type_name,
                (State::Failed, Some(trace)),
                0,
                State::Unassigned,
                id,
            );
        } else {
            let count = m.task_configs.len() as u32;
            match m.target {
                TargetState::Stopped => self.status.set_connector(
                    name,
                    &type_name,
                    (State::Stopped, None),
                    0,
                    State::Stopped,
                    id,
                ),
                TargetState::Paused => self.status.set_connector(
                    name,
                    &type_name,
                    (State::Paused, None),
                    count,
                    State::Paused,
                    id,
                ),
                TargetState::Started => {
                    self.set_connector_running(name, m);
                    let prepared = m.prepared.clone().expect("checked above");
                    for (id, config) in m.task_configs.iter().enumerate() {
                        let ctx = self.task_context(&prepared, id as u32, config.clone());
                        let run = task_loop(prepared.plugin.kind);
                        m.tasks.push(task::spawn(ctx, self.status.clone(), run));
                    }
                    tracing::info!(
                        "connector {name}: started {count} task(s) of {}@{}",
                        prepared.plugin.metadata.name,
                        prepared.plugin.metadata.version
                    );
                }
            }
        }
        self.publish(name, m, kind);
    }

    /// Marks the connector RUNNING, keeping the states of its tasks that
    /// still run.
    fn set_connector_running(&self, name: &str, m: &Managed) {
        let previous = self.status.get(name);
        self.status.set_connector(
            name,
            &type_name(self.kind(m)),
            (State::Running, None),
            m.task_configs.len() as u32,
            State::Unassigned,
            &self.worker_id,
        );
        for t in previous.into_iter().flat_map(|s| s.tasks) {
            if m.tasks.iter().any(|h| h.id == t.id) {
                self.status.set_task(name, t.id, t.state, t.trace);
            }
        }
    }

    /// The kind of the connector's plugin, found from its class even when
    /// its configuration is otherwise invalid; `None` if not installed.
    fn kind(&self, m: &Managed) -> Option<PluginKind> {
        match &m.prepared {
            Ok(p) => Some(p.plugin.kind),
            Err(_) => self.kind_of(&m.raw),
        }
    }

    /// Updates what readers see of the connector.
    fn publish(&self, name: &str, m: &Managed, kind: Option<PluginKind>) {
        let task_configs = match &m.prepared {
            Ok(p) => m
                .task_configs
                .iter()
                .map(|c| {
                    let derived: BTreeMap<String, String> = c.iter().cloned().collect();
                    secrets::unresolve(&derived, &m.raw, &p.resolved)
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        self.views
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                name.to_string(),
                ConnectorEntry {
                    config: m.raw.clone(),
                    kind,
                    task_configs,
                },
            );
    }

    /// Runs `f` on a managed connector under the worker's lock.
    pub(super) async fn with_managed<T>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(&mut Managed) -> Result<T, WorkerError>,
    ) -> Result<T, WorkerError> {
        let mut managed = self.managed.lock().await;
        let m = managed
            .get_mut(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        f(m).await
    }
}

/// Merges a PATCH into a configuration (`None` removes a key); the name
/// stays the URL's.
pub(super) fn apply_patch(
    name: &str,
    raw: &mut BTreeMap<String, String>,
    patch: BTreeMap<String, Option<String>>,
) -> Result<(), WorkerError> {
    for (key, value) in patch {
        match value {
            Some(value) => raw.insert(key, value),
            None => raw.remove(&key),
        };
    }
    if raw.get("name").is_some_and(|n| n != name) {
        return Err(WorkerError::BadRequest(format!(
            "Connector name configuration ({}) doesn't match connector name in the URL ({name})",
            raw["name"]
        )));
    }
    raw.insert("name".into(), name.to_string());
    Ok(())
}
