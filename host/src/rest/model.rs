//! The JSON bodies of the REST API, in Kafka Connect's shapes, with the
//! schemas the OpenAPI document is generated from.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::worker::ConnectorEntry;
use crate::worker::status::ConnectorStatus;

/// Every error: the HTTP status again, and what went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// `GET /`.
#[derive(Serialize, ToSchema)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    /// Null when the broker did not tell it at start.
    pub kafka_cluster_id: Option<String>,
}

/// `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// healthy, or starting.
    pub status: String,
    pub message: String,
}

/// A task's identity.
#[derive(Serialize, ToSchema)]
pub struct ConnectorTaskId {
    pub connector: String,
    pub task: u32,
}

/// A connector: its configuration, tasks and type.
#[derive(Serialize, ToSchema)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub tasks: Vec<ConnectorTaskId>,
    /// source, sink or unknown.
    #[serde(rename = "type")]
    pub kind: String,
}

impl ConnectorInfo {
    pub fn new(name: &str, entry: &ConnectorEntry) -> Self {
        ConnectorInfo {
            name: name.to_string(),
            config: entry.config.clone(),
            tasks: (0..entry.task_configs.len() as u32)
                .map(|task| ConnectorTaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: entry.type_name(),
        }
    }
}

/// One connector in `GET /connectors?expand=...`.
#[derive(Serialize, ToSchema)]
pub struct ExpandedConnector {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ConnectorStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ConnectorInfo>,
}

/// `GET /connectors`: the names, or with `expand` a map from name to the
/// expanded documents.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ConnectorList {
    Names(Vec<String>),
    Expanded(BTreeMap<String, ExpandedConnector>),
}

/// A configuration value: a string, or a number or boolean taken as its
/// text (as Kafka Connect takes them).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum ConfigValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

/// A connector configuration in a request.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConfigRequest(pub BTreeMap<String, ConfigValue>);

/// `POST /connectors`.
#[derive(ToSchema)]
#[allow(dead_code)] // Only describes the body; it is parsed by hand for exact errors.
pub struct CreateConnectorRequest {
    #[schema(min_length = 1, pattern = r"^[^/\x00-\x1f\x7f-\x9f]+$")]
    pub name: String,
    pub config: BTreeMap<String, ConfigValue>,
    pub initial_state: Option<InitialState>,
}

/// The state a new connector starts in.
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum InitialState {
    RUNNING,
    PAUSED,
    STOPPED,
}

/// A configuration change for `PATCH /connectors/{name}/config`: a null
/// value removes the key.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConfigPatch(pub BTreeMap<String, PatchValue>);

/// A value in a configuration patch: null removes the key.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum PatchValue {
    Text(String),
    Number(f64),
    Flag(bool),
    Remove,
}

/// One task's configuration.
#[derive(Serialize, ToSchema)]
pub struct TaskInfo {
    pub id: ConnectorTaskId,
    pub config: BTreeMap<String, String>,
}

/// A plugin.
#[derive(Serialize, ToSchema)]
pub struct PluginInfo {
    pub class: String,
    /// source, sink, converter, transformation or predicate.
    #[serde(rename = "type")]
    pub kind: String,
    pub version: String,
}

/// One partition's offset. Sink partitions are `{kafka_topic,
/// kafka_partition}` with offsets `{kafka_offset}`; a source connector's
/// are its own JSON.
#[derive(Serialize, ToSchema)]
pub struct ConnectorOffset {
    #[schema(value_type = Object)]
    pub partition: Value,
    #[schema(value_type = Object)]
    pub offset: Value,
}

/// `GET /connectors/{name}/offsets`.
#[derive(Serialize, ToSchema)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// One requested change of `PATCH /connectors/{name}/offsets`: a null
/// offset resets the partition.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OffsetChangeRequest {
    #[schema(value_type = Object)]
    pub partition: Value,
    #[schema(value_type = Option<Object>)]
    pub offset: Option<Value>,
}

/// `PATCH /connectors/{name}/offsets`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AlterOffsetsRequest {
    #[schema(min_items = 1)]
    pub offsets: Vec<OffsetChangeRequest>,
}

/// A confirmation.
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// A connector's active topics.
#[derive(Serialize, ToSchema)]
pub struct ActiveTopics {
    pub topics: Vec<String>,
}

/// A logger's level; `last_modified` (milliseconds since the epoch) is
/// null for levels set at start.
#[derive(Serialize, ToSchema)]
pub struct LoggerLevel {
    pub level: String,
    pub last_modified: Option<u64>,
}

/// `PUT /admin/loggers/{logger}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoggerLevelRequest {
    pub level: LogLevelName,
}

/// Kafka Connect's log levels (accepted in any case).
#[derive(ToSchema)]
#[allow(dead_code, clippy::upper_case_acronyms)]
pub enum LogLevelName {
    TRACE,
    DEBUG,
    INFO,
    WARN,
    ERROR,
    FATAL,
    OFF,
}

/// What `GET /connectors` can expand.
#[derive(ToSchema)]
#[allow(dead_code, non_camel_case_types)]
pub enum Expand {
    status,
    info,
}
