//! The distributed config store (`config.storage.topic`): connectors'
//! configurations, target states, task configurations and restart
//! requests, in Kafka Connect's records, read by every worker and written
//! by the leader. What a worker knows of the cluster's connectors is the
//! snapshot of what it has read; its owner is woken after each record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use rdkafka::ClientConfig;
use tokio::sync::watch;

use super::kafka_log::{KafkaLog, LogRecord};
use super::records::{ConfigRecord, ConfigSnapshot};
use crate::config::store::TargetState;

/// The latest restart request of a connector (`restart-connector-<c>`):
/// an event, so the workers tell one from the next by its offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartRequest {
    pub offset: i64,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// What has been read of the topic.
#[derive(Default)]
struct Read {
    snapshot: ConfigSnapshot,
    restarts: BTreeMap<String, RestartRequest>,
}

pub struct ConfigLog {
    log: KafkaLog,
    read: Arc<Mutex<Read>>,
    /// The offset of the last record applied; changes wake the herder.
    applied: watch::Receiver<i64>,
}

impl ConfigLog {
    /// Starts reading the config topic and waits until what is there has
    /// been read.
    pub async fn open(
        consumer: &ClientConfig,
        producer: &ClientConfig,
        topic: &str,
        read_timeout: Duration,
    ) -> Result<Self> {
        let read: Arc<Mutex<Read>> = Default::default();
        let (applied_tx, applied) = watch::channel(-1);
        let apply = {
            let read = Arc::clone(&read);
            let topic = topic.to_string();
            move |record: LogRecord| {
                match ConfigRecord::decode(&record.key, record.value.as_deref()) {
                    Ok(decoded) => {
                        let mut read = read.lock().unwrap_or_else(|e| e.into_inner());
                        match &decoded {
                            ConfigRecord::Restart {
                                connector,
                                include_tasks,
                                only_failed,
                            } => {
                                read.restarts.insert(
                                    connector.clone(),
                                    RestartRequest {
                                        offset: record.offset,
                                        include_tasks: *include_tasks,
                                        only_failed: *only_failed,
                                    },
                                );
                            }
                            ConfigRecord::ConnectorConfig {
                                connector,
                                config: None,
                            } => {
                                read.restarts.remove(connector);
                            }
                            _ => {}
                        }
                        read.snapshot.apply(record.offset, decoded);
                    }
                    // Kafka Connect logs and skips what it cannot read too:
                    // one bad record must not stop the cluster from
                    // reading the ones after it.
                    Err(e) => tracing::error!(
                        "config topic {topic}, offset {}: {e}; the record is skipped",
                        record.offset
                    ),
                }
                applied_tx.send_replace(record.offset);
            }
        };
        let log = KafkaLog::start(consumer, producer, topic, Box::new(apply))?;
        log.read_to_end(read_timeout)
            .await
            .with_context(|| format!("config.storage.topic: reading {topic}"))?;
        Ok(ConfigLog { log, read, applied })
    }

    /// What this worker has read so far.
    pub fn snapshot(&self) -> ConfigSnapshot {
        self.lock().snapshot.clone()
    }

    /// The latest restart request of each connector.
    pub fn restarts(&self) -> BTreeMap<String, RestartRequest> {
        self.lock().restarts.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Read> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The offset of the last record read (-1 before the first).
    pub fn offset(&self) -> i64 {
        *self.applied.borrow()
    }

    /// A receiver that changes after every record read.
    pub fn changes(&self) -> watch::Receiver<i64> {
        self.applied.clone()
    }

    /// Waits until everything written before the call has been read, and
    /// returns the offset reached.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<i64> {
        self.log.read_to_end(timeout).await?;
        Ok(self.offset())
    }

    /// Waits until the record at `offset` (the leader's position at the
    /// last rebalance) has been read.
    pub async fn read_to(&self, offset: i64, timeout: Duration) -> Result<()> {
        let mut changes = self.changes();
        tokio::time::timeout(timeout, changes.wait_for(|read| *read >= offset))
            .await
            .with_context(|| {
                format!(
                    "the config topic was not read up to offset {offset} within {} ms",
                    timeout.as_millis()
                )
            })?
            .context("the config topic reader stopped")?;
        Ok(())
    }

    /// Writes a connector's configuration (`None` deletes the connector).
    pub async fn put_connector(
        &self,
        connector: &str,
        config: Option<BTreeMap<String, String>>,
    ) -> Result<()> {
        self.write(&[ConfigRecord::ConnectorConfig {
            connector: connector.to_string(),
            config,
        }])
        .await
    }

    /// Writes a connector's target state (`None` with its deletion).
    pub async fn put_target_state(
        &self,
        connector: &str,
        state: Option<TargetState>,
    ) -> Result<()> {
        self.write(&[ConfigRecord::TargetState {
            connector: connector.to_string(),
            state,
        }])
        .await
    }

    /// Writes a connector's task configurations and then the commit that
    /// makes them visible together, as Kafka Connect does.
    pub async fn put_task_configs(
        &self,
        connector: &str,
        tasks: Vec<BTreeMap<String, String>>,
    ) -> Result<()> {
        let count = tasks.len() as u32;
        let mut records: Vec<ConfigRecord> = tasks
            .into_iter()
            .enumerate()
            .map(|(task, config)| ConfigRecord::TaskConfig {
                connector: connector.to_string(),
                task: task as u32,
                config,
            })
            .collect();
        records.push(ConfigRecord::Commit {
            connector: connector.to_string(),
            tasks: count,
        });
        self.write(&records).await
    }

    /// Asks the workers running a connector to restart it.
    pub async fn request_restart(
        &self,
        connector: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<()> {
        self.write(&[ConfigRecord::Restart {
            connector: connector.to_string(),
            include_tasks,
            only_failed,
        }])
        .await
    }

    async fn write(&self, records: &[ConfigRecord]) -> Result<()> {
        let encoded: Vec<(Vec<u8>, Option<Vec<u8>>)> =
            records.iter().map(ConfigRecord::encode).collect();
        let borrowed: Vec<(&[u8], Option<&[u8]>)> = encoded
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref()))
            .collect();
        self.log
            .send_all(&borrowed)
            .await
            .with_context(|| format!("config.storage.topic: writing to {}", self.log.topic()))
    }
}
