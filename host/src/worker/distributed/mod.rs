//! Distributed mode's herder: a worker that is one of a group sharing a
//! `group.id`. Its connectors, offsets and statuses live in the three
//! internal topics (`cluster::{config_log, offset_log, status_log}`); the
//! broker's group coordinator decides who is in the group and the leader
//! divides the work (`member`); each worker runs what it was given
//! (`reconcile`); REST writes are carried out by the leader (`requests`),
//! to which followers forward them (`forward`).

pub mod forward;
mod member;
mod reconcile;
mod requests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Notify;

use super::status::{ConnectorState, ConnectorStatus, State, StatusObserver, TaskStatus};
use super::task::TaskHandle;
use super::topics::{ActiveTopics, TopicObserver};
use crate::cluster::assignor::{Owned, TaskId};
use crate::cluster::config_log::ConfigLog;
use crate::cluster::internal_topics;
use crate::cluster::offset_log::KafkaOffsetStore;
use crate::cluster::records::{Status, StatusRecord, StatusState, TopicStatus};
use crate::cluster::status_log::StatusLog;
use crate::config::WorkerConfig;
use crate::config::distributed::DistributedConfig;
use crate::kafka;

/// How long a worker may take to read an internal topic to its end at
/// start before it gives up.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Who leads and what this worker was given, as of the last rebalance.
#[derive(Clone, Debug, Default)]
pub struct Membership {
    pub generation: i32,
    /// The leader's REST URL; `None` while a rebalance is under way.
    pub leader_url: Option<String>,
    pub is_leader: bool,
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskId>,
    /// The config topic position the leader assigned at; work is started
    /// only once this worker has read that far.
    pub config_offset: i64,
    /// Each member's REST URL by the work it holds (known to the leader),
    /// for requests only the owner can carry out (a task's restart).
    pub task_owners: BTreeMap<TaskId, String>,
}

/// Every connector's and task's status as the status topic says.
#[derive(Default)]
pub struct StatusView {
    connectors: BTreeMap<String, Status>,
    tasks: BTreeMap<(String, u32), Status>,
}

impl StatusView {
    /// Applies a status read from the topic. An older generation's write
    /// that arrives after a newer one (a worker that stopped a task it had
    /// lost, writing after the new owner) is ignored, as Kafka Connect
    /// ignores it.
    fn apply(&mut self, record: StatusRecord) {
        fn put<K: Ord>(map: &mut BTreeMap<K, Status>, key: K, value: Option<Status>) {
            match value {
                Some(v) => {
                    let stale = map.get(&key).is_some_and(|old| {
                        old.worker_id != v.worker_id && old.generation > v.generation
                    });
                    if !stale {
                        map.insert(key, v);
                    }
                }
                None => {
                    map.remove(&key);
                }
            }
        }
        match record {
            StatusRecord::Connector { connector, status } => {
                put(&mut self.connectors, connector, status)
            }
            StatusRecord::Task {
                connector,
                task,
                status,
            } => put(&mut self.tasks, (connector, task), status),
            StatusRecord::Topic { .. } | StatusRecord::Other { .. } => {}
        }
    }

    /// The connectors and tasks the status topic says `worker_id` runs
    /// (in any state but unassigned): what a newly elected leader takes a
    /// worker to hold.
    pub fn held_by(&self, worker_id: &str) -> Owned {
        let here = |s: &Status| {
            s.worker_id == worker_id
                && !matches!(s.state, StatusState::Unassigned | StatusState::Destroyed)
        };
        Owned {
            connectors: (self.connectors.iter())
                .filter(|(_, s)| here(s))
                .map(|(name, _)| name.clone())
                .collect(),
            tasks: (self.tasks.iter())
                .filter(|(_, s)| here(s))
                .map(|((connector, task), _)| TaskId {
                    connector: connector.clone(),
                    task: *task,
                })
                .collect(),
        }
    }

