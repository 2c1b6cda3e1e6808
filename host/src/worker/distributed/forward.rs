//! Requests from one worker to another's REST API: a follower forwards
//! writes to the leader, as Kafka Connect's workers do, since only the
//! leader writes the config topic. A forwarded request carries the
//! caller's credentials and a header saying it was forwarded, so a worker
//! that has just lost the leadership answers 409 instead of forwarding it
//! on in a circle.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls;

use crate::cluster::secure_link::LinkSecurity;
use crate::config::listeners::RestTls;

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
/// (`http://host:port` or `https://host:port`, trusting the CA
/// certificates of `listeners.https.ssl.truststore.*`), with
/// `authorization` when the caller presented one, and returns the answer
/// as it is.
pub async fn send(
    base_url: &str,
    tls: Option<&RestTls>,
    method: Method,
    path_and_query: &str,
    authorization: Option<&str>,
    body: Bytes,
) -> Result<Forwarded> {
    let (https, authority) = match base_url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => (false, rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => (true, rest),
        _ => bail!("the leader's REST URL {base_url} is neither http nor https"),
    };
    let authority = authority.trim_end_matches('/');
    let request = || {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path_and_query)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(FORWARDED_HEADER, "1");
        if let Some(authorization) = authorization {
            request = request.header(hyper::header::AUTHORIZATION, authorization);
        }
        request.body(Full::new(body.clone()))
    };
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .with_context(|| format!("connecting to the leader at {base_url}"))?;
        if https {
            let trusted = tls.and_then(|t| t.trusted.as_deref());
            let config = client_tls(trusted)?;
            let host = authority
                .rsplit_once(':')
                .map_or(authority, |(host, _)| host);
            let name = rustls_pki_types::ServerName::try_from(host.to_string())
                .with_context(|| format!("{host} is not a name TLS can check"))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, stream)
                .await
                .with_context(|| {
                    format!(
                        "TLS to the leader at {base_url} (it must present a certificate that \
                         listeners.https.ssl.truststore.* trusts)"
                    )
                })?;
            over(stream, request()?, base_url).await
        } else {
            over(stream, request()?, base_url).await
        }
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

/// A TLS client that trusts `trusted` (PEM CA certificates), else the
/// Mozilla roots, and checks the leader's name.
fn client_tls(trusted: Option<&[u8]>) -> Result<rustls::ClientConfig> {
    let mut settings =
        std::collections::BTreeMap::from([("security.protocol".to_string(), "SSL".to_string())]);
    if let Some(pem) = trusted {
        settings.insert(
            "ssl.ca.pem".into(),
            String::from_utf8_lossy(pem).into_owned(),
        );
    }
    let security =
        LinkSecurity::from_client_settings(&settings).context("listeners.https.ssl.truststore")?;
    let config = security.tls.expect("SSL asks for TLS");
    Ok(Arc::unwrap_or_clone(config))
}

/// One request and its answer over `stream`.
async fn over<S>(stream: S, request: Request<Full<Bytes>>, base_url: &str) -> Result<Forwarded>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .with_context(|| format!("talking to the leader at {base_url}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("connection to the leader closed: {e}");
        }
    });
    let response = sender
        .send_request(request)
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
}
