//! The worker's configuration (a `.properties` or JSON file, as
//! `connect-standalone` takes): Kafka Connect's keys where one has the same
//! meaning, and Sluice's own for plugins, limits, REST authentication and
//! what the capabilities define. Every key is checked; a problem names it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::distributed::{self, DistributedConfig};
use super::listeners::{self, Listener, RestTls};
use super::pipeline::CONVERTER_KEYS;
use super::secrets::{self, ConfigProviders};
use super::{client_security, properties, sandbox, topic_creation};
use crate::capability;
use crate::configdef::{ConfigError, ConfigErrors, list};
use crate::runtime::limits::{self, TaskLimits};

/// Reads a `.properties` or JSON file into a flat map. A JSON file may be a
/// flat map or Kafka Connect's `{"name": ..., "config": {...}}`.
pub fn read_config_file(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "json") {
        parse_json_config(&text).with_context(|| format!("parsing {}", path.display()))
    } else {
        properties::parse(&text)
            .map_err(|e| anyhow::anyhow!(e))
            .with_context(|| format!("parsing {}", path.display()))
    }
}

fn parse_json_config(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let object = value
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("expected a JSON object"))?;
    let mut out = BTreeMap::new();
    let (flat, name) = match object.get("config") {
        Some(serde_json::Value::Object(config)) => (config, object.get("name")),
        _ => (object, None),
    };
    for (key, value) in flat {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => continue,
            other => other.to_string(),
        };
        out.insert(key.clone(), text);
    }
    if let Some(serde_json::Value::String(name)) = name {
        out.entry("name".to_string())
            .or_insert_with(|| name.clone());
    }
    Ok(out)
}

/// Where a worker keeps connectors, offsets and statuses.
#[derive(Clone, Debug)]
pub enum WorkerMode {
    /// In local files (`sluice standalone`).
    Standalone {
        /// The offset store (`offset.storage.file.filename`).
        offset_file: PathBuf,
        /// The connector store (configurations and target states).
        connector_store: PathBuf,
    },
    /// In Kafka topics, shared by a group of workers (`sluice distributed`).
    /// Boxed: its many keys would make every standalone config as large.
    Distributed(Box<DistributedConfig>),
}

/// A worker's configuration, standalone or distributed.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub bootstrap_servers: String,
    /// Directories scanned for plugin components.
    pub plugin_path: Vec<PathBuf>,
    /// Where compiled components are cached.
    pub plugin_cache_dir: PathBuf,
    pub mode: WorkerMode,
    /// How often offsets are committed: source offsets of acknowledged
    /// batches, sink offsets of flushed batches. Zero commits after every
    /// batch.
    pub offset_flush_interval: Duration,
    /// The REST listeners (`listeners`); the first is the worker's id.
    pub listeners: Vec<Listener>,
    /// The certificate and key of the https listener, if there is one.
    pub rest_tls: Option<RestTls>,
    /// `key.converter`, `value.converter`, `header.converter` and their
    /// sub-keys: the converters of connectors that name none. Checked
    /// against the plugins once they are loaded.
    pub converters: BTreeMap<String, String>,
    /// What each capability defines (`files.root.<name>`,
    /// `net.endpoint.<name>`, `sql.datasource.<name>.*`, ...).
    pub capabilities: capability::Definitions,
    /// `producer.*`, `consumer.*` and `admin.*` overrides, prefix removed,
    /// over the worker-level security keys, in librdkafka's names.
    pub producer: BTreeMap<String, String>,
    pub consumer: BTreeMap<String, String>,
    pub admin: BTreeMap<String, String>,
    /// How long a stopping task may take to flush and commit.
    pub task_shutdown_timeout: Duration,
    /// Who may call the REST API; `None` leaves it open.
    pub rest_auth: Option<RestAuth>,
    /// The limits of a connector's tasks unless the connector sets its own.
    pub task_limits: TaskLimits,
    /// `task.limits.enabled`: whether plugins run under limits at all. Off
    /// only to measure what the limits cost.
    pub limits_enabled: bool,
    /// `config.providers`: what `${...}` references in this file and in
    /// connectors' password keys may read.
    pub providers: Arc<ConfigProviders>,
    /// `topic.creation.enable`: whether source tasks create the topics
    /// they write to (with their connector's `topic.creation.*` settings).
    pub topic_creation_enable: bool,
}

