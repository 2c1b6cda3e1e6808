//! The routes and the OpenAPI document describing them, built together:
//! each handler is registered through utoipa-axum with the `#[utoipa::path]`
//! description written on it, so a route cannot exist undocumented.

use std::sync::Arc;

use axum::Router;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::Api;
use super::model::{ConfigValue, ErrorMessage, Expand};
use super::{connector_plugins, connectors, lifecycle, loggers, metrics, offsets, root};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sluice REST API",
        description = "Kafka Connect's REST API, served by Sluice: the same paths, JSON shapes \
                       and status codes. Every error is {\"error_code\": <status>, \"message\": ...}."
    ),
    components(schemas(ErrorMessage, Expand, ConfigValue)),
    tags(
        (name = "worker", description = "The worker"),
        (name = "connectors", description = "Connectors, their tasks and lifecycle"),
        (name = "offsets", description = "Connector offsets"),
        (name = "connector-plugins", description = "Installed plugins and validation"),
        (name = "admin", description = "Log levels")
    )
)]
struct ApiDoc;

/// The router of every documented endpoint, and the document.
pub fn routes_and_document() -> (Router<Arc<Api>>, Value) {
    let (router, api) = OpenApiRouter::<Arc<Api>>::with_openapi(ApiDoc::openapi())
        .routes(routes!(root::server_info))
        .routes(routes!(root::health))
        .routes(routes!(metrics::metrics))
        .routes(routes!(connectors::list, connectors::create))
        .routes(routes!(connectors::info, connectors::delete))
        .routes(routes!(
            connectors::config,
            connectors::put_config,
            connectors::patch_config
        ))
        .routes(routes!(connectors::status))
        .routes(routes!(connectors::tasks, connectors::put_tasks))
        .routes(routes!(connectors::tasks_config))
        .routes(routes!(connectors::task_status))
        .routes(routes!(lifecycle::pause))
        .routes(routes!(lifecycle::resume))
        .routes(routes!(lifecycle::stop))
        .routes(routes!(lifecycle::restart))
        .routes(routes!(lifecycle::restart_task))
        .routes(routes!(offsets::get, offsets::alter, offsets::reset))
        .routes(routes!(offsets::topics))
        .routes(routes!(offsets::reset_topics))
        .routes(routes!(connector_plugins::list))
        .routes(routes!(connector_plugins::config))
        .routes(routes!(connector_plugins::validate))
        .routes(routes!(loggers::list))
        .routes(routes!(loggers::get, loggers::set))
        .split_for_parts();
    let mut document = serde_json::to_value(&api).expect("the OpenAPI document serialises");
    add_common_responses(&mut document);
    (router, document)
}

/// Responses every operation can give, added once here rather than on
/// each handler: 401 when authentication is on (not for /health), 503
/// while the worker starts, 500 if the worker itself fails. Also declares
/// the optional authentication schemes.
fn add_common_responses(document: &mut Value) {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/ErrorMessage" } } }
        })
    };
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (_, operation) in item.iter_mut() {
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                if path != "/health" {
                    responses.entry("401").or_insert_with(|| {
                        error("Authentication is on and the request has no valid credentials")
                    });
                    responses
                        .entry("503")
                        .or_insert_with(|| error("The worker is still starting"));
                }
                responses
                    .entry("500")
                    .or_insert_with(|| error("The worker failed to carry out the request"));
            }
        }
    }
    if let Some(components) = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
    {
        components.insert(
            "securitySchemes".into(),
            json!({
                "basic": { "type": "http", "scheme": "basic" },
                "bearer": { "type": "http", "scheme": "bearer" }
            }),
        );
    }
    // Authentication is optional (set in the worker file): no credentials,
    // basic or bearer.
    document["security"] = json!([{}, { "basic": [] }, { "bearer": [] }]);
}