    /// A connector's status with its first `task_count` tasks'.
    pub fn connector_status(
        &self,
        name: &str,
        kind: &str,
        task_count: u32,
    ) -> Option<ConnectorStatus> {
        let connector = self.connectors.get(name);
        let tasks: Vec<TaskStatus> = (0..task_count)
            .map(|id| match self.tasks.get(&(name.to_string(), id)) {
                Some(s) => TaskStatus {
                    id,
                    state: from_wire(s.state),
                    worker_id: s.worker_id.clone(),
                    trace: s.trace.clone(),
                },
                None => TaskStatus {
                    id,
                    state: State::Unassigned,
                    worker_id: String::new(),
                    trace: None,
                },
            })
            .collect();
        Some(ConnectorStatus {
            name: name.to_string(),
            connector: match connector {
                Some(s) => ConnectorState {
                    state: from_wire(s.state),
                    worker_id: s.worker_id.clone(),
                    trace: s.trace.clone(),
                },
                None => ConnectorState {
                    state: State::Unassigned,
                    worker_id: String::new(),
                    trace: None,
                },
            },
            tasks,
            kind: kind.to_string(),
        })
    }
}

/// A state read from the status topic (DESTROYED is never written; read
/// as UNASSIGNED).
fn from_wire(state: StatusState) -> State {
    match state {
        StatusState::Running => State::Running,
        StatusState::Paused => State::Paused,
        StatusState::Failed => State::Failed,
        StatusState::Restarting => State::Restarting,
        StatusState::Stopped => State::Stopped,
        StatusState::Unassigned | StatusState::Destroyed => State::Unassigned,
    }
}

/// A state as the status topic holds it.
fn to_wire(state: State) -> StatusState {
    match state {
        State::Unassigned => StatusState::Unassigned,
        State::Running => StatusState::Running,
        State::Paused => StatusState::Paused,
        State::Failed => StatusState::Failed,
        State::Restarting => StatusState::Restarting,
        State::Stopped => StatusState::Stopped,
    }
}

/// What this worker runs, and what it started it from.
#[derive(Default)]
pub(super) struct Running {
    /// Assigned connectors: the configuration their work was last split
    /// from, and the last restart request handled.
    pub connectors: BTreeMap<String, RunningConnector>,
    pub tasks: BTreeMap<TaskId, RunningTask>,
}

pub(super) struct RunningConnector {
    pub raw: BTreeMap<String, String>,
    pub target: crate::config::store::TargetState,
    /// The offset of the last restart request carried out.
    pub restarted_at: i64,
}

pub(super) struct RunningTask {
    /// The task's configuration as stored (references unresolved) and its
    /// connector's, which it was started with.
    pub config: BTreeMap<String, String>,
    pub connector_raw: BTreeMap<String, String>,
    pub target: crate::config::store::TargetState,
    pub handle: Option<TaskHandle>,
    pub restarted_at: i64,
}

/// A distributed worker's share of the cluster.
pub struct Cluster {
    pub(super) settings: DistributedConfig,
    pub(super) configs: ConfigLog,
    pub(super) statuses: StatusLog,
    pub(super) offsets: Arc<KafkaOffsetStore>,
    pub(super) view: Arc<RwLock<StatusView>>,
    /// Every connector's active topics, as the status topic says.
    pub(super) topics: ActiveTopics,
    pub(super) membership: RwLock<Membership>,
    pub(super) running: tokio::sync::Mutex<Running>,
    /// Wakes the reconciler: the assignment or the configs changed.
    pub(super) wake: Notify,
    /// Told by the worker's shutdown once its tasks have stopped, so that
    /// the worker leaves the group only then.
    pub(super) tasks_stopped: Notify,
}

