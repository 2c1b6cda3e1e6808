//! The REST API, on Kafka Connect's paths and with its JSON shapes, one file
//! per resource as Kafka Connect's. This version serves the read-only part;
//! handlers talk to the worker handle only.

mod connector_plugins;
mod connectors;
mod root;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::worker::Worker;

/// The router for every resource.
pub fn router(worker: Arc<Worker>) -> Router {
    Router::new()
        .merge(root::routes())
        .merge(connectors::routes())
        .merge(connector_plugins::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .with_state(worker)
}

/// An error in Kafka Connect's shape: `{"error_code": <status>, "message": ...}`.
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}
