//! The worker's life in the group: join, let the leader divide the work,
//! take this worker's share, heartbeat, and join again when the group or
//! the set of work changes. Work handed back (revoked) is stopped before
//! the worker rejoins, so that no task runs on two workers; a worker that
//! cannot heartbeat for a session timeout stops all of its work, since
//! the group has by then given it up (zombie fencing).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;

use super::Membership;
use crate::cluster::assignor::{
    Assignment, AssignmentError, Assignor, ClusterWork, MemberMetadata, Owned, PROTOCOL_NAME,
    PROTOCOL_TYPE, TaskId,
};
use crate::cluster::membership::{
    GroupClient, GroupError, GroupOptions, HeartbeatOutcome, SyncOutcome,
};
use crate::cluster::records::ConfigSnapshot;
use crate::cluster::secure_link::LinkSecurity;
use crate::config::distributed::worker_id;
use crate::worker::herder::Worker;

/// How long to wait before trying the broker again after it failed us.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

impl Worker {
    /// Takes part in the group until the worker shuts down. Returns an
    /// error only for what retrying cannot mend (a group of another kind,
    /// a config topic that differs from the leader's).
    pub async fn run_member(self: Arc<Self>) -> Result<()> {
        let cluster = Arc::clone(self.cluster().expect("a distributed worker"));
        let settings = &cluster.settings;
        let options = GroupOptions {
            bootstrap_servers: self.config.bootstrap_servers.clone(),
            group_id: settings.group_id.clone(),
            client_id: format!("sluice-{}", self.worker_id),
            session_timeout: settings.session_timeout,
            rebalance_timeout: settings.rebalance_timeout,
            protocol_type: PROTOCOL_TYPE.into(),
            request_timeout: Duration::from_secs(30),
            // Checked when the worker started (cli.rs).
            security: LinkSecurity::from_client_settings(&self.config.admin)?,
        };
        let mut assignor = Assignor::default();
        let mut client: Option<GroupClient> = None;
        // The last time the coordinator counted this worker in.
        let mut last_alive = Instant::now();
        // Raised each time this worker asks the group to rebalance (see
        // `MemberMetadata::epoch`).
        let mut epoch = 0u64;
        // The generation of the last completed rebalance.
        let mut settled: Option<i32> = None;
        loop {
            if self.cancel.is_cancelled() {
                if let Some(mut c) = client.take() {
                    // The others rebalance at once instead of waiting out
                    // this worker's session, once this worker's tasks have
                    // flushed and committed.
                    let grace = self.stop_grace() + Duration::from_secs(2);
                    let _ = tokio::time::timeout(grace, cluster.tasks_stopped.notified()).await;
                    let _ = c.leave().await;
                }
                return Ok(());
            }
            let group = match &mut client {
                Some(c) => c,
                None => match GroupClient::connect(options.clone()).await {
                    Ok(c) => client.insert(c),
                    Err(GroupError::Rejected(why)) => {
                        bail!("group.id {}: {why}", settings.group_id)
                    }
                    Err(GroupError::Unavailable(why)) => {
                        tracing::warn!("cannot reach the group's coordinator: {why}");
                        self.fence_if_expired(last_alive).await;
                        self.pause(RETRY_PAUSE).await;
                        continue;
                    }
                },
            };
            match self.rebalance(group, &mut assignor, epoch, settled).await {
                Ok(Some(assignment)) => {
                    last_alive = Instant::now();
                    settled = Some(group.generation_id());
                    let revoked = !assignment.revoked_connectors.is_empty()
                        || !assignment.revoked_tasks.is_empty();
                    if revoked {
                        // The revoked work has stopped: ask for the round
                        // that hands it out.
                        epoch += 1;
                        continue;
                    }
                    // Work of a departed worker waits for it; when the wait
                    // is over, the leader asks for the round that moves it.
                    let delay = if cluster.is_leader() {
                        Duration::from_millis(assignment.delay_ms)
                    } else {
                        Duration::ZERO
                    };
                    if self.steady(group, &mut last_alive, delay).await == Wake::Asking {
                        epoch += 1;
                    }
                }
                Ok(None) => {}
                Err(RebalanceError::SameGeneration) => epoch += 1,
                Err(RebalanceError::Leaderless) => {
                    // Leaving and joining anew makes tansu elect a leader.
                    if let Err(e) = group.leave().await {
                        tracing::warn!("leaving the group to join it anew: {e}");
                        client = None;
                    }
                }
                Err(RebalanceError::Fatal(e)) => {
                    if let Some(mut c) = client.take() {
                        let _ = c.leave().await;
                    }
                    return Err(e);
                }
                Err(RebalanceError::Retry(why)) => {
                    tracing::warn!("rebalance failed, trying again: {why}");
                    client = None;
                    self.fence_if_expired(last_alive).await;
                    self.pause(RETRY_PAUSE).await;
                }
            }
        }
    }

