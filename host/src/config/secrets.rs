//! Secrets in connector configurations: a value may be, or contain,
//! `${env:NAME}` or `${file:/path/to/file.properties:key}` (Kafka Connect's
//! config-provider syntax). References are resolved only when a connector
//! is started and its tasks are handed their configuration; everything the
//! worker shows or stores keeps the reference, and the resolved values are
//! masked in every message that could carry them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::properties;
use crate::configdef::{ConfigError, ConfigErrors};

pub use crate::redact::{MASK, Secrets};

/// A configuration with its references resolved, and the resolved values
/// that must never be shown.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub config: BTreeMap<String, String>,
    /// Shared by every task of the connector and its plugin instances.
    pub secrets: Arc<Secrets>,
}

/// Whether `value` holds a reference to resolve.
pub fn has_reference(value: &str) -> bool {
    value.contains("${env:") || value.contains("${file:")
}

/// Resolves every reference in `raw`. A reference that cannot be resolved
/// is an error naming the key and the reference (never a value).
pub fn resolve(raw: &BTreeMap<String, String>) -> Result<Resolved, ConfigErrors> {
    let mut config = BTreeMap::new();
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in raw {
        if !has_reference(value) {
            config.insert(key.clone(), value.clone());
            continue;
        }
        match substitute(value) {
            Ok((text, found)) => {
                values.extend(found.into_iter().filter(|s| !s.is_empty()));
                config.insert(key.clone(), text);
            }
            Err(reason) => errors.push(ConfigError::invalid(key, value, reason)),
        }
    }
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Resolved {
        config,
        secrets: Arc::new(Secrets::new(values)),
    })
}

/// Replaces each `${provider:...}` in `value`; returns the text and the
/// resolved values.
fn substitute(value: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut found = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!(
                "the reference at \"{}\" is not closed with }}",
                &rest[start..]
            ));
        };
        let reference = &after[..end];
        let secret = match reference.split_once(':') {
            Some(("env", name)) => env_value(name)?,
            Some(("file", path_and_key)) => file_value(path_and_key)?,
            // Not ours (Kafka's other providers or literal text): kept as is.
            _ => format!("${{{reference}}}"),
        };
        if reference.starts_with("env:") || reference.starts_with("file:") {
            found.push(secret.clone());
        }
        out.push_str(&secret);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok((out, found))
}

fn env_value(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| {
        format!("${{env:{name}}} cannot be resolved: the environment variable {name} is not set")
    })
}

/// `${file:/path:key}`: the key's value in a properties file, as Kafka's
/// FileConfigProvider reads it. The path is everything before the last
/// colon, so it may itself hold colons.
fn file_value(path_and_key: &str) -> Result<String, String> {
    let Some((path, key)) = path_and_key.rsplit_once(':') else {
        return Err(format!(
            "${{file:{path_and_key}}} must name a file and a key: ${{file:/path/to/file.properties:key}}"
        ));
    };
    let text = std::fs::read_to_string(Path::new(path))
        .map_err(|e| format!("${{file:{path_and_key}}} cannot be resolved: reading {path}: {e}"))?;
    let mut properties = properties::parse(&text)
        .map_err(|e| format!("${{file:{path_and_key}}} cannot be resolved: {path}: {e}"))?;
    properties.remove(key).ok_or_else(|| {
        format!("${{file:{path_and_key}}} cannot be resolved: {path} has no key \"{key}\"")
    })
}

/// Puts the references back into configurations derived from a resolved
/// one (the task configurations a connector returns), so that what is
/// stored and shown never holds a secret: a value equal to a resolved value
/// becomes its reference again, and any other secret is masked.
pub fn unresolve(
    derived: &BTreeMap<String, String>,
    raw: &BTreeMap<String, String>,
    resolved: &Resolved,
) -> BTreeMap<String, String> {
    derived
        .iter()
        .map(|(key, value)| {
            let original = raw
                .iter()
                .filter(|(_, v)| has_reference(v))
                .find(|(k, _)| resolved.config.get(*k) == Some(value))
                .map(|(_, v)| v.clone());
            let shown = original.unwrap_or_else(|| resolved.secrets.mask(value));
            (key.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    #[test]
    fn env_and_file_references_resolve_and_are_masked() {
        let dir = std::env::temp_dir().join(format!("sluice-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("db.properties");
        std::fs::write(&file, "user=alice\npassword=s3cret-file\n").unwrap();
        // SAFETY: the variable is unique to this test and set before use.
        unsafe { std::env::set_var("SLUICE_TEST_SECRET_TOKEN", "tok-123") };
        let raw = map(&[
            ("token", "${env:SLUICE_TEST_SECRET_TOKEN}"),
            (
                "url",
                &format!("postgres://${{file:{}:user}}@db", file.display()),
            ),
            (
                "password",
                &format!("${{file:{}:password}}", file.display()),
            ),
            ("plain", "x"),
        ]);
        let resolved = resolve(&raw).unwrap();
        assert_eq!(resolved.config["token"], "tok-123");
        assert_eq!(resolved.config["url"], "postgres://alice@db");
        assert_eq!(resolved.config["password"], "s3cret-file");
        assert_eq!(resolved.config["plain"], "x");
        assert_eq!(
            resolved.secrets.mask("failed with s3cret-file and tok-123"),
            "failed with [hidden] and [hidden]"
        );
        let tasks = map(&[
            ("password", "s3cret-file"),
            ("dsn", "tok-123!"),
            ("plain", "x"),
        ]);
        let shown = unresolve(&tasks, &raw, &resolved);
        assert_eq!(shown["password"], raw["password"]);
        assert_eq!(shown["dsn"], "[hidden]!");
        assert_eq!(shown["plain"], "x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unresolvable_references_name_the_key_not_a_value() {
        let raw = map(&[
            ("a", "${env:SLUICE_TEST_SURELY_UNSET}"),
            ("b", "${file:/nonexistent/x.properties:k}"),
            ("c", "${env:OPEN"),
        ]);
        let errors = resolve(&raw).unwrap_err().to_string();
        assert!(
            errors.contains("\"a\"") && errors.contains("SLUICE_TEST_SURELY_UNSET is not set"),
            "{errors}"
        );
        assert!(
            errors.contains("\"b\"") && errors.contains("/nonexistent/x.properties"),
            "{errors}"
        );
        assert!(
            errors.contains("\"c\"") && errors.contains("not closed"),
            "{errors}"
        );
    }

    #[test]
    fn other_providers_are_left_alone() {
        let raw = map(&[("a", "${vault:secret/x:key}")]);
        let resolved = resolve(&raw).unwrap();
        assert_eq!(resolved.config["a"], "${vault:secret/x:key}");
        assert!(resolved.secrets.is_empty());
    }
}
