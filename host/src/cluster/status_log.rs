//! The distributed status store (`status.storage.topic`): each worker
//! writes the states of the connectors and tasks it runs, in Kafka
//! Connect's records, and reads everyone's, so that any worker answers
//! `GET /connectors/{name}/status` for the whole cluster.

use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::ClientConfig;
use tokio::sync::mpsc;

use super::kafka_log::{KafkaLog, LogRecord};
use super::records::StatusRecord;

/// What the owner does with each status read (its own included).
pub type OnStatus = Box<dyn FnMut(StatusRecord) + Send>;

pub struct StatusLog {
    log: std::sync::Arc<KafkaLog>,
    /// Statuses to write, in the order they changed; one writer sends
    /// them, so a task's FAILED never lands before the RUNNING it follows.
    outbox: mpsc::UnboundedSender<StatusRecord>,
}

impl StatusLog {
    /// Starts reading the status topic, waits until what is there has been
    /// read, and starts the writer.
    pub async fn open(
        consumer: &ClientConfig,
        producer: &ClientConfig,
        topic: &str,
        read_timeout: Duration,
        mut on_status: OnStatus,
    ) -> Result<Self> {
        let apply = {
            let topic = topic.to_string();
            move |record: LogRecord| match StatusRecord::decode(
                &record.key,
                record.value.as_deref(),
            ) {
                Ok(status) => on_status(status),
                Err(e) => tracing::warn!(
                    "status topic {topic}, partition {} offset {}: {e}; the record is skipped",
                    record.partition,
                    record.offset
                ),
            }
        };
        let log = std::sync::Arc::new(KafkaLog::start(consumer, producer, topic, Box::new(apply))?);
        log.read_to_end(read_timeout)
            .await
            .with_context(|| format!("status.storage.topic: reading {topic}"))?;
        let (outbox, mut pending) = mpsc::unbounded_channel::<StatusRecord>();
        let writer = std::sync::Arc::clone(&log);
        tokio::spawn(async move {
            while let Some(first) = pending.recv().await {
                let mut batch = vec![first];
                while let Ok(next) = pending.try_recv() {
                    batch.push(next);
                }
                let encoded: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                    batch.iter().map(StatusRecord::encode).collect();
                let records: Vec<(&[u8], Option<&[u8]>)> = encoded
                    .iter()
                    .map(|(k, v)| (k.as_slice(), v.as_deref()))
                    .collect();
                // A status that cannot be written is logged, never retried
                // out of order: the next change of the same task supersedes
                // it anyway.
                if let Err(e) = writer.send_all(&records).await {
                    tracing::warn!("writing {} status record(s): {e:#}", records.len());
                }
            }
        });
        Ok(StatusLog { log, outbox })
    }

    /// Queues a status to be written.
    pub fn publish(&self, status: StatusRecord) {
        // The writer lives as long as the runtime; after shutdown there is
        // nobody left to tell.
        let _ = self.outbox.send(status);
    }

    /// Waits until every status written before the call has been read.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<()> {
        self.log.read_to_end(timeout).await.map(drop)
    }
}
