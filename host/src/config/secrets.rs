//! Secrets in configurations, through Kafka's config providers: a value may
//! be, or contain, `${<alias>:<key>}` or `${<alias>:<path>:<key>}`, where
//! the alias is a provider the worker file declares (`config.providers`,
//! `config.providers.<alias>.class`, `config.providers.<alias>.param.*`).
//! No provider exists unless declared, as in Kafka. Beyond Kafka, a
//! connector's reference resolves only in a key its plugin declares as a
//! password: anywhere else the resolved secret would reach the plugin as
//! plain text and could be shipped into a topic (InsertField's
//! `static.value`), so it is refused, naming the key. References are
//! resolved only when a connector is started and its tasks are handed their
//! configuration; everything the worker shows or stores keeps the
//! reference, and resolved values are masked in every message that could
//! carry them.
//!
//! The file is one piece: what a reference is, what declares a provider and
//! what a provider may read are one contract with the operator, kept
//! together with its tests (half of the file).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

use super::properties;
use crate::configdef::{ConfigError, ConfigErrors, list};

pub use crate::redact::{MASK, Secrets};

/// `config.providers`: the aliases of the providers in use.
pub const PROVIDERS_KEY: &str = "config.providers";
/// `config.providers.<alias>.class` and `config.providers.<alias>.param.*`.
pub const PROVIDERS_PREFIX: &str = "config.providers.";

/// The provider names a reference most likely means even when the worker
/// declares none: a reference to one of them that no declaration backs is
/// an error saying what to declare, never text passed on as it is.
const WELL_KNOWN: &[&str] = &["env", "file", "directory"];

/// What a provider reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProviderKind {
    /// `${env:NAME}`: an environment variable (Kafka's EnvVarConfigProvider).
    Env,
    /// `${file:/path/file.properties:key}`: a key of a properties file
    /// (Kafka's FileConfigProvider).
    File,
    /// `${directory:/path/dir:name}`: the whole content of the file `name`
    /// in a directory (Kafka's DirectoryConfigProvider, as Kubernetes
    /// mounts secrets).
    Directory,
}

impl ProviderKind {
    /// A `config.providers.<alias>.class` value: Kafka's class name, its
    /// simple name, or the short name.
    fn from_class(class: &str) -> Option<ProviderKind> {
        let simple = class
            .strip_prefix("org.apache.kafka.common.config.provider.")
            .unwrap_or(class);
        match simple {
            "EnvVarConfigProvider" | "env" => Some(ProviderKind::Env),
            "FileConfigProvider" | "file" => Some(ProviderKind::File),
            "DirectoryConfigProvider" | "directory" => Some(ProviderKind::Directory),
            _ => None,
        }
    }

    fn class(self) -> &'static str {
        match self {
            ProviderKind::Env => "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ProviderKind::File => "org.apache.kafka.common.config.provider.FileConfigProvider",
            ProviderKind::Directory => {
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider"
            }
        }
    }

    /// The `param.*` keys the provider takes (KIP-993 and KIP-887).
    fn params(self) -> &'static [&'static str] {
        match self {
            ProviderKind::Env => &["allowlist.pattern"],
            ProviderKind::File | ProviderKind::Directory => &["allowed.paths"],
        }
    }
}

/// One declared provider.
#[derive(Clone, Debug)]
struct Provider {
    kind: ProviderKind,
    /// `param.allowed.paths`: the files (or directories) a file or
    /// directory provider may read, canonical; `None` allows any.
    allowed_paths: Option<Vec<PathBuf>>,
    /// `param.allowlist.pattern`: the variables an env provider may read
    /// (the whole name must match); `None` allows any.
    allowlist: Option<Regex>,
}

/// The providers a worker file declares, by alias.
#[derive(Clone, Debug, Default)]
pub struct ConfigProviders {
    by_alias: BTreeMap<String, Provider>,
}

