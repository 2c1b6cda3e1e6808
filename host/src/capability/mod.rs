//! Host capabilities a plugin can be granted. Each is a module of the same
//! shape: `mod.rs` holds the worker-level configuration, the per-connector
//! grant and the linking; `host.rs` (where there is one) the `Host` impl of
//! the generated WIT trait.

pub mod files;
pub mod logging;
pub mod net;

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