/// The REST API's credentials: HTTP basic, a bearer token, or both (either
/// is then accepted).
#[derive(Clone, PartialEq, Eq)]
pub struct RestAuth {
    pub basic: Option<(String, String)>,
    pub bearer: Option<String>,
}

impl fmt::Debug for RestAuth {
    // Credentials never reach a log line, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestAuth")
            .field("basic", &self.basic.as_ref().map(|(user, _)| user))
            .field("bearer", &self.bearer.as_ref().map(|_| secrets::MASK))
            .finish()
    }
}

const WORKER_KEYS: &[&str] = &[
    "bootstrap.servers",
    "plugin.path",
    "plugin.cache.dir",
    "offset.flush.interval.ms",
    "offset.flush.timeout.ms",
    listeners::LISTENERS_KEY,
    "key.converter",
    "value.converter",
    "header.converter",
    "task.shutdown.graceful.timeout.ms",
    "rest.auth.basic.username",
    "rest.auth.basic.password",
    "rest.auth.bearer.token",
    secrets::PROVIDERS_KEY,
    "security.protocol",
    limits::MEMORY_MAX_KEY,
    limits::CALL_TIMEOUT_KEY,
    LIMITS_ENABLED_KEY,
    topic_creation::ENABLE_KEY,
];

const LIMITS_ENABLED_KEY: &str = "task.limits.enabled";

/// Worker keys whose sub-keys are passed on (converter settings, client
/// overrides); the capabilities add the prefixes that name their resources.
const WORKER_PREFIXES: &[&str] = &[
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "producer.",
    "consumer.",
    "admin.",
    secrets::PROVIDERS_PREFIX,
    listeners::HTTPS_PREFIX,
    // Client security for every client of the worker (config/client_security.rs).
    "sasl.",
    "ssl.",
];

impl WorkerConfig {
    /// Checks every key of a standalone worker's configuration; relative
    /// paths are taken relative to `base` (the directory of the worker
    /// file). Values may be references to the config providers the file
    /// declares (`config.providers`), in any key: the operator wrote the
    /// file.
    pub fn from_map(map: &BTreeMap<String, String>, base: &Path) -> Result<Self, ConfigErrors> {
        Self::read(map, base, false)
    }

    /// Checks every key of a distributed worker's configuration, as
    /// [`WorkerConfig::from_map`] does a standalone one's.
    pub fn distributed_from_map(
        map: &BTreeMap<String, String>,
        base: &Path,
    ) -> Result<Self, ConfigErrors> {
        Self::read(map, base, true)
    }

    /// The distributed settings, when this worker is one of a group.
    pub fn distributed(&self) -> Option<&DistributedConfig> {
        match &self.mode {
            WorkerMode::Distributed(d) => Some(d),
            WorkerMode::Standalone { .. } => None,
        }
    }

