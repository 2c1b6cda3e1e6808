//! A sink connector's consumer-group offsets, read and changed from outside
//! the group (for the REST offsets endpoints). Changes are made only while
//! the connector is stopped, so no member of the group commits over them.

use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::config::connector::SinkTopics;

const TIMEOUT: Duration = Duration::from_secs(10);

/// One partition's committed offset: the next record the sink will read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A consumer in `group` that never subscribes: it only reads and commits
/// offsets.
fn group_client(config: &ClientConfig, group: &str) -> Result<BaseConsumer> {
    let mut config = config.clone();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .remove("group.instance.id");
    config
        .create()
        .context("creating a Kafka client for the connector's consumer group")
}

/// Every partition of the topics the sink reads: those named, or every
/// topic of the cluster that the pattern matches.
fn partitions_of(consumer: &BaseConsumer, topics: &SinkTopics) -> Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    let mut add = |metadata: rdkafka::metadata::Metadata| {
        for t in metadata.topics() {
            // A topic that does not exist yet has no offsets.
            if t.error().is_none() && topics.includes(t.name()) {
                for p in t.partitions() {
                    list.add_partition(t.name(), p.id());
                }
            }
        }
    };
    match topics {
        SinkTopics::Named(names) => {
            for topic in names {
                add(consumer
                    .fetch_metadata(Some(topic), TIMEOUT)
                    .with_context(|| format!("reading the partitions of topic {topic}"))?);
            }
        }
        SinkTopics::Pattern(pattern) => add(consumer
            .fetch_metadata(None, TIMEOUT)
            .with_context(|| format!("listing the topics that match {pattern}"))?),
    }
    Ok(list)
}

/// The committed offsets of `group` on `topics`; partitions without a
/// committed offset are left out.
pub fn committed(
    config: &ClientConfig,
    group: &str,
    topics: &SinkTopics,
) -> Result<Vec<GroupOffset>> {
    let consumer = group_client(config, group)?;
    let partitions = partitions_of(&consumer, topics)?;
    if partitions.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer
        .committed_offsets(partitions, TIMEOUT)
        .context("reading the consumer group's committed offsets")?;
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) => Some(GroupOffset {
                topic: e.topic().to_string(),
                partition: e.partition(),
                offset,
            }),
            _ => None,
        })
        .collect())
}

/// Commits `offsets` for `group`. A `None` offset puts the partition back
/// where a new group would start: at its earliest offset, as Sluice's sink
/// consumers read a partition with no committed offset from the beginning.
pub fn alter(
    config: &ClientConfig,
    group: &str,
    offsets: &[(String, i32, Option<i64>)],
) -> Result<()> {
    commit(&group_client(config, group)?, offsets)
}

fn commit(consumer: &BaseConsumer, offsets: &[(String, i32, Option<i64>)]) -> Result<()> {
    let mut list = TopicPartitionList::new();
    for (topic, partition, offset) in offsets {
        let offset = match offset {
            Some(offset) => *offset,
            None => {
                let (low, _high) = consumer
                    .fetch_watermarks(topic, *partition, TIMEOUT)
                    .with_context(|| {
                        format!("reading the earliest offset of {topic}-{partition}")
                    })?;
                low
            }
        };
        list.add_partition_offset(topic, *partition, Offset::Offset(offset))?;
    }
    consumer
        .commit(&list, CommitMode::Sync)
        .context("committing the new offsets for the connector's consumer group")
}

/// Forgets the group's offsets on `topics`: the group is deleted where the
/// broker supports it, and otherwise every partition is committed at its
/// earliest offset, which a sink then reads from as it would with none.
pub async fn reset(config: &ClientConfig, group: &str, topics: &SinkTopics) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        config.create().context("creating the Kafka admin client")?;
    let deleted = admin
        .delete_groups(
            &[group],
            &AdminOptions::new().request_timeout(Some(TIMEOUT)),
        )
        .await;
    match deleted.as_deref() {
        Ok([Ok(_)]) => return Ok(()),
        Ok([Err((_, code))]) if *code == rdkafka::types::RDKafkaErrorCode::GroupIdNotFound => {
            return Ok(());
        }
        other => tracing::debug!(
            "deleting group {group} failed ({other:?}); committing earliest offsets instead"
        ),
    }
    let config = config.clone();
    let group = group.to_string();
    let topics = topics.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = group_client(&config, &group)?;
        let earliest: Vec<(String, i32, Option<i64>)> = partitions_of(&consumer, &topics)?
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition(), None))
            .collect();
        if earliest.is_empty() {
            return Ok(());
        }
        commit(&consumer, &earliest)
    })
    .await?
}
