//! A compacted topic read as a log (Kafka Connect's KafkaBasedLog): every
//! record from the start of every partition is handed to the owner in
//! order, a background thread keeps following new ones, and
//! [`KafkaLog::read_to_end`] waits until everything written before the call
//! has been handed over. The config, offset and status stores of a
//! distributed worker are each one of these: what a worker knows is what
//! it has read, so every worker converges on the same state.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// How long one metadata or watermark request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One record of the log, as it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    /// `None`: a tombstone.
    pub value: Option<Vec<u8>>,
}

/// What the owner does with each record; called on the reading thread, in
/// the order of each partition.
pub type OnRecord = Box<dyn FnMut(LogRecord) + Send>;

/// The next offset to read in each partition, shared with the reader.
#[derive(Default)]
struct Positions {
    next: BTreeMap<i32, i64>,
    /// Why the reader stopped, if it did.
    failed: Option<String>,
}

pub struct KafkaLog {
    topic: String,
    consumer: Arc<BaseConsumer>,
    producer: FutureProducer,
    partitions: Vec<i32>,
    positions: Arc<(Mutex<Positions>, Condvar)>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl KafkaLog {
    /// Starts reading `topic` from the beginning of each of its partitions
    /// (which must exist). Returns at once; call [`KafkaLog::read_to_end`]
    /// to wait for what is already there.
    pub fn start(
        consumer_config: &ClientConfig,
        producer_config: &ClientConfig,
        topic: &str,
        mut on_record: OnRecord,
    ) -> Result<KafkaLog> {
        let mut consumer_config = consumer_config.clone();
        // The log is read whole by every worker, never through a group, and
        // nothing is ever committed: a `group.id` is only librdkafka's
        // requirement.
        consumer_config
            .set("group.id", format!("sluice-log-{topic}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        let consumer: BaseConsumer = consumer_config
            .create()
            .with_context(|| format!("creating a reader of topic {topic}"))?;
        let metadata = consumer
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .with_context(|| format!("reading the metadata of topic {topic}"))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            bail!("topic {topic} does not exist or has no partitions");
        }
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            assignment.add_partition_offset(topic, *p, Offset::Beginning)?;
        }
        consumer.assign(&assignment)?;
        let consumer = Arc::new(consumer);
        let producer: FutureProducer = producer_config
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            // Java's partitioner: a key written here lands in the partition
            // a Kafka Connect worker writes it to, so compaction and the
            // order of one key's records hold across the two.
            .set("partitioner", "murmur2_random")
            .create()
            .with_context(|| format!("creating a writer of topic {topic}"))?;
        let positions: Arc<(Mutex<Positions>, Condvar)> = Default::default();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let consumer = Arc::clone(&consumer);
            let positions = Arc::clone(&positions);
            let stop = Arc::clone(&stop);
            let topic = topic.to_string();
            std::thread::Builder::new()
                .name(format!("log-{topic}"))
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some(polled) = consumer.poll(Duration::from_millis(100)) else {
                            continue;
                        };
                        let (lock, changed) = &*positions;
                        match polled {
                            Ok(message) => {
                                let record = LogRecord {
                                    partition: message.partition(),
                                    offset: message.offset(),
                                    key: message.key().unwrap_or_default().to_vec(),
                                    value: message.payload().map(<[u8]>::to_vec),
                                };
                                on_record(record);
                                lock.lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .next
                                    .insert(message.partition(), message.offset() + 1);
                                changed.notify_all();
                            }
                            // The broker away for a while is not the end of
                            // the log: librdkafka reconnects on its own.
                            Err(e)
                                if crate::kafka::classify(&e)
                                    == crate::kafka::ErrorClass::Transient =>
                            {
                                tracing::debug!("reading topic {topic}: {e}");
                            }
                            Err(e) => {
                                lock.lock().unwrap_or_else(|e| e.into_inner()).failed =
                                    Some(format!("reading topic {topic}: {e}"));
                                changed.notify_all();
                                return;
                            }
                        }
                    }
                })
                .context("starting a log reader thread")?
        };
        Ok(KafkaLog {
            topic: topic.to_string(),
            consumer,
            producer,
            partitions,
            positions,
            stop,
            reader: Some(reader),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Writes `records` (key, value or `None` for a tombstone) in order and
    /// waits until every replica has each. The records are handed to the
    /// producer together, so a commit of many partitions takes one round
    /// trip, not one per record.
    pub async fn send_all(&self, records: &[(&[u8], Option<&[u8]>)]) -> Result<()> {
        let mut deliveries = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&self.topic).key(*key);
            if let Some(value) = value {
                record = record.payload(*value);
            }
            let delivery = self
                .producer
                .send_result(record)
                .map_err(|(e, _)| anyhow!("writing to topic {}: {e}", self.topic))?;
            deliveries.push(delivery);
        }
        for delivery in deliveries {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => bail!("writing to topic {}: {e}", self.topic),
                Err(_) => bail!("writing to topic {}: the producer went away", self.topic),
            }
        }
        Ok(())
    }

    /// Waits until every record written to the log before this call has
    /// been handed to the owner, or `timeout` passes. Returns the end
    /// offset of each partition it waited for.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<BTreeMap<i32, i64>> {
        let consumer = Arc::clone(&self.consumer);
        let positions = Arc::clone(&self.positions);
        let topic = self.topic.clone();
        let partitions = self.partitions.clone();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + timeout;
            let mut ends = BTreeMap::new();
            for p in partitions {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, REQUEST_TIMEOUT.min(timeout))
                    .with_context(|| format!("reading the end of topic {topic}"))?;
                ends.insert(p, high);
            }
            let (lock, changed) = &*positions;
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(why) = &state.failed {
                    bail!("{why}");
                }
                // A partition that is empty, or compacted below its end,
                // counts as read once the position passes the end.
                let behind = ends
                    .iter()
                    .any(|(p, end)| *end > 0 && state.next.get(p).copied().unwrap_or(0) < *end);
                if !behind {
                    return Ok(ends);
                }
                let now = Instant::now();
                if now >= deadline {
                    bail!(
                        "topic {topic} was not read to its end within {} ms",
                        timeout.as_millis()
                    );
                }
                state = changed
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        })
        .await
        .context("waiting for the log reader")?
    }
}

impl Drop for KafkaLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
