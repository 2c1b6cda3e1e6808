//! Kafka Connect's own records in the config, offset and status topics,
//! encoded and decoded byte for byte as its workers write them, so a Sluice
//! cluster can take over the internal topics of a stopped Kafka Connect
//! cluster (and hand them back). Pure: no Kafka client, no I/O.
//!
//! Every value is what Kafka Connect's internal `JsonConverter` writes with
//! `schemas.enable=false` (set in `Worker`'s constructor and in
//! `ConnectDistributed`): plain compact JSON, no schema envelope, a
//! struct's fields in its schema's order. Keys are plain strings, except
//! the offset topic's, which are the same converter's JSON.
//!
//! The file is one piece: the three topics are read and written by the
//! same converter rules (the helpers at the bottom), a takeover needs all
//! three, and the tests keep each fixture next to the others it must agree
//! with, each citing the Java method that writes it.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::store::TargetState;

/// A record that is not what Kafka Connect writes under its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {key:?}: {problem}")]
pub struct RecordError {
    pub key: String,
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> RecordError {
    RecordError {
        key: key.to_string(),
        problem: problem.into(),
    }
}

/// A record of the config topic (`KafkaConfigBackingStore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigRecord {
    /// `connector-<c>`; `None` (a tombstone) deletes the connector.
    ConnectorConfig {
        connector: String,
        config: Option<BTreeMap<String, String>>,
    },
    /// `task-<c>-<n>`: takes effect only with a later matching commit.
    TaskConfig {
        connector: String,
        task: u32,
        config: BTreeMap<String, String>,
    },
    /// `commit-<c>`: applies the task configs written before it.
    Commit { connector: String, tasks: u32 },
    /// `target-state-<c>`; `None` (a tombstone) follows a deletion.
    TargetState {
        connector: String,
        state: Option<TargetState>,
    },
    /// `restart-connector-<c>`: an event, not state.
    Restart {
        connector: String,
        include_tasks: bool,
        only_failed: bool,
    },
    /// `tasks-fencing-<c>`: exactly-once sources' producer count (KIP-618).
    TaskCount { connector: String, tasks: u32 },
    /// `session-key`: the leader's key for internal REST requests (KIP-507).
    SessionKey(SessionKey),
    /// `logger-cluster-<namespace>`: a cluster-wide log level (KIP-976).
    LoggerLevel { namespace: String, level: String },
    /// A key Kafka Connect does not know either: it logs and skips it.
    Other { key: String, value: Option<Vec<u8>> },
}

/// The session key; `key` holds the raw bytes, base64 in the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    pub key: Vec<u8>,
    pub algorithm: String,
    pub creation_timestamp: i64,
}

const TARGET_STATE: &str = "target-state-";
const CONNECTOR: &str = "connector-";
const TASK: &str = "task-";
const COMMIT: &str = "commit-";
const RESTART: &str = "restart-connector-";
const TASK_COUNT: &str = "tasks-fencing-";
const SESSION_KEY: &str = "session-key";
const LOGGER: &str = "logger-cluster-";

impl ConfigRecord {
    /// Reads one record, trying the prefixes in `ConsumeCallback`'s order.
    /// A value Kafka Connect would log and skip is an error here.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<ConfigRecord, RecordError> {
        let key = key_text(key)?;
        let json = parse(key, value)?;
        let name = |prefix: &str| key.strip_prefix(prefix).map(str::to_string);
        if let Some(connector) = name(TARGET_STATE) {
            let state = json.map(|v| target_state(key, &v)).transpose()?;
            Ok(ConfigRecord::TargetState { connector, state })
        } else if let Some(connector) = name(CONNECTOR) {
            let config = json.map(|v| properties(key, &v)).transpose()?;
            Ok(ConfigRecord::ConnectorConfig { connector, config })
        } else if let Some(rest) = key.strip_prefix(TASK) {
            let (connector, task) = task_id(key, rest)?;
            let config = properties(key, &present(key, json)?)?;
            Ok(ConfigRecord::TaskConfig {
                connector,
                task,
                config,
            })
        } else if let Some(connector) = name(COMMIT) {
            let tasks = count(key, &present(key, json)?, "tasks")?;
            Ok(ConfigRecord::Commit { connector, tasks })
        } else if let Some(connector) = name(RESTART) {
            let json = present(key, json)?;
            let fields = object(key, &json)?;
            Ok(ConfigRecord::Restart {
                connector,
                include_tasks: flag(key, fields, "include-tasks")?,
                only_failed: flag(key, fields, "only-failed")?,
            })
        } else if let Some(connector) = name(TASK_COUNT) {
            let tasks = count(key, &present(key, json)?, "task-count")?;
            Ok(ConfigRecord::TaskCount { connector, tasks })
        } else if key == SESSION_KEY {
            let json = present(key, json)?;
            let fields = object(key, &json)?;
            let encoded = text(key, fields, "key")?;
            Ok(ConfigRecord::SessionKey(SessionKey {
                key: BASE64
                    .decode(encoded)
                    .map_err(|e| bad(key, format!("\"key\" is not base64: {e}")))?,
                algorithm: text(key, fields, "algorithm")?.to_string(),
                creation_timestamp: integer(key, fields, "creation-timestamp")?,
            }))
        } else if let Some(namespace) = name(LOGGER) {
            let json = present(key, json)?;
            let level = text(key, object(key, &json)?, "level")?.to_string();
            Ok(ConfigRecord::LoggerLevel { namespace, level })
        } else {
            Ok(ConfigRecord::Other {
                key: key.to_string(),
                value: value.map(<[u8]>::to_vec),
            })
        }
    }

    /// The record's key and value as Kafka Connect writes them.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        let props = |c: &BTreeMap<String, String>| fields(&[("properties", json(c))]);
        let (key, value) = match self {
            ConfigRecord::ConnectorConfig { connector, config } => (
                format!("{CONNECTOR}{connector}"),
                config.as_ref().map(props),
            ),
            ConfigRecord::TaskConfig {
                connector,
                task,
                config,
            } => (format!("{TASK}{connector}-{task}"), Some(props(config))),
            ConfigRecord::Commit { connector, tasks } => (
                format!("{COMMIT}{connector}"),
                Some(fields(&[("tasks", json(tasks))])),
            ),
            // `serializeTargetState`: workers older than KIP-875 know only
            // `state` and no STOPPED, so they are shown PAUSED instead.
            ConfigRecord::TargetState { connector, state } => (
                format!("{TARGET_STATE}{connector}"),
                state.map(|s| {
                    let old = if s == TargetState::Stopped {
                        TargetState::Paused
                    } else {
                        s
                    };
                    fields(&[("state", json(old)), ("state.v2", json(s))])
                }),
            ),
            ConfigRecord::Restart {
                connector,
                include_tasks,
                only_failed,
            } => (
                format!("{RESTART}{connector}"),
                Some(fields(&[
                    ("include-tasks", json(include_tasks)),
                    ("only-failed", json(only_failed)),
                ])),
            ),
            ConfigRecord::TaskCount { connector, tasks } => (
                format!("{TASK_COUNT}{connector}"),
                Some(fields(&[("task-count", json(tasks))])),
            ),
            ConfigRecord::SessionKey(k) => (
                SESSION_KEY.to_string(),
                Some(fields(&[
                    ("key", json(BASE64.encode(&k.key))),
                    ("algorithm", json(&k.algorithm)),
                    ("creation-timestamp", json(k.creation_timestamp)),
                ])),
            ),
            ConfigRecord::LoggerLevel { namespace, level } => (
                format!("{LOGGER}{namespace}"),
                Some(fields(&[("level", json(level))])),
            ),
            ConfigRecord::Other { key, value } => return (key.clone().into_bytes(), value.clone()),
        };
        (key.into_bytes(), value.map(String::into_bytes))
    }
}

