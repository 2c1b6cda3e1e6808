//! `/connectors`: create, read, reconfigure and delete connectors, their
//! status and their tasks, with Kafka Connect's paths, JSON shapes and
//! status codes (its ConnectorsResource).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::api::{Api, ApiError, JsonBody, config_map, config_map_strict, query_pairs};
use super::model::{
    ConfigPatch, ConfigRequest, ConnectorInfo, ConnectorList, ConnectorTaskId,
    CreateConnectorRequest, ErrorMessage, Expand, ExpandedConnector, TaskInfo,
};
use crate::worker::status::{ConnectorStatus, TaskStatus};
use crate::worker::{ConnectorEntry, TargetState, WorkerError};

fn not_found(name: &str) -> ApiError {
    WorkerError::NotFound(name.to_string()).into()
}

/// What the worker shows of connector `name`, or 404.
fn entry(api: &Api, name: &str) -> Result<ConnectorEntry, ApiError> {
    api.worker()?.connector(name).ok_or_else(|| not_found(name))
}

/// The connectors' names; with `expand=status` and/or `expand=info`, a map
/// from name to those documents.
#[utoipa::path(get, path = "/connectors", tag = "connectors", operation_id = "listConnectors",
    params(("expand" = Option<Vec<Expand>>, Query, description = "status and/or info")),
    responses((status = 200, description = "The connectors", body = ConnectorList),
              (status = 400, description = "Unknown expansion", body = ErrorMessage)))]
pub async fn list(
    State(api): State<Arc<Api>>,
    RawQuery(query): RawQuery,
) -> Result<Json<ConnectorList>, ApiError> {
    let worker = api.worker()?;
    let mut status = false;
    let mut info = false;
    for (key, value) in query_pairs(query.as_deref()) {
        if key != "expand" {
            continue;
        }
        match value.as_str() {
            "status" => status = true,
            "info" => info = true,
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown expansion \"{other}\": expected status or info"
                )));
            }
        }
    }
    let names = worker.connector_names();
    if !status && !info {
        return Ok(Json(ConnectorList::Names(names)));
    }
    let expanded = names
        .into_iter()
        .map(|name| {
            let entry = ExpandedConnector {
                status: status.then(|| worker.connector_status(&name)).flatten(),
                info: info
                    .then(|| {
                        worker
                            .connector(&name)
                            .map(|e| ConnectorInfo::new(&name, &e))
                    })
                    .flatten(),
            };
            (name, entry)
        })
        .collect();
    Ok(Json(ConnectorList::Expanded(expanded)))
}

/// Creates a connector: 201 with its info and a Location header; 409 if
/// the name is taken; 400 listing every problem with the configuration.
#[utoipa::path(post, path = "/connectors", tag = "connectors", operation_id = "createConnector",
    request_body = CreateConnectorRequest,
    responses((status = 201, description = "Created", body = ConnectorInfo,
                  headers(("Location" = String, description = "The new connector's URL"))),
              (status = 400, description = "Invalid request or configuration", body = ErrorMessage),
              (status = 409, description = "A connector of that name exists", body = ErrorMessage)))]
