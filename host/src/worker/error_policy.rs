//! The error policy at work (`errors.*`): a record that fails in the
//! pipeline or that the connector rejects either fails the task, with a
//! trace naming the record, or is logged and written to the dead-letter
//! topic with Kafka Connect's `__connect.errors.*` context headers.
//! Nothing is skipped silently: with tolerance `all` and no dead-letter
//! topic, each skipped record is still counted and logged at WARN.

use std::fmt;

use anyhow::{Result, anyhow};
use base64::Engine;

use super::records::Consumed;
use crate::config::pipeline::{DeadLetterQueue, ErrorPolicy, Tolerance};
use crate::redact::Secrets;
use crate::runtime::bindings::types::{BatchData, Data, SourceRecord, ValueNode};

/// Where in the pipeline a record failed; Kafka Connect's stage names are
/// what `__connect.errors.stage` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    /// The producer would refuse the record (larger than
    /// `message.max.bytes`).
    KafkaProduce,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
        })
    }
}

/// Why one record could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageFailure {
    pub stage: Stage,
    /// The plugin, as the configuration named it.
    pub class: String,
    pub message: String,
    /// The plugin trapped on this record alone (as opposed to rejecting it
    /// with an error).
    pub trapped: bool,
}

/// What happened to one record in a pipeline step.
pub type Outcome<T> = Result<Option<T>, StageFailure>;

/// The record a failure is about, as it came in.
pub enum Origin<'a> {
    /// A record a sink consumed: dead-lettered with its original bytes.
    Consumed(&'a Consumed),
    /// A record a source connector returned, with its source partition
    /// and offset (JSON).
    Source {
        record: &'a SourceRecord,
        source_partition: Option<&'a str>,
    },
}

impl Origin<'_> {
    /// Where the record is, for traces and logs.
    fn describe(&self) -> String {
        match self {
            Origin::Consumed(c) => format!(
                "topic \"{}\", partition {}, offset {}",
                c.topic, c.partition, c.offset
            ),
            Origin::Source {
                record,
                source_partition,
            } => {
                let mut text = format!("the source record for topic \"{}\"", record.topic);
                if let (Some(partition), Some(position)) = (source_partition, &record.position) {
                    text.push_str(&format!(
                        " at source partition {partition}, offset {}",
                        position.offset
                    ));
                }
                text
            }
        }
    }
}

/// A record for the dead-letter topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Kafka Connect's exception class for a record a plugin rejected; traps
/// have a name of their own.
const DATA_EXCEPTION: &str = "org.apache.kafka.connect.errors.DataException";
const PLUGIN_TRAP: &str = "sluice.errors.PluginTrap";

/// Applies one task's error policy.
pub struct ErrorHandler {
    policy: ErrorPolicy,
    connector: String,
    task_id: u32,
    secrets: std::sync::Arc<Secrets>,
    /// Records skipped so far: tolerated failures are counted, never lost
    /// from view.
    pub skipped: u64,
}

impl ErrorHandler {
    pub fn new(
        policy: ErrorPolicy,
        connector: &str,
        task_id: u32,
        secrets: std::sync::Arc<Secrets>,
    ) -> Self {
        ErrorHandler {
            policy,
            connector: connector.to_string(),
            task_id,
            secrets,
            skipped: 0,
        }
    }

    pub fn policy(&self) -> &ErrorPolicy {
        &self.policy
    }

    pub fn dead_letter_queue(&self) -> Option<&DeadLetterQueue> {
        self.policy.dead_letter.as_ref()
    }

