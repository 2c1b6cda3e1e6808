//! The endpoints the worker defines (`net.endpoint.<name>=host:port`), a
//! connector's grant of some of them, and the check every connection and
//! request of a plugin passes: the address must be one a granted
//! endpoint's host resolves to now, on the endpoint's port.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;

use crate::capability::lifecycle::{undefined, valid_name};

/// One endpoint a plugin may be granted: a host name or address, and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Endpoint {
    /// Parses `host:port` (`[v6]:port` for an IPv6 address).
    pub fn parse(value: &str) -> Result<Endpoint, String> {
        let value = value.trim();
        let (host, port) = value
            .rsplit_once(':')
            .ok_or_else(|| format!("\"{value}\" is not host:port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("\"{value}\" has no host"));
        }
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("\"{port}\" is not a port number (1-65535)"))?;
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }
}

/// The endpoints the worker offers, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetEndpoints(pub BTreeMap<String, Endpoint>);

impl NetEndpoints {
    /// Adds the endpoint `name` from the worker key `net.endpoint.<name>`.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "endpoint name \"{name}\" must be letters, digits, '-' or '_'"
            ));
        }
        self.0.insert(name.to_string(), Endpoint::parse(value)?);
        Ok(())
    }
}

/// Parses `grant.net`: endpoint names, comma-separated, each defined by
/// the worker.
pub fn parse_grants(value: &str, endpoints: &NetEndpoints) -> Result<Vec<String>, String> {
    let mut grants: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !endpoints.0.contains_key(name) {
            return Err(undefined(
                "a network endpoint",
                name,
                "net.endpoint.<name>",
                endpoints.0.keys(),
            ));
        }
        if grants.iter().any(|g| g == name) {
            return Err(format!("\"{name}\" is granted twice"));
        }
        grants.push(name.to_string());
    }
    Ok(grants)
}

/// The endpoints one plugin was granted, by name.
pub type Granted = Arc<Vec<(String, Endpoint)>>;

pub fn denied(log_target: &str, reason: &str) {
    tracing::warn!(target: "sluice::plugin", plugin = log_target, "network access denied: {reason}");
}

/// Whether a granted endpoint's host, resolved now, yields `address` on
/// the endpoint's port.
pub async fn resolves_to_granted(granted: &[(String, Endpoint)], address: SocketAddr) -> bool {
    for (_, endpoint) in granted {
        if endpoint.port != address.port() {
            continue;
        }
        if let Ok(mut resolved) = tokio::net::lookup_host(endpoint.to_string()).await
            && resolved.any(|a| a == address)
        {
            return true;
        }
    }
    false
}

/// The granted endpoints, for a denial's message.
pub fn granted_list(granted: &[(String, Endpoint)]) -> String {
    if granted.is_empty() {
        return "none".to_string();
    }
    let names: Vec<String> = granted
        .iter()
        .map(|(name, endpoint)| format!("{name}={endpoint}"))
        .collect();
    names.join(", ")
}

/// Whether the plugin may use `address` as `use_`, and if not, why.
pub async fn check(
    granted: &[(String, Endpoint)],
    address: SocketAddr,
    use_: SocketAddrUse,
) -> Result<(), String> {
    match use_ {
        // The implicit bind of an outgoing connection: any local address.
        SocketAddrUse::TcpBind if address.ip().is_unspecified() && address.port() == 0 => Ok(()),
        SocketAddrUse::TcpConnect => {
            if resolves_to_granted(granted, address).await {
                return Ok(());
            }
            Err(format!(
                "connecting to {address}: no granted endpoint resolves to it (granted: {})",
                granted_list(granted)
            ))
        }
        other => Err(format!(
            "{other:?} on {address}: only outgoing TCP connections are granted"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> NetEndpoints {
        let mut endpoints = NetEndpoints::default();
        endpoints.insert("web", "localhost:8080").unwrap();
        endpoints.insert("db", "127.0.0.1:5432").unwrap();
        endpoints
    }

    #[test]
    fn endpoints_and_grants_parse() {
        assert_eq!(
            Endpoint::parse("[::1]:80").unwrap(),
            Endpoint {
                host: "::1".into(),
                port: 80
            }
        );
        assert!(
            Endpoint::parse("localhost")
                .unwrap_err()
                .contains("host:port")
        );
        assert!(Endpoint::parse("localhost:0").unwrap_err().contains("port"));
        assert_eq!(
            parse_grants("web, db", &endpoints()).unwrap(),
            ["web", "db"]
        );
        let err = parse_grants("web,metadata", &endpoints()).unwrap_err();
        assert!(
            err.contains("\"metadata\"") && err.contains("db, web"),
            "{err}"
        );
        assert!(
            parse_grants("web,web", &endpoints())
                .unwrap_err()
                .contains("twice")
        );
    }

    #[tokio::test]
    async fn only_addresses_a_granted_name_resolves_to_are_allowed() {
        let granted = vec![(
            "web".to_string(),
            Endpoint::parse("localhost:8080").unwrap(),
        )];
        let connect = |a: &str| check(&granted, a.parse().unwrap(), SocketAddrUse::TcpConnect);
        assert!(connect("127.0.0.1:8080").await.is_ok());
        // The right port on an address the name does not resolve to.
        let err = connect("127.0.0.2:8080").await.unwrap_err();
        assert!(err.contains("web=localhost:8080"), "{err}");
        assert!(connect("127.0.0.1:8081").await.is_err());
        assert!(
            check(
                &granted,
                "0.0.0.0:0".parse().unwrap(),
                SocketAddrUse::TcpBind
            )
            .await
            .is_ok()
        );
        assert!(
            check(
                &granted,
                "0.0.0.0:8080".parse().unwrap(),
                SocketAddrUse::TcpListen
            )
            .await
            .is_err()
        );
    }
}
