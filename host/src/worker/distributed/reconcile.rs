//! Running what this worker was given: after every rebalance and every
//! record of the config topic, the connectors and tasks assigned here are
//! brought to their target state with their current configuration. Only
//! what changed is stopped or started, so a rebalance that moves one task
//! leaves every other task of the worker running.
//!
//! An assigned connector splits its work: its task configurations (with
//! secret references put back) go to the leader, which writes them to the
//! config topic; the tasks start wherever the next rebalance puts them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::forward;
use crate::cluster::assignor::TaskId;
use crate::cluster::records::ConnectorSnapshot;
use crate::config::connector::password_keys;
use crate::config::secrets;
use crate::config::store::TargetState;
use crate::plugin::WitConfig;
use crate::worker::herder::{Prepared, Worker, type_name};
use crate::worker::status::State;
use crate::worker::{task, task_loop};

use super::{RunningConnector, RunningTask};

/// How often the reconciler looks again when nothing woke it: a write to
/// the leader that failed is retried this often.
const RECHECK: Duration = Duration::from_secs(5);

impl Worker {
    /// Keeps this worker's share running until the worker stops.
    pub async fn run_reconciler(self: Arc<Self>) {
        let cluster = Arc::clone(self.cluster().expect("a distributed worker"));
        let mut changes = cluster.configs.changes();
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::warn!("{e:#}");
            }
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = cluster.wake.notified() => {}
                _ = changes.changed() => {}
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Hands back revoked work: stops the tasks (they flush and commit
    /// first) and forgets the connectors.
    pub(super) async fn revoke(&self, connectors: &BTreeSet<String>, tasks: &BTreeSet<TaskId>) {
        let cluster = self.cluster().expect("a distributed worker");
        let mut running = cluster.running.lock().await;
        let mut handles = Vec::new();
        for id in tasks {
            if let Some(t) = running.tasks.remove(id) {
                handles.extend(t.handle);
                self.status.remove_task(&id.connector, id.task);
            }
        }
        for name in connectors {
            running.connectors.remove(name);
        }
        task::stop_all(handles, self.stop_grace()).await;
    }

    async fn reconcile(&self) -> Result<()> {
        let cluster = self.cluster().expect("a distributed worker");
        let membership = cluster.membership();
        if membership.leader_url.is_none() && membership.generation == 0 {
            return Ok(()); // not in the group yet
        }
        // Work starts only from a configuration at least as new as the
        // one the leader assigned from (Kafka Connect's worker sync).
        cluster
            .configs
            .read_to(
                membership.config_offset,
                cluster.settings.worker_sync_timeout,
            )
            .await
            .context("catching up with the config topic before starting work")?;
        let snapshot = cluster.configs.snapshot();
        let restarts = cluster.configs.restarts();
        let mut running = cluster.running.lock().await;

        // Connectors: split the work of those whose configuration, target
        // state or restart request is new.
        running
            .connectors
            .retain(|name, _| membership.connectors.contains(name));
        for name in &membership.connectors {
            let Some(entry) = snapshot.connector(name) else {
                running.connectors.remove(name);
                continue;
            };
            let restart = restarts.get(name);
            let restart_at = restart.map_or(-1, |r| r.offset);
            let current = running.connectors.get(name);
            let restart_due = current.is_some_and(|r| {
                r.restarted_at < restart_at
                    && (!restart.is_some_and(|r| r.only_failed) || self.connector_failed(name))
            });
            let unchanged = current.is_some_and(|r| {
                r.raw == entry.config && r.target == entry.target_state && !restart_due
            });
            if unchanged {
                continue;
            }
            let done = self.run_connector(name, &entry).await;
            if done {
                running.connectors.insert(
                    name.clone(),
                    RunningConnector {
                        raw: entry.config.clone(),
                        target: entry.target_state,
                        restarted_at: restart_at,
                    },
                );
            }
        }

        // Tasks: start, restart or stop each assigned one as its stored
        // configuration and target state say.
        let revoked: Vec<TaskId> = running
            .tasks
            .keys()
            .filter(|id| !membership.tasks.contains(*id))
            .cloned()
            .collect();
        let mut stopping = Vec::new();
        for id in revoked {
            if let Some(t) = running.tasks.remove(&id) {
                stopping.extend(t.handle);
            }
        }
        let mut prepared_by_connector: BTreeMap<String, Result<Prepared, String>> = BTreeMap::new();
        for id in &membership.tasks {
            let entry = snapshot.connector(&id.connector);
            let desired = entry.and_then(|e| {
                let config = e.tasks.get(id.task as usize).cloned()?;
                Some((e, config))
            });
            let Some((entry, config)) = desired else {
                if let Some(t) = running.tasks.remove(id) {
                    stopping.extend(t.handle);
                }
                continue;
            };
            let (entry, config) = (&entry, &config);
            let restart = restarts.get(&id.connector).filter(|r| r.include_tasks);
            let restart_at = restart.map_or(-1, |r| r.offset);
            if let Some(current) = running.tasks.get(id) {
                let restart_due = current.restarted_at < restart_at
                    && (!restart.is_some_and(|r| r.only_failed) || self.task_failed(id));
                if current.config == *config
                    && current.connector_raw == entry.config
                    && current.target == entry.target_state
                    && !restart_due
                {
                    continue;
                }
            }
            if let Some(old) = running.tasks.remove(id) {
                task::stop_all(old.handle.into_iter().collect(), self.stop_grace()).await;
            }
            let handle = match entry.target_state {
                TargetState::Started => {
                    let prepared = prepared_by_connector
                        .entry(id.connector.clone())
                        .or_insert_with(|| self.prepare(&entry.config).map_err(|e| e.to_string()));
                    self.start_task(id, entry, config, prepared)
                }
                TargetState::Paused => {
                    self.publish_task(id, &entry.config, State::Paused, None);
                    None
                }
                TargetState::Stopped => None,
            };
            running.tasks.insert(
                id.clone(),
                RunningTask {
                    config: config.clone(),
                    connector_raw: entry.config.clone(),
                    target: entry.target_state,
                    handle,
                    restarted_at: restart_at,
                },
            );
        }
        drop(running);
        task::stop_all(stopping, self.stop_grace()).await;
        Ok(())
    }

    /// Carries out an assigned connector's part: checks its
    /// configuration, splits its work when it runs, and sends the task
    /// configurations to the leader when they changed. Returns false when
    /// that must be tried again (the leader could not be reached).
    async fn run_connector(&self, name: &str, entry: &ConnectorSnapshot) -> bool {
        let kind = type_name(self.kind_of(&entry.config));
        let prepared = match self.prepare(&entry.config) {
            Ok(p) => p,
            Err(e) => {
                let why = e.to_string();
                tracing::error!("connector {name} failed: {why}");
                self.publish_connector(name, &kind, State::Failed, Some(why));
                return true;
            }
        };
        let wanted: Vec<BTreeMap<String, String>> = match entry.target_state {
            TargetState::Stopped => Vec::new(),
            TargetState::Started | TargetState::Paused => match self.task_configs(&prepared) {
                Ok(configs) => configs
                    .iter()
                    .map(|c| {
                        let derived: BTreeMap<String, String> = c.iter().cloned().collect();
                        secrets::unresolve(&derived, &entry.config, &prepared.resolved)
                    })
                    .collect(),
                Err(why) => {
                    tracing::error!("connector {name} failed: {why}");
                    self.publish_connector(name, &kind, State::Failed, Some(why));
                    return true;
                }
            },
        };
        if (wanted != entry.tasks || entry.inconsistent)
            && let Err(e) = self.submit_task_configs(name, wanted).await
        {
            tracing::warn!(
                "connector {name}: sending its task configurations to the leader: {e:#}"
            );
            return false;
        }
        let state = match entry.target_state {
            TargetState::Started => State::Running,
            TargetState::Paused => State::Paused,
            TargetState::Stopped => State::Stopped,
        };
        self.publish_connector(name, &kind, state, None);
        true
    }

    /// Starts one task from its stored configuration, its secret
    /// references resolved now (only in its connector's password keys).
    fn start_task(
        &self,
        id: &TaskId,
        entry: &ConnectorSnapshot,
        config: &BTreeMap<String, String>,
        prepared: &Result<Prepared, String>,
    ) -> Option<task::TaskHandle> {
        let kind = type_name(self.kind_of(&entry.config));
        let prepared = match prepared {
            Ok(p) => p,
            Err(why) => {
                self.status
                    .ensure_task(&id.connector, &kind, id.task, &self.worker_id);
                self.publish_task(id, &entry.config, State::Failed, Some(why.clone()));
                return None;
            }
        };
        let passwords = password_keys(&entry.config, &self.plugins);
        let resolved = match self
            .config
            .providers
            .resolve(config, |key| passwords.contains(key))
        {
            Ok(r) => r,
            Err(e) => {
                self.status
                    .ensure_task(&id.connector, &kind, id.task, &self.worker_id);
                self.publish_task(
                    id,
                    &entry.config,
                    State::Failed,
                    Some(format!("resolving the task's configuration: {e}")),
                );
                return None;
            }
        };
        let wit: WitConfig = resolved
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.status
            .ensure_task(&id.connector, &kind, id.task, &self.worker_id);
        let ctx = self.task_context(prepared, id.task, wit);
        let run = task_loop(prepared.plugin.kind);
        tracing::info!("connector {}: starting task {}", id.connector, id.task);
        Some(task::spawn(ctx, self.status.clone(), run))
    }

    /// Whether this worker's connector `name` is FAILED.
    fn connector_failed(&self, name: &str) -> bool {
        self.status
            .get(name)
            .is_some_and(|s| s.connector.state == State::Failed)
    }

    /// Whether a task of this worker is FAILED.
    fn task_failed(&self, id: &TaskId) -> bool {
        self.status.get(&id.connector).is_some_and(|s| {
            s.tasks
                .iter()
                .any(|t| t.id == id.task && t.state == State::Failed)
        })
    }

    /// Sends a connector's task configurations to the leader, which
    /// writes them (this worker, when it leads).
    pub(super) async fn submit_task_configs(
        &self,
        name: &str,
        configs: Vec<BTreeMap<String, String>>,
    ) -> Result<()> {
        let cluster = self.cluster().expect("a distributed worker");
        let membership = cluster.membership();
        if membership.is_leader {
            return cluster.configs.put_task_configs(name, configs).await;
        }
        let leader = membership
            .leader_url
            .context("no leader is known (the group is rebalancing)")?;
        let body = serde_json::to_vec(&configs)?;
        let answer = forward::send(
            &leader,
            self.config.rest_tls.as_ref(),
            hyper::Method::POST,
            &format!("/connectors/{}/tasks", super::requests::path_segment(name)),
            self.own_authorization().as_deref(),
            body.into(),
        )
        .await?;
        if !answer.status.is_success() {
            anyhow::bail!(
                "the leader answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        Ok(())
    }

    /// Sets a connector's state; the status board's observer writes it to
    /// the status topic.
    pub(super) fn publish_connector(
        &self,
        name: &str,
        kind: &str,
        state: State,
        trace: Option<String>,
    ) {
        self.status
            .set_connector_only(name, kind, state, trace, &self.worker_id);
    }

    /// Sets a task's state that is not running (tasks that run report
    /// their own); the status board's observer writes it to the topic.
    fn publish_task(
        &self,
        id: &TaskId,
        connector_raw: &BTreeMap<String, String>,
        state: State,
        trace: Option<String>,
    ) {
        let kind = type_name(self.kind_of(connector_raw));
        self.status
            .ensure_task(&id.connector, &kind, id.task, &self.worker_id);
        self.status.set_task(&id.connector, id.task, state, trace);
    }
}
