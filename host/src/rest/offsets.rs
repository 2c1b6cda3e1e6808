//! A connector's offsets (read; alter and reset while STOPPED) and its
//! active topics, as Kafka Connect's ConnectorsResource serves them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::api::{Api, ApiError, JsonBody};
use super::model::{
    ActiveTopics, AlterOffsetsRequest, ConnectorOffset, ConnectorOffsets, ErrorMessage, Message,
};
use crate::worker::{OffsetChange, WorkerError};

/// The connector's committed offsets.
#[utoipa::path(get, path = "/connectors/{connector}/offsets", tag = "offsets", operation_id = "getOffsets",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The offsets", body = ConnectorOffsets),
              (status = 400, description = "The connector's configuration is invalid", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn get(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorOffsets>, ApiError> {
    let offsets = api.worker()?.connector_offsets(&name).await?;
    Ok(Json(ConnectorOffsets {
        offsets: offsets
            .into_iter()
            .map(|o| ConnectorOffset {
                partition: o.partition,
                offset: o.offset,
            })
            .collect(),
    }))
}

/// Sets (or, with a null offset, resets) the offsets of some partitions of
/// a STOPPED connector.
#[utoipa::path(patch, path = "/connectors/{connector}/offsets", tag = "offsets", operation_id = "alterConnectorOffsets",
    params(("connector" = String, Path, description = "The connector's name")),
    request_body = AlterOffsetsRequest,
    responses((status = 200, description = "Altered", body = Message),
              (status = 400, description = "Not stopped, or the offsets are malformed", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn alter(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<Message>, ApiError> {
    let worker = api.worker()?;
    let list = body
        .get("offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::bad_request(
                "The request body must be {\"offsets\": [{\"partition\": ..., \"offset\": ...}]}",
            )
        })?;
    let mut changes = Vec::new();
    for entry in list {
        let partition = entry
            .get("partition")
            .filter(|p| !p.is_null())
            .ok_or_else(|| {
                ApiError::bad_request(format!("An offset entry has no partition: {entry}"))
            })?;
        let offset = entry.get("offset").filter(|o| !o.is_null()).cloned();
        changes.push(OffsetChange {
            partition: partition.clone(),
            offset,
        });
    }
    let message = worker.alter_connector_offsets(&name, changes).await?;
    Ok(Json(Message { message }))
}

/// Forgets every offset of a STOPPED connector.
#[utoipa::path(delete, path = "/connectors/{connector}/offsets", tag = "offsets", operation_id = "resetConnectorOffsets",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "Reset", body = Message),
              (status = 400, description = "The connector is not stopped", body = ErrorMessage),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn reset(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<Message>, ApiError> {
    let message = api.worker()?.reset_connector_offsets(&name).await?;
    Ok(Json(Message { message }))
}

/// The topics the connector used since it was created or its topics were
/// reset: `{"<name>": {"topics": [...]}}`.
#[utoipa::path(get, path = "/connectors/{connector}/topics", tag = "connectors", operation_id = "getConnectorActiveTopics",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 200, description = "The active topics", body = BTreeMap<String, ActiveTopics>),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn topics(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<BTreeMap<String, ActiveTopics>>, ApiError> {
    let worker = api.worker()?;
    if worker.connector(&name).is_none() {
        return Err(WorkerError::NotFound(name).into());
    }
    let topics = worker.active_topics(&name);
    Ok(Json(
        [(name, ActiveTopics { topics })].into_iter().collect(),
    ))
}

/// Empties the connector's active topics. 202.
#[utoipa::path(put, path = "/connectors/{connector}/topics/reset", tag = "connectors", operation_id = "resetConnectorActiveTopics",
    params(("connector" = String, Path, description = "The connector's name")),
    responses((status = 202, description = "Reset"),
              (status = 404, description = "No such connector", body = ErrorMessage)))]
pub async fn reset_topics(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.worker()?.reset_active_topics(&name)?;
    Ok(StatusCode::ACCEPTED)
}
