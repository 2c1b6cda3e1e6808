//! `/connectors`: the connectors on this worker and their status, as Kafka
//! Connect's ConnectorsResource.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::ApiError;
use crate::worker::Worker;
use crate::worker::status::ConnectorStatus;

pub fn routes() -> Router<Arc<Worker>> {
    Router::new()
        .route("/connectors", get(list))
        .route("/connectors/{name}/status", get(status))
}

async fn list(State(worker): State<Arc<Worker>>) -> Json<Vec<String>> {
    Json(worker.status().names())
}

async fn status(
    State(worker): State<Arc<Worker>>,
    Path(name): Path<String>,
) -> Result<Json<ConnectorStatus>, ApiError> {
    worker
        .status()
        .get(&name)
        .map(Json)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Connector {name} not found")))
}