    /// One rebalance: join, assign if leading, sync, and apply this
    /// worker's share. `None` when the group moved on meanwhile.
    async fn rebalance(
        &self,
        group: &mut GroupClient,
        assignor: &mut Assignor,
        epoch: u64,
        settled: Option<i32>,
    ) -> Result<Option<Assignment>, RebalanceError> {
        let cluster = self.cluster().expect("a distributed worker");
        // The metadata stays the same from one join to the next unless this
        // worker asks for a rebalance: tansu starts a new generation
        // whenever a member's metadata changes, so reporting what this
        // worker holds or how far it has read the config topic would make
        // every join start another round. The leader knows the holdings
        // from its own assignments (or, newly elected, from the status
        // topic) and reads the config topic to its end before assigning.
        let metadata = MemberMetadata {
            url: cluster.settings.advertised_url.clone(),
            config_topic: cluster.settings.config_topic.name.clone(),
            config_offset: -1,
            owned: Owned::default(),
            epoch,
        };
        {
            // Nobody leads while the group rebalances: writes get 409.
            let mut m = cluster
                .membership
                .write()
                .unwrap_or_else(|e| e.into_inner());
            m.leader_url = None;
        }
        let protocols = [(PROTOCOL_NAME.to_string(), Bytes::from(metadata.encode()))];
        let joined = group.join(&protocols).await.map_err(RebalanceError::from)?;
        if Some(joined.generation_id) == settled {
            // tansu drops a member that stopped heartbeating without
            // starting a new generation, and answers a rejoin with the
            // same metadata with the assignment already made (Kafka starts
            // a new generation at every rebalance). The leader changes its
            // metadata to divide the work anew; a follower may be waiting
            // on a leader that died, which tansu keeps as the leader until
            // a member leaves, so it leaves and joins anew.
            return Err(if joined.is_leader() {
                RebalanceError::SameGeneration
            } else {
                RebalanceError::Leaderless
            });
        }
        let mut task_owners = BTreeMap::new();
        let assignments = if joined.is_leader() {
            // The leader assigns from everything written so far.
            let offset = cluster
                .configs
                .read_to_end(
                    cluster
                        .settings
                        .worker_sync_timeout
                        .max(Duration::from_secs(10)),
                )
                .await
                .map_err(|e| RebalanceError::Retry(format!("{e:#}")))?;
            let snapshot = cluster.configs.snapshot();
            let work = cluster_work(&snapshot, &cluster.settings.config_topic.name, offset);
            let mut members = Vec::new();
            for (id, bytes) in &joined.members {
                match MemberMetadata::decode(bytes) {
                    Ok(mut m) => {
                        m.owned = match assignor.holding(id) {
                            Some(held) => held.clone(),
                            None => cluster.view().held_by(worker_id(&m.url)),
                        };
                        members.push((id.clone(), m));
                    }
                    Err(e) => tracing::error!(
                        "member {id} of the group sent metadata this worker cannot read: {e}"
                    ),
                }
            }
            let assigned = assignor.assign(
                &members,
                &joined.leader_id,
                &work,
                Instant::now(),
                cluster.settings.scheduled_rebalance_max_delay,
            );
            // The leader remembers who runs what, to send a task's restart
            // to its worker.
            let urls: BTreeMap<&str, &str> = members
                .iter()
                .map(|(id, m)| (id.as_str(), m.url.as_str()))
                .collect();
            task_owners = assigned
                .iter()
                .flat_map(|(id, a)| {
                    let url = urls.get(id.as_str()).copied().unwrap_or_default();
                    a.tasks.iter().map(move |t| (t.clone(), url.to_string()))
                })
                .collect();
            assigned
                .into_iter()
                .map(|(id, a)| (id, Bytes::from(a.encode())))
                .collect()
        } else {
            Vec::new()
        };
        let assignment = match group
            .sync(assignments)
            .await
            .map_err(RebalanceError::from)?
        {
            // The leader assigned before this worker joined its generation.
            SyncOutcome::Assigned(bytes) if bytes.is_empty() => return Ok(None),
            SyncOutcome::Assigned(bytes) => Assignment::decode(&bytes)
                .map_err(|e| RebalanceError::Retry(format!("the leader's assignment: {e}")))?,
            SyncOutcome::RebalanceNeeded => return Ok(None),
            SyncOutcome::Fenced => {
                self.stop_everything("the group fenced this worker off")
                    .await;
                return Ok(None);
            }
        };
        if let AssignmentError::ConfigMismatch { expected_topic } = &assignment.error {
            return Err(RebalanceError::Fatal(anyhow::anyhow!(
                "config.storage.topic: this worker reads {}, but the group's leader reads \
                 {expected_topic}; every worker of group {} must name the same internal topics",
                cluster.settings.config_topic.name,
                cluster.settings.group_id
            )));
        }
        tracing::info!(
            "joined group {} generation {} ({}): {} connector(s), {} task(s){}",
            cluster.settings.group_id,
            joined.generation_id,
            if joined.is_leader() {
                "leader"
            } else {
                "follower"
            },
            assignment.connectors.len(),
            assignment.tasks.len(),
            if assignment.revoked_tasks.is_empty() && assignment.revoked_connectors.is_empty() {
                String::new()
            } else {
                format!(
                    "; handing back {} connector(s) and {} task(s)",
                    assignment.revoked_connectors.len(),
                    assignment.revoked_tasks.len()
                )
            }
        );
        // Revoked work stops before anything else, and before this worker
        // rejoins: the next owner must not run it beside this one.
        self.revoke(&assignment.revoked_connectors, &assignment.revoked_tasks)
            .await;
        {
            let mut m = cluster
                .membership
                .write()
                .unwrap_or_else(|e| e.into_inner());
            *m = Membership {
                generation: joined.generation_id,
                leader_url: Some(assignment.leader_url.clone()),
                is_leader: joined.is_leader(),
                connectors: assignment.connectors.clone(),
                tasks: assignment.tasks.clone(),
                config_offset: assignment.config_offset,
                task_owners,
            };
        }
        cluster.offsets.set_fenced(false);
        cluster.wake.notify_one();
        Ok(Some(assignment))
    }