    fn read(
        map: &BTreeMap<String, String>,
        base: &Path,
        is_distributed: bool,
    ) -> Result<Self, ConfigErrors> {
        let mut errors = Vec::new();
        let providers = ConfigProviders::from_worker_config(map, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        let resolved = providers.resolve(map, |_| true)?;
        let map = &resolved.config;
        let mut known = WORKER_KEYS.to_vec();
        known.extend(capability::worker_keys());
        known.extend(if is_distributed {
            distributed::DISTRIBUTED_KEYS
        } else {
            distributed::STANDALONE_KEYS
        });
        // A distributed worker names standalone keys itself, saying why.
        let standalone_only =
            |key: &str| is_distributed && distributed::STANDALONE_KEYS.contains(&key);
        let mut prefixes = WORKER_PREFIXES.to_vec();
        prefixes.extend(capability::worker_prefixes());
        for key in map.keys() {
            if !known.contains(&key.as_str())
                && !prefixes.iter().any(|p| key.starts_with(p))
                && !standalone_only(key)
            {
                errors.push(ConfigError::unknown(key, &known));
            }
        }
        let path = |v: &str| {
            let p = PathBuf::from(v.trim());
            if p.is_absolute() { p } else { base.join(p) }
        };
        let require = |key: &str, errors: &mut Vec<ConfigError>| -> String {
            match map.get(key).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => v.to_string(),
                _ => {
                    errors.push(ConfigError::Missing(key.to_string()));
                    String::new()
                }
            }
        };
        let bootstrap_servers = require("bootstrap.servers", &mut errors);
        let standalone_files = |errors: &mut Vec<ConfigError>| {
            let offset_file = path(&require("offset.storage.file.filename", errors));
            // Kafka Connect's standalone mode keeps no connector store;
            // Sluice's sits beside the offsets unless placed elsewhere.
            let connector_store = match map.get("config.storage.file.filename") {
                Some(v) => path(v),
                None => offset_file
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("connect-configs.json"),
            };
            (offset_file, connector_store)
        };
        let standalone = (!is_distributed).then(|| standalone_files(&mut errors));
        let rest_auth = rest_auth(map, &mut errors);
        let plugin_path: Vec<PathBuf> = map
            .get("plugin.path")
            .map(|v| list(v).iter().map(|p| path(p)).collect())
            .unwrap_or_default();
        if plugin_path.is_empty() {
            errors.push(ConfigError::Missing("plugin.path".into()));
        }
        let plugin_cache_dir = map
            .get("plugin.cache.dir")
            .map(|v| path(v))
            .unwrap_or_else(default_cache_dir);
        let offset_flush_interval = millis(map, "offset.flush.interval.ms", 1000, &mut errors);
        let task_shutdown_timeout =
            millis(map, "task.shutdown.graceful.timeout.ms", 5000, &mut errors);
        let (listeners, rest_tls) = listeners::read(map, &mut errors);
        let mode = match standalone {
            Some((offset_file, connector_store)) => WorkerMode::Standalone {
                offset_file,
                connector_store,
            },
            None => WorkerMode::Distributed(Box::new(DistributedConfig::from_map(
                map,
                &listeners,
                &mut errors,
            ))),
        };
        let converters: BTreeMap<String, String> = map
            .iter()
            .filter(|(k, _)| {
                CONVERTER_KEYS.iter().any(|c| {
                    k.as_str() == *c || k.strip_prefix(c).is_some_and(|r| r.starts_with('.'))
                })
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let task_limits = sandbox::limits(map, &TaskLimits::default(), &mut errors);
        let limits_enabled = boolean(map, LIMITS_ENABLED_KEY, true, &mut errors);
        let topic_creation_enable = boolean(map, topic_creation::ENABLE_KEY, true, &mut errors);
        let capabilities = capability::Definitions::from_worker_config(map, base, &mut errors);
        let prefixed = |prefix: &str| -> BTreeMap<String, String> {
            map.iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
                .collect()
        };
        // Worker-level security keys apply to every client, as in Kafka
        // Connect; a client's own (`producer.ssl.*`) win over them.
        let shared_security: BTreeMap<String, String> = map
            .iter()
            .filter(|(k, _)| client_security::is_security_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let shared_security = client_security::translate(&shared_security, "", &mut errors);
        let mut client = |prefix: &str| {
            let mut settings = shared_security.clone();
            settings.extend(client_security::translate(
                &prefixed(prefix),
                prefix,
                &mut errors,
            ));
            settings
        };
        let (producer, consumer, admin) =
            (client("producer."), client("consumer."), client("admin."));
        if !errors.is_empty() {
            return Err(resolved.secrets.mask_errors(ConfigErrors(errors)));
        }
        Ok(WorkerConfig {
            bootstrap_servers,
            plugin_path,
            plugin_cache_dir,
            mode,
            offset_flush_interval,
            listeners,
            rest_tls,
            converters,
            capabilities,
            producer,
            consumer,
            admin,
            task_shutdown_timeout,
            rest_auth,
            task_limits,
            limits_enabled,
            providers: Arc::new(providers),
            topic_creation_enable,
        })
    }
}

/// `rest.auth.basic.username` with `rest.auth.basic.password`, and/or
/// `rest.auth.bearer.token`.
fn rest_auth(map: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> Option<RestAuth> {
    let get = |key: &str| map.get(key).map(|v| v.trim().to_string());
    let basic = match (
        get("rest.auth.basic.username"),
        get("rest.auth.basic.password"),
    ) {
        (None, None) => None,
        (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
            if user.contains(':') {
                errors.push(ConfigError::invalid(
                    "rest.auth.basic.username",
                    &user,
                    "HTTP basic user names cannot contain ':'",
                ));
            }
            Some((user, password))
        }
        (Some(_), _) => {
            errors.push(ConfigError::Missing("rest.auth.basic.password".into()));
            None
        }
        (None, Some(_)) => {
            errors.push(ConfigError::Missing("rest.auth.basic.username".into()));
            None
        }
    };
    let bearer = match get("rest.auth.bearer.token") {
        Some(token) if token.is_empty() => {
            errors.push(ConfigError::Missing("rest.auth.bearer.token".into()));
            None
        }
        token => token,
    };
    (basic.is_some() || bearer.is_some()).then_some(RestAuth { basic, bearer })
}

/// A `true`/`false` key.
fn boolean(
    map: &BTreeMap<String, String>,
    key: &str,
    default: bool,
    errors: &mut Vec<ConfigError>,
) -> bool {
    match map.get(key).map(|v| v.trim()) {
        None => default,
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            errors.push(ConfigError::invalid(key, other, "expected true or false"));
            default
        }
    }
}

fn millis(
    map: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    errors: &mut Vec<ConfigError>,
) -> Duration {
    match map.get(key) {
        None => Duration::from_millis(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => {
                errors.push(ConfigError::invalid(
                    key,
                    v,
                    "expected a whole number of milliseconds",
                ));
                Duration::from_millis(default)
            }
        },
    }
}

fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("sluice")
        .join("components")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("plugin.path", "plugins"),
            ("offset.storage.file.filename", "offsets.json"),
        ]
    }

