//! The distributed offset store (`offset.storage.topic`): source offsets
//! in Kafka Connect's own records (key `["<connector>", {partition}]`,
//! value the offset JSON, a tombstone for a reset), so offsets written by
//! Kafka Connect are read here and the other way round. Every worker reads
//! the whole topic, so a task that moves to another worker resumes where it
//! was acknowledged.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rdkafka::ClientConfig;

use super::kafka_log::{KafkaLog, LogRecord};
use super::records;
use crate::offsets::{ConnectorOffsets, OffsetStore, checked_changes};

/// Every connector's offsets as read from the topic.
type Offsets = Arc<Mutex<BTreeMap<String, ConnectorOffsets>>>;

pub struct KafkaOffsetStore {
    log: KafkaLog,
    offsets: Offsets,
    tokio: tokio::runtime::Handle,
    /// Set while this worker is out of the group: its tasks may already
    /// run elsewhere, so what they would commit is refused.
    fenced: AtomicBool,
}

impl KafkaOffsetStore {
    /// Reads the offset topic to its end. Records this worker cannot read
    /// (another program's) are logged and left alone, never guessed at.
    pub async fn open(
        consumer: &ClientConfig,
        producer: &ClientConfig,
        topic: &str,
        read_timeout: Duration,
    ) -> Result<Self> {
        let offsets: Offsets = Default::default();
        let apply = {
            let offsets = Arc::clone(&offsets);
            let topic = topic.to_string();
            move |record: LogRecord| apply(&offsets, &topic, record)
        };
        let log = KafkaLog::start(consumer, producer, topic, Box::new(apply))?;
        log.read_to_end(read_timeout)
            .await
            .with_context(|| format!("offset.storage.topic: reading {topic}"))?;
        Ok(KafkaOffsetStore {
            log,
            offsets,
            tokio: tokio::runtime::Handle::current(),
            fenced: AtomicBool::new(false),
        })
    }

    /// Refuses (true) or allows (false) offset writes: a worker that lost
    /// its group membership must not write offsets over those of the
    /// worker that took its tasks over.
    pub fn set_fenced(&self, fenced: bool) {
        self.fenced.store(fenced, Ordering::SeqCst);
    }

    /// Waits until every offset written before the call is read.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<()> {
        self.log.read_to_end(timeout).await.map(drop)
    }
}

fn apply(offsets: &Offsets, topic: &str, record: LogRecord) {
    let (connector, partition) = match records::decode_offset_key(&record.key) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!(
                "offset topic {topic}, partition {} offset {}: {e}; the record is left alone",
                record.partition,
                record.offset
            );
            return;
        }
    };
    let partition = partition.to_string();
    let mut offsets = offsets.lock().unwrap_or_else(|e| e.into_inner());
    match record.value {
        Some(value) => match serde_json::from_slice::<serde_json::Value>(&value) {
            Ok(offset) => {
                offsets
                    .entry(connector)
                    .or_default()
                    .insert(partition, offset.to_string());
            }
            Err(e) => tracing::warn!(
                "offset topic {topic}, partition {} offset {}: the offset of connector \
                 {connector} is not JSON ({e}); the record is left alone",
                record.partition,
                record.offset
            ),
        },
        None => {
            if let Some(entry) = offsets.get_mut(&connector) {
                entry.remove(&partition);
                if entry.is_empty() {
                    offsets.remove(&connector);
                }
            }
        }
    }
}

impl OffsetStore for KafkaOffsetStore {
    fn offsets(&self, connector: &str) -> Vec<(String, String)> {
        let offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        offsets
            .get(connector)
            .map(|o| o.iter().map(|(p, o)| (p.clone(), o.clone())).collect())
            .unwrap_or_default()
    }

    /// Writes one record per change and waits until Kafka has them all;
    /// what this worker shows changes at once, the others' once they read
    /// the records.
    fn alter(&self, connector: &str, changes: &[(&str, Option<&str>)]) -> Result<()> {
        if self.fenced.load(Ordering::SeqCst) {
            bail!(
                "connector {connector}: this worker lost its group membership, so its source \
                 offsets are not written (the task may already run on another worker)"
            );
        }
        let checked = checked_changes(connector, changes)?;
        let mut keys = Vec::with_capacity(checked.len());
        for (partition, _) in &checked {
            keys.push(records::offset_key(connector, partition)?);
        }
        let records: Vec<(&[u8], Option<&[u8]>)> = checked
            .iter()
            .zip(&keys)
            .map(|((_, offset), key)| (key.as_slice(), offset.map(str::as_bytes)))
            .collect();
        // Tasks call this from their own threads, the REST API from the
        // async ones: either may wait here.
        tokio::task::block_in_place(|| self.tokio.block_on(self.log.send_all(&records)))
            .with_context(|| format!("connector {connector}: committing source offsets"))?;
        let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let entry = offsets.entry(connector.to_string()).or_default();
        for (partition, offset) in checked {
            match offset {
                Some(offset) => entry.insert(partition, offset.to_string()),
                None => entry.remove(&partition),
            };
        }
        if entry.is_empty() {
            offsets.remove(connector);
        }
        Ok(())
    }
}