pub async fn create(
    State(api): State<Arc<Api>>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let worker = api.worker()?;
    let object = body.as_object().ok_or_else(|| {
        ApiError::bad_request("The request body must be a JSON object with \"name\" and \"config\"")
    })?;
    for key in object.keys() {
        if !matches!(key.as_str(), "name" | "config" | "initial_state") {
            return Err(ApiError::bad_request(format!(
                "Unknown field \"{key}\" in the request: expected name, config and initial_state"
            )));
        }
    }
    let name = match object.get("name") {
        Some(Value::String(name)) => Some(name.trim().to_string()),
        None | Some(Value::Null) => None,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "The connector name must be a string, not {other}"
            )));
        }
    };
    let mut config = match object.get("config") {
        Some(config) => config_map_strict(config, "the connector configuration")?,
        None => {
            return Err(ApiError::bad_request(
                "The request has no \"config\" object",
            ));
        }
    };
    let name = match (name, config.get("name")) {
        (Some(name), Some(in_config)) if &name != in_config => {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({in_config}) doesn't match connector name in the request ({name})"
            )));
        }
        (Some(name), _) => name,
        (None, Some(in_config)) => in_config.clone(),
        (None, None) => return Err(ApiError::bad_request("The connector needs a name")),
    };
    check_name(&name)?;
    config.insert("name".into(), name.clone());
    let initial = match object.get("initial_state") {
        None | Some(Value::Null) => TargetState::Started,
        Some(Value::String(s)) => match s.to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "Invalid initial_state \"{s}\": expected RUNNING, PAUSED or STOPPED"
                )));
            }
        },
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "initial_state must be a string, not {other}"
            )));
        }
    };
    let entry = worker.create_connector(config, initial).await?;
    Ok(created(&name, ConnectorInfo::new(&name, &entry)))
}

/// A 201 with the connector's info and its URL in Location.
fn created(name: &str, info: ConnectorInfo) -> Response {
    let mut response = (StatusCode::CREATED, Json(info)).into_response();
    let location = format!("/connectors/{}", encode_segment(name));
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A path segment with everything but unreserved characters escaped.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Kafka Connect refuses empty names and names with control characters;
/// Sluice also refuses `/`, which no URL path could carry back.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_request("Connector name cannot be empty"));
    }
    if name.chars().any(|c| c.is_control() || c == '/') {
        return Err(ApiError::bad_request(format!(
            "Connector name {name:?} contains a control character or '/'"
        )));
    }
    Ok(())
}

/// A connector's name, configuration, tasks and type.
#[utoipa::path(get, path = "/connectors/{connector}", tag = "connectors", operation_id = "getConnector",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The connector", body = ConnectorInfo),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn info(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorInfo>, ApiError> {
    Ok(Json(ConnectorInfo::new(&name, &entry(&api, &name)?)))
}

/// Stops the connector's tasks and deletes it: 204.
#[utoipa::path(delete, path = "/connectors/{connector}", tag = "connectors", operation_id = "destroyConnector",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn delete(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.worker()?.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The configuration as given: secret references are shown, never their
/// values.
#[utoipa::path(get, path = "/connectors/{connector}/config", tag = "connectors", operation_id = "getConnectorConfig",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The configuration", body = BTreeMap<String, String>),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn config(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    Ok(Json(entry(&api, &name)?.config))
}

/// Creates the connector (201, with Location) or replaces its
/// configuration and restarts it (200).
#[utoipa::path(put, path = "/connectors/{connector}/config", tag = "connectors", operation_id = "putConnectorConfig",
    params(("connector" = String, Path, description = "The connector's name")),
    request_body = ConfigRequest,
    responses((status = 200, description = "Reconfigured", body = ConnectorInfo),
              (status = 201, description = "Created", body = ConnectorInfo,
                  headers(("Location" = String, description = "The new connector's URL"))),
              (status = 400, description = "Invalid configuration", body = ErrorMessage)))]
pub async fn put_config(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let worker = api.worker()?;
    check_name(&name)?;
    let config = config_map_strict(&body, "the connector configuration")?;
    let (was_created, entry) = worker.put_connector_config(&name, config).await?;
    let info = ConnectorInfo::new(&name, &entry);
    Ok(if was_created {
        created(&name, info)
    } else {
        Json(info).into_response()
    })
}