/// The config topic replayed with `KafkaConfigBackingStore`'s semantics.
#[derive(Debug, Clone, Default)]
pub struct ConfigSnapshot {
    last_offset: Option<i64>,
    configs: BTreeMap<String, BTreeMap<String, String>>,
    target_states: BTreeMap<String, TargetState>,
    task_counts: BTreeMap<String, u32>,
    task_configs: BTreeMap<String, BTreeMap<u32, BTreeMap<String, String>>>,
    // Task configs read since the connector's last commit.
    deferred: BTreeMap<String, BTreeMap<u32, BTreeMap<String, String>>>,
    inconsistent: BTreeSet<String>,
    session_key: Option<SessionKey>,
}

/// One connector as the snapshot sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSnapshot {
    pub config: BTreeMap<String, String>,
    pub target_state: TargetState,
    /// The committed task configs, task 0 first; empty while inconsistent.
    pub tasks: Vec<BTreeMap<String, String>>,
    /// A commit named tasks whose configs were missing (compaction, or a
    /// leader that died mid-write): the connector must regenerate them.
    pub inconsistent: bool,
}

impl ConfigSnapshot {
    /// Decodes and applies the record at `offset`. A record that cannot be
    /// read still counts as read, and its error is returned for the caller
    /// to log: Kafka Connect, too, logs such a record and goes on.
    pub fn apply_raw(
        &mut self,
        offset: i64,
        key: &[u8],
        value: Option<&[u8]>,
    ) -> Result<(), RecordError> {
        self.last_offset = Some(offset);
        let record = ConfigRecord::decode(key, value)?;
        self.apply(offset, record);
        Ok(())
    }

    /// Applies the record read at `offset`; records come in topic order.
    pub fn apply(&mut self, offset: i64, record: ConfigRecord) {
        self.last_offset = Some(offset);
        match record {
            ConfigRecord::ConnectorConfig {
                connector,
                config: Some(config),
            } => {
                // Connectors created before target states existed start.
                self.target_states
                    .entry(connector.clone())
                    .or_insert(TargetState::Started);
                self.configs.insert(connector, config);
            }
            ConfigRecord::ConnectorConfig {
                connector,
                config: None,
            } => self.remove(&connector),
            ConfigRecord::TargetState {
                connector,
                state: Some(state),
            } => {
                self.target_states.insert(connector, state);
            }
            ConfigRecord::TargetState {
                connector,
                state: None,
            } => {
                self.target_states.remove(&connector);
                if self.configs.contains_key(&connector) {
                    self.target_states.insert(connector, TargetState::Started);
                }
            }
            ConfigRecord::TaskConfig {
                connector,
                task,
                config,
            } => {
                self.deferred
                    .entry(connector)
                    .or_default()
                    .insert(task, config);
            }
            ConfigRecord::Commit { connector, tasks } => self.commit(connector, tasks),
            ConfigRecord::SessionKey(key) => self.session_key = Some(key),
            ConfigRecord::Restart { .. }
            | ConfigRecord::TaskCount { .. }
            | ConfigRecord::LoggerLevel { .. }
            | ConfigRecord::Other { .. } => {}
        }
    }

