//! A connector's offsets over REST (Kafka Connect's KIP-875): read at any
//! time; altered or reset only while the connector is STOPPED, so that no
//! task commits over the change. Source offsets live in the worker's offset
//! store; sink offsets are the committed offsets of its consumer group,
//! shown as `{kafka_topic, kafka_partition}` / `{kafka_offset}`.

use serde_json::{Value, json};

use super::herder::{Managed, Worker, WorkerError};
use crate::config::connector::SinkTopics;
use crate::config::store::TargetState;
use crate::kafka;
use crate::plugin::PluginKind;

/// One partition's offset, as the REST API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetEntry {
    pub partition: Value,
    pub offset: Value,
}

/// One requested change: a partition and its new offset, or `None` to
/// forget the partition's offset.
#[derive(Clone, Debug, PartialEq)]
pub struct OffsetChange {
    pub partition: Value,
    pub offset: Option<Value>,
}

/// Kafka Connect's message when offsets are changed on a connector that is
/// not stopped.
fn not_stopped(name: &str) -> WorkerError {
    WorkerError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. \
         This can be done for the specified connector by issuing a 'PUT' request to the \
         '/connectors/{name}/stop' endpoint"
    ))
}

impl Worker {
    /// `GET /connectors/{name}/offsets`.
    pub async fn connector_offsets(&self, name: &str) -> Result<Vec<OffsetEntry>, WorkerError> {
        let (client, group, topics) = match self.offset_target(name).await? {
            OffsetTarget::Sink {
                client,
                group,
                topics,
            } => (client, group, topics),
            OffsetTarget::Source => {
                return Ok(self
                    .offsets
                    .offsets(name)
                    .into_iter()
                    .map(|(p, o)| OffsetEntry {
                        partition: serde_json::from_str(&p).unwrap_or(Value::String(p)),
                        offset: serde_json::from_str(&o).unwrap_or(Value::String(o)),
                    })
                    .collect());
            }
        };
        let offsets =
            tokio::task::spawn_blocking(move || kafka::groups::committed(&client, &group, &topics))
                .await
                .map_err(anyhow::Error::from)??;
        Ok(offsets
            .into_iter()
            .map(|o| OffsetEntry {
                partition: json!({ "kafka_topic": o.topic, "kafka_partition": o.partition }),
                offset: json!({ "kafka_offset": o.offset }),
            })
            .collect())
    }

    /// `PATCH /connectors/{name}/offsets`. Returns Kafka Connect's message.
    pub async fn alter_connector_offsets(
        &self,
        name: &str,
        changes: Vec<OffsetChange>,
    ) -> Result<String, WorkerError> {
        if changes.is_empty() {
            return Err(WorkerError::BadRequest(
                "The request must list at least one offset to alter".into(),
            ));
        }
        let OffsetTarget::Sink { client, group, .. } = self.stopped_offset_target(name).await?
        else {
            let mut parsed = Vec::new();
            for change in changes {
                if !change.partition.is_object() {
                    return Err(WorkerError::BadRequest(format!(
                        "Source partitions must be JSON objects, not {}",
                        change.partition
                    )));
                }
                if let Some(offset) = &change.offset
                    && !offset.is_object()
                {
                    return Err(WorkerError::BadRequest(format!(
                        "Source offsets must be JSON objects or null, not {offset}"
                    )));
                }
                parsed.push((
                    change.partition.to_string(),
                    change.offset.map(|o| o.to_string()),
                ));
            }
            let changes: Vec<(&str, Option<&str>)> = parsed
                .iter()
                .map(|(p, o)| (p.as_str(), o.as_deref()))
                .collect();
            self.offsets.alter(name, &changes)?;
            return Ok(
                "The Connect framework-managed offsets for this connector have been \
                       altered successfully. However, if this connector manages offsets \
                       externally, they will need to be manually altered in the system that \
                       the connector uses."
                    .into(),
            );
        };
        let parsed = changes
            .iter()
            .map(sink_change)
            .collect::<Result<Vec<_>, _>>()?;
        tokio::task::spawn_blocking(move || kafka::groups::alter(&client, &group, &parsed))
            .await
            .map_err(anyhow::Error::from)??;
        Ok("The offsets for this connector have been altered successfully".into())
    }

