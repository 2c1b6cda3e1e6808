//! The REST API, on Kafka Connect's paths and with its JSON shapes and
//! status codes, one file per resource as Kafka Connect's. Every route is
//! registered together with its OpenAPI description (utoipa), so the
//! document at `/openapi.json` is generated from the code that serves it.
//! Every error, including unknown paths, wrong methods and bodies that are
//! not JSON, answers `{"error_code": <status>, "message": ...}`.

pub mod api;
mod auth;
mod connector_plugins;
mod connectors;
mod forward;
mod lifecycle;
mod loggers;
mod metrics;
pub mod model;
mod offsets;
pub mod openapi;
mod root;
pub mod tls;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::http::StatusCode;

pub use api::{Api, ApiError};

/// The router for every resource, with authentication when configured.
pub fn router(api: Arc<Api>) -> Router {
    let (routes, document) = openapi::routes_and_document();
    let document = Arc::new(document);
    routes
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let document = Arc::clone(&document);
                async move { Json((*document).clone()) }
            }),
        )
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        // Layers run outside in: authentication first, then forwarding.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&api),
            forward::to_leader,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&api),
            auth::require,
        ))
        .with_state(api)
}