/// A configuration with its references resolved, and the resolved values
/// that must never be shown.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub config: BTreeMap<String, String>,
    /// Shared by every task of the connector and its plugin instances.
    pub secrets: Arc<Secrets>,
}

/// A `${provider:[path:]key}` in a value, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    /// Where it stands in the value, `${` to `}` (to the end of the value
    /// when it is not closed).
    pub span: Range<usize>,
    pub provider: &'a str,
    /// Everything before the last colon after the provider, when there is
    /// one: so a path may itself hold colons.
    pub path: Option<&'a str>,
    pub key: &'a str,
    /// Whether a `}` ends it.
    pub closed: bool,
}

/// The references in `value`: each `${` followed by a provider name (ASCII
/// letters, digits, `.`, `_`, `-`) and a colon. Anything else (`${x}`, a
/// lone `$`) is text.
pub fn references(value: &str) -> Vec<Reference<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = value[from..].find("${") {
        let start = from + found;
        let after = start + 2;
        let name_len = value[after..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(value.len() - after);
        let colon = after + name_len;
        if name_len == 0 || !value[colon..].starts_with(':') {
            from = after;
            continue;
        }
        let body_start = colon + 1;
        let (body_end, end, closed) = match value[body_start..].find('}') {
            Some(i) => (body_start + i, body_start + i + 1, true),
            None => (value.len(), value.len(), false),
        };
        let body = &value[body_start..body_end];
        let (path, key) = match body.rsplit_once(':') {
            Some((path, key)) => (Some(path), key),
            None => (None, body),
        };
        out.push(Reference {
            span: start..end,
            provider: &value[after..colon],
            path,
            key,
            closed,
        });
        from = end;
    }
    out
}

/// Whether `value` holds anything written as a reference (for showing
/// values: a reference is shown, a password is not).
pub fn has_reference(value: &str) -> bool {
    !references(value).is_empty()
}

impl ConfigProviders {
    /// Reads `config.providers` and its sub-keys from a worker file. Every
    /// problem is pushed to `errors`, naming its key.
    pub fn from_worker_config(
        map: &BTreeMap<String, String>,
        errors: &mut Vec<ConfigError>,
    ) -> ConfigProviders {
        let aliases = map.get(PROVIDERS_KEY).map(|v| list(v)).unwrap_or_default();
        let mut by_alias = BTreeMap::new();
        for alias in &aliases {
            let class_key = format!("{PROVIDERS_PREFIX}{alias}.class");
            let Some(class) = map.get(&class_key).map(|v| v.trim()) else {
                errors.push(ConfigError::Missing(class_key));
                continue;
            };
            let Some(kind) = ProviderKind::from_class(class) else {
                errors.push(ConfigError::invalid(
                    &class_key,
                    class,
                    "Sluice has no such config provider: use \
                     org.apache.kafka.common.config.provider.FileConfigProvider, \
                     DirectoryConfigProvider or EnvVarConfigProvider (or file, directory, env)",
                ));
                continue;
            };
            let mut provider = Provider {
                kind,
                allowed_paths: None,
                allowlist: None,
            };
            let param_prefix = format!("{PROVIDERS_PREFIX}{alias}.param.");
            for (key, value) in map.range(param_prefix.clone()..) {
                let Some(param) = key.strip_prefix(&param_prefix) else {
                    break;
                };
                match param {
                    "allowed.paths" if kind != ProviderKind::Env => {
                        provider.allowed_paths = Some(allowed_paths(key, value, errors));
                    }
                    "allowlist.pattern" if kind == ProviderKind::Env => {
                        match Regex::new(&format!("^(?:{})$", value.trim())) {
                            Ok(pattern) => provider.allowlist = Some(pattern),
                            Err(e) => errors.push(ConfigError::invalid(
                                key,
                                value,
                                format!("not a regular expression: {e}"),
                            )),
                        }
                    }
                    _ => {
                        let known: Vec<String> = kind
                            .params()
                            .iter()
                            .map(|p| format!("{param_prefix}{p}"))
                            .collect();
                        let known: Vec<&str> = known.iter().map(String::as_str).collect();
                        errors.push(ConfigError::unknown(key, &known));
                    }
                }
            }
            by_alias.insert(alias.clone(), provider);
        }
        // Sub-keys of a provider that is not listed would be silently
        // unused: name them.
        for key in map.keys().filter(|k| k.starts_with(PROVIDERS_PREFIX)) {
            let alias = key[PROVIDERS_PREFIX.len()..]
                .split('.')
                .next()
                .unwrap_or("");
            if !aliases.iter().any(|a| a == alias) {
                errors.push(ConfigError::invalid(
                    key,
                    &map[key],
                    format!("\"{alias}\" is not listed in \"{PROVIDERS_KEY}\""),
                ));
            }
        }
        ConfigProviders { by_alias }
    }

