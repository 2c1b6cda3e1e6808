//! What every resource handler shares: the worker handle ([`Api`]), the
//! error body in Kafka Connect's shape ([`ApiError`]), JSON bodies that
//! answer in that shape when they are not JSON, and query-string and
//! configuration-body helpers.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::RestAuth;
use crate::logs::LogLevels;
use crate::worker::{Worker, WorkerError};

/// What the handlers share: the worker once it has started, the log
/// levels, and the credentials callers must present.
pub struct Api {
    worker: OnceLock<Arc<Worker>>,
    pub(super) loggers: Arc<LogLevels>,
    pub(super) auth: Option<RestAuth>,
}

impl Api {
    /// An API whose worker is still starting: `/health` answers 503 and
    /// every other endpoint 503 until [`Api::ready`].
    pub fn starting(loggers: Arc<LogLevels>, auth: Option<RestAuth>) -> Arc<Self> {
        Arc::new(Api {
            worker: OnceLock::new(),
            loggers,
            auth,
        })
    }

    /// Marks the worker started: requests reach it from now on.
    pub fn ready(&self, worker: Arc<Worker>) {
        let _ = self.worker.set(worker);
    }

    /// The worker, or 503 while it starts.
    pub(super) fn worker(&self) -> Result<&Arc<Worker>, ApiError> {
        self.worker.get().ok_or_else(|| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The worker is still starting up; try again shortly",
            )
        })
    }
}

/// An error in Kafka Connect's shape: `{"error_code": <status>, "message": ...}`.
#[derive(Debug)]
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

    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<WorkerError> for ApiError {
    fn from(e: WorkerError) -> Self {
        let status = match &e {
            WorkerError::NotFound(_)
            | WorkerError::TaskNotFound(..)
            | WorkerError::PluginNotFound(..) => StatusCode::NOT_FOUND,
            WorkerError::Duplicate(_) | WorkerError::Rebalancing(_) => StatusCode::CONFLICT,
            WorkerError::Invalid(_) | WorkerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WorkerError::Other(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &e {
            // Kafka Connect's wording, one error per line.
            WorkerError::Invalid(errors) => {
                let mut message = format!(
                    "Connector configuration is invalid and contains the following {} error(s):",
                    errors.0.len()
                );
                for error in &errors.0 {
                    message.push('\n');
                    message.push_str(&error.to_string());
                }
                message.push_str(
                    "\nYou can also find the above list of errors at the endpoint \
                     `/connector-plugins/{connectorType}/config/validate`",
                );
                message
            }
            WorkerError::Other(e) => {
                tracing::error!("request failed: {e:#}");
                format!("{e:#}")
            }
            other => other.to_string(),
        };
        ApiError::new(status, message)
    }
}

/// A JSON request body, whatever its content type says (curl's `-d` sends
/// form encoding unless told otherwise), refused with a 400 naming the
/// problem when it is missing or not JSON.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("The request needs a JSON body"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
    }
}

/// The query string's parameters, percent-decoded.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A boolean query parameter (`true`/`false`), `default` when absent.
pub fn query_bool(query: Option<&str>, name: &str, default: bool) -> Result<bool, ApiError> {
    match query_pairs(query)
        .into_iter()
        .rev()
        .find(|(k, _)| k == name)
    {
        None => Ok(default),
        Some((_, v)) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some((_, v)) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some((_, v)) => Err(ApiError::bad_request(format!(
            "Invalid value \"{v}\" for query parameter {name}: expected true or false"
        ))),
    }
}

/// A configuration map from a JSON object: strings as they are, numbers
/// and booleans as their text (Kafka Connect accepts those too); null
/// values come back as `None` (a PATCH removes such keys). Any other value is an error
/// naming the key.
pub fn config_map(
    value: &Value,
    what: &str,
) -> Result<std::collections::BTreeMap<String, Option<String>>, ApiError> {
    let object = value.as_object().ok_or_else(|| {
        ApiError::bad_request(format!("{what} must be a JSON object of string values"))
    })?;
    object
        .iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Null => None,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "The value of \"{key}\" in {what} must be a string, not {value}"
                    )));
                }
            };
            Ok((key.clone(), text))
        })
        .collect()
}

/// As [`config_map`], where a null value is an error too.
pub fn config_map_strict(
    value: &Value,
    what: &str,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    config_map(value, what)?
        .into_iter()
        .map(|(key, value)| {
            value.map(|v| (key.clone(), v)).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The value of \"{key}\" in {what} must be a string, not null"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_decode_and_booleans_are_strict() {
        assert_eq!(
            query_pairs(Some("expand=status&expand=info&x=a%20b+c")),
            [
                ("expand".to_string(), "status".to_string()),
                ("expand".to_string(), "info".to_string()),
                ("x".to_string(), "a b c".to_string())
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert!(query_bool(Some("includeTasks=TRUE"), "includeTasks", false).unwrap());
        assert!(!query_bool(None, "includeTasks", false).unwrap());
        assert!(query_bool(Some("includeTasks=yes"), "includeTasks", false).is_err());
    }
}