    fn commit(&mut self, connector: String, tasks: u32) {
        // Compaction may have removed both a deleted connector's config and
        // its tombstone while leaving its last task configs and commit.
        if !self.configs.contains_key(&connector) {
            self.remove(&connector);
            return;
        }
        // The deferred configs are dropped either way: after an incomplete
        // commit only a fresh full set may be applied. Only the tasks below
        // the count are shown, so configs above it (an older, larger set's,
        // which compaction can leave behind) are kept, as Kafka Connect does.
        let deferred = self.deferred.remove(&connector).unwrap_or_default();
        if (0..tasks).all(|t| deferred.contains_key(&t)) {
            self.task_configs
                .entry(connector.clone())
                .or_default()
                .extend(deferred);
            self.inconsistent.remove(&connector);
        } else {
            self.inconsistent.insert(connector.clone());
        }
        self.task_counts.insert(connector, tasks);
    }

    // Target states go with their own tombstone, and the inconsistent mark
    // stays until a complete commit, as in `processConnectorRemoval`.
    fn remove(&mut self, connector: &str) {
        self.configs.remove(connector);
        self.task_counts.remove(connector);
        self.task_configs.remove(connector);
        self.deferred.remove(connector);
    }

    /// The offset of the last record read, `None` before any.
    pub fn last_offset(&self) -> Option<i64> {
        self.last_offset
    }

    /// Kafka Connect's "config offset" (the next offset to read, -1
    /// before any record), which its group protocol compares.
    pub fn config_offset(&self) -> i64 {
        self.last_offset.map_or(-1, |o| o + 1)
    }

    /// Every existing connector by name.
    pub fn connectors(&self) -> BTreeMap<String, ConnectorSnapshot> {
        self.configs
            .keys()
            .filter_map(|name| Some((name.clone(), self.connector(name)?)))
            .collect()
    }

    /// One connector, if it exists.
    pub fn connector(&self, name: &str) -> Option<ConnectorSnapshot> {
        let config = self.configs.get(name)?.clone();
        let inconsistent = self.inconsistent.contains(name);
        let committed = self.task_configs.get(name);
        let tasks = match (inconsistent, committed) {
            (false, Some(committed)) => (0..self.task_counts.get(name).copied().unwrap_or(0))
                .filter_map(|t| committed.get(&t).cloned())
                .collect(),
            _ => Vec::new(),
        };
        Some(ConnectorSnapshot {
            config,
            target_state: self.target_states.get(name).copied().unwrap_or_default(),
            tasks,
            inconsistent,
        })
    }

    /// The latest session key.
    pub fn session_key(&self) -> Option<&SessionKey> {
        self.session_key.as_ref()
    }
}

/// An offset topic key, `["<connector>",{<partition>}]`
/// (`OffsetStorageWriter`). Partition fields come out sorted. Kafka
/// Connect wrote them in its Java map's order, and the topic is compacted
/// (and partitioned) by key bytes: to update a partition read from the
/// topic, write under the key bytes it was read with.
pub fn offset_key(connector: &str, partition_json: &str) -> Result<Vec<u8>, RecordError> {
    let key = format!("[{connector:?},{partition_json}]");
    let partition = map_json(&key, "source partition", Some(partition_json.as_bytes()))?;
    Ok(json((connector, partition)).into_bytes())
}

/// The connector and source partition of an offset topic key. The
/// partition's `to_string()` is Sluice's canonical partition string
/// (sorted fields) whatever order the writer used.
pub fn decode_offset_key(key: &[u8]) -> Result<(String, Value), RecordError> {
    let text = key_text(key)?;
    let problem = "expected [\"<connector>\", {<source partition>}]";
    match parse(text, Some(key))? {
        Some(Value::Array(mut pair)) if pair.len() == 2 => match (pair.pop(), pair.pop()) {
            (Some(partition @ Value::Object(_)), Some(Value::String(connector))) => {
                Ok((connector, partition))
            }
            _ => Err(bad(text, problem)),
        },
        _ => Err(bad(text, problem)),
    }
}

/// An offset topic value: the offset map, or `None` (a tombstone) to reset;
/// `key` (from [`offset_key`]) only names the record in errors.
pub fn offset_value(key: &[u8], offset_json: Option<&str>) -> Result<Option<Vec<u8>>, RecordError> {
    let Some(text) = offset_json else {
        return Ok(None);
    };
    let key = String::from_utf8_lossy(key);
    let offset = map_json(&key, "source offset", Some(text.as_bytes()))?;
    Ok(Some(json(offset).into_bytes()))
}

/// The offset of an offset topic value, `None` for a tombstone (a reset);
/// `key` only names the record in errors.
pub fn decode_offset_value(key: &[u8], value: Option<&[u8]>) -> Result<Option<Value>, RecordError> {
    let key = String::from_utf8_lossy(key);
    parse(&key, value)?
        .map(|offset| as_map(&key, "source offset", offset).map(Value::Object))
        .transpose()
}

fn map_json(
    key: &str,
    what: &str,
    value: Option<&[u8]>,
) -> Result<Map<String, Value>, RecordError> {
    let value = parse(key, value)?.ok_or_else(|| bad(key, format!("the {what} is null")))?;
    as_map(key, what, value)
}

// Kafka Connect's readers refuse a partition or an offset that is not a
// map (`OffsetUtils`), so writing one would break handing the topic back.
fn as_map(key: &str, what: &str, value: Value) -> Result<Map<String, Value>, RecordError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(bad(
            key,
            format!("the {what} must be a JSON object, found {other}"),
        )),
    }
}

