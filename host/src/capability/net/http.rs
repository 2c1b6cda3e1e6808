//! Outgoing HTTP (wasi:http) to granted endpoints only.
//!
//! A request must name a granted endpoint: its host as the worker defined
//! it (`http://api.internal:8080/...` for `net.endpoint.api=api.internal:8080`)
//! or an IP address that host resolves to now, on the endpoint's port (the
//! scheme's default port when the URL has none). The host then resolves
//! and connects itself, so a request reaches only an address a granted
//! name resolves to at that moment. Any other name is refused without
//! being resolved: a name the plugin chose could resolve to a granted
//! address when checked and elsewhere when connected.
//!
//! A refused request fails with wasi:http's `HTTP-request-denied`; the
//! worker's log says why. The wait for a response is bounded by the
//! plugin call's deadline (see `runtime::blocking`).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::Uri;
use http::uri::Scheme;
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::endpoints::{Endpoint, Granted, denied, granted_list, resolves_to_granted};

/// What a plugin's HTTP requests are checked against: the endpoints its
/// connector was granted (none for plugins without a grant).
pub struct HttpGrant {
    granted: Granted,
    log_target: Arc<str>,
}

impl HttpGrant {
    pub fn new(granted: Granted, log_target: Arc<str>) -> Self {
        HttpGrant {
            granted,
            log_target,
        }
    }
}

/// The response, and the future that drives the connection after it.
type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
);

impl WasiHttpHooks for HttpGrant {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _io: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Result<Sent, Error>> + Send> {
        let granted = Arc::clone(&self.granted);
        let log_target = Arc::clone(&self.log_target);
        Box::new(async move {
            if let Err(reason) = check(&granted, request.uri()).await {
                denied(&log_target, &reason);
                return Err(Error::HttpRequestDenied);
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

/// Whether a request to `uri` may be sent, and if not, why.
async fn check(granted: &[(String, Endpoint)], uri: &Uri) -> Result<(), String> {
    let host = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or_default();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme() == Some(&Scheme::HTTPS) {
            443
        } else {
            80
        });
    let names_granted = granted
        .iter()
        .any(|(_, endpoint)| endpoint.port == port && same_host(&endpoint.host, host));
    if names_granted {
        return Ok(());
    }
    if let Ok(ip) = host.parse::<IpAddr>()
        && resolves_to_granted(granted, SocketAddr::new(ip, port)).await
    {
        return Ok(());
    }
    let target = Endpoint {
        host: host.to_string(),
        port,
    };
    Err(format!(
        "HTTP request to {target}: not a granted endpoint, nor an address one resolves to \
         (granted: {})",
        granted_list(granted)
    ))
}

/// Host names compare without case and without a root's trailing dot.
fn same_host(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> Vec<(String, Endpoint)> {
        vec![
            (
                "api".to_string(),
                Endpoint::parse("localhost:8080").unwrap(),
            ),
            ("web".to_string(), Endpoint::parse("LocalHost:443").unwrap()),
        ]
    }

    async fn allowed(url: &str) -> Result<(), String> {
        check(&granted(), &url.parse::<Uri>().unwrap()).await
    }

    #[tokio::test]
    async fn requests_must_name_a_granted_endpoint_or_an_address_it_resolves_to() {
        assert!(allowed("http://localhost:8080/x").await.is_ok());
        assert!(allowed("http://LOCALHOST.:8080/").await.is_ok());
        // The scheme's default port.
        assert!(allowed("https://localhost/").await.is_ok());
        assert!(allowed("http://localhost/").await.is_err());
        // An address the granted name resolves to, and one it does not.
        assert!(allowed("http://127.0.0.1:8080/").await.is_ok());
        let err = allowed("http://127.0.0.2:8080/").await.unwrap_err();
        assert!(
            err.contains("127.0.0.2:8080") && err.contains("api=localhost:8080"),
            "{err}"
        );
        // Another name is refused even if it resolves to a granted address.
        assert!(allowed("http://localhost.localdomain:8080/").await.is_err());
        assert!(allowed("http://localhost:8081/").await.is_err());
        let none = check(&[], &"http://localhost:8080/".parse().unwrap()).await;
        assert!(none.unwrap_err().contains("granted: none"));
    }
}
