//! The keys of a distributed worker (`sluice distributed`, like
//! `connect-distributed`): the group, the three internal topics and their
//! shape, the group timings, and the REST address the other workers reach
//! this one at. Names, meanings and defaults are Kafka Connect's
//! (`DistributedConfig`, `WorkerConfig`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::listeners::Listener;
use crate::configdef::{ConfigError, ConfigErrors};

/// The keys only a distributed worker takes.
pub const DISTRIBUTED_KEYS: &[&str] = &[
    GROUP_ID,
    CONFIG_TOPIC,
    OFFSET_TOPIC,
    STATUS_TOPIC,
    "config.storage.replication.factor",
    "offset.storage.replication.factor",
    "status.storage.replication.factor",
    "offset.storage.partitions",
    "status.storage.partitions",
    "heartbeat.interval.ms",
    "session.timeout.ms",
    "rebalance.timeout.ms",
    "scheduled.rebalance.max.delay.ms",
    "worker.sync.timeout.ms",
    "worker.unsync.backoff.ms",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    CONNECT_PROTOCOL,
];

/// The keys only a standalone worker takes; a distributed worker refuses
/// them rather than ignore a file an operator thinks is in use.
pub const STANDALONE_KEYS: &[&str] = &[
    "offset.storage.file.filename",
    "config.storage.file.filename",
];

pub const GROUP_ID: &str = "group.id";
pub const CONFIG_TOPIC: &str = "config.storage.topic";
pub const OFFSET_TOPIC: &str = "offset.storage.topic";
pub const STATUS_TOPIC: &str = "status.storage.topic";
const CONNECT_PROTOCOL: &str = "connect.protocol";

/// One internal topic: its name and the shape it is created with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalTopic {
    /// The key that names it (`config.storage.topic`, ...), for errors.
    pub key: &'static str,
    pub name: String,
    /// The partition count a missing topic is created with. The config
    /// topic has exactly one, always: its records must stay in one order.
    pub partitions: i32,
    /// -1: the broker's default.
    pub replication_factor: i32,
}

/// A distributed worker's own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedConfig {
    pub group_id: String,
    pub config_topic: InternalTopic,
    pub offset_topic: InternalTopic,
    pub status_topic: InternalTopic,
    pub heartbeat_interval: Duration,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// How long the work of a worker that left waits for it to come back
    /// before it is given to the others.
    pub scheduled_rebalance_max_delay: Duration,
    /// How long a worker waits to read the config topic up to the leader's
    /// position before it gives up its membership for a while.
    pub worker_sync_timeout: Duration,
    pub worker_unsync_backoff: Duration,
    /// The URL other workers forward requests to.
    pub advertised_url: String,
}