impl Cluster {
    /// Creates or checks the internal topics and reads them. Nothing is
    /// written before every check passed.
    pub async fn open(config: &WorkerConfig, settings: &DistributedConfig) -> Result<Cluster> {
        let admin = kafka::admin_config(config);
        internal_topics::ensure(&admin, &config.bootstrap_servers, settings).await?;
        let consumer = kafka::client_config(
            &config.bootstrap_servers,
            &[("reconnect.backoff.max.ms", "1000")],
            [&config.consumer],
        );
        let producer = kafka::client_config(
            &config.bootstrap_servers,
            &[("reconnect.backoff.max.ms", "1000")],
            [&config.producer],
        );
        let configs = ConfigLog::open(
            &consumer,
            &producer,
            &settings.config_topic.name,
            READ_TIMEOUT,
        )
        .await?;
        let offsets = KafkaOffsetStore::open(
            &consumer,
            &producer,
            &settings.offset_topic.name,
            READ_TIMEOUT,
        )
        .await?;
        let view: Arc<RwLock<StatusView>> = Default::default();
        let topics = ActiveTopics::default();
        let on_status = {
            let view = Arc::clone(&view);
            let topics = topics.clone();
            move |record| match record {
                StatusRecord::Topic {
                    topic,
                    connector,
                    status,
                } => topics.apply(&connector, &topic, status.is_some()),
                record => view
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .apply(record),
            }
        };
        let statuses = StatusLog::open(
            &consumer,
            &producer,
            &settings.status_topic.name,
            READ_TIMEOUT,
            Box::new(on_status),
        )
        .await
        .context("opening the status topic")?;
        Ok(Cluster {
            settings: settings.clone(),
            configs,
            statuses,
            offsets: Arc::new(offsets),
            view,
            topics,
            membership: Default::default(),
            running: Default::default(),
            wake: Notify::new(),
            tasks_stopped: Notify::new(),
        })
    }

    pub fn membership(&self) -> Membership {
        self.membership
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn offsets(&self) -> Arc<KafkaOffsetStore> {
        Arc::clone(&self.offsets)
    }

    /// The leader's URL, or Kafka Connect's 409 message while nobody leads.
    pub fn leader_url(&self) -> Option<String> {
        self.membership().leader_url
    }

    /// The leader's URL once the group has one: a write that arrives
    /// during a rebalance waits for it to end (up to `rebalance.timeout.ms`),
    /// as Kafka Connect's herder queues requests until its rebalance is
    /// over, rather than failing at once. `None` if it does not end in time.
    pub async fn settled_leader_url(&self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + self.settings.rebalance_timeout;
        loop {
            if let Some(url) = self.leader_url() {
                return Some(url);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn is_leader(&self) -> bool {
        self.membership().is_leader
    }

    /// Reads the three internal topics to their ends. A follower does
    /// this once the leader carried out a write it forwarded, so that the
    /// caller's next read on this worker shows the write (a connector
    /// created, offsets altered, topics reset).
    pub async fn catch_up(&self) -> Result<()> {
        let timeout = self.settings.worker_sync_timeout;
        self.configs.read_to_end(timeout).await?;
        self.offsets.read_to_end(timeout).await?;
        self.statuses.read_to_end(timeout).await
    }

    pub fn view(&self) -> std::sync::RwLockReadGuard<'_, StatusView> {
        self.view.read().unwrap_or_else(|e| e.into_inner())
    }

    /// What writes the topics connectors start to use, and the ones a
    /// reset forgets (tombstones), to the status topic.
    pub(super) fn topic_observer(self: &Arc<Self>) -> TopicObserver {
        let cluster = Arc::downgrade(self);
        Box::new(move |connector, task, topic, used| {
            let Some(cluster) = cluster.upgrade() else {
                return;
            };
            let status = used.then(|| TopicStatus {
                topic: topic.to_string(),
                connector: connector.to_string(),
                task,
                discover_timestamp: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
            });
            cluster.statuses.publish(StatusRecord::Topic {
                topic: topic.to_string(),
                connector: connector.to_string(),
                status,
            });
        })
    }

    /// What writes this worker's status changes to the status topic, with
    /// the generation they happened in.
    pub(super) fn status_observer(self: &Arc<Self>) -> StatusObserver {
        let cluster = Arc::downgrade(self);
        Box::new(move |connector, task, state, trace, worker_id| {
            let Some(cluster) = cluster.upgrade() else {
                return;
            };
            let status = Some(Status {
                state: to_wire(state),
                trace: trace.map(str::to_string),
                worker_id: worker_id.to_string(),
                generation: cluster.membership().generation,
            });
            let record = match task {
                Some(task) => StatusRecord::Task {
                    connector: connector.to_string(),
                    task,
                    status,
                },
                None => StatusRecord::Connector {
                    connector: connector.to_string(),
                    status,
                },
            };
            cluster.statuses.publish(record);
        })
    }
}
