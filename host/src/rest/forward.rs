//! In a cluster, the leader carries out REST writes: a follower forwards
//! them, with the caller's credentials, and answers what the leader
//! answered, as Kafka Connect's workers do. Reads are answered by every
//! worker from the internal topics; after a forwarded write the follower
//! reads them to their ends first, so that its caller reads what it wrote.
//! A write that arrives during a rebalance waits for it to end; if it
//! does not end within `rebalance.timeout.ms`, the write gets Kafka
//! Connect's 409.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::{Api, ApiError};
use crate::worker::distributed::forward::{self, FORWARDED_HEADER};

/// The largest request body forwarded (a connector configuration).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The middleware.
pub async fn to_leader(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let Ok(worker) = api.worker() else {
        return next.run(request).await;
    };
    let Some(cluster) = worker.cluster() else {
        return next.run(request).await;
    };
    if !is_cluster_write(request.method(), request.uri().path())
        || request.headers().contains_key(FORWARDED_HEADER)
    {
        return next.run(request).await;
    }
    let Some(leader) = cluster.settled_leader_url().await else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "Cannot complete request momentarily due to no known leader URL, likely because a \
             rebalance was underway.",
        )
        .into_response();
    };
    if cluster.is_leader() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::bad_request(format!("reading the request: {e}")).into_response();
        }
    };
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string());
    let tls = worker.config().rest_tls.as_ref();
    match forward::send(&leader, tls, parts.method, &path, authorization, body).await {
        Ok(answer) => {
            if answer.status.is_success()
                && let Err(e) = cluster.catch_up().await
            {
                // The write happened; only this worker's reads lag.
                tracing::warn!("reading the leader's write back: {e:#}");
            }
            let mut response = Response::new(Body::from(answer.body));
            *response.status_mut() = answer.status;
            for (name, value) in [
                (header::CONTENT_TYPE, answer.content_type),
                (header::LOCATION, answer.location),
            ] {
                if let Some(value) = value.and_then(|v| v.parse().ok()) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("forwarding the request to the leader at {leader}: {e:#}"),
        )
        .into_response(),
    }
}

/// Whether a request changes the cluster's connectors: every write under
/// `/connectors` (validation, under `/connector-plugins`, changes nothing
/// and is answered here).
fn is_cluster_write(method: &Method, path: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && (path == "/connectors" || path.starts_with("/connectors/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_under_connectors_go_to_the_leader_and_nothing_else() {
        assert!(is_cluster_write(&Method::POST, "/connectors"));
        assert!(is_cluster_write(&Method::PUT, "/connectors/a/pause"));
        assert!(is_cluster_write(&Method::DELETE, "/connectors/a"));
        assert!(!is_cluster_write(&Method::GET, "/connectors/a/status"));
        assert!(!is_cluster_write(
            &Method::PUT,
            "/connector-plugins/file-sink/config/validate"
        ));
        assert!(!is_cluster_write(&Method::PUT, "/admin/loggers/sluice"));
    }
}