    /// Heartbeats until the group rebalances, the leader sees the work
    /// change, lost work is due to be reassigned, or the worker stops.
    async fn steady(
        &self,
        group: &mut GroupClient,
        last_alive: &mut Instant,
        delay: Duration,
    ) -> Wake {
        let cluster = self.cluster().expect("a distributed worker");
        let interval = cluster.settings.heartbeat_interval;
        let rejoin_at = (!delay.is_zero()).then(|| tokio::time::Instant::now() + delay);
        let mut changes = cluster.configs.changes();
        let assigned_work = self.work_signature();
        // The first heartbeat goes at once: tansu counts only heartbeats as
        // signs of life, and a rebalance may have taken a while.
        let mut next_beat = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = self.cancel.cancelled() => return Wake::Told,
                () = async {
                    match rejoin_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => return Wake::Asking,
                changed = changes.changed() => {
                    // The leader rebalances when connectors or tasks come
                    // or go; a changed configuration alone does not move
                    // work (its owners restart it).
                    if changed.is_ok() && cluster.is_leader() && self.work_signature() != assigned_work {
                        return Wake::Asking;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(next_beat) => {}
            }
            next_beat = tokio::time::Instant::now() + interval;
            match group.heartbeat().await {
                Ok(HeartbeatOutcome::Ok) => *last_alive = Instant::now(),
                Ok(HeartbeatOutcome::RebalanceNeeded) => {
                    *last_alive = Instant::now();
                    return Wake::Told;
                }
                Ok(HeartbeatOutcome::Fenced) => {
                    self.stop_everything("the group no longer counts this worker in")
                        .await;
                    return Wake::Told;
                }
                Err(e) => {
                    tracing::warn!("heartbeat failed: {e}");
                    if self.fence_if_expired(*last_alive).await {
                        return Wake::Told;
                    }
                }
            }
        }
    }

    /// The connectors and task ids in the config topic, to tell when the
    /// work to divide has changed.
    fn work_signature(&self) -> BTreeSet<TaskId> {
        let cluster = self.cluster().expect("a distributed worker");
        let snapshot = cluster.configs.snapshot();
        let work = cluster_work(&snapshot, "", 0);
        let mut signature = BTreeSet::new();
        for (connector, tasks) in work.connectors {
            // A connector is a task numbered past any real one.
            signature.extend((0..tasks).chain([u32::MAX]).map(|task| TaskId {
                connector: connector.clone(),
                task,
            }));
        }
        signature
    }

    /// Stops all work once the coordinator can no longer have counted this
    /// worker in (a session timeout without a heartbeat): the group gives
    /// its work to others, which must not find it still running here.
    /// Returns whether it did.
    async fn fence_if_expired(&self, last_alive: Instant) -> bool {
        let cluster = self.cluster().expect("a distributed worker");
        if last_alive.elapsed() < cluster.settings.session_timeout {
            return false;
        }
        self.stop_everything(&format!(
            "no heartbeat reached the group's coordinator for {} s (session.timeout.ms)",
            last_alive.elapsed().as_secs()
        ))
        .await;
        true
    }

    /// Gives up every connector and task of this worker, and refuses
    /// offset writes until it is in the group again.
    async fn stop_everything(&self, why: &str) {
        let cluster = self.cluster().expect("a distributed worker");
        cluster.offsets.set_fenced(true);
        let (connectors, tasks) = {
            let running = cluster.running.lock().await;
            (
                running.connectors.keys().cloned().collect::<BTreeSet<_>>(),
                running.tasks.keys().cloned().collect::<BTreeSet<_>>(),
            )
        };
        if connectors.is_empty() && tasks.is_empty() {
            return;
        }
        tracing::warn!(
            "{why}: stopping this worker's {} connector(s) and {} task(s)",
            connectors.len(),
            tasks.len()
        );
        {
            let mut m = cluster
                .membership
                .write()
                .unwrap_or_else(|e| e.into_inner());
            *m = Membership::default();
        }
        self.revoke(&connectors, &tasks).await;
    }

    async fn pause(&self, how_long: Duration) {
        tokio::select! {
            () = self.cancel.cancelled() => {}
            () = tokio::time::sleep(how_long) => {}
        }
    }
}

/// The work to divide: every connector of the config topic with its
/// committed task count.
fn cluster_work(snapshot: &ConfigSnapshot, config_topic: &str, offset: i64) -> ClusterWork {
    ClusterWork {
        config_topic: config_topic.to_string(),
        config_offset: offset,
        connectors: snapshot
            .connectors()
            .into_iter()
            .map(|(name, c)| (name, c.tasks.len() as u32))
            .collect(),
    }
}

/// Why a worker left its steady heartbeating.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// The group (or the worker's shutdown) calls for a rejoin.
    Told,
    /// This worker wants a rebalance, and must say so in its metadata.
    Asking,
}

/// Why a rebalance did not complete.
enum RebalanceError {
    /// The leader was given the generation it assigned last: ask anew.
    SameGeneration,
    /// A follower was given the generation it had: leave and join anew.
    Leaderless,
    /// Try again (the coordinator moved, the broker is away).
    Retry(String),
    /// Give up: the worker cannot be part of this group.
    Fatal(anyhow::Error),
}

impl From<GroupError> for RebalanceError {
    fn from(e: GroupError) -> Self {
        match e {
            GroupError::Unavailable(why) => RebalanceError::Retry(why),
            GroupError::Rejected(why) => RebalanceError::Fatal(anyhow::anyhow!("{why}")),
        }
    }
}
