//! `/connectors`: the connectors on this worker, their configuration, tasks
//! and status, with Kafka Connect's paths and JSON shapes (its
//! ConnectorsResource).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::ApiError;
use crate::worker::Worker;
use crate::worker::status::{ConnectorStatus, TaskStatus};

pub fn routes() -> Router<Arc<Worker>> {
    Router::new()
        .route("/connectors", get(list))
        .route("/connectors/{name}", get(info))
        .route("/connectors/{name}/config", get(config))
        .route("/connectors/{name}/status", get(status))
        .route("/connectors/{name}/tasks", get(tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(task_status))
}

/// `GET /connectors`: the names, or with `?expand=status` and/or
/// `?expand=info` a map from name to those documents.
async fn list(State(worker): State<Arc<Worker>>, RawQuery(query): RawQuery) -> Json<Value> {
    let expand: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("expand="))
        .map(String::from)
        .collect();
    let names = worker.connector_names();
    if expand.is_empty() {
        return Json(json!(names));
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        if expand.iter().any(|e| e == "status")
            && let Some(status) = worker.status().get(&name)
        {
            entry.insert("status".into(), json!(status));
        }
        if expand.iter().any(|e| e == "info")
            && let Some(info) = connector_info(&worker, &name)
        {
            entry.insert("info".into(), info);
        }
        out.insert(name, Value::Object(entry));
    }
    Json(Value::Object(out))
}

fn not_found(name: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("Connector {name} not found"))
}

/// `{name, config, tasks: [{connector, task}], type}`.
fn connector_info(worker: &Worker, name: &str) -> Option<Value> {
    let entry = worker.connector(name)?;
    let tasks: Vec<Value> = (0..entry.task_configs.len())
        .map(|task| json!({ "connector": name, "task": task }))
        .collect();
    Some(json!({
        "name": name,
        "config": entry.config,
        "tasks": tasks,
        "type": entry.kind.to_string(),
    }))
}

async fn info(
    State(worker): State<Arc<Worker>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    connector_info(&worker, &name)
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

async fn config(
    State(worker): State<Arc<Worker>>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    worker
        .connector(&name)
        .map(|entry| Json(entry.config))
        .ok_or_else(|| not_found(&name))
}

async fn status(
    State(worker): State<Arc<Worker>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorStatus>, ApiError> {
    worker
        .status()
        .get(&name)
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

/// `[{id: {connector, task}, config}]`.
async fn tasks(
    State(worker): State<Arc<Worker>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let entry = worker.connector(&name).ok_or_else(|| not_found(&name))?;
    Ok(Json(
        entry
            .task_configs
            .iter()
            .enumerate()
            .map(|(task, config)| json!({ "id": { "connector": name, "task": task }, "config": config }))
            .collect(),
    ))
}

async fn task_status(
    State(worker): State<Arc<Worker>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<TaskStatus>, ApiError> {
    let status = worker.status().get(&name).ok_or_else(|| not_found(&name))?;
    task.parse::<u32>()
        .ok()
        .and_then(|id| status.tasks.into_iter().find(|t| t.id == id))
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Task {name}-{task} not found"),
            )
        })
}
