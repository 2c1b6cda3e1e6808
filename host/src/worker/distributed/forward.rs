//! Requests from one worker to another's REST API: a follower forwards
//! writes to the leader, as Kafka Connect's workers do, since only the
//! leader writes the config topic. A forwarded request carries the
//! caller's credentials and a header saying it was forwarded, so a worker
//! that has just lost the leadership answers 409 instead of forwarding it
//! on in a circle.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// The header a forwarded request carries.
pub const FORWARDED_HEADER: &str = "x-sluice-forwarded";

/// How long the leader has to answer; creating a connector runs its
/// plugin's validation, which has limits of its own well under this.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(90);

/// What came back from the other worker.
pub struct Forwarded {
    pub status: StatusCode,
    pub content_type: Option<String>,
    /// Where a created connector is (`Location`, on 201).
    pub location: Option<String>,
    pub body: Bytes,
}

/// Sends `method path` with `body` to the worker at `base_url`
/// (`http://host:port`), with `authorization` when the caller presented
/// one, and returns the answer as it is.
pub async fn send(
    base_url: &str,
    method: Method,
    path_and_query: &str,
    authorization: Option<&str>,
    body: Bytes,
) -> Result<Forwarded> {
    let Some(authority) = base_url.strip_prefix("http://") else {
        bail!(
            "the leader's REST URL {base_url} is not plain http; forwarding to an https leader \
             is not supported yet (set rest.advertised.listener=http on every worker)"
        );
    };
    let authority = authority.trim_end_matches('/');
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to the leader at {base_url}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("talking to the leader at {base_url}"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("connection to the leader closed: {e}");
            }
        });
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(FORWARDED_HEADER, "1");
        if let Some(authorization) = authorization {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        let response = sender
            .send_request(request.body(Full::new(body))?)
            .await
            .with_context(|| format!("forwarding to the leader at {base_url}"))?;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(hyper::header::CONTENT_TYPE);
        let location = header(hyper::header::LOCATION);
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the leader's answer from {base_url}"))?
            .to_bytes();
        Ok(Forwarded {
            status,
            content_type,
            location,
            body,
        })
    };
    tokio::time::timeout(FORWARD_TIMEOUT, exchange)
        .await
        .with_context(|| {
            format!(
                "the leader at {base_url} did not answer within {} s",
                FORWARD_TIMEOUT.as_secs()
            )
        })?
}
