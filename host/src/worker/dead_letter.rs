//! The dead-letter producer of a sink task: failed records go to
//! `errors.deadletterqueue.topic.name`, and the task commits the consumer
//! offsets of a batch only once Kafka has acknowledged its dead letters,
//! so a record is never both skipped and missing from the queue. (A source
//! task writes its dead letters through its own producer, where they count
//! towards the acknowledgement of their batch.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rdkafka::ClientContext;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::error_policy::DeadLetter;
use super::task::TaskContext;
use crate::kafka;

/// A producer for dead letters that remembers the first failed delivery.
pub struct DeadLetterProducer {
    producer: ThreadedProducer<DeliveryWatch>,
    failure: Arc<Mutex<Option<String>>>,
}

impl DeadLetterProducer {
    /// The producer of `ctx`'s dead-letter topic, created if missing;
    /// `None` when the connector has none.
    pub fn for_task(ctx: &TaskContext) -> Result<Option<Self>> {
        let Some(queue) = &ctx.connector.pipeline.errors.dead_letter else {
            return Ok(None);
        };
        ensure_topic(ctx, &queue.topic, queue.replication_factor)?;
        let failure = Arc::new(Mutex::new(None));
        let producer = kafka::client_config(
            &ctx.worker.bootstrap_servers,
            kafka::PRODUCER_DEFAULTS,
            [&ctx.worker.producer, &ctx.connector.producer_overrides],
        )
        .create_with_context(DeliveryWatch {
            failure: Arc::clone(&failure),
        })
        .context("creating the dead-letter producer")?;
        Ok(Some(DeadLetterProducer { producer, failure }))
    }

    pub fn send(&self, letter: DeadLetter) -> Result<()> {
        let headers = letter_headers(&letter.headers);
        let mut record: BaseRecord<'_, [u8], [u8], ()> = BaseRecord::to(&letter.topic);
        record.key = letter.key.as_deref();
        record.payload = letter.value.as_deref();
        record.headers = headers;
        kafka::send_when_room(&self.producer, record)
            .with_context(|| format!("writing to the dead-letter topic \"{}\"", letter.topic))
    }

    /// Waits until Kafka acknowledged every dead letter sent so far; an
    /// error if one was refused.
    pub fn flush(&self, timeout: Duration) -> Result<()> {
        self.producer
            .flush(timeout)
            .with_context(|| format!("dead letters unacknowledged after {timeout:?}"))?;
        if let Some(failure) = self
            .failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            bail!("{failure}");
        }
        Ok(())
    }
}

/// rdkafka headers from a dead letter's.
pub fn letter_headers(headers: &[(String, Option<Vec<u8>>)]) -> Option<OwnedHeaders> {
    if headers.is_empty() {
        return None;
    }
    let mut owned = OwnedHeaders::new_with_capacity(headers.len());
    for (key, value) in headers {
        owned = owned.insert(Header {
            key,
            value: value.as_deref(),
        });
    }
    Some(owned)
}

/// Creates the dead-letter topic if it is missing. A replication factor
/// above the number of brokers (Kafka's default of 3 on a one-broker
/// development cluster) is lowered to it, with a warning.
pub fn ensure_topic(ctx: &TaskContext, topic: &str, replication_factor: i16) -> Result<()> {
    let admin = kafka::admin_config(&ctx.worker);
    let brokers = kafka::broker_count(&admin)?;
    let factor = if replication_factor < 1 {
        1
    } else if replication_factor as usize > brokers {
        tracing::warn!(
            "{}: errors.deadletterqueue.topic.replication.factor is {replication_factor} but the cluster has {brokers} broker(s); creating \"{topic}\" with {brokers}",
            ctx.label()
        );
        brokers as i32
    } else {
        replication_factor as i32
    };
    ctx.tokio.block_on(kafka::ensure_topics(
        &admin,
        &[topic.to_string()],
        1,
        factor,
    ))
}

/// Remembers the first dead letter Kafka refused.
struct DeliveryWatch {
    failure: Arc<Mutex<Option<String>>>,
}

impl ClientContext for DeliveryWatch {}

impl ProducerContext for DeliveryWatch {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(|| format!("Kafka did not accept a dead letter: {e}"));
        }
    }
}
