//! The shape every capability has: the [`Capability`] trait (what the
//! worker defines, what a connector is granted, the host functions, the
//! per-instance state), what its host functions see of a store ([`View`]),
//! and the parsing of grants that name resources with access.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpView;

use crate::configdef::{ConfigError, KeyDefinition};
use crate::redact::Secrets;
use crate::runtime::StoreState;
use crate::runtime::limits::TaskMetrics;

/// The group the REST API lists grant keys under.
pub const GRANTS_GROUP: &str = "Grants";

/// One capability's lifecycle, from the worker file to a plugin instance.
pub trait Capability {
    /// What the worker defines: the resources that exist, by name.
    type Definitions: Clone + fmt::Debug + Default + Send + Sync + 'static;
    /// What one connector was granted of them.
    type Grant: Clone + fmt::Debug + Default + Send + Sync + 'static;
    /// Its part of a plugin instance's store state.
    type InstanceState: Send + 'static;

    /// The worker keys it reads, whole.
    const WORKER_KEYS: &'static [&'static str];
    /// The worker key prefixes it reads (`files.root.`): the rest of such a
    /// key names a resource.
    const WORKER_PREFIXES: &'static [&'static str];
    /// The imports (interface name prefixes) through which a plugin uses
    /// it: a plugin that imports none of them has no use for its grant.
    const IMPORTS: &'static [&'static str];

    /// The connector keys it reads, described for the REST API.
    fn connector_keys() -> &'static [KeyDefinition];

    /// Reads its worker keys; every problem goes to `errors`, naming its
    /// key. Relative paths are relative to `base`.
    fn define(
        worker: &BTreeMap<String, String>,
        base: &Path,
        errors: &mut Vec<ConfigError>,
    ) -> Self::Definitions;

    /// Reads a connector's grant; every problem goes to `errors`, naming
    /// the key and, for a resource the worker lacks, how to define it.
    fn grant(
        connector: &BTreeMap<String, String>,
        defined: &Self::Definitions,
        errors: &mut Vec<ConfigError>,
    ) -> Self::Grant;

    /// Adds its host functions to `linker`; `get` finds its state in a
    /// store's.
    fn add_to_linker<S: CapabilityHost>(
        linker: &mut Linker<S>,
        get: fn(&mut S) -> View<'_, Self::InstanceState>,
    ) -> Result<()>;

    /// Its state for one plugin instance granted `grant`; capabilities
    /// that ride on WASI (files, sockets) set up `instance.wasi`.
    fn instance_state(
        defined: &Self::Definitions,
        grant: &Self::Grant,
        instance: &mut InstanceContext<'_>,
    ) -> Result<Self::InstanceState>;
}

/// What a capability's host functions work with: its part of the
/// instance's state, and the resource table it shares with WASI.
pub struct View<'a, T> {
    pub state: &'a mut T,
    pub table: &'a mut ResourceTable,
}

impl<'a, T> View<'a, T> {
    pub fn new(state: &'a mut T, table: &'a mut ResourceTable) -> Self {
        View { state, table }
    }
}

/// The definition of a `grant.<capability>` key: a LIST of resource
/// names, listed under "Grants".
pub const fn grant_key(name: &'static str, documentation: &'static str) -> KeyDefinition {
    KeyDefinition {
        name,
        type_: "LIST",
        default: None,
        required: false,
        importance: "HIGH",
        group: GRANTS_GROUP,
        documentation,
    }
}

/// The worker keys under `prefix` as (key, resource name, value): the
/// resources a capability defines (`files.root.<name>=...`).
pub fn named_resources<'a>(
    worker: &'a BTreeMap<String, String>,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a String, &'a str, &'a String)> {
    worker
        .range(prefix.to_string()..)
        .map_while(move |(key, value)| Some((key, key.strip_prefix(prefix)?, value)))
}

/// A connector's grant under `key`, parsed by `parse`; nothing granted
/// when the key is absent. A refused grant is reported under `key` and
/// grants nothing.
pub fn read_grant<T: Default>(
    connector: &BTreeMap<String, String>,
    key: &str,
    errors: &mut Vec<ConfigError>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> T {
    let Some(value) = connector.get(key) else {
        return T::default();
    };
    parse(value).unwrap_or_else(|reason| {
        errors.push(ConfigError::invalid(key, value, reason));
        T::default()
    })
}

/// What a capability may ask of the store it is linked into: WASI and the
/// task's limits (every store has them), and wasi:http's view.
pub trait CapabilityHost: StoreState + WasiHttpView {}

impl<T: StoreState + WasiHttpView> CapabilityHost for T {}

/// Who a plugin instance is, for the capabilities building its state.
pub struct InstanceContext<'a> {
    /// The connector it belongs to (pools are shared per connector).
    pub connector: &'a str,
    /// Who its log lines are attributed to (`connector-0`).
    pub log_target: &'a Arc<str>,
    /// The connector's resolved secrets, masked in what it logs.
    pub secrets: &'a Arc<Secrets>,
    /// What the instance's task used (output counts against its budget).
    pub metrics: &'a Arc<TaskMetrics>,
    /// The instance's WASI context, being built.
    pub wasi: &'a mut WasiCtxBuilder,
}

/// How a connector may use a granted resource (a file root, a datasource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::ReadOnly => "ro",
            Access::ReadWrite => "rw",
        })
    }
}

/// Parses a grant of resources with access (`grant.files`, `grant.sql`):
/// `<name>:ro` or `<name>:rw`, comma-separated; a name without access is
/// read-only. Each name must be one the worker defines in `defined`; `what`
/// and `worker_key` say what it is and how to define one, for the message.
pub fn parse_access_grants<T>(
    value: &str,
    defined: &BTreeMap<String, T>,
    what: &str,
    worker_key: &str,
) -> Result<Vec<(String, Access)>, String> {
    let mut grants: Vec<(String, Access)> = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, access) = match item.split_once(':') {
            None => (item, Access::ReadOnly),
            Some((name, "ro")) => (name, Access::ReadOnly),
            Some((name, "rw")) => (name, Access::ReadWrite),
            Some((_, other)) => {
                return Err(format!(
                    "\"{item}\": access must be ro or rw, not \"{other}\""
                ));
            }
        };
        if !defined.contains_key(name) {
            return Err(undefined(what, name, worker_key, defined.keys()));
        }
        if grants.iter().any(|(granted, _)| granted == name) {
            return Err(format!("\"{name}\" is granted twice"));
        }
        grants.push((name.to_string(), access));
    }
    Ok(grants)
}

/// Whether `name` may name a resource in a worker key (`files.root.<name>`,
/// `net.endpoint.<name>`): letters, digits, '-' and '_'.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The message for a grant of a resource the worker does not define: names
/// it, says how to define one, and lists the defined ones.
pub fn undefined<'a>(
    what: &str,
    name: &str,
    worker_key: &str,
    defined: impl Iterator<Item = &'a String>,
) -> String {
    let defined: Vec<&str> = defined.map(String::as_str).collect();
    format!(
        "\"{name}\" is not {what} of this worker (defined with {worker_key}; defined: {})",
        if defined.is_empty() {
            "none".to_string()
        } else {
            defined.join(", ")
        }
    )
}
