//! Kafka clients: configuration shared by the worker's producers, consumers
//! and admin client, and topic creation (Sluice creates the topics its
//! connectors need, since brokers may not auto-create them).

pub mod groups;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;

use crate::config::topic_creation::NewTopicSettings;
use crate::config::{ConnectorConfig, WorkerConfig};

/// A client configuration: the bootstrap servers, Sluice's defaults, then
/// the operator's overrides (worker `producer.*`/`consumer.*`, then the
/// connector's `*.override.*`).
pub fn client_config<'a>(
    bootstrap_servers: &str,
    defaults: &[(&str, &str)],
    overrides: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap_servers);
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for map in overrides {
        for (key, value) in map {
            config.set(key, value);
        }
    }
    config
}

/// The worker's admin client settings: its bootstrap servers and `admin.*`
/// overrides. Every admin call of the worker (topic creation, metadata,
/// the cluster's id) is made with these.
pub fn admin_config(worker: &WorkerConfig) -> ClientConfig {
    client_config(&worker.bootstrap_servers, &[], [&worker.admin])
}

/// Hands `record` to `producer`, waiting while the producer's queue is
/// full: deliveries make room within milliseconds, and a record is never
/// dropped for want of it. Any other refusal is the error.
pub fn send_when_room<'a, C, K, P>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'a, K, P, C::DeliveryOpaque>,
) -> KafkaResult<()>
where
    C: ProducerContext,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Producer settings for source tasks: every record acknowledged by all
/// in-sync replicas, in order, without duplicates from retries.
///
/// `linger.ms` is 20, not librdkafka's 5: with 5, a source that produces
/// faster than the broker acknowledges kept librdkafka's broker thread
/// polling its socket most of the time (0.65 of a core, half the worker's
/// CPU) while sending small batches, and jdbc-source moved 26,000 rows/s
/// instead of 43,000 (BENCHMARKS.md). Records wait at most 20 ms more.
///
/// `reconnect.backoff.max.ms` is Kafka's Java clients' 1 s rather than
/// librdkafka's 10 s: after a broker restart the clients are back within a
/// second or two, instead of up to ten, which also keeps a sink's group
/// session from expiring over a short outage.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("reconnect.backoff.max.ms", "1000"),
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "20"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "200000"),
];

/// Consumer settings for sink tasks, as Kafka Connect's: offsets committed
/// only by the host after the sink flushed, reading from the start of a
/// partition the group has never committed.
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("reconnect.backoff.max.ms", "1000"),
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("enable.partition.eof", "false"),
];

/// How often the same client error is logged again while it repeats.
const CLIENT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// librdkafka's global errors (a broker down: "AllBrokersDown", twice a
/// second per client) for a client context's `error`: logged at WARN the
/// first time, then once per 30 s with how many were left out, so an
/// outage fills no log. What they mean for a task is decided where the
/// task meets them (`classify`).
#[derive(Default)]
pub struct ClientErrorLog {
    last: std::sync::Mutex<Option<(String, std::time::Instant, u64)>>,
}

impl ClientErrorLog {
    pub fn log(&self, client: &str, error: &KafkaError, reason: &str) {
        let text = format!("{error}: {reason}");
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        match last.as_mut() {
            Some((previous, at, left_out))
                if *previous == text && at.elapsed() < CLIENT_ERROR_LOG_INTERVAL =>
            {
                *left_out += 1;
            }
            _ => {
                let left_out = last.as_ref().map_or(0, |(_, _, n)| *n);
                if left_out > 0 {
                    tracing::warn!(
                        "{client}: {text} ({left_out} repeats of the last error left out)"
                    );
                } else {
                    tracing::warn!("{client}: {text}");
                }
                *last = Some((text, std::time::Instant::now(), 0));
            }
        }
    }
}

/// What a Kafka client's error means for the task that met it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Retrying cannot help (credentials, permissions, a topic that is
    /// gone, a fatal client state): the task fails, naming it.
    Fatal,
    /// The client recovers by itself (a broker down or restarting, a
    /// coordinator moving, a timeout): the task waits and says why.
    Transient,
}

/// Classifies a client error: authentication, authorization, a missing
/// topic, an invalid configuration and librdkafka's fatal errors are
/// fatal; everything else (transport, timeouts, leadership and coordinator
/// changes) is transient, as librdkafka retries it.
pub fn classify(error: &KafkaError) -> ErrorClass {
    use RDKafkaErrorCode as Code;
    let Some(code) = error.rdkafka_error_code() else {
        return ErrorClass::Transient;
    };
    match code {
        Code::Fatal
        | Code::Authentication
        | Code::SaslAuthenticationFailed
        | Code::UnsupportedSASLMechanism
        | Code::IllegalSASLState
        | Code::TopicAuthorizationFailed
        | Code::GroupAuthorizationFailed
        | Code::ClusterAuthorizationFailed
        | Code::UnknownTopic
        | Code::UnknownTopicOrPartition
        | Code::InvalidTopic
        | Code::InvalidArgument
        | Code::InvalidGroupId
        | Code::InvalidConfig
        | Code::UnsupportedVersion
        | Code::UnsupportedFeature => ErrorClass::Fatal,
        _ => ErrorClass::Transient,
    }
}

