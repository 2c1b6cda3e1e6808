//! Host capabilities a plugin can be granted. Each is a module of the same
//! shape: `mod.rs` holds the worker-level configuration, the per-connector
//! grant and the linking; `host.rs` (where there is one) the `Host` impl of
//! the generated WIT trait.

pub mod files;
pub mod logging;
pub mod net;

use std::collections::BTreeMap;
use std::fmt;

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
pub mod sql;