    /// Handles one failed record: the error when the policy does not
    /// tolerate it (the task's trace), else the dead letter to write, if a
    /// dead-letter topic is configured.
    pub fn handle(
        &mut self,
        origin: Origin<'_>,
        failure: &StageFailure,
    ) -> Result<Option<DeadLetter>> {
        let message = self.secrets.mask(&failure.message);
        if self.policy.tolerance == Tolerance::None {
            return Err(anyhow!(
                "Tolerance exceeded in error handler: stage {} (class {}) failed on {}: {message}",
                failure.stage,
                failure.class,
                origin.describe()
            ));
        }
        self.skipped += 1;
        let label = format!("{}-{}", self.connector, self.task_id);
        if self.policy.log_enable {
            let content = if self.policy.log_include_messages {
                format!(" Record: {}", self.secrets.mask(&render_origin(&origin)))
            } else {
                String::new()
            };
            tracing::error!(
                "Error encountered in task {label}. Executing stage '{}' with class '{}', where the record is {}: {message}.{content}",
                failure.stage,
                failure.class,
                origin.describe()
            );
        } else if self.policy.dead_letter.is_none() {
            // Tolerated and not dead-lettered: at least say so.
            tracing::warn!(
                "{label}: skipped {} after stage {} failed (errors.tolerance=all): {message}",
                origin.describe(),
                failure.stage
            );
        }
        let Some(queue) = &self.policy.dead_letter else {
            return Ok(None);
        };
        let mut letter = match origin {
            Origin::Consumed(c) => DeadLetter {
                topic: queue.topic.clone(),
                key: c.key.clone(),
                value: c.value.clone(),
                headers: c.headers.clone(),
            },
            Origin::Source { record, .. } => DeadLetter {
                topic: queue.topic.clone(),
                key: record.key.as_ref().map(batch_wire_form),
                value: record.value.as_ref().map(batch_wire_form),
                headers: record
                    .headers
                    .iter()
                    .map(|h| (h.key.clone(), h.value.as_ref().map(wire_form)))
                    .collect(),
            },
        };
        if queue.context_headers {
            self.add_context(&mut letter, &origin, failure, &message);
        }
        Ok(Some(letter))
    }

    /// Kafka Connect's `__connect.errors.*` headers, values as UTF-8
    /// strings. A source record has no Kafka offset; its source partition
    /// and offset go in `__connect.errors.source.partition` and
    /// `__connect.errors.source.offset` instead.
    fn add_context(
        &self,
        letter: &mut DeadLetter,
        origin: &Origin<'_>,
        failure: &StageFailure,
        message: &str,
    ) {
        let mut add = |key: &str, value: String| {
            letter
                .headers
                .push((format!("__connect.errors.{key}"), Some(value.into_bytes())));
        };
        match origin {
            Origin::Consumed(c) => {
                add("topic", c.topic.clone());
                add("partition", c.partition.to_string());
                add("offset", c.offset.to_string());
            }
            Origin::Source {
                record,
                source_partition,
            } => {
                add("topic", record.topic.clone());
                if let Some(partition) = record.partition {
                    add("partition", partition.to_string());
                }
                if let Some(partition) = source_partition {
                    add("source.partition", partition.to_string());
                }
                if let Some(position) = &record.position {
                    add("source.offset", position.offset.clone());
                }
            }
        }
        add("connector.name", self.connector.clone());
        add("task.id", self.task_id.to_string());
        add("stage", failure.stage.to_string());
        add("class.name", failure.class.clone());
        let exception = if failure.trapped {
            PLUGIN_TRAP
        } else {
            DATA_EXCEPTION
        };
        add("exception.class.name", exception.to_string());
        add("exception.message", message.to_string());
        add(
            "exception.stacktrace",
            format!(
                "{exception}: {message}\n\tat stage {} ({})",
                failure.stage, failure.class
            ),
        );
    }
}

/// The stage a record the connector itself rejected failed in.
pub fn connector_stage(is_sink: bool) -> Stage {
    if is_sink {
        Stage::TaskPut
    } else {
        Stage::TaskPoll
    }
}