/// `host:port` of a REST URL: Kafka Connect's worker id, as statuses name
/// the worker that wrote them.
pub fn worker_id(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

impl DistributedConfig {
    /// Reads and checks the distributed keys of `map`. `listeners` are the
    /// worker's REST listeners, already read, for the advertised URL.
    pub fn from_map(
        map: &BTreeMap<String, String>,
        listeners: &[Listener],
        errors: &mut Vec<ConfigError>,
    ) -> DistributedConfig {
        let text = |key: &str, errors: &mut Vec<ConfigError>| -> String {
            match map.get(key).map(|v| v.trim()) {
                Some(v) if !v.is_empty() => v.to_string(),
                _ => {
                    errors.push(ConfigError::Missing(key.to_string()));
                    String::new()
                }
            }
        };
        for key in STANDALONE_KEYS {
            if let Some(value) = map.get(*key) {
                errors.push(ConfigError::invalid(
                    key,
                    value,
                    "a standalone worker's key: a distributed worker keeps this in the Kafka topics \
                     named by config.storage.topic and offset.storage.topic",
                ));
            }
        }
        let group_id = text(GROUP_ID, errors);
        let topic = |key: &'static str,
                     name: String,
                     partitions_key: Option<&str>,
                     default_partitions: i32,
                     replication_key: &str,
                     errors: &mut Vec<ConfigError>| {
            let partitions = match partitions_key {
                Some(k) => int(map, k, i64::from(default_partitions), 1, errors),
                None => 1,
            };
            let replication_factor = int(map, replication_key, 3, -1, errors);
            if replication_factor == 0 {
                errors.push(ConfigError::invalid(
                    replication_key,
                    "0",
                    "must be at least 1, or -1 for the broker's default",
                ));
            }
            InternalTopic {
                key,
                name,
                partitions,
                replication_factor,
            }
        };
        let config_topic = text(CONFIG_TOPIC, errors);
        let offset_topic = text(OFFSET_TOPIC, errors);
        let status_topic = text(STATUS_TOPIC, errors);
        let names = [
            (CONFIG_TOPIC, &config_topic),
            (OFFSET_TOPIC, &offset_topic),
            (STATUS_TOPIC, &status_topic),
        ];
        for (i, (key, name)) in names.iter().enumerate() {
            for (other_key, other) in &names[i + 1..] {
                if !name.is_empty() && name == other {
                    errors.push(ConfigError::invalid(
                        other_key,
                        other,
                        format!("the same topic as {key}: each store needs its own topic"),
                    ));
                }
            }
        }
        let config_topic = topic(
            CONFIG_TOPIC,
            config_topic,
            None,
            1,
            "config.storage.replication.factor",
            errors,
        );
        let offset_topic = topic(
            OFFSET_TOPIC,
            offset_topic,
            Some("offset.storage.partitions"),
            25,
            "offset.storage.replication.factor",
            errors,
        );
        let status_topic = topic(
            STATUS_TOPIC,
            status_topic,
            Some("status.storage.partitions"),
            5,
            "status.storage.replication.factor",
            errors,
        );
        let ms = |key: &str, default: u64, errors: &mut Vec<ConfigError>| {
            Duration::from_millis(int(map, key, default as i64, 0, errors) as u64)
        };
        let heartbeat_interval = ms("heartbeat.interval.ms", 3_000, errors);
        let session_timeout = ms("session.timeout.ms", 10_000, errors);
        let rebalance_timeout = ms("rebalance.timeout.ms", 60_000, errors);
        if heartbeat_interval >= session_timeout {
            errors.push(ConfigError::invalid(
                "heartbeat.interval.ms",
                &heartbeat_interval.as_millis().to_string(),
                "must be less than session.timeout.ms, or the group drops the worker between heartbeats",
            ));
        }
        match map.get(CONNECT_PROTOCOL).map(|v| v.trim()) {
            None | Some("sessioned") | Some("compatible") => {}
            Some(other) => errors.push(ConfigError::invalid(
                CONNECT_PROTOCOL,
                other,
                "Sluice rebalances incrementally and cooperatively (KIP-415) only: use sessioned or \
                 compatible (eager, which stops every task on every rebalance, is not offered)",
            )),
        }
        DistributedConfig {
            group_id,
            config_topic,
            offset_topic,
            status_topic,
            heartbeat_interval,
            session_timeout,
            rebalance_timeout,
            scheduled_rebalance_max_delay: ms("scheduled.rebalance.max.delay.ms", 300_000, errors),
            worker_sync_timeout: ms("worker.sync.timeout.ms", 3_000, errors),
            worker_unsync_backoff: ms("worker.unsync.backoff.ms", 300_000, errors),
            advertised_url: advertised_url(map, listeners, errors),
        }
    }

    /// The three internal topics, config first.
    pub fn internal_topics(&self) -> [&InternalTopic; 3] {
        [&self.config_topic, &self.offset_topic, &self.status_topic]
    }
}

/// `rest.advertised.listener` (http or https) picks the listener;
/// `rest.advertised.host.name` and `rest.advertised.port` replace its host
/// and port. A listener bound to every address (`0.0.0.0`, or no host) is
/// advertised under the machine's host name, as Kafka Connect does.
fn advertised_url(
    map: &BTreeMap<String, String>,
    listeners: &[Listener],
    errors: &mut Vec<ConfigError>,
) -> String {
    let wanted = map
        .get("rest.advertised.listener")
        .map(|v| v.trim().to_ascii_lowercase());
    let listener = match wanted.as_deref() {
        None | Some("") => listeners.first(),
        Some(scheme @ ("http" | "https")) => {
            let found = listeners.iter().find(|l| l.https == (scheme == "https"));
            if found.is_none() {
                errors.push(ConfigError::invalid(
                    "rest.advertised.listener",
                    scheme,
                    format!("no {scheme} listener is configured in listeners"),
                ));
            }
            found
        }
        Some(other) => {
            errors.push(ConfigError::invalid(
                "rest.advertised.listener",
                other,
                "expected http or https",
            ));
            None
        }
    };
    let Some(listener) = listener else {
        return String::new();
    };
    let (host, port) = match listener.address.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.to_string()),
        None => (listener.address.clone(), "8083".to_string()),
    };
    let host = match map.get("rest.advertised.host.name").map(|v| v.trim()) {
        Some(h) if !h.is_empty() => h.to_string(),
        _ if host.is_empty() || host == "0.0.0.0" || host == "[::]" => local_host_name(),
        _ => host,
    };
    let port = match map.get("rest.advertised.port") {
        Some(p) => match p.trim().parse::<u16>() {
            Ok(p) if p > 0 => p.to_string(),
            _ => {
                errors.push(ConfigError::invalid(
                    "rest.advertised.port",
                    p,
                    "expected a port number from 1 to 65535",
                ));
                port
            }
        },
        None => port,
    };
    let scheme = if listener.https { "https" } else { "http" };
    format!("{scheme}://{host}:{port}")
}