    /// Whether the worker declares any provider.
    pub fn is_empty(&self) -> bool {
        self.by_alias.is_empty()
    }

    /// Resolves every reference in `raw`. `may_reference` says which keys
    /// may hold one (a connector's password keys; every key of the worker
    /// file); a reference anywhere else is refused. A reference that cannot
    /// be resolved is an error naming the key and the reference, never a
    /// value. The `config.providers` keys themselves are taken as written.
    pub fn resolve(
        &self,
        raw: &BTreeMap<String, String>,
        may_reference: impl Fn(&str) -> bool,
    ) -> Result<Resolved, ConfigErrors> {
        let mut config = BTreeMap::new();
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for (key, value) in raw {
            let ours: Vec<Reference> = references(value)
                .into_iter()
                .filter(|r| {
                    self.by_alias.contains_key(r.provider) || WELL_KNOWN.contains(&r.provider)
                })
                .collect();
            if ours.is_empty() || key == PROVIDERS_KEY || key.starts_with(PROVIDERS_PREFIX) {
                config.insert(key.clone(), value.clone());
                continue;
            }
            if !may_reference(key) {
                errors.push(ConfigError::invalid(
                    key,
                    value,
                    format!(
                        "a config provider reference resolves only in a key the plugin declares \
                         as a password (type PASSWORD), and \"{key}\" is not one: the secret \
                         would reach the plugin, and perhaps a topic, as plain text"
                    ),
                ));
                continue;
            }
            let mut text = String::new();
            let mut at = 0;
            let mut failed = false;
            for reference in &ours {
                match self.value(reference, &value[reference.span.clone()]) {
                    Ok(secret) => {
                        text.push_str(&value[at..reference.span.start]);
                        text.push_str(&secret);
                        values.push(secret);
                        at = reference.span.end;
                    }
                    Err(reason) => {
                        errors.push(ConfigError::invalid(key, value, reason));
                        failed = true;
                        break;
                    }
                }
            }
            if !failed {
                text.push_str(&value[at..]);
                config.insert(key.clone(), text);
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

    /// The value of one reference (`written` is its text, for messages).
    fn value(&self, reference: &Reference, written: &str) -> Result<String, String> {
        if !reference.closed {
            return Err(format!(
                "the reference at \"{written}\" is not closed with }}"
            ));
        }
        let alias = reference.provider;
        let Some(provider) = self.by_alias.get(alias) else {
            let kind = ProviderKind::from_class(alias).unwrap_or(ProviderKind::File);
            return Err(format!(
                "{written} cannot be resolved: no config provider \"{alias}\" is declared in \
                 the worker file (declare it with {PROVIDERS_KEY}={alias} and \
                 {PROVIDERS_PREFIX}{alias}.class={})",
                kind.class()
            ));
        };
        let cannot = |why: String| format!("{written} cannot be resolved: {why}");
        match provider.kind {
            ProviderKind::Env => {
                if reference.path.is_some() {
                    return Err(cannot(format!(
                        "an env reference names a variable only: ${{{alias}:NAME}}"
                    )));
                }
                let name = reference.key;
                if let Some(pattern) = &provider.allowlist
                    && !pattern.is_match(name)
                {
                    return Err(cannot(format!(
                        "the variable {name} does not match \
                         {PROVIDERS_PREFIX}{alias}.param.allowlist.pattern"
                    )));
                }
                std::env::var(name)
                    .map_err(|_| cannot(format!("the environment variable {name} is not set")))
            }
            ProviderKind::File => {
                let (path, key) =
                    path_and_key(reference, alias, "/path/to/file.properties").map_err(&cannot)?;
                let path = provider.allowed(alias, Path::new(path)).map_err(&cannot)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| cannot(format!("reading {}: {e}", path.display())))?;
                let mut properties = properties::parse(&text)
                    .map_err(|e| cannot(format!("{}: {e}", path.display())))?;
                properties
                    .remove(key)
                    .ok_or_else(|| cannot(format!("{} has no key \"{key}\"", path.display())))
            }
            ProviderKind::Directory => {
                let (dir, name) =
                    path_and_key(reference, alias, "/path/to/directory").map_err(&cannot)?;
                if name.contains('/') || name == "." || name == ".." {
                    return Err(cannot(format!(
                        "\"{name}\" is not a file name: a directory reference names a file \
                         directly in the directory"
                    )));
                }
                let path = provider
                    .allowed(alias, &Path::new(dir).join(name))
                    .map_err(&cannot)?;
                std::fs::read_to_string(&path)
                    .map_err(|e| cannot(format!("reading {}: {e}", path.display())))
            }
        }
    }
}

/// The path and key of a file or directory reference.
fn path_and_key<'a>(
    reference: &Reference<'a>,
    alias: &str,
    example: &str,
) -> Result<(&'a str, &'a str), String> {
    match reference.path {
        Some(path) if !path.is_empty() && !reference.key.is_empty() => Ok((path, reference.key)),
        _ => Err(format!(
            "it must name a path and a key: ${{{alias}:{example}:key}}"
        )),
    }
}

impl Provider {
    /// `path`, canonical, if `allowed.paths` lets the provider read it.
    /// Canonical paths on both sides: `..` and symbolic links cannot lead
    /// out of an allowed directory.
    fn allowed(&self, alias: &str, path: &Path) -> Result<PathBuf, String> {
        let Some(allowed) = &self.allowed_paths else {
            return Ok(path.to_path_buf());
        };
        if !path.is_absolute() {
            return Err(format!(
                "{} is not an absolute path, which {PROVIDERS_PREFIX}{alias}.param.allowed.paths \
                 requires",
                path.display()
            ));
        }
        let canonical = path
            .canonicalize()
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        if allowed.iter().any(|a| canonical.starts_with(a)) {
            Ok(canonical)
        } else {
            Err(format!(
                "{} is not under {PROVIDERS_PREFIX}{alias}.param.allowed.paths",
                path.display()
            ))
        }
    }
}

/// `allowed.paths`: absolute paths, canonical where they exist (one that
/// does not exist yet is kept as written, without `.` or `..`).
fn allowed_paths(key: &str, value: &str, errors: &mut Vec<ConfigError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for item in list(value) {
        let path = PathBuf::from(&item);
        if !path.is_absolute()
            || path
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            errors.push(ConfigError::invalid(
                key,
                value,
                format!("\"{item}\" is not an absolute path without . or .."),
            ));
            continue;
        }
        out.push(path.canonicalize().unwrap_or(path));
    }
    if out.is_empty() && errors.iter().all(|e| e.key() != key) {
        errors.push(ConfigError::invalid(
            key,
            value,
            "name at least one path (leave the key out to allow every path)",
        ));
    }
    out
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