/// Bytes for a dead letter of a source record: raw bytes as they are, a
/// structured string or bytes value as its bytes (what it would be without
/// a converter), other structured data as schemaless JSON (what the record
/// holds, readable without its converter, which may be what failed).
fn wire_form(data: &Data) -> Vec<u8> {
    match data {
        Data::Raw(bytes) => bytes.clone(),
        Data::Structured(s) => values_wire_form(&s.values),
    }
}

/// [`wire_form`] of a key or value in batch form.
fn batch_wire_form(data: &BatchData) -> Vec<u8> {
    match data {
        BatchData::Raw(bytes) => bytes.clone(),
        BatchData::Structured(s) => values_wire_form(&s.values),
    }
}

fn values_wire_form(values: &[ValueNode]) -> Vec<u8> {
    match values {
        [ValueNode::String(text)] => text.clone().into_bytes(),
        [ValueNode::Bytes(bytes)] => bytes.clone(),
        _ => render_json(values).into_bytes(),
    }
}

fn render_origin(origin: &Origin<'_>) -> String {
    let text = |bytes: &Option<Vec<u8>>| match bytes {
        None => "null".to_string(),
        Some(b) => String::from_utf8_lossy(b).into_owned(),
    };
    match origin {
        Origin::Consumed(c) => format!("key={} value={}", text(&c.key), text(&c.value)),
        Origin::Source { record, .. } => format!(
            "key={} value={}",
            text(&record.key.as_ref().map(batch_wire_form)),
            text(&record.value.as_ref().map(batch_wire_form))
        ),
    }
}

/// Structured data's value nodes as schemaless JSON: structs and
/// string-keyed maps as objects, other maps as arrays of pairs, bytes as
/// base64.
///
/// A value's nodes form a tree, so rendering visits each at most once.
/// Nodes that a hostile plugin shares between parents (or makes a cycle
/// of) would otherwise be rendered once per path, exponentially many
/// times: the visits are counted, and such a value is not rendered.
pub fn render_json(values: &[ValueNode]) -> String {
    let mut visits = values.len();
    match node(values, 0, 0, &mut visits) {
        Some(json) => json.to_string(),
        None => serde_json::Value::String(
            "[not rendered: the value's nodes are shared or form a cycle]".into(),
        )
        .to_string(),
    }
}