    #[test]
    fn minimal_worker_config_with_kafka_defaults() {
        let config = WorkerConfig::from_map(&map(&minimal()), Path::new("/etc/sluice")).unwrap();
        assert_eq!(config.plugin_path, [PathBuf::from("/etc/sluice/plugins")]);
        assert!(matches!(
            &config.mode,
            WorkerMode::Standalone { offset_file, .. }
                if offset_file == Path::new("/etc/sluice/offsets.json")
        ));
        assert_eq!(config.listeners[0].to_string(), "http://127.0.0.1:8083");
    }

    /// The key set of Apache Kafka 4.x's config/connect-standalone.properties,
    /// with plugin.path (commented out there) set.
    #[test]
    fn kafkas_stock_standalone_file_is_accepted() {
        let text = "bootstrap.servers=localhost:9092\n\
                    key.converter=org.apache.kafka.connect.json.JsonConverter\n\
                    value.converter=org.apache.kafka.connect.json.JsonConverter\n\
                    key.converter.schemas.enable=true\n\
                    value.converter.schemas.enable=true\n\
                    offset.storage.file.filename=/tmp/connect.offsets\n\
                    offset.flush.interval.ms=10000\n\
                    plugin.path=/usr/local/share/sluice/plugins\n";
        let config =
            WorkerConfig::from_map(&properties::parse(text).unwrap(), Path::new("/")).unwrap();
        assert_eq!(config.offset_flush_interval, Duration::from_secs(10));
        assert_eq!(
            config.converters["value.converter"],
            "org.apache.kafka.connect.json.JsonConverter"
        );
    }

    #[test]
    fn worker_security_keys_reach_every_client_in_librdkafkas_names() {
        let mut pairs = minimal();
        pairs.extend([
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"w\" password=\"pw\";",
            ),
            ("producer.sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"p\" password=\"pp\";"),
        ]);
        let config = WorkerConfig::from_map(&map(&pairs), Path::new("/")).unwrap();
        for client in [&config.admin, &config.consumer] {
            assert_eq!(client["security.protocol"], "SASL_SSL");
            assert_eq!(client["sasl.mechanisms"], "PLAIN");
            assert_eq!(client["sasl.username"], "w");
        }
        assert_eq!(config.producer["sasl.username"], "p");
        assert_eq!(config.producer["sasl.password"], "pp");
        assert_eq!(config.producer["security.protocol"], "SASL_SSL");
    }

    #[test]
    fn unknown_key_is_named_with_a_suggestion() {
        let mut pairs = minimal();
        pairs.push(("bootstrap.server", "x"));
        let err = WorkerConfig::from_map(&map(&pairs), Path::new("/")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unknown configuration key \"bootstrap.server\""),
            "{text}"
        );
        assert!(
            text.contains("did you mean \"bootstrap.servers\""),
            "{text}"
        );
    }

    #[test]
    fn every_missing_key_is_named() {
        let err = WorkerConfig::from_map(&map(&[]), Path::new("/")).unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            [
                "bootstrap.servers",
                "offset.storage.file.filename",
                "plugin.path"
            ]
        );
    }

    #[test]
    fn json_connector_file_in_kafka_shape() {
        let flat = parse_json_config(
            r#"{"name": "src", "config": {"connector.class": "file-source", "tasks.max": 1}}"#,
        )
        .unwrap();
        assert_eq!(flat["name"], "src");
        assert_eq!(flat["tasks.max"], "1");
    }
}
