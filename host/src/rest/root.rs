//! `GET /` (the worker's version) and `GET /health`, as Kafka Connect's
//! RootResource.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::worker::Worker;

pub fn routes() -> Router<Arc<Worker>> {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
}

async fn server_info(State(_worker): State<Arc<Worker>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SLUICE_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": Value::Null,
    }))
}

/// The REST server starts once every connector of the command line was
/// started, so a worker that answers is healthy.
async fn health() -> Json<Value> {
    Json(json!({
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests.",
    }))
}
