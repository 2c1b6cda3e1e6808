//! REST writes in a cluster, carried out by the leader: each checks the
//! request against what the config topic holds, writes Kafka Connect's
//! records, and waits until this worker has read them back, so the answer
//! and the next read agree. Followers never get here: the REST layer
//! forwards their writes to the leader; one that arrives at a worker that
//! no longer leads gets Kafka Connect's 409.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Cluster, forward};
use crate::config::store::TargetState;
use crate::worker::herder::{ConnectorEntry, Worker, WorkerError, type_name};
use crate::worker::status::{ConnectorStatus, State};

/// How long the leader waits to read back what it wrote.
const READ_BACK: Duration = Duration::from_secs(30);

/// A connector name as one path segment (names may hold `/`, `?`, ...).
pub(crate) fn path_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

impl Worker {
    /// [`Worker::as_leader`], for a request about connector `name`, which
    /// must exist: the write lock and the cluster.
    async fn as_leader_of(
        &self,
        name: &str,
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, &Cluster), WorkerError> {
        let guard = self.as_leader().await?;
        if self.connector(name).is_none() {
            return Err(WorkerError::NotFound(name.to_string()));
        }
        Ok((guard, self.cluster().expect("a distributed worker")))
    }

    /// The leader's write lock, or Kafka Connect's 409 when this worker
    /// does not lead (a rebalance moved the leadership after the request
    /// was forwarded here).
    async fn as_leader(&self) -> Result<tokio::sync::MutexGuard<'_, ()>, WorkerError> {
        let cluster = self.cluster().expect("a distributed worker");
        if !cluster.is_leader() {
            return Err(WorkerError::Rebalancing(
                "Cannot complete request because of a conflicting operation (e.g. worker \
                 rebalance)"
                    .into(),
            ));
        }
        let guard = self.leader_writes.lock().await;
        // What others wrote before this request must be seen first.
        cluster
            .configs
            .read_to_end(READ_BACK)
            .await
            .map_err(WorkerError::Other)?;
        Ok(guard)
    }

    async fn read_back(&self) -> Result<(), WorkerError> {
        let cluster = self.cluster().expect("a distributed worker");
        cluster
            .configs
            .read_to_end(READ_BACK)
            .await
            .map(drop)
            .map_err(WorkerError::Other)
    }

    /// `POST /connectors` on the leader.
    pub(in crate::worker) async fn cluster_create(
        &self,
        name: &str,
        raw: BTreeMap<String, String>,
        initial: TargetState,
    ) -> Result<ConnectorEntry, WorkerError> {
        let _leader = self.as_leader().await?;
        if self.connector(name).is_some() {
            return Err(WorkerError::Duplicate(name.to_string()));
        }
        self.write_config(name, raw, Some(initial)).await
    }

    /// `PUT /connectors/{name}/config` on the leader: whether it was
    /// created.
    pub(in crate::worker) async fn cluster_put(
        &self,
        name: &str,
        raw: BTreeMap<String, String>,
    ) -> Result<(bool, ConnectorEntry), WorkerError> {
        let _leader = self.as_leader().await?;
        let created = self.connector(name).is_none();
        let entry = self.write_config(name, raw, None).await?;
        Ok((created, entry))
    }

    /// `PATCH /connectors/{name}/config` on the leader.
    pub(in crate::worker) async fn cluster_patch(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> Result<ConnectorEntry, WorkerError> {
        let _leader = self.as_leader().await?;
        let mut raw = self
            .connector(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?
            .config;
        super::super::lifecycle::apply_patch(name, &mut raw, patch)?;
        self.write_config(name, raw, None).await
    }

    /// Checks a configuration and writes it (with a target state first,
    /// when one is given, so the connector starts in it).
    async fn write_config(
        &self,
        name: &str,
        raw: BTreeMap<String, String>,
        initial: Option<TargetState>,
    ) -> Result<ConnectorEntry, WorkerError> {
        let cluster = self.cluster().expect("a distributed worker");
        let prepared = self.prepare(&raw).map_err(WorkerError::Invalid)?;
        if let Some(state) = initial.filter(|s| *s != TargetState::Started) {
            cluster
                .configs
                .put_target_state(name, Some(state))
                .await
                .map_err(WorkerError::Other)?;
        }
        cluster
            .configs
            .put_connector(name, Some(raw.clone()))
            .await
            .map_err(WorkerError::Other)?;
        self.read_back().await?;
        tracing::info!("connector {name}: configuration written to the config topic");
        Ok(ConnectorEntry {
            config: raw,
            kind: Some(prepared.plugin.kind),
            task_configs: self
                .connector(name)
                .map(|e| e.task_configs)
                .unwrap_or_default(),
        })
    }

    /// `DELETE /connectors/{name}` on the leader: tombstones for the
    /// configuration and the target state, as Kafka Connect writes.
    pub(in crate::worker) async fn cluster_delete(&self, name: &str) -> Result<(), WorkerError> {
        let (_leader, cluster) = self.as_leader_of(name).await?;
        cluster
            .configs
            .put_connector(name, None)
            .await
            .map_err(WorkerError::Other)?;
        cluster
            .configs
            .put_target_state(name, None)
            .await
            .map_err(WorkerError::Other)?;
        self.read_back().await?;
        tracing::info!("connector {name}: deleted from the config topic");
        Ok(())
    }

    /// `PUT pause|resume|stop` on the leader.
    pub(in crate::worker) async fn cluster_set_target(
        &self,
        name: &str,
        target: TargetState,
    ) -> Result<(), WorkerError> {
        let (_leader, cluster) = self.as_leader_of(name).await?;
        cluster
            .configs
            .put_target_state(name, Some(target))
            .await
            .map_err(WorkerError::Other)?;
        self.read_back().await
    }

    /// `POST /connectors/{name}/restart` on the leader: a restart request
    /// in the config topic, carried out by the workers that run the
    /// connector and its tasks. Answers the status as of the request, with
    /// what is to restart RESTARTING.
    pub(in crate::worker) async fn cluster_restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<ConnectorStatus, WorkerError> {
        let _leader = self.as_leader().await?;
        let mut status = self
            .connector_status(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        let cluster = self.cluster().expect("a distributed worker");
        cluster
            .configs
            .request_restart(name, include_tasks, only_failed)
            .await
            .map_err(WorkerError::Other)?;
        if !only_failed || status.connector.state == State::Failed {
            status.connector.state = State::Restarting;
            status.connector.trace = None;
        }
        if include_tasks {
            for t in &mut status.tasks {
                if !only_failed || t.state == State::Failed {
                    t.state = State::Restarting;
                    t.trace = None;
                }
            }
        }
        self.read_back().await?;
        Ok(status)
    }

    /// `POST /connectors/{name}/tasks/{id}/restart`: restarts the task here
    /// when this worker runs it, or asks the worker that does (the
    /// leader knows each task's owner).
    pub(in crate::worker) async fn cluster_restart_task(
        &self,
        name: &str,
        task: u32,
        forwarded: bool,
    ) -> Result<(), WorkerError> {
        let cluster = self.cluster().expect("a distributed worker");
        let id = crate::cluster::assignor::TaskId {
            connector: name.to_string(),
            task,
        };
        {
            let mut running = cluster.running.lock().await;
            if let Some(t) = running.tasks.get_mut(&id) {
                // Forgetting the task makes the reconciler start it again
                // from its stored configuration.
                let handle = t.handle.take();
                running.tasks.remove(&id);
                drop(running);
                crate::worker::task::stop_all(handle.into_iter().collect(), self.stop_grace())
                    .await;
                cluster.wake.notify_one();
                return Ok(());
            }
        }
        // The leader finds the owner; any other worker asked by another
        // was asked as the owner, and is not (any more).
        if forwarded && !cluster.is_leader() {
            return Err(WorkerError::Rebalancing(format!(
                "Task {name}-{task} is not running on this worker; the group may be rebalancing"
            )));
        }
        let owner = cluster
            .membership()
            .task_owners
            .get(&id)
            .cloned()
            .ok_or_else(|| WorkerError::TaskNotFound(name.to_string(), task.to_string()))?;
        let answer = forward::send(
            &owner,
            self.config.rest_tls.as_ref(),
            hyper::Method::POST,
            &format!("/connectors/{}/tasks/{task}/restart", path_segment(name)),
            self.own_authorization().as_deref(),
            Default::default(),
        )
        .await
        .map_err(WorkerError::Other)?;
        if answer.status.is_success() {
            Ok(())
        } else {
            Err(WorkerError::Other(anyhow::anyhow!(
                "the worker at {owner} answered {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )))
        }
    }

    /// `POST /connectors/{name}/tasks` (between workers): a connector's
    /// new task configurations, written by the leader.
    pub async fn put_task_configs(
        &self,
        name: &str,
        configs: Vec<BTreeMap<String, String>>,
    ) -> Result<(), WorkerError> {
        let Some(cluster) = self.cluster() else {
            return Err(WorkerError::BadRequest(
                "task configurations are written by a distributed worker's leader only".into(),
            ));
        };
        let _leader = self.as_leader().await?;
        if self.connector(name).is_none() {
            return Err(WorkerError::NotFound(name.to_string()));
        }
        cluster
            .configs
            .put_task_configs(name, configs)
            .await
            .map_err(WorkerError::Other)?;
        self.read_back().await
    }

    /// A connector's view from the config topic.
    pub(in crate::worker) fn cluster_connector(&self, name: &str) -> Option<ConnectorEntry> {
        let cluster = self.cluster()?;
        let entry = cluster.configs.snapshot().connector(name)?;
        Some(ConnectorEntry {
            config: entry.config.clone(),
            kind: self.kind_of(&entry.config),
            task_configs: entry.tasks,
        })
    }

    /// A connector's target state in the config topic.
    pub(in crate::worker) fn cluster_target_state(&self, name: &str) -> Option<TargetState> {
        let cluster = self.cluster()?;
        cluster
            .configs
            .snapshot()
            .connector(name)
            .map(|c| c.target_state)
    }

    /// Every connector's name in the config topic.
    pub(in crate::worker) fn cluster_connector_names(&self) -> Vec<String> {
        self.cluster()
            .map(|c| c.configs.snapshot().connectors().into_keys().collect())
            .unwrap_or_default()
    }

    /// A connector's status from the status topic.
    pub(in crate::worker) fn cluster_status(&self, name: &str) -> Option<ConnectorStatus> {
        let entry = self.cluster_connector(name)?;
        let cluster = self.cluster()?;
        let kind = type_name(entry.kind);
        cluster
            .view()
            .connector_status(name, &kind, entry.task_configs.len() as u32)
    }

    /// The Authorization header this worker sends to another: its own
    /// REST credentials, which every worker of the cluster shares.
    pub(super) fn own_authorization(&self) -> Option<String> {
        use base64::Engine;
        let auth = self.config.rest_auth.as_ref()?;
        if let Some(token) = &auth.bearer {
            return Some(format!("Bearer {token}"));
        }
        let (user, password) = auth.basic.as_ref()?;
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ))
    }
}
