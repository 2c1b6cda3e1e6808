//! `GET /` (the worker's version and Kafka cluster) and `GET /health`, as
//! Kafka Connect's RootResource.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::api::{Api, ApiError};
use super::model::{ErrorMessage, HealthStatus, ServerInfo};

/// The worker's version, commit and the id of its Kafka cluster.
#[utoipa::path(get, path = "/", tag = "worker", operation_id = "serverInfo",
    responses((status = 200, description = "The worker", body = ServerInfo),
              (status = 503, description = "The worker is starting", body = ErrorMessage)))]
pub async fn server_info(State(api): State<Arc<Api>>) -> Result<Json<ServerInfo>, ApiError> {
    let worker = api.worker()?;
    Ok(Json(ServerInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        commit: option_env!("SLUICE_COMMIT").unwrap_or("unknown").into(),
        kafka_cluster_id: worker.cluster_id().map(String::from),
    }))
}

/// 200 once the worker has started its connectors, 503 before. Never
/// needs credentials.
#[utoipa::path(get, path = "/health", tag = "worker", operation_id = "healthCheck",
    responses((status = 200, description = "Started", body = HealthStatus),
              (status = 503, description = "Still starting", body = HealthStatus)))]
pub async fn health(State(api): State<Arc<Api>>) -> (StatusCode, Json<HealthStatus>) {
    if api.worker().is_ok() {
        (
            StatusCode::OK,
            Json(HealthStatus {
                status: "healthy".into(),
                message: "Worker has completed startup and is ready to handle requests.".into(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthStatus {
                status: "starting".into(),
                message: "Worker is still starting up.".into(),
            }),
        )
    }
}