/// The consumer group of sink connector `connector`, as Kafka Connect
/// names it.
pub fn sink_group(connector: &str) -> String {
    format!("connect-{connector}")
}

/// The consumer settings of a sink connector's group: Sluice's defaults
/// with `group.id` and `extra`, then the worker's `consumer.*` and the
/// connector's `consumer.override.*`. Its tasks and the REST offsets
/// endpoints both reach the group through these, security settings
/// included.
pub fn sink_consumer_config(
    worker: &WorkerConfig,
    connector: &ConnectorConfig,
    extra: &[(&str, &str)],
) -> ClientConfig {
    let group = sink_group(&connector.name);
    let mut defaults = CONSUMER_DEFAULTS.to_vec();
    defaults.push(("group.id", &group));
    defaults.extend_from_slice(extra);
    client_config(
        &worker.bootstrap_servers,
        &defaults,
        [&worker.consumer, &connector.consumer_overrides],
    )
}

/// Creates each topic in `topics` that does not exist yet, with
/// `partitions` partitions and `replication_factor` replicas.
pub async fn ensure_topics(
    admin_config: &ClientConfig,
    topics: &[String],
    partitions: i32,
    replication_factor: i32,
) -> Result<()> {
    let settings = NewTopicSettings {
        partitions,
        replication_factor,
        configs: BTreeMap::new(),
    };
    let wanted: Vec<(&str, &NewTopicSettings)> =
        topics.iter().map(|t| (t.as_str(), &settings)).collect();
    create_topics(admin_config, &wanted).await
}

/// Creates each topic of `wanted` that does not exist yet, with its
/// settings (-1 partitions or replicas: the broker's default); one that
/// exists is left as it is.
pub async fn create_topics(
    admin_config: &ClientConfig,
    wanted: &[(&str, &NewTopicSettings)],
) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let admin: AdminClient<DefaultClientContext> = admin_config
        .create()
        .context("creating the Kafka admin client")?;
    let new_topics: Vec<NewTopic> = wanted
        .iter()
        .map(|(name, settings)| {
            settings.configs.iter().fold(
                NewTopic::new(
                    name,
                    settings.partitions,
                    TopicReplication::Fixed(settings.replication_factor),
                ),
                |topic, (key, value)| topic.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new_topics, &options)
        .await
        .context("creating topics")?;
    for result in results {
        match result {
            Ok(topic) => match wanted.iter().find(|(n, _)| *n == topic) {
                Some((_, s)) => tracing::info!(
                    "created topic {topic}: {} partition(s), replication factor {}, configs {:?}",
                    s.partitions,
                    s.replication_factor,
                    s.configs
                ),
                None => tracing::info!("created topic {topic}"),
            },
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating topic {topic}: {code}"),
        }
    }
    Ok(())
}

/// How many brokers the cluster has, from its metadata.
pub fn broker_count(admin_config: &ClientConfig) -> Result<usize> {
    use rdkafka::consumer::Consumer;
    let consumer: rdkafka::consumer::BaseConsumer = admin_config
        .create()
        .context("creating a Kafka client for metadata")?;
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(30))
        .context("fetching the cluster's metadata")?;
    Ok(metadata.brokers().len().max(1))
}

/// The Kafka cluster's id (for `GET /`), or `None` when the broker does not
/// answer within a few seconds; the worker starts either way, and its tasks
/// retry the connection on their own.
pub async fn cluster_id(worker: &WorkerConfig) -> Option<String> {
    let config = admin_config(worker);
    tokio::task::spawn_blocking(move || {
        use rdkafka::consumer::Consumer;
        let consumer: rdkafka::consumer::BaseConsumer = config.create().ok()?;
        let id = consumer.client().fetch_cluster_id(Duration::from_secs(5));
        if id.is_none() {
            tracing::warn!("the Kafka cluster did not tell its id within 5 seconds");
        }
        id
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_permissions_and_missing_topics_are_fatal_and_outages_transient() {
        let consumption = |code| KafkaError::MessageConsumption(code);
        for fatal in [
            RDKafkaErrorCode::SaslAuthenticationFailed,
            RDKafkaErrorCode::Authentication,
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::GroupAuthorizationFailed,
            RDKafkaErrorCode::UnknownTopicOrPartition,
            RDKafkaErrorCode::Fatal,
        ] {
            assert_eq!(
                classify(&consumption(fatal)),
                ErrorClass::Fatal,
                "{fatal:?}"
            );
        }
        for transient in [
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::OperationTimedOut,
            RDKafkaErrorCode::NotCoordinator,
            RDKafkaErrorCode::CoordinatorLoadInProgress,
            RDKafkaErrorCode::LeaderNotAvailable,
        ] {
            assert_eq!(
                classify(&consumption(transient)),
                ErrorClass::Transient,
                "{transient:?}"
            );
        }
        assert_eq!(classify(&KafkaError::Canceled), ErrorClass::Transient);
    }
}