/// A record of the status topic (`KafkaStatusBackingStore`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusRecord {
    /// `status-connector-<c>`; `None` once the connector is gone.
    Connector {
        connector: String,
        status: Option<Status>,
    },
    /// `status-task-<c>-<n>`.
    Task {
        connector: String,
        task: u32,
        status: Option<Status>,
    },
    /// `status-topic-<topic>:connector-<c>`: a topic the connector used (KIP-558).
    Topic {
        topic: String,
        connector: String,
        status: Option<TopicStatus>,
    },
    /// A key Kafka Connect discards too.
    Other { key: String, value: Option<Vec<u8>> },
}

/// `AbstractStatus.State`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StatusState {
    Unassigned,
    Running,
    Paused,
    Failed,
    /// Never written: a destroyed connector or task gets a tombstone.
    Destroyed,
    Restarting,
    Stopped,
}

/// A connector's or task's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub state: StatusState,
    pub trace: Option<String>,
    /// The worker's REST `host:port`.
    pub worker_id: String,
    /// The group generation the worker wrote it in.
    pub generation: i32,
}

/// `TopicStatus`: a topic a connector's task used, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub topic: String,
    pub connector: String,
    pub task: u32,
    pub discover_timestamp: i64,
}

const STATUS_CONNECTOR: &str = "status-connector-";
const STATUS_TASK: &str = "status-task-";
const STATUS_TOPIC: &str = "status-topic-";
const TOPIC_SEPARATOR: &str = ":connector-";

impl StatusRecord {
    /// Reads one record of the status topic.
    pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<StatusRecord, RecordError> {
        let key = key_text(key)?;
        let json = parse(key, value)?;
        if let Some(connector) = key.strip_prefix(STATUS_CONNECTOR) {
            let status = json.map(|v| status(key, &v)).transpose()?;
            Ok(StatusRecord::Connector {
                connector: connector.to_string(),
                status,
            })
        } else if let Some(rest) = key.strip_prefix(STATUS_TASK) {
            let (connector, task) = task_id(key, rest)?;
            let status = json.map(|v| status(key, &v)).transpose()?;
            Ok(StatusRecord::Task {
                connector,
                task,
                status,
            })
        } else if let Some(rest) = key.strip_prefix(STATUS_TOPIC) {
            // Topic names cannot hold ':', so the first one separates.
            let (topic, connector) = rest
                .split_once(TOPIC_SEPARATOR)
                .filter(|(t, c)| !t.is_empty() && !c.is_empty())
                .ok_or_else(|| bad(key, "expected status-topic-<topic>:connector-<connector>"))?;
            let status = json.map(|v| topic_status(key, &v)).transpose()?;
            Ok(StatusRecord::Topic {
                topic: topic.to_string(),
                connector: connector.to_string(),
                status,
            })
        } else {
            Ok(StatusRecord::Other {
                key: key.to_string(),
                value: value.map(<[u8]>::to_vec),
            })
        }
    }

    /// The record's key and value as Kafka Connect writes them.
    pub fn encode(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        // `KafkaStatusBackingStore.send` writes DESTROYED as a tombstone.
        let written = |s: &Option<Status>| {
            s.as_ref()
                .filter(|s| s.state != StatusState::Destroyed)
                .map(|s| {
                    fields(&[
                        ("state", json(s.state)),
                        ("trace", json(&s.trace)),
                        ("worker_id", json(&s.worker_id)),
                        ("generation", json(s.generation)),
                    ])
                })
        };
        let (key, value) = match self {
            StatusRecord::Connector {
                connector,
                status: s,
            } => (format!("{STATUS_CONNECTOR}{connector}"), written(s)),
            StatusRecord::Task {
                connector,
                task,
                status: s,
            } => (format!("{STATUS_TASK}{connector}-{task}"), written(s)),
            StatusRecord::Topic {
                topic,
                connector,
                status,
            } => (
                format!("{STATUS_TOPIC}{topic}{TOPIC_SEPARATOR}{connector}"),
                status.as_ref().map(|s| {
                    let inner = fields(&[
                        ("name", json(&s.topic)),
                        ("connector", json(&s.connector)),
                        ("task", json(s.task)),
                        ("discoverTimestamp", json(s.discover_timestamp)),
                    ]);
                    fields(&[("topic", inner)])
                }),
            ),
            StatusRecord::Other { key, value } => return (key.clone().into_bytes(), value.clone()),
        };
        (key.into_bytes(), value.map(String::into_bytes))
    }
}

fn status(key: &str, value: &Value) -> Result<Status, RecordError> {
    let f = object(key, value)?;
    let generation = integer(key, f, "generation")?;
    Ok(Status {
        state: named(key, f, "state")?,
        trace: match f.get("trace") {
            None | Some(Value::Null) => None,
            Some(_) => Some(text(key, f, "trace")?.to_string()),
        },
        worker_id: text(key, f, "worker_id")?.to_string(),
        generation: i32::try_from(generation)
            .map_err(|_| bad(key, format!("\"generation\" {generation} is out of range")))?,
    })
}

fn topic_status(key: &str, value: &Value) -> Result<TopicStatus, RecordError> {
    let inner = object(key, value)?
        .get("topic")
        .ok_or_else(|| bad(key, "the value has no \"topic\" object"))?;
    let f = object(key, inner)?;
    Ok(TopicStatus {
        topic: text(key, f, "name")?.to_string(),
        connector: text(key, f, "connector")?.to_string(),
        task: count(key, inner, "task")?,
        discover_timestamp: integer(key, f, "discoverTimestamp")?,
    })
}

