//! `GET /`: the worker's version, as Kafka Connect's RootResource.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::worker::Worker;

pub fn routes() -> Router<Arc<Worker>> {
    Router::new().route("/", get(server_info))
}

async fn server_info(State(_worker): State<Arc<Worker>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("SLUICE_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": Value::Null,
    }))
}
