//! Network: the worker names the endpoints that exist for plugins
//! (`net.endpoint.<name>=host:port`); a connector grants some of them by
//! name (`grant.net=<name>,<other>`). Its plugin may then open TCP
//! connections (wasi:sockets) and send HTTP requests (wasi:http, see
//! [`http`]) to those endpoints and nowhere else.
//!
//! The check is made on the address the plugin actually connects to:
//! each granted endpoint's host is resolved again at that moment, and the
//! address must be one of the results, on the endpoint's port. A plugin
//! that reaches a granted port on another address, or a name that has come
//! to resolve elsewhere since the grant, is refused. Without a grant a
//! plugin has no network at all: no sockets, no name lookups.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::component::Linker;
use wasmtime_wasi::WasiCtxBuilder;

use super::lifecycle::{
    Capability, CapabilityHost, InstanceContext, View, grant_key, named_resources, read_grant,
};
use crate::configdef::{ConfigError, KeyDefinition};
use endpoints::{Granted, check, denied};

pub mod endpoints;
pub mod http;

pub use endpoints::{Endpoint, NetEndpoints, parse_grants};
pub use http::HttpGrant;

/// The worker key prefix that names an endpoint.
pub const ENDPOINT_PREFIX: &str = "net.endpoint.";
/// The connector key that grants endpoints.
pub const GRANT_KEY: &str = "grant.net";

/// The net capability: TCP and HTTP to named endpoints.
pub struct Net;

impl Capability for Net {
    type Definitions = NetEndpoints;
    /// The names of the endpoints granted.
    type Grant = Vec<String>;
    /// What checks the instance's HTTP requests.
    type InstanceState = HttpGrant;

    const WORKER_KEYS: &'static [&'static str] = &[];
    const WORKER_PREFIXES: &'static [&'static str] = &[ENDPOINT_PREFIX];
    const IMPORTS: &'static [&'static str] = &["wasi:sockets/", "wasi:http/"];

    fn connector_keys() -> &'static [KeyDefinition] {
        const KEYS: &[KeyDefinition] = &[grant_key(
            GRANT_KEY,
            "The network endpoints this connector may open TCP connections to, by name; the \
             worker defines them with net.endpoint.<name>=host:port.",
        )];
        KEYS
    }

    fn define(
        worker: &BTreeMap<String, String>,
        _base: &Path,
        errors: &mut Vec<ConfigError>,
    ) -> NetEndpoints {
        let mut endpoints = NetEndpoints::default();
        for (key, name, value) in named_resources(worker, ENDPOINT_PREFIX) {
            if let Err(reason) = endpoints.insert(name, value) {
                errors.push(ConfigError::invalid(key, value, reason));
            }
        }
        endpoints
    }

    fn grant(
        connector: &BTreeMap<String, String>,
        endpoints: &NetEndpoints,
        errors: &mut Vec<ConfigError>,
    ) -> Vec<String> {
        read_grant(connector, GRANT_KEY, errors, |value| {
            parse_grants(value, endpoints)
        })
    }

    fn add_to_linker<S: CapabilityHost>(
        linker: &mut Linker<S>,
        _: fn(&mut S) -> View<'_, HttpGrant>,
    ) -> Result<()> {
        // Sockets come with WASI, linked by the runtime; wasi:http reaches
        // its grant through the state's `WasiHttpView` hooks.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(linker)
            .map_err(anyhow::Error::from)
            .context("linking wasi:http")
    }

    fn instance_state(
        endpoints: &NetEndpoints,
        grants: &Vec<String>,
        instance: &mut InstanceContext<'_>,
    ) -> Result<HttpGrant> {
        Ok(grant(instance.wasi, endpoints, grants, instance.log_target))
    }
}

/// Gives the plugin TCP to the granted endpoints, and name lookups to find
/// them; with no grant, leaves its network off. Returns what checks its
/// HTTP requests.
pub fn grant(
    builder: &mut WasiCtxBuilder,
    endpoints: &NetEndpoints,
    grants: &[String],
    log_target: &str,
) -> HttpGrant {
    let granted: Granted = Arc::new(
        grants
            .iter()
            .map(|name| (name.clone(), endpoints.0[name].clone()))
            .collect(),
    );
    let log_target: Arc<str> = log_target.into();
    let http = HttpGrant::new(Arc::clone(&granted), Arc::clone(&log_target));
    if grants.is_empty() {
        return http;
    }
    builder.allow_tcp(true);
    builder.allow_ip_name_lookup(true);
    builder.socket_addr_check(move |address, use_| {
        let granted = Arc::clone(&granted);
        let log_target = Arc::clone(&log_target);
        Box::pin(async move {
            let verdict = check(&granted, address, use_).await;
            if let Err(reason) = &verdict {
                denied(&log_target, reason);
            }
            verdict.is_ok()
        })
    });
    http
}