    /// `DELETE /connectors/{name}/offsets`. Returns Kafka Connect's message.
    pub async fn reset_connector_offsets(&self, name: &str) -> Result<String, WorkerError> {
        let OffsetTarget::Sink {
            client,
            group,
            topics,
        } = self.stopped_offset_target(name).await?
        else {
            self.offsets.reset(name)?;
            return Ok(
                "The Connect framework-managed offsets for this connector have been \
                       reset successfully. However, if this connector manages offsets \
                       externally, they will need to be manually reset in the system that \
                       the connector uses."
                    .into(),
            );
        };
        kafka::groups::reset(&client, &group, &topics).await?;
        Ok("The offsets for this connector have been reset successfully".into())
    }

    /// Where the connector's offsets live.
    async fn offset_target(&self, name: &str) -> Result<OffsetTarget, WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_offset_target(name, false);
        }
        self.with_managed(name, async |m| self.group_of(m)).await
    }

    /// As [`Worker::offset_target`], refusing a connector that is not
    /// STOPPED or whose tasks have not all stopped.
    async fn stopped_offset_target(&self, name: &str) -> Result<OffsetTarget, WorkerError> {
        if self.cluster().is_some() {
            return self.cluster_offset_target(name, true);
        }
        self.with_managed(name, async |m| {
            if m.target() != TargetState::Stopped || m.is_running() {
                return Err(not_stopped(name));
            }
            self.group_of(m)
        })
        .await
    }

    /// A cluster's connector: STOPPED means its target state is, and its
    /// committed task count is zero (every task has stopped), as Kafka
    /// Connect checks it.
    fn cluster_offset_target(
        &self,
        name: &str,
        stopped: bool,
    ) -> Result<OffsetTarget, WorkerError> {
        let entry = self
            .connector(name)
            .ok_or_else(|| WorkerError::NotFound(name.to_string()))?;
        if stopped {
            let target = self.cluster_target_state(name);
            if target != Some(TargetState::Stopped) || !entry.task_configs.is_empty() {
                return Err(not_stopped(name));
            }
        }
        let prepared = self
            .prepare(&entry.config)
            .map_err(|why| WorkerError::BadRequest(format!("the connector cannot run: {why}")))?;
        self.target_of(&prepared)
    }

    fn group_of(&self, m: &Managed) -> Result<OffsetTarget, WorkerError> {
        self.target_of(m.prepared()?)
    }

    fn target_of(&self, prepared: &super::herder::Prepared) -> Result<OffsetTarget, WorkerError> {
        let config = &prepared.config;
        Ok(match prepared.plugin.kind {
            PluginKind::Source => OffsetTarget::Source,
            _ => OffsetTarget::Sink {
                client: kafka::sink_consumer_config(&self.config, config, &[]),
                group: kafka::sink_group(&config.name),
                topics: config.topics.clone(),
            },
        })
    }
}

/// Where a connector's offsets live: the worker's offset store for a
/// source, the consumer group (reached with the sink's own client
/// settings) for a sink.
enum OffsetTarget {
    Source,
    Sink {
        client: rdkafka::ClientConfig,
        group: String,
        topics: SinkTopics,
    },
}

/// `{kafka_topic, kafka_partition}` / `{kafka_offset}` or null.
fn sink_change(change: &OffsetChange) -> Result<(String, i32, Option<i64>), WorkerError> {
    let bad = |what: String| WorkerError::BadRequest(what);
    let topic = change
        .partition
        .get("kafka_topic")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "Sink connector partitions must have a non-empty string \"kafka_topic\": {}",
                change.partition
            ))
        })?;
    let partition = change
        .partition
        .get("kafka_partition")
        .and_then(integer)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p >= 0)
        .ok_or_else(|| {
            bad(format!(
                "Sink connector partitions must have a non-negative integer \"kafka_partition\": {}",
                change.partition
            ))
        })?;
    let offset = match &change.offset {
        None => None,
        Some(offset) => Some(
            offset
                .get("kafka_offset")
                .and_then(integer)
                .filter(|o| *o >= 0)
                .ok_or_else(|| {
                    bad(format!(
                        "Sink connector offsets must have a non-negative integer \"kafka_offset\": {offset}"
                    ))
                })?,
        ),
    };
    Ok((topic.to_string(), partition, offset))
}

/// An integer, or a string holding one (Kafka Connect accepts both).
fn integer(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}
