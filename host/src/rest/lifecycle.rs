//! Pause, resume, stop and restart a connector or one task (Kafka
//! Connect's ConnectorsResource lifecycle endpoints and status codes).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::api::{Api, ApiError, query_bool};
use super::model::ErrorMessage;
use crate::worker::TargetState;
use crate::worker::status::ConnectorStatus;

/// Sets the connector's target state; answers `success` as Kafka Connect's
/// resource does for that endpoint (202 for pause and resume, whose
/// `Response.accepted()` it returns; 204 for stop, a `void` method).
async fn set_target(
    api: &Api,
    name: &str,
    target: TargetState,
    success: StatusCode,
) -> Result<StatusCode, ApiError> {
    api.worker()?.set_target_state(name, target).await?;
    Ok(success)
}

/// Pauses the connector: its tasks flush, commit and stop; its
/// configuration and task configurations are kept. 202.
#[utoipa::path(put, path = "/connectors/{connector}/pause", tag = "connectors", operation_id = "pauseConnector",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Paused"),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn pause(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&api, &name, TargetState::Paused, StatusCode::ACCEPTED).await
}

/// Resumes a paused or stopped connector. 202.
#[utoipa::path(put, path = "/connectors/{connector}/resume", tag = "connectors", operation_id = "resumeConnector",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Resumed"),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn resume(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&api, &name, TargetState::Started, StatusCode::ACCEPTED).await
}

/// Stops the connector and drops its tasks; its offsets may then be
/// changed. 204, as Kafka Connect's `stopConnector` (a `void` method).
#[utoipa::path(put, path = "/connectors/{connector}/stop", tag = "connectors", operation_id = "stopConnector",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 204, description = "Stopped"),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn stop(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_target(&api, &name, TargetState::Stopped, StatusCode::NO_CONTENT).await
}

/// Restarts the connector: 204 for the connector alone; with
/// `includeTasks=true` or `onlyFailed=true`, 202 with the status showing
/// what is RESTARTING.
#[utoipa::path(post, path = "/connectors/{connector}/restart", tag = "connectors", operation_id = "restartConnector",
    params(("connector" = String, Path, description = "The connector's name"),
           ("includeTasks" = Option<bool>, Query, description = "Restart the tasks too"),
           ("onlyFailed" = Option<bool>, Query, description = "Restart only what has failed")),
    responses((status = 202, description = "Restarting", body = ConnectorStatus),
              (status = 204, description = "The connector was restarted"),
              (status = 400, description = "A query parameter is not a boolean", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn restart(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let worker = api.worker()?;
    let include_tasks = query_bool(query.as_deref(), "includeTasks", false)?;
    let only_failed = query_bool(query.as_deref(), "onlyFailed", false)?;
    let status = worker
        .restart_connector(&name, include_tasks, only_failed)
        .await?;
    Ok(if include_tasks || only_failed {
        (StatusCode::ACCEPTED, Json(status)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    })
}

/// Restarts one task. 204.
#[utoipa::path(post, path = "/connectors/{connector}/tasks/{task}/restart", tag = "connectors", operation_id = "restartTask",
    params(("connector" = String, Path, description = "The connector's name"),
           ("task" = String, Path, description = "The task's number")),
    responses((status = 204, description = "Restarted"),
              (status = 404, description = "No such connector or task", body = ErrorMessage)))]
pub async fn restart_task(
    State(api): State<Arc<Api>>,
    Path((name, task)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<StatusCode, ApiError> {
    let forwarded = headers.contains_key(crate::worker::distributed::forward::FORWARDED_HEADER);
    api.worker()?.restart_task(&name, &task, forwarded).await?;
    Ok(StatusCode::NO_CONTENT)
}