/// Merges keys into the configuration (a null value removes the key) and
/// restarts the connector with it.
#[utoipa::path(patch, path = "/connectors/{connector}/config", tag = "connectors", operation_id = "patchConnectorConfig",
    params(("connector" = String, Path, description = "The connector's name")),
    request_body = ConfigPatch,
    responses((status = 200, description = "Reconfigured", body = ConnectorInfo),
              (status = 400, description = "Invalid configuration", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn patch_config(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConnectorInfo>, ApiError> {
    let worker = api.worker()?;
    let patch = config_map(&body, "the configuration patch")?;
    let entry = worker.patch_connector_config(&name, patch).await?;
    Ok(Json(ConnectorInfo::new(&name, &entry)))
}

/// The state of the connector and of each task, with the trace of a
/// failure.
#[utoipa::path(get, path = "/connectors/{connector}/status", tag = "connectors", operation_id = "getConnectorStatus",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The status", body = ConnectorStatus),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn status(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorStatus>, ApiError> {
    api.worker()?
        .connector_status(&name)
        .map(Json)
        .ok_or_else(|| not_found(&name))
}

/// Each task's id and configuration (secret references shown, never
/// their values).
#[utoipa::path(get, path = "/connectors/{connector}/tasks", tag = "connectors", operation_id = "getTaskConfigs",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The tasks", body = Vec<TaskInfo>),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn tasks(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<Vec<TaskInfo>>, ApiError> {
    let entry = entry(&api, &name)?;
    Ok(Json(
        entry
            .task_configs
            .into_iter()
            .enumerate()
            .map(|(task, config)| TaskInfo {
                id: ConnectorTaskId {
                    connector: name.clone(),
                    task: task as u32,
                },
                config,
            })
            .collect(),
    ))
}

/// A connector's new task configurations, from the worker that runs the
/// connector to the cluster's leader, which writes them (Kafka Connect's
/// internal endpoint; a standalone worker refuses it). 204.
#[utoipa::path(post, path = "/connectors/{connector}/tasks", tag = "connectors", operation_id = "putTaskConfigs",
    params(("connector" = String, Path, description = "The connector's name")),
    request_body(content = Vec<BTreeMap<String, String>>, description = "Each task's configuration"),
    responses((status = 204, description = "Written"),
              (status = 400, description = "Not a distributed worker, or not a list of configurations", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage),
              (status = 409, description = "The cluster is rebalancing", body = ErrorMessage)))]
pub async fn put_tasks(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let configs: Vec<BTreeMap<String, String>> = serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!(
            "Expected a list of task configurations (objects of strings): {e}"
        ))
    })?;
    api.worker()?.put_task_configs(&name, configs).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tasks' configurations keyed `<connector>-<task>` (deprecated in
/// Kafka Connect, kept for old clients).
#[utoipa::path(get, path = "/connectors/{connector}/tasks-config", tag = "connectors", operation_id = "getTasksConfig",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The tasks' configurations", body = BTreeMap<String, BTreeMap<String, String>>),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn tasks_config(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, BTreeMap<String, String>>>, ApiError> {
    let entry = entry(&api, &name)?;
    Ok(Json(
        entry
            .task_configs
            .into_iter()
            .enumerate()
            .map(|(task, config)| (format!("{name}-{task}"), config))
            .collect(),
    ))
}

/// One task's state.
#[utoipa::path(get, path = "/connectors/{connector}/tasks/{task}/status", tag = "connectors", operation_id = "getTaskStatus",
    params(("connector" = String, Path, description = "The connector's name"),
           ("task" = String, Path, description = "The task's number")),
    responses((status = 200, description = "The task's status", body = TaskStatus),
              (status = 404, description = "No such connector or task", body = ErrorMessage)))]
pub async fn task_status(
    State(api): State<Arc<Api>>,
    Path((name, task)): Path<(String, String)>,
) -> Result<Json<TaskStatus>, ApiError> {
    let status = api
        .worker()?
        .connector_status(&name)
        .ok_or_else(|| not_found(&name))?;
    task.parse::<u32>()
        .ok()
        .and_then(|id| status.tasks.into_iter().find(|t| t.id == id))
        .map(Json)
        .ok_or_else(|| WorkerError::TaskNotFound(name, task).into())
}
