//! The state of every connector and task on this worker, in Kafka
//! Connect's terms (RUNNING, FAILED, ...), with the trace of a failure, and
//! each task's metrics. A distributed worker observes every change, to
//! write it to the status topic.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde::Serialize;
use utoipa::ToSchema;

use crate::runtime::limits::TaskMetrics;

/// Kafka Connect's connector and task states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Failed,
    Restarting,
    Stopped,
}

/// One task's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct TaskStatus {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

/// A connector's state and its tasks' (the body of
/// `GET /connectors/{name}/status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskStatus>,
    /// source, sink or unknown.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

type TaskMetricsByTask = BTreeMap<(String, u32), Arc<TaskMetrics>>;

/// Told of every change of a connector's (task `None`) or a task's state:
/// connector, task, state, trace, worker id.
pub type StatusObserver = Box<dyn Fn(&str, Option<u32>, State, Option<&str>, &str) + Send + Sync>;

/// Every connector's status, shared between the task loops that change it
/// and the REST API that reads it.
#[derive(Clone, Default)]
pub struct StatusBoard {
    connectors: Arc<RwLock<BTreeMap<String, ConnectorStatus>>>,
    /// By connector and task id; a task keeps its metrics across restarts.
    metrics: Arc<RwLock<TaskMetricsByTask>>,
    observer: Arc<OnceLock<StatusObserver>>,
}

impl StatusBoard {
    /// Sets a connector's state and replaces its tasks with `tasks` of
    /// them, all in `task_state`.
    pub fn set_connector(
        &self,
        name: &str,
        kind: &str,
        state: (State, Option<String>),
        tasks: u32,
        task_state: State,
        worker_id: &str,
    ) {
        let status = ConnectorStatus {
            name: name.to_string(),
            connector: ConnectorState {
                state: state.0,
                worker_id: worker_id.to_string(),
                trace: state.1,
            },
            tasks: (0..tasks)
                .map(|id| TaskStatus {
                    id,
                    state: task_state,
                    worker_id: worker_id.to_string(),
                    trace: None,
                })
                .collect(),
            kind: kind.to_string(),
        };
        self.write().insert(name.to_string(), status);
    }

    /// Has `observer` told of every change from now on (once per board).
    pub fn observe(&self, observer: StatusObserver) {
        let _ = self.observer.set(observer);
    }

    fn notify(
        &self,
        connector: &str,
        task: Option<u32>,
        state: State,
        trace: Option<&str>,
        worker: &str,
    ) {
        if let Some(observer) = self.observer.get() {
            observer(connector, task, state, trace, worker);
        }
    }

    /// Sets a connector's own state, keeping its tasks' (a distributed
    /// worker runs a connector and its tasks apart).
    pub fn set_connector_only(
        &self,
        name: &str,
        kind: &str,
        state: State,
        trace: Option<String>,
        worker_id: &str,
    ) {
        {
            let mut connectors = self.write();
            let status = entry_of(&mut connectors, name, kind);
            status.connector = ConnectorState {
                state,
                worker_id: worker_id.to_string(),
                trace: trace.clone(),
            };
        }
        self.notify(name, None, state, trace.as_deref(), worker_id);
    }

    /// Makes sure task `task` of `name` has an entry (UNASSIGNED until the
    /// task sets its state), for a worker that runs it apart from its
    /// connector.
    pub fn ensure_task(&self, name: &str, kind: &str, task: u32, worker_id: &str) {
        let mut connectors = self.write();
        let status = entry_of(&mut connectors, name, kind);
        if !status.tasks.iter().any(|t| t.id == task) {
            status.tasks.push(TaskStatus {
                id: task,
                state: State::Unassigned,
                worker_id: worker_id.to_string(),
                trace: None,
            });
            status.tasks.sort_by_key(|t| t.id);
        }
    }

    /// Forgets a task that now runs elsewhere.
    pub fn remove_task(&self, name: &str, task: u32) {
        if let Some(status) = self.write().get_mut(name) {
            status.tasks.retain(|t| t.id != task);
        }
    }

    /// Forgets a deleted connector.
    pub fn remove(&self, name: &str) {
        self.write().remove(name);
        self.metrics
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(connector, _), _| connector != name);
    }

    /// The metrics of a task, created on first use.
    pub fn task_metrics(&self, connector: &str, task: u32) -> Arc<TaskMetrics> {
        let mut metrics = self.metrics.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(metrics.entry((connector.to_string(), task)).or_default())
    }

    /// Every task's metrics, by connector and task id.
    pub fn all_task_metrics(&self) -> Vec<((String, u32), Arc<TaskMetrics>)> {
        let metrics = self.metrics.read().unwrap_or_else(|e| e.into_inner());
        metrics
            .iter()
            .map(|(key, m)| (key.clone(), Arc::clone(m)))
            .collect()
    }

    /// Sets a task's state; a trace goes with FAILED.
    pub fn set_task(&self, connector: &str, task: u32, state: State, trace: Option<String>) {
        let worker = {
            let mut connectors = self.write();
            let Some(t) = connectors
                .get_mut(connector)
                .and_then(|status| status.tasks.iter_mut().find(|t| t.id == task))
            else {
                return;
            };
            t.state = state;
            t.trace = trace.clone();
            t.worker_id.clone()
        };
        self.notify(connector, Some(task), state, trace.as_deref(), &worker);
    }

    /// Says why a RUNNING task is making no progress (its broker is down,
    /// a plugin call is being retried), or, with `None`, that it is again.
    /// Kafka Connect has no state for this; the trace of a RUNNING task
    /// carries it, and a task in any other state is left as it is.
    pub fn set_trouble(&self, connector: &str, task: u32, trouble: Option<String>) {
        let worker = {
            let mut connectors = self.write();
            let Some(t) = connectors
                .get_mut(connector)
                .and_then(|status| status.tasks.iter_mut().find(|t| t.id == task))
                .filter(|t| t.state == State::Running && t.trace != trouble)
            else {
                return;
            };
            t.trace = trouble.clone();
            t.worker_id.clone()
        };
        self.notify(
            connector,
            Some(task),
            State::Running,
            trouble.as_deref(),
            &worker,
        );
    }

    pub fn get(&self, connector: &str) -> Option<ConnectorStatus> {
        self.read().get(connector).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ConnectorStatus>> {
        self.connectors.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ConnectorStatus>> {
        self.connectors.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// `name`'s status, created UNASSIGNED with no tasks when it has none yet.
fn entry_of<'a>(
    connectors: &'a mut BTreeMap<String, ConnectorStatus>,
    name: &str,
    kind: &str,
) -> &'a mut ConnectorStatus {
    connectors
        .entry(name.to_string())
        .or_insert_with(|| ConnectorStatus {
            name: name.to_string(),
            connector: ConnectorState {
                state: State::Unassigned,
                worker_id: String::new(),
                trace: None,
            },
            tasks: Vec::new(),
            kind: kind.to_string(),
        })
}
