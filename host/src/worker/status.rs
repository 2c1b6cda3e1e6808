//! The state of every connector and task on this worker, in Kafka
//! Connect's terms (RUNNING, FAILED, ...), with the trace of a failure, and
//! each task's metrics.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

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

/// Every connector's status, shared between the task loops that change it
/// and the REST API that reads it.
#[derive(Clone, Default)]
pub struct StatusBoard {
    connectors: Arc<RwLock<BTreeMap<String, ConnectorStatus>>>,
    /// By connector and task id; a task keeps its metrics across restarts.
    metrics: Arc<RwLock<TaskMetricsByTask>>,
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
        if let Some(status) = self.write().get_mut(connector)
            && let Some(t) = status.tasks.iter_mut().find(|t| t.id == task)
        {
            t.state = state;
            t.trace = trace;
        }
    }

    /// Says why a RUNNING task is making no progress (its broker is down,
    /// a plugin call is being retried), or, with `None`, that it is again.
    /// Kafka Connect has no state for this; the trace of a RUNNING task
    /// carries it, and a task in any other state is left as it is.
    pub fn set_trouble(&self, connector: &str, task: u32, trouble: Option<String>) {
        if let Some(status) = self.write().get_mut(connector)
            && let Some(t) = status.tasks.iter_mut().find(|t| t.id == task)
            && t.state == State::Running
        {
            t.trace = trouble;
        }
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