/// One node of [`render_json`]; `None` once more nodes were visited than
/// the value has.
fn node(
    values: &[ValueNode],
    index: u32,
    depth: usize,
    visits: &mut usize,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    *visits = visits.checked_sub(1)?;
    let Some(value) = values.get(index as usize).filter(|_| depth < 256) else {
        return Some(J::Null);
    };
    let mut child = |i: u32| node(values, i, depth + 1, visits);
    Some(match value {
        ValueNode::Null => J::Null,
        ValueNode::Boolean(b) => J::Bool(*b),
        ValueNode::Int8(v) => J::from(*v),
        ValueNode::Int16(v) => J::from(*v),
        ValueNode::Int32(v) => J::from(*v),
        ValueNode::Int64(v) => J::from(*v),
        ValueNode::Float32(v) => J::from(*v as f64),
        ValueNode::Float64(v) => J::from(*v),
        ValueNode::String(s) => J::String(s.clone()),
        ValueNode::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ValueNode::Array(items) => {
            J::Array(items.iter().map(|&i| child(i)).collect::<Option<_>>()?)
        }
        ValueNode::Struct(fields) => J::Object(
            fields
                .iter()
                .map(|(name, i)| Some((name.clone(), child(*i)?)))
                .collect::<Option<_>>()?,
        ),
        ValueNode::Map(entries) => {
            let pairs: Vec<(J, J)> = entries
                .iter()
                .map(|(k, v)| Some((child(*k)?, child(*v)?)))
                .collect::<Option<_>>()?;
            if pairs.iter().all(|(k, _)| k.is_string()) {
                J::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v))
                        .collect(),
                )
            } else {
                J::Array(
                    pairs
                        .into_iter()
                        .map(|(k, v)| J::Array(vec![k, v]))
                        .collect(),
                )
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumed() -> Consumed {
        Consumed {
            topic: "orders".into(),
            partition: 2,
            offset: 41,
            timestamp: Some(1),
            key: Some(b"k".to_vec()),
            value: Some(b"{bad".to_vec()),
            headers: vec![("h".into(), Some(b"v".to_vec()))],
        }
    }

    fn failure() -> StageFailure {
        StageFailure {
            stage: Stage::ValueConverter,
            class: "org.apache.kafka.connect.json.JsonConverter".into(),
            message: "Converting byte[] to Kafka Connect data failed".into(),
            trapped: false,
        }
    }

    fn handler(policy: ErrorPolicy) -> ErrorHandler {
        ErrorHandler::new(policy, "snk", 0, Default::default())
    }

    #[test]
    fn no_tolerance_names_the_record() {
        let err = handler(ErrorPolicy::default())
            .handle(Origin::Consumed(&consumed()), &failure())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("topic \"orders\", partition 2, offset 41"),
            "{err}"
        );
        assert!(err.contains("VALUE_CONVERTER"), "{err}");
    }

    #[test]
    fn dead_letters_carry_the_original_and_the_context() {
        let mut h = handler(ErrorPolicy {
            tolerance: Tolerance::All,
            dead_letter: Some(DeadLetterQueue {
                topic: "dlq".into(),
                replication_factor: 1,
                context_headers: true,
            }),
            ..ErrorPolicy::default()
        });
        let letter = h
            .handle(Origin::Consumed(&consumed()), &failure())
            .unwrap()
            .unwrap();
        assert_eq!(letter.topic, "dlq");
        assert_eq!(letter.value.as_deref(), Some(&b"{bad"[..]));
        let header = |k: &str| {
            letter
                .headers
                .iter()
                .find(|(name, _)| name == k)
                .and_then(|(_, v)| v.clone())
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(header("h").as_deref(), Some("v"));
        assert_eq!(header("__connect.errors.topic").as_deref(), Some("orders"));
        assert_eq!(header("__connect.errors.partition").as_deref(), Some("2"));
        assert_eq!(header("__connect.errors.offset").as_deref(), Some("41"));
        assert_eq!(
            header("__connect.errors.connector.name").as_deref(),
            Some("snk")
        );
        assert_eq!(header("__connect.errors.task.id").as_deref(), Some("0"));
        assert_eq!(
            header("__connect.errors.stage").as_deref(),
            Some("VALUE_CONVERTER")
        );
        assert_eq!(
            header("__connect.errors.exception.class.name").as_deref(),
            Some(DATA_EXCEPTION)
        );
        assert_eq!(h.skipped, 1);
    }

    /// Shared nodes would be rendered once per path: 2^n times for n
    /// levels, and forever for a cycle.
    #[test]
    fn values_whose_nodes_are_shared_or_cyclic_are_not_rendered() {
        let shared: Vec<ValueNode> = (0..64u32)
            .map(|i| {
                if i == 63 {
                    ValueNode::Int32(1)
                } else {
                    ValueNode::Array(vec![i + 1, i + 1])
                }
            })
            .collect();
        assert!(render_json(&shared).contains("not rendered"));
        let cycle = vec![ValueNode::Array(vec![0, 0])];
        assert!(render_json(&cycle).contains("not rendered"));
        let tree = vec![
            ValueNode::Array(vec![1, 2]),
            ValueNode::Int32(1),
            ValueNode::Null,
        ];
        assert_eq!(render_json(&tree), "[1,null]");
    }

    #[test]
    fn structured_values_render_as_json() {
        let values = [
            ValueNode::Struct(vec![("a".into(), 1), ("b".into(), 2)]),
            ValueNode::Int32(7),
            ValueNode::Bytes(vec![1, 2]),
        ];
        assert_eq!(render_json(&values), r#"{"a":7,"b":"AQI="}"#);
    }
}
