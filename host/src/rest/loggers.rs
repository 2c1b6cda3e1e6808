//! `/admin/loggers`: the worker's log levels, read and changed at runtime
//! (Kafka Connect's LoggingResource).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::api::{Api, ApiError, JsonBody, query_pairs};
use super::model::{ErrorMessage, LoggerLevel, LoggerLevelRequest};

fn shown(level: crate::logs::LoggerLevel) -> LoggerLevel {
    LoggerLevel {
        level: level.level,
        last_modified: level.last_modified,
    }
}

/// Every logger with an explicitly set level, the root logger among them.
#[utoipa::path(get, path = "/admin/loggers", tag = "admin", operation_id = "listLoggers",
    responses((status = 200, description = "The loggers", body = BTreeMap<String, LoggerLevel>)))]
pub async fn list(State(api): State<Arc<Api>>) -> Json<BTreeMap<String, LoggerLevel>> {
    Json(
        api.loggers
            .all()
            .into_iter()
            .map(|(name, level)| (name, shown(level)))
            .collect(),
    )
}

/// The level in force for a logger (its own or its nearest ancestor's).
#[utoipa::path(get, path = "/admin/loggers/{logger}", tag = "admin", operation_id = "getLogger",
    params(("logger" = String, Path, description = "A module path such as sluice::worker, or root",
            pattern = r"^[A-Za-z0-9_:.\-]{1,200}$")),
    responses((status = 200, description = "The level", body = LoggerLevel),
              (status = 400, description = "Not a logger name", body = ErrorMessage)))]
pub async fn get(
    State(api): State<Arc<Api>>,
    Path(logger): Path<String>,
) -> Result<Json<LoggerLevel>, ApiError> {
    api.loggers
        .effective(&logger)
        .map(|l| Json(shown(l)))
        .map_err(ApiError::bad_request)
}

/// Sets a logger's level, and so its descendants'. 200 with the loggers
/// changed; with `scope=cluster`, 204 (a standalone worker is the cluster).
#[utoipa::path(put, path = "/admin/loggers/{logger}", tag = "admin", operation_id = "setLevel",
    params(("logger" = String, Path, description = "A module path such as sluice::worker, or root",
            pattern = r"^[A-Za-z0-9_:.\-]{1,200}$"),
           ("scope" = Option<String>, Query, description = "worker (the default) or cluster")),
    request_body = LoggerLevelRequest,
    responses((status = 200, description = "The loggers whose level changed", body = Vec<String>),
              (status = 204, description = "Applied to the cluster"),
              (status = 400, description = "Invalid level or logger name", body = ErrorMessage)))]
pub async fn set(
    State(api): State<Arc<Api>>,
    Path(logger): Path<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let level = body.get("level").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request("The request body must specify a log level: {\"level\": \"DEBUG\"}")
    })?;
    let cluster = query_pairs(query.as_deref())
        .iter()
        .any(|(k, v)| k == "scope" && v.eq_ignore_ascii_case("cluster"));
    let changed = api
        .loggers
        .set(&logger, level)
        .map_err(ApiError::bad_request)?;
    tracing::info!("log level of {logger} set to {level}");
    Ok(if cluster {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Json(changed).into_response()
    })
}