/// Writes a struct's fields (already JSON) in schema order, as
/// `JsonConverter` does: serde_json's own maps would sort them.
fn fields(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", json(name)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// Compact JSON, as Jackson writes it; a map's keys come out sorted.
fn json(value: impl Serialize) -> String {
    serde_json::to_string(&value).expect("plain data serializes to JSON")
}

fn key_text(key: &[u8]) -> Result<&str, RecordError> {
    std::str::from_utf8(key).map_err(|_| bad(&String::from_utf8_lossy(key), "the key is not UTF-8"))
}

/// The value's JSON; a tombstone and a JSON `null` are both `None`, since
/// `JsonConverter` reads both as null.
fn parse(key: &str, value: Option<&[u8]>) -> Result<Option<Value>, RecordError> {
    let Some(bytes) = value else { return Ok(None) };
    match serde_json::from_slice(bytes) {
        Ok(Value::Null) => Ok(None),
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(bad(key, format!("the value is not JSON: {e}"))),
    }
}

fn present(key: &str, json: Option<Value>) -> Result<Value, RecordError> {
    json.ok_or_else(|| {
        bad(
            key,
            "the value is null, which Kafka Connect never writes here",
        )
    })
}

fn object<'a>(key: &str, value: &'a Value) -> Result<&'a Map<String, Value>, RecordError> {
    value
        .as_object()
        .ok_or_else(|| bad(key, format!("expected a JSON object, found {value}")))
}

fn field<'a>(key: &str, f: &'a Map<String, Value>, name: &str) -> Result<&'a Value, RecordError> {
    f.get(name)
        .ok_or_else(|| bad(key, format!("the field \"{name}\" is missing")))
}

fn wrong(key: &str, name: &str, expected: &str, found: &Value) -> RecordError {
    bad(
        key,
        format!("\"{name}\" should be {expected}, found {found}"),
    )
}

fn text<'a>(key: &str, f: &'a Map<String, Value>, name: &str) -> Result<&'a str, RecordError> {
    let v = field(key, f, name)?;
    v.as_str().ok_or_else(|| wrong(key, name, "a string", v))
}

fn integer(key: &str, f: &Map<String, Value>, name: &str) -> Result<i64, RecordError> {
    let v = field(key, f, name)?;
    v.as_i64().ok_or_else(|| wrong(key, name, "an integer", v))
}

fn count(key: &str, value: &Value, name: &str) -> Result<u32, RecordError> {
    let v = field(key, object(key, value)?, name)?;
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| wrong(key, name, "a count", v))
}

/// A missing flag is false, as in `recordToRestartRequest`.
fn flag(key: &str, f: &Map<String, Value>, name: &str) -> Result<bool, RecordError> {
    match f.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| wrong(key, name, "a boolean", v)),
    }
}

fn named<T: for<'de> Deserialize<'de>>(
    key: &str,
    f: &Map<String, Value>,
    name: &str,
) -> Result<T, RecordError> {
    let v = field(key, f, name)?;
    serde_json::from_value(v.clone()).map_err(|e| bad(key, format!("\"{name}\": {e}")))
}

/// `state.v2` when it is a string, else `state` (`processTargetStateRecord`).
fn target_state(key: &str, value: &Value) -> Result<TargetState, RecordError> {
    let f = object(key, value)?;
    match f.get("state.v2") {
        Some(Value::String(_)) => named(key, f, "state.v2"),
        _ => named(key, f, "state"),
    }
}

/// `{"properties": {...}}`. A null or non-string property is refused:
/// Kafka Connect's validation refuses null values too
/// (`AbstractHerder.validateConnectorConfig`).
fn properties(key: &str, value: &Value) -> Result<BTreeMap<String, String>, RecordError> {
    let props = field(key, object(key, value)?, "properties")?;
    let props = props
        .as_object()
        .ok_or_else(|| wrong(key, "properties", "an object", props))?;
    props
        .iter()
        .map(|(name, v)| match v {
            Value::String(s) => Ok((name.clone(), s.clone())),
            _ => Err(bad(
                key,
                format!("property \"{name}\" should be a string, found {v}"),
            )),
        })
        .collect()
}