    fn providers(pairs: &[(&str, &str)]) -> Result<ConfigProviders, ConfigErrors> {
        let mut errors = Vec::new();
        let providers = ConfigProviders::from_worker_config(&map(pairs), &mut errors);
        if errors.is_empty() {
            Ok(providers)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-secrets-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    }

    #[test]
    fn references_are_found_as_kafka_writes_them() {
        let found = references("a ${env:X} b ${file:/p:q:k} ${x} $${dir:/d:n");
        let summary: Vec<_> = found
            .iter()
            .map(|r| (r.provider, r.path, r.key, r.closed))
            .collect();
        assert_eq!(
            summary,
            [
                ("env", None, "X", true),
                ("file", Some("/p:q"), "k", true),
                ("dir", Some("/d"), "n", false),
            ]
        );
        assert!(!has_reference("${} ${:x} $ {env:x} price: $5"));
    }

    #[test]
    fn no_provider_exists_unless_declared() {
        // SAFETY: the variable is unique to this test and set before use.
        unsafe { std::env::set_var("SLUICE_TEST_UNDECLARED", "leaked") };
        let raw = map(&[("password", "${env:SLUICE_TEST_UNDECLARED}")]);
        let errors = ConfigProviders::default()
            .resolve(&raw, |_| true)
            .unwrap_err()
            .to_string();
        assert!(
            errors.contains("\"password\"")
                && errors.contains("no config provider \"env\" is declared")
                && errors.contains("EnvVarConfigProvider")
                && !errors.contains("leaked"),
            "{errors}"
        );
        // Other providers' text is not Sluice's business: left as written.
        let vault = map(&[("password", "${vault:secret/x:key}")]);
        let resolved = ConfigProviders::default()
            .resolve(&vault, |_| true)
            .unwrap();
        assert_eq!(resolved.config["password"], "${vault:secret/x:key}");
    }

    #[test]
    fn declared_providers_resolve_and_are_masked() {
        let dir = scratch("declared");
        std::fs::write(
            dir.join("db.properties"),
            "user=alice\npassword=s3cret-file\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("mounted")).unwrap();
        std::fs::write(dir.join("mounted/token"), "tok-from-dir").unwrap();
        // SAFETY: the variable is unique to this test and set before use.
        unsafe { std::env::set_var("SLUICE_TEST_SECRET_TOKEN", "tok-123") };
        let providers = providers(&[
            ("config.providers", "env,file,k8s"),
            (
                "config.providers.env.class",
                "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            ),
            ("config.providers.file.class", "FileConfigProvider"),
            ("config.providers.k8s.class", "directory"),
        ])
        .unwrap();
        let file = dir.join("db.properties");
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
            (
                "mounted",
                &format!("${{k8s:{}:token}}", dir.join("mounted").display()),
            ),
            ("plain", "x"),
        ]);
        let resolved = providers.resolve(&raw, |_| true).unwrap();
        assert_eq!(resolved.config["token"], "tok-123");
        assert_eq!(resolved.config["url"], "postgres://alice@db");
        assert_eq!(resolved.config["password"], "s3cret-file");
        assert_eq!(resolved.config["mounted"], "tok-from-dir");
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
    fn a_reference_outside_a_password_key_is_refused_by_name() {
        // SAFETY: the variable is unique to this test and set before use.
        unsafe { std::env::set_var("SLUICE_TEST_EXFILTRATED", "crown-jewels") };
        let providers = providers(&[
            ("config.providers", "env"),
            ("config.providers.env.class", "env"),
        ])
        .unwrap();
        let raw = map(&[
            (
                "transforms.tag.static.value",
                "${env:SLUICE_TEST_EXFILTRATED}",
            ),
            ("connection.password", "${env:SLUICE_TEST_EXFILTRATED}"),
        ]);
        let errors = providers
            .resolve(&raw, |key| key == "connection.password")
            .unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        let text = errors.to_string();
        assert!(
            text.contains("\"transforms.tag.static.value\"")
                && text.contains("type PASSWORD")
                && !text.contains("crown-jewels"),
            "{text}"
        );
    }

    #[test]
    fn allowed_paths_and_allowlist_bound_what_providers_read() {
        let dir = scratch("allowed");
        std::fs::create_dir_all(dir.join("secrets")).unwrap();
        std::fs::write(dir.join("secrets/ok.properties"), "k=fine\n").unwrap();
        std::fs::write(dir.join("other.properties"), "k=outside\n").unwrap();
        std::os::unix::fs::symlink(
            dir.join("other.properties"),
            dir.join("secrets/link.properties"),
        )
        .unwrap();
        // SAFETY: the variables are unique to this test and set before use.
        unsafe {
            std::env::set_var("SLUICE_TEST_ALLOWED_A", "a");
            std::env::set_var("SLUICE_TEST_FORBIDDEN_B", "b");
        }
        let allowed = dir.join("secrets").display().to_string();
        let providers = providers(&[
            ("config.providers", "file,env"),
            ("config.providers.file.class", "file"),
            ("config.providers.file.param.allowed.paths", &allowed),
            ("config.providers.env.class", "env"),
            (
                "config.providers.env.param.allowlist.pattern",
                "SLUICE_TEST_ALLOWED_.*",
            ),
        ])
        .unwrap();
        let resolve = |value: String| providers.resolve(&map(&[("p", &value)]), |_| true);
        let secrets = dir.join("secrets");
        assert_eq!(
            resolve(format!("${{file:{}/ok.properties:k}}", secrets.display()))
                .unwrap()
                .config["p"],
            "fine"
        );
        for escape in [
            format!("${{file:{}/other.properties:k}}", dir.display()),
            format!("${{file:{}/../other.properties:k}}", secrets.display()),
            format!("${{file:{}/link.properties:k}}", secrets.display()),
        ] {
            let error = resolve(escape.clone()).unwrap_err().to_string();
            assert!(
                error.contains("is not under config.providers.file.param.allowed.paths"),
                "{escape}: {error}"
            );
        }
        assert_eq!(
            resolve("${env:SLUICE_TEST_ALLOWED_A}".into())
                .unwrap()
                .config["p"],
            "a"
        );
        let error = resolve("${env:SLUICE_TEST_FORBIDDEN_B}".into())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("does not match config.providers.env.param.allowlist.pattern"),
            "{error}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn provider_declarations_are_checked_key_by_key() {
        let errors = providers(&[
            ("config.providers", "env,vault,nothing"),
            ("config.providers.env.class", "env"),
            ("config.providers.env.param.allowed.paths", "/etc"),
            (
                "config.providers.vault.class",
                "com.github.jcustenborder.kafka.config.vault.VaultConfigProvider",
            ),
            ("config.providers.stray.class", "file"),
        ])
        .unwrap_err();
        let keys: Vec<&str> = errors.0.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            [
                "config.providers.env.param.allowed.paths",
                "config.providers.vault.class",
                "config.providers.nothing.class",
                "config.providers.stray.class",
            ],
            "{errors}"
        );
        let bad = providers(&[
            ("config.providers", "file"),
            ("config.providers.file.class", "file"),
            ("config.providers.file.param.allowed.paths", "relative/dir"),
        ])
        .unwrap_err()
        .to_string();
        assert!(bad.contains("not an absolute path"), "{bad}");
    }

    #[test]
    fn unresolvable_references_name_the_key_not_a_value() {
        let providers = providers(&[
            ("config.providers", "env,file"),
            ("config.providers.env.class", "env"),
            ("config.providers.file.class", "file"),
        ])
        .unwrap();
        let raw = map(&[
            ("a", "${env:SLUICE_TEST_SURELY_UNSET}"),
            ("b", "${file:/nonexistent/x.properties:k}"),
            ("c", "${env:OPEN"),
        ]);
        let errors = providers.resolve(&raw, |_| true).unwrap_err().to_string();
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
}
