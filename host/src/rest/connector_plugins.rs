//! `/connector-plugins`: the plugins this worker loaded, as Kafka Connect's
//! ConnectorPluginsResource lists them.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::plugin::PluginKind;
use crate::worker::Worker;

pub fn routes() -> Router<Arc<Worker>> {
    Router::new().route("/connector-plugins", get(list))
}

/// `[{class, type, version}]`: connectors only unless `?connectorsOnly=false`.
async fn list(State(worker): State<Arc<Worker>>, RawQuery(query): RawQuery) -> Json<Vec<Value>> {
    let connectors_only = !query
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair.eq_ignore_ascii_case("connectorsOnly=false"));
    Json(
        worker
            .plugins()
            .plugins()
            .iter()
            .filter(|p| !connectors_only || matches!(p.kind, PluginKind::Source | PluginKind::Sink))
            .map(|p| {
                json!({
                    "class": p.metadata.name,
                    "type": p.kind.to_string(),
                    "version": p.metadata.version,
                })
            })
            .collect(),
    )
}