/// `<connector>-<n>`: the connector name may hold '-', the number not.
fn task_id(key: &str, rest: &str) -> Result<(String, u32), RecordError> {
    rest.rsplit_once('-')
        .and_then(|(c, n)| Some((c.to_string(), n.parse().ok()?)))
        .ok_or_else(|| bad(key, "expected <connector>-<task number> after the prefix"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Decodes, checks the record, and checks that encoding gives the
    /// same bytes back.
    fn config_round_trip(key: &str, value: Option<&str>, expected: ConfigRecord) {
        let record = ConfigRecord::decode(key.as_bytes(), value.map(str::as_bytes)).unwrap();
        assert_eq!(record, expected);
        let (k, v) = record.encode();
        assert_eq!(String::from_utf8(k).unwrap(), key);
        assert_eq!(v.map(|v| String::from_utf8(v).unwrap()).as_deref(), value);
    }

    #[test]
    fn config_records_match_kafka_connect_bytes() {
        // putConnectorConfig: Struct CONNECTOR_CONFIGURATION_V0 through the
        // schemaless JsonConverter (KafkaConfigBackingStore).
        config_round_trip(
            "connector-file-src",
            Some(
                r#"{"properties":{"connector.class":"FileStreamSource","file":"/tmp/x","name":"file-src"}}"#,
            ),
            ConfigRecord::ConnectorConfig {
                connector: "file-src".into(),
                config: Some(props(&[
                    ("connector.class", "FileStreamSource"),
                    ("file", "/tmp/x"),
                    ("name", "file-src"),
                ])),
            },
        );
        // removeConnectorConfig: a tombstone for the config, then one for
        // the target state.
        config_round_trip(
            "connector-file-src",
            None,
            ConfigRecord::ConnectorConfig {
                connector: "file-src".into(),
                config: None,
            },
        );
        config_round_trip(
            "target-state-file-src",
            None,
            ConfigRecord::TargetState {
                connector: "file-src".into(),
                state: None,
            },
        );
        // putTaskConfigs: TASK_CONFIGURATION_V0 under task-<c>-<n>, then
        // CONNECTOR_TASKS_COMMIT_V0 under commit-<c>.
        config_round_trip(
            "task-my-conn-12",
            Some(r#"{"properties":{"task.class":"T"}}"#),
            ConfigRecord::TaskConfig {
                connector: "my-conn".into(),
                task: 12,
                config: props(&[("task.class", "T")]),
            },
        );
        config_round_trip(
            "commit-my-conn",
            Some(r#"{"tasks":2}"#),
            ConfigRecord::Commit {
                connector: "my-conn".into(),
                tasks: 2,
            },
        );
        // serializeTargetState: TARGET_STATE_V1, STOPPED shown as PAUSED
        // in the field older workers read.
        config_round_trip(
            "target-state-c",
            Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Stopped),
            },
        );
        config_round_trip(
            "target-state-c",
            Some(r#"{"state":"STARTED","state.v2":"STARTED"}"#),
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Started),
            },
        );
        // putRestartRequest: RESTART_REQUEST_V0.
        config_round_trip(
            "restart-connector-c",
            Some(r#"{"include-tasks":true,"only-failed":false}"#),
            ConfigRecord::Restart {
                connector: "c".into(),
                include_tasks: true,
                only_failed: false,
            },
        );
        // putTaskCountRecord: TASK_COUNT_RECORD_V0.
        config_round_trip(
            "tasks-fencing-c",
            Some(r#"{"task-count":3}"#),
            ConfigRecord::TaskCount {
                connector: "c".into(),
                tasks: 3,
            },
        );
        // putSessionKey: SESSION_KEY_V0, the key base64 ("secret").
        config_round_trip(
            "session-key",
            Some(
                r#"{"key":"c2VjcmV0","algorithm":"HmacSHA256","creation-timestamp":1700000000000}"#,
            ),
            ConfigRecord::SessionKey(SessionKey {
                key: b"secret".to_vec(),
                algorithm: "HmacSHA256".into(),
                creation_timestamp: 1_700_000_000_000,
            }),
        );
        // putLoggerLevel: LOGGER_LEVEL_V0.
        config_round_trip(
            "logger-cluster-org.apache.kafka",
            Some(r#"{"level":"DEBUG"}"#),
            ConfigRecord::LoggerLevel {
                namespace: "org.apache.kafka".into(),
                level: "DEBUG".into(),
            },
        );
        config_round_trip(
            "mystery",
            Some("[1]"),
            ConfigRecord::Other {
                key: "mystery".into(),
                value: Some(b"[1]".to_vec()),
            },
        );
    }

    #[test]
    fn config_records_are_read_as_lenient_as_kafka_connect() {
        let decode =
            |k: &str, v: &str| ConfigRecord::decode(k.as_bytes(), Some(v.as_bytes())).unwrap();
        // TARGET_STATE_V0, from workers before KIP-875.
        assert_eq!(
            decode("target-state-c", r#"{"state":"PAUSED"}"#),
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Paused)
            }
        );
        assert_eq!(
            decode("target-state-c", r#"{"state":"STARTED","state.v2":null}"#),
            ConfigRecord::TargetState {
                connector: "c".into(),
                state: Some(TargetState::Started)
            }
        );
        // Any field order, and recordToRestartRequest's false defaults.
        assert_eq!(
            decode("restart-connector-c", r#"{"only-failed":true}"#),
            ConfigRecord::Restart {
                connector: "c".into(),
                include_tasks: false,
                only_failed: true
            }
        );
        // JsonConverter reads a JSON null like a tombstone.
        assert_eq!(
            decode("connector-c", "null"),
            ConfigRecord::ConnectorConfig {
                connector: "c".into(),
                config: None
            }
        );
    }

    #[test]
    fn malformed_config_records_name_the_key_and_the_problem() {
        let error = |k: &[u8], v: Option<&str>| {
            ConfigRecord::decode(k, v.map(str::as_bytes))
                .unwrap_err()
                .to_string()
        };
        let cases: [(&[u8], Option<&str>, &str); 9] = [
            (
                b"task-c-x",
                Some("{}"),
                "\"task-c-x\": expected <connector>-<task number>",
            ),
            (b"task-c-0", None, "\"task-c-0\": the value is null"),
            (
                b"connector-c",
                Some("{oops"),
                "\"connector-c\": the value is not JSON",
            ),
            (
                b"connector-c",
                Some(r#"{"properties":{"a":1}}"#),
                "property \"a\" should be a string, found 1",
            ),
            (
                b"connector-c",
                Some(r#"{"props":{}}"#),
                "the field \"properties\" is missing",
            ),
            (
                b"commit-c",
                Some(r#"{"tasks":-1}"#),
                "\"commit-c\": \"tasks\" should be a count, found -1",
            ),
            (
                b"target-state-c",
                Some(r#"{"state":"RUNNING"}"#),
                "unknown variant `RUNNING`",
            ),
            (
                b"session-key",
                Some(r#"{"key":"!","algorithm":"a","creation-timestamp":1}"#),
                "not base64",
            ),
            (b"\xff", None, "the key is not UTF-8"),
        ];
        for (key, value, expected) in cases {
            let message = error(key, value);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
    }

    #[test]
    fn offset_records_match_kafka_connect_bytes() {
        // OffsetStorageWriter.doFlush: the key is the schemaless
        // JsonConverter's [namespace, partition], the value its offset map.
        let key = offset_key("file-src", r#"{ "filename": "/tmp/x" }"#).unwrap();
        assert_eq!(key, br#"["file-src",{"filename":"/tmp/x"}]"#);
        let value = offset_value(&key, Some(r#"{"position": 42}"#))
            .unwrap()
            .unwrap();
        assert_eq!(value, br#"{"position":42}"#);
        assert_eq!(offset_value(&key, None).unwrap(), None);

        // A Java HashMap may have written the fields in any order; the
        // partition still reads as Sluice's canonical string.
        let (connector, partition) =
            decode_offset_key(br#"["db",{"table":"t","schema":"s"}]"#).unwrap();
        assert_eq!(connector, "db");
        assert_eq!(partition.to_string(), r#"{"schema":"s","table":"t"}"#);
        assert_eq!(
            decode_offset_value(&key, Some(&value))
                .unwrap()
                .unwrap()
                .to_string(),
            r#"{"position":42}"#
        );
        assert_eq!(decode_offset_value(&key, None).unwrap(), None);

        for bad_key in [
            &b"[\"c\"]"[..],
            br#"["c",null]"#,
            br#"[1,{}]"#,
            br#"{"c":{}}"#,
        ] {
            let message = decode_offset_key(bad_key).unwrap_err().to_string();
            assert!(message.contains("expected [\"<connector>\""), "{message}");
        }
        let message = offset_key("c", "[1]").unwrap_err().to_string();
        assert!(
            message.contains("source partition must be a JSON object, found [1]"),
            "{message}"
        );
        let message = decode_offset_value(&key, Some(b"7"))
            .unwrap_err()
            .to_string();
        assert!(message.starts_with(r#"record "[\"file-src\""#), "{message}");
        let message = offset_value(&key, Some("[]")).unwrap_err().to_string();
        assert!(
            message.contains("filename") && message.contains("found []"),
            "{message}"
        );
    }

    fn status_round_trip(key: &str, value: Option<&str>, expected: StatusRecord) {
        let record = StatusRecord::decode(key.as_bytes(), value.map(str::as_bytes)).unwrap();
        assert_eq!(record, expected);
        let (k, v) = record.encode();
        assert_eq!(String::from_utf8(k).unwrap(), key);
        assert_eq!(v.map(|v| String::from_utf8(v).unwrap()).as_deref(), value);
    }

    #[test]
    fn status_records_match_kafka_connect_bytes() {
        // KafkaStatusBackingStore.serialize: STATUS_SCHEMA_V0, an unset
        // optional trace written as null.
        status_round_trip(
            "status-connector-file-src",
            Some(r#"{"state":"RUNNING","trace":null,"worker_id":"10.0.0.1:8083","generation":5}"#),
            StatusRecord::Connector {
                connector: "file-src".into(),
                status: Some(Status {
                    state: StatusState::Running,
                    trace: None,
                    worker_id: "10.0.0.1:8083".into(),
                    generation: 5,
                }),
            },
        );
        status_round_trip(
            "status-task-my-conn-3",
            Some(
                r#"{"state":"FAILED","trace":"java.lang.Exception: boom\n\tat X","worker_id":"w:8083","generation":0}"#,
            ),
            StatusRecord::Task {
                connector: "my-conn".into(),
                task: 3,
                status: Some(Status {
                    state: StatusState::Failed,
                    trace: Some("java.lang.Exception: boom\n\tat X".into()),
                    worker_id: "w:8083".into(),
                    generation: 0,
                }),
            },
        );
        status_round_trip(
            "status-task-my-conn-3",
            None,
            StatusRecord::Task {
                connector: "my-conn".into(),
                task: 3,
                status: None,
            },
        );
        // serializeTopicStatus: a map of "topic" to TOPIC_STATUS_VALUE_SCHEMA_V0.
        status_round_trip(
            "status-topic-orders:connector-file-src",
            Some(
                r#"{"topic":{"name":"orders","connector":"file-src","task":1,"discoverTimestamp":1700000000000}}"#,
            ),
            StatusRecord::Topic {
                topic: "orders".into(),
                connector: "file-src".into(),
                status: Some(TopicStatus {
                    topic: "orders".into(),
                    connector: "file-src".into(),
                    task: 1,
                    discover_timestamp: 1_700_000_000_000,
                }),
            },
        );
        // send(): a DESTROYED status goes out as a tombstone.
        let destroyed = StatusRecord::Connector {
            connector: "c".into(),
            status: Some(Status {
                state: StatusState::Destroyed,
                trace: None,
                worker_id: "w:1".into(),
                generation: 1,
            }),
        };
        assert_eq!(destroyed.encode(), (b"status-connector-c".to_vec(), None));

        for (key, value, expected) in [
            ("status-task-c", "{}", "expected <connector>-<task number>"),
            (
                "status-topic-orders",
                "{}",
                "expected status-topic-<topic>:connector-<connector>",
            ),
            (
                "status-connector-c",
                r#"{"state":"RUNNING","worker_id":"w"}"#,
                "\"generation\" is missing",
            ),
            (
                "status-connector-c",
                r#"{"state":"RUNNING","worker_id":"w","generation":"1"}"#,
                "\"generation\" should be an integer",
            ),
            (
                "status-topic-t:connector-c",
                r#"{"name":"t"}"#,
                "no \"topic\" object",
            ),
        ] {
            let message = StatusRecord::decode(key.as_bytes(), Some(value.as_bytes()))
                .unwrap_err()
                .to_string();
            assert!(
                message.contains(key) && message.contains(expected),
                "{message}"
            );
        }
    }

    fn replay(records: &[(&str, Option<&str>)]) -> ConfigSnapshot {
        let mut snapshot = ConfigSnapshot::default();
        for (offset, (key, value)) in records.iter().enumerate() {
            snapshot
                .apply_raw(offset as i64, key.as_bytes(), value.map(str::as_bytes))
                .unwrap();
        }
        snapshot
    }

    const CONFIG: (&str, Option<&str>) = ("connector-c", Some(r#"{"properties":{"k":"v"}}"#));
    const TASK0: (&str, Option<&str>) = ("task-c-0", Some(r#"{"properties":{"t":"0"}}"#));
    const TASK1: (&str, Option<&str>) = ("task-c-1", Some(r#"{"properties":{"t":"1"}}"#));
    const TASK0_NEW: (&str, Option<&str>) = ("task-c-0", Some(r#"{"properties":{"t":"new"}}"#));
    const COMMIT1: (&str, Option<&str>) = ("commit-c", Some(r#"{"tasks":1}"#));
    const COMMIT2: (&str, Option<&str>) = ("commit-c", Some(r#"{"tasks":2}"#));

    fn task_values(snapshot: &ConfigSnapshot) -> Vec<String> {
        let c = snapshot.connector("c").unwrap();
        c.tasks.iter().map(|t| t["t"].clone()).collect()
    }

    #[test]
    fn task_configs_appear_only_with_their_commit() {
        let snapshot = replay(&[CONFIG, TASK0, TASK1]);
        let c = snapshot.connector("c").unwrap();
        assert_eq!(c.config, props(&[("k", "v")]));
        assert_eq!(c.target_state, TargetState::Started);
        assert!(c.tasks.is_empty() && !c.inconsistent);
        assert_eq!(
            (snapshot.last_offset(), snapshot.config_offset()),
            (Some(2), 3)
        );

        let snapshot = replay(&[CONFIG, TASK0, TASK1, COMMIT2]);
        assert_eq!(task_values(&snapshot), ["0", "1"]);
        // A later commit replaces the set, down to its own count.
        let snapshot = replay(&[CONFIG, TASK0, TASK1, COMMIT2, TASK0_NEW]);
        assert_eq!(task_values(&snapshot), ["0", "1"]);
        let snapshot = replay(&[CONFIG, TASK0, TASK1, COMMIT2, TASK0_NEW, COMMIT1]);
        assert_eq!(task_values(&snapshot), ["new"]);
        assert_eq!(ConfigSnapshot::default().config_offset(), -1);
    }

    #[test]
    fn a_commit_with_missing_task_configs_marks_the_connector_inconsistent() {
        // Compaction removed task 0's first config (the class's own example).
        let snapshot = replay(&[CONFIG, TASK1, COMMIT2]);
        let c = snapshot.connector("c").unwrap();
        assert!(c.inconsistent && c.tasks.is_empty());
        // Configs seen before the bad commit do not count toward the next.
        let snapshot = replay(&[CONFIG, TASK1, COMMIT2, TASK0, COMMIT2]);
        assert!(snapshot.connector("c").unwrap().inconsistent);
        let snapshot = replay(&[CONFIG, TASK1, COMMIT2, TASK0, TASK1, COMMIT2]);
        assert!(!snapshot.connector("c").unwrap().inconsistent);
        assert_eq!(task_values(&snapshot), ["0", "1"]);
    }

    #[test]
    fn deletion_removes_the_connector_and_its_tasks() {
        let deleted = [
            CONFIG,
            TASK0,
            COMMIT1,
            ("connector-c", None),
            ("target-state-c", None),
        ];
        let snapshot = replay(&deleted);
        assert!(snapshot.connectors().is_empty());
        // Recreated: the old tasks stay gone until a new commit.
        let snapshot = replay(&[&deleted[..], &[CONFIG]].concat());
        assert!(snapshot.connector("c").unwrap().tasks.is_empty());
        // A commit for a connector compaction erased entirely is ignored.
        let snapshot = replay(&[TASK0, COMMIT1]);
        assert!(snapshot.connectors().is_empty());
    }

    #[test]
    fn target_states_follow_kafka_connect() {
        // Written before the config on creation with an initial state.
        let paused = (
            "target-state-c",
            Some(r#"{"state":"PAUSED","state.v2":"PAUSED"}"#),
        );
        let snapshot = replay(&[paused, CONFIG]);
        assert_eq!(snapshot.connectors()["c"].target_state, TargetState::Paused);
        // A target state tombstone alone puts a live connector back to STARTED.
        let snapshot = replay(&[paused, CONFIG, ("target-state-c", None)]);
        assert_eq!(
            snapshot.connectors()["c"].target_state,
            TargetState::Started
        );
        let key = (
            "session-key",
            Some(r#"{"key":"AA==","algorithm":"HmacSHA256","creation-timestamp":5}"#),
        );
        let snapshot = replay(&[key]);
        assert_eq!(snapshot.session_key().unwrap().key, [0]);
    }

    #[test]
    fn an_unreadable_record_is_reported_and_counted_as_read() {
        let mut snapshot = replay(&[CONFIG]);
        let error = snapshot.apply_raw(1, b"commit-c", Some(b"{}")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "record \"commit-c\": the field \"tasks\" is missing"
        );
        assert_eq!(snapshot.last_offset(), Some(1));
        assert!(snapshot.connector("c").is_some());
    }
}
