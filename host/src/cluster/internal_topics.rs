//! The three internal topics of a distributed worker (config, offsets,
//! status): created compacted when missing, and checked when they exist,
//! before anything is written to them. A config topic with more than one
//! partition would lose the order of its records; a topic that is not
//! compacted loses connectors and offsets to retention. Either is refused
//! with the key that names the topic, as Kafka Connect refuses them
//! (KAFKA-9216), and the worker writes nothing.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::distributed::{CONFIG_TOPIC, DistributedConfig, InternalTopic};

/// How long the broker has to answer the metadata and admin requests.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a topic looks like on the broker.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    partitions: usize,
    /// `cleanup.policy`, when the broker tells it.
    cleanup_policy: Option<String>,
}

/// Creates the internal topics that are missing and checks the shape of
/// those that exist: the config topic must have one partition, and every
/// one must be compacted. `bootstrap_servers` is named in the error when
/// the broker cannot be reached.
pub async fn ensure(
    admin_config: &ClientConfig,
    bootstrap_servers: &str,
    config: &DistributedConfig,
) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = admin_config
        .create()
        .context("creating the Kafka admin client")?;
    let existing = topic_partitions(admin_config, bootstrap_servers).await?;
    let mut missing = Vec::new();
    for topic in config.internal_topics() {
        match existing.iter().find(|(name, _)| name == &topic.name) {
            Some((_, partitions)) => {
                let shape = Shape {
                    partitions: *partitions,
                    cleanup_policy: cleanup_policy(&admin, &topic.name).await?,
                };
                check_shape(topic, &shape)?;
            }
            None => missing.push(topic),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let new_topics: Vec<NewTopic> = missing
        .iter()
        .map(|t| {
            // -1 asks for the broker's default, as Kafka Connect's does.
            NewTopic::new(
                &t.name,
                t.partitions,
                TopicReplication::Fixed(t.replication_factor),
            )
            .set("cleanup.policy", "compact")
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .context("creating the internal topics")?;
    for (result, topic) in results.into_iter().zip(&missing) {
        match result {
            Ok(name) => tracing::info!(
                "created internal topic {name} ({}: {} partition(s), compacted)",
                topic.key,
                topic.partitions
            ),
            // Another worker of the group created it first.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => bail!("{}: creating topic {name}: {code}", topic.key),
        }
    }
    Ok(())
}

/// Why `shape` will not do for `topic`, naming the key and the fix.
fn check_shape(topic: &InternalTopic, shape: &Shape) -> Result<()> {
    if topic.key == CONFIG_TOPIC && shape.partitions != 1 {
        bail!(
            "{}: topic {} has {} partitions, but the config topic must have exactly one (its \
             records are applied in order); delete it or name another topic",
            topic.key,
            topic.name,
            shape.partitions
        );
    }
    match shape.cleanup_policy.as_deref() {
        // `compact,delete` still deletes by retention: only compaction will
        // do, as Kafka Connect requires (TopicAdmin's check).
        Some(policy) if policy.trim() != "compact" => bail!(
            "{}: topic {} has cleanup.policy={policy}, but internal topics must be compacted \
             (cleanup.policy=compact), or retention deletes connectors, offsets and statuses",
            topic.key,
            topic.name
        ),
        _ => Ok(()),
    }
}

/// Every topic of the cluster with its partition count.
async fn topic_partitions(
    admin_config: &ClientConfig,
    bootstrap_servers: &str,
) -> Result<Vec<(String, usize)>> {
    let config = admin_config.clone();
    let servers = bootstrap_servers.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config
            .create()
            .context("creating a Kafka client for metadata")?;
        let metadata = consumer
            .fetch_metadata(None, ADMIN_TIMEOUT)
            .with_context(|| {
                format!(
                    "bootstrap.servers: no Kafka broker at {servers} answered within {} s",
                    ADMIN_TIMEOUT.as_secs()
                )
            })?;
        Ok(metadata
            .topics()
            .iter()
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect())
    })
    .await
    .context("reading the cluster's metadata")?
}

/// The `cleanup.policy` of `topic`, or `None` when the broker does not
/// describe topic configurations.
async fn cleanup_policy(
    admin: &AdminClient<DefaultClientContext>,
    topic: &str,
) -> Result<Option<String>> {
    let options = AdminOptions::new().request_timeout(Some(ADMIN_TIMEOUT));
    let resource = ResourceSpecifier::Topic(topic);
    let results = match admin.describe_configs([&resource], &options).await {
        Ok(results) => results,
        Err(e) => {
            tracing::warn!(
                "the broker did not describe topic {topic}'s configuration ({e}); its cleanup \
                 policy is not checked"
            );
            return Ok(None);
        }
    };
    Ok(results
        .into_iter()
        .flatten()
        .flat_map(|resource| resource.entries)
        .find(|entry| entry.name == "cleanup.policy")
        .and_then(|entry| entry.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::distributed::OFFSET_TOPIC;

    fn topic(key: &'static str) -> InternalTopic {
        InternalTopic {
            key,
            name: "t".into(),
            partitions: 1,
            replication_factor: 1,
        }
    }

    fn shape(partitions: usize, policy: Option<&str>) -> Shape {
        Shape {
            partitions,
            cleanup_policy: policy.map(str::to_string),
        }
    }

    #[test]
    fn config_topic_needs_one_partition_and_every_topic_compaction() {
        let err = check_shape(&topic(CONFIG_TOPIC), &shape(3, Some("compact"))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("config.storage.topic: topic t has 3 partitions")
        );
        let err = check_shape(&topic(OFFSET_TOPIC), &shape(25, Some("delete"))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("offset.storage.topic: topic t has cleanup.policy=delete"),
            "{err}"
        );
        assert!(check_shape(&topic(OFFSET_TOPIC), &shape(25, Some("compact,delete"))).is_err());
        check_shape(&topic(CONFIG_TOPIC), &shape(1, Some("compact"))).unwrap();
        check_shape(&topic(CONFIG_TOPIC), &shape(1, None)).unwrap();
    }
}