fn local_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// A whole number at least `min`, or `default` when the key is absent.
fn int(
    map: &BTreeMap<String, String>,
    key: &str,
    default: i64,
    min: i64,
    errors: &mut Vec<ConfigError>,
) -> i32 {
    match map.get(key) {
        None => default as i32,
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if i64::from(n) >= min => n,
            _ => {
                errors.push(ConfigError::invalid(
                    key,
                    v,
                    format!("expected a whole number of at least {min}"),
                ));
                default as i32
            }
        },
    }
}

/// Checks that `errors` holds nothing; a convenience for tests and callers
/// that read only the distributed keys.
pub fn check(
    map: &BTreeMap<String, String>,
    listeners: &[Listener],
) -> Result<DistributedConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let config = DistributedConfig::from_map(map, listeners, &mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    fn listener(address: &str) -> Vec<Listener> {
        vec![Listener {
            https: false,
            address: address.into(),
        }]
    }

    fn stock() -> Vec<(&'static str, &'static str)> {
        // The uncommented keys of Apache Kafka 4.x's
        // config/connect-distributed.properties that are distributed ones.
        vec![
            ("group.id", "connect-cluster"),
            ("offset.storage.topic", "connect-offsets"),
            ("offset.storage.replication.factor", "1"),
            ("config.storage.topic", "connect-configs"),
            ("config.storage.replication.factor", "1"),
            ("status.storage.topic", "connect-status"),
            ("status.storage.replication.factor", "1"),
        ]
    }

    #[test]
    fn kafkas_stock_keys_with_kafka_connects_defaults() {
        let config = check(&map(&stock()), &listener("127.0.0.1:8083")).unwrap();
        assert_eq!(config.group_id, "connect-cluster");
        assert_eq!(config.config_topic.partitions, 1);
        assert_eq!(config.offset_topic.partitions, 25);
        assert_eq!(config.status_topic.partitions, 5);
        assert_eq!(config.offset_topic.replication_factor, 1);
        assert_eq!(config.session_timeout, Duration::from_secs(10));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(
            config.scheduled_rebalance_max_delay,
            Duration::from_secs(300)
        );
        assert_eq!(config.advertised_url, "http://127.0.0.1:8083");
    }

    #[test]
    fn every_missing_key_is_named() {
        let err = check(&map(&[]), &listener("127.0.0.1:8083")).unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            [
                "group.id",
                "config.storage.topic",
                "offset.storage.topic",
                "status.storage.topic"
            ]
        );
    }

    #[test]
    fn shared_topics_bad_numbers_and_standalone_keys_are_refused_by_name() {
        let mut pairs = stock();
        pairs.retain(|(k, _)| *k != "status.storage.topic");
        pairs.extend([
            ("status.storage.topic", "connect-configs"),
            ("offset.storage.partitions", "0"),
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "3000"),
            ("offset.storage.file.filename", "/tmp/offsets"),
            ("connect.protocol", "eager"),
        ]);
        let err = check(&map(&pairs), &listener("127.0.0.1:8083")).unwrap_err();
        let text = err.to_string();
        for expected in [
            "offset.storage.file.filename",
            "status.storage.topic",
            "the same topic as config.storage.topic",
            "offset.storage.partitions",
            "heartbeat.interval.ms",
            "connect.protocol",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }

    #[test]
    fn advertised_address_follows_kafka_connects_keys() {
        let mut pairs = stock();
        pairs.extend([
            ("rest.advertised.host.name", "worker-1.example"),
            ("rest.advertised.port", "18083"),
        ]);
        let config = check(&map(&pairs), &listener("0.0.0.0:8083")).unwrap();
        assert_eq!(config.advertised_url, "http://worker-1.example:18083");
        let all_interfaces = check(&map(&stock()), &listener("0.0.0.0:8083")).unwrap();
        assert!(!all_interfaces.advertised_url.contains("0.0.0.0"));
        let mut https = stock();
        https.push(("rest.advertised.listener", "https"));
        let err = check(&map(&https), &listener("127.0.0.1:8083")).unwrap_err();
        assert!(err.to_string().contains("no https listener"), "{err}");
    }
}
