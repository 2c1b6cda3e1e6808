//! `/connector-plugins`: the plugins this worker loaded, their
//! configuration keys, and validation of a configuration against them (as
//! Kafka Connect's ConnectorPluginsResource).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};

use super::api::{Api, ApiError, JsonBody, config_map_strict, query_bool};
use super::model::{ConfigRequest, ErrorMessage, PluginInfo};
use crate::config::definitions::{self, ConfigInfos, ConfigKeyInfo};
use crate::plugin::PluginKind;

/// The connector plugins; with `connectorsOnly=false`, every plugin.
#[utoipa::path(get, path = "/connector-plugins", tag = "connector-plugins", operation_id = "listConnectorPlugins",
    params(("connectorsOnly" = Option<bool>, Query, description = "List only connectors (the default)")),
    responses((status = 200, description = "The plugins", body = Vec<PluginInfo>),
              (status = 400, description = "connectorsOnly is not a boolean", body = ErrorMessage)))]
pub async fn list(
    State(api): State<Arc<Api>>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<PluginInfo>>, ApiError> {
    let worker = api.worker()?;
    let connectors_only = query_bool(query.as_deref(), "connectorsOnly", true)?;
    Ok(Json(
        worker
            .plugins()
            .plugins()
            .iter()
            .filter(|p| !connectors_only || matches!(p.kind, PluginKind::Source | PluginKind::Sink))
            .map(|p| PluginInfo {
                class: p.metadata.name.clone(),
                kind: p.kind.to_string(),
                version: p.metadata.version.clone(),
            })
            .collect(),
    ))
}

/// Every configuration key of a connector plugin: the framework's and the
/// plugin's own.
#[utoipa::path(get, path = "/connector-plugins/{plugin}/config", tag = "connector-plugins", operation_id = "getConnectorConfigDef",
    params(("plugin" = String, Path, description = "A plugin name, name@version or alias")),
    responses((status = 200, description = "The keys", body = Vec<ConfigKeyInfo>),
              (status = 404, description = "No such plugin", body = ErrorMessage)))]
pub async fn config(
    State(api): State<Arc<Api>>,
    Path(plugin): Path<String>,
) -> Result<Json<Vec<ConfigKeyInfo>>, ApiError> {
    let plugin = api.worker()?.connector_plugin(&plugin)?;
    Ok(Json(definitions::definitions(&plugin)))
}

/// Checks a configuration without creating anything: each key with its
/// value and errors. 200 even when there are errors (see error_count).
#[utoipa::path(put, path = "/connector-plugins/{plugin}/config/validate", tag = "connector-plugins", operation_id = "validateConfigs",
    params(("plugin" = String, Path, description = "A plugin name, name@version or alias")),
    request_body = ConfigRequest,
    responses((status = 200, description = "The keys with their values and errors", body = ConfigInfos),
              (status = 400, description = "Not a configuration, or connector.class names another plugin", body = ErrorMessage),
              (status = 404, description = "No such plugin", body = ErrorMessage)))]
pub async fn validate(
    State(api): State<Arc<Api>>,
    Path(plugin): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<ConfigInfos>, ApiError> {
    let worker = api.worker()?;
    let config = config_map_strict(&body, "the connector configuration")?;
    Ok(Json(worker.validate_config(&plugin, config)?))
}
