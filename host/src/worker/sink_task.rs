//! The sink task loop: consume a batch in the group `connect-<name>`, put
//! it, flush it, and commit the consumer offsets only after the flush
//! succeeded. Partition assignment changes reach the task as open/close.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::TaskContext;
use super::convert;
use crate::kafka;
use crate::runtime::bindings::types::{Header, SinkRecord, TopicPartition};

/// The most records handed to one `put`.
pub const MAX_BATCH_RECORDS: usize = 5000;
/// How long to wait for the first record of a batch.
const FIRST_RECORD_WAIT: Duration = Duration::from_millis(100);
/// How long a batch may keep filling after its first record. Without it a
/// batch ends whenever the consumer's local queue is momentarily empty, and
/// small batches cost a plugin call, a flush and a commit each.
const BATCH_LINGER: Duration = Duration::from_millis(50);

/// Runs a sink task until it is cancelled or fails; the error is the
/// task's trace.
pub fn run(ctx: &TaskContext) -> Result<()> {
    let topics = &ctx.connector.topics;
    let admin = kafka::client_config(&ctx.worker.bootstrap_servers, &[], [&ctx.worker.admin]);
    ctx.tokio
        .block_on(kafka::ensure_topics(&admin, topics, 1, 1))?;

    let mut instance = ctx.instantiate()?;
    let task = ctx.call("start", || instance.start_sink_task(&ctx.task_config))?;

    // Static membership: a worker that restarts (even after a crash) takes
    // its partitions back at once instead of waiting for the broker to
    // expire the old member's session.
    let member = format!("{}-{}", ctx.worker_id, ctx.label());
    let consumer: BaseConsumer<PartitionEvents> = kafka::sink_consumer_config(
        &ctx.worker,
        &ctx.connector,
        &[("group.instance.id", &member)],
    )
    .create_with_context(PartitionEvents::default())
    .context("creating the Kafka consumer")?;
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer
        .subscribe(&topic_refs)
        .with_context(|| format!("subscribing to {topics:?}"))?;

    let mut assigned: BTreeSet<(String, i32)> = BTreeSet::new();
    // Offset commits run on a thread of their own, so the broker's round
    // trip overlaps the next batch instead of stalling the loop. Offsets of
    // flushed batches are handed over every `offset.flush.interval.ms` (0:
    // after every batch), and only once the previous commit finished.
    let interval = ctx.worker.offset_flush_interval;
    let outcome = std::thread::scope(|scope| {
        let (to_committer, commits) = std::sync::mpsc::sync_channel::<TopicPartitionList>(0);
        let consumer = &consumer;
        let label = ctx.label();
        scope.spawn(move || {
            for offsets in commits {
                if let Err(e) = consumer.commit(&offsets, CommitMode::Sync) {
                    // The records are flushed; a lost commit only means they
                    // may be delivered again (at-least-once), for example
                    // after a rebalance.
                    tracing::warn!("{label}: committing offsets after a flush failed: {e}");
                }
            }
        });
        let mut flushed = CommitOffsets::new();
        let mut last_commit = Instant::now();
        let mut hand_over = |flushed: &mut CommitOffsets, now: bool| -> Result<()> {
            if !now && last_commit.elapsed() < interval {
                return Ok(());
            }
            last_commit = Instant::now();
            if flushed.is_empty() {
                return Ok(());
            }
            let mut offsets = TopicPartitionList::new();
            for ((topic, partition), offset) in std::mem::take(flushed) {
                offsets.add_partition_offset(&topic, partition, Offset::Offset(offset))?;
            }
            to_committer
                .send(offsets)
                .map_err(|_| anyhow::anyhow!("the offset committer stopped"))
        };
        let mut run = || -> Result<()> {
            while !ctx.cancel.is_cancelled() {
                let batch = next_batch(consumer, &mut |change| {
                    if let PartitionChange::Revoked(revoked) = &change {
                        // Their new owner resumes from the last commit.
                        flushed.retain(|(t, p), _| {
                            !revoked
                                .iter()
                                .any(|tp| tp.topic == *t && tp.partition == *p)
                        });
                    }
                    apply_change(ctx, &mut instance, task, &mut assigned, change)
                })?;
                if !batch.records.is_empty() {
                    flushed.extend(deliver(ctx, &mut instance, task, batch)?);
                }
                hand_over(&mut flushed, false)?;
            }
            Ok(())
        };
        let outcome = run();
        // What was flushed is committed even when the loop failed; dropping
        // the sender then ends the committer after its last commit.
        outcome.and(hand_over(&mut flushed, true))
    });
    let open: Vec<TopicPartition> = assigned
        .iter()
        .map(|(topic, partition)| TopicPartition {
            topic: topic.clone(),
            partition: *partition,
        })
        .collect();
    let closed = if open.is_empty() {
        Ok(())
    } else {
        ctx.call("close", || instance.close(task, &open))
    };
    let stopped = ctx.call("stop", || instance.stop_sink_task(task));
    consumer.unsubscribe();
    outcome.and(closed).and(stopped)
}

/// Records consumed for one `put`.
#[derive(Default)]
struct Batch {
    records: Vec<SinkRecord>,
}

impl Batch {
    /// Drops what was buffered for partitions this task no longer owns;
    /// their new owner reads them from the last committed offset.
    fn forget(&mut self, revoked: &[TopicPartition]) {
        let gone = |topic: &str, partition: i32| {
            revoked
                .iter()
                .any(|tp| tp.topic == topic && tp.partition == partition)
        };
        self.records.retain(|r| !gone(&r.topic, r.partition));
    }

    /// The offset to commit per partition once the batch is flushed: the
    /// one after its last record there. Derived at the end rather than kept
    /// per record, which would allocate a key for every record.
    fn commit_offsets(&self) -> CommitOffsets {
        // A batch spans few partitions: a linear search over borrowed names
        // beats a map keyed by owned ones.
        let mut next: Vec<(&str, i32, i64)> = Vec::new();
        for record in &self.records {
            let key = (record.topic.as_str(), record.partition);
            match next.iter_mut().find(|(t, p, _)| (*t, *p) == key) {
                Some(entry) => entry.2 = entry.2.max(record.offset + 1),
                None => next.push((key.0, key.1, record.offset + 1)),
            }
        }
        next.into_iter()
            .map(|(topic, partition, offset)| ((topic.to_string(), partition), offset))
            .collect()
    }
}

/// Polls until `MAX_BATCH_RECORDS` records, or until `BATCH_LINGER` after
/// the first record, or until no record comes in `FIRST_RECORD_WAIT`.
/// Assignment changes are applied as they happen, before the records that
/// follow them.
fn next_batch(
    consumer: &BaseConsumer<PartitionEvents>,
    on_change: &mut dyn FnMut(PartitionChange) -> Result<()>,
) -> Result<Batch> {
    let mut batch = Batch::default();
    let mut deadline: Option<Instant> = None;
    while batch.records.len() < MAX_BATCH_RECORDS {
        let wait = match deadline {
            None => FIRST_RECORD_WAIT,
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
        };
        let polled = consumer.poll(wait);
        for change in consumer.context().take() {
            if let PartitionChange::Revoked(revoked) = &change {
                batch.forget(revoked);
            }
            on_change(change)?;
        }
        match polled {
            None => break,
            Some(Err(e)) => {
                // Transport and coordinator errors are transient: the
                // consumer recovers by itself.
                tracing::warn!("consumer: {e}");
                break;
            }
            Some(Ok(message)) => {
                deadline.get_or_insert_with(|| Instant::now() + BATCH_LINGER);
                let headers = message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| Header {
                                key: h.key.to_string(),
                                value: convert::from_bytes(h.value),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                batch.records.push(SinkRecord {
                    topic: message.topic().to_string(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: convert::from_bytes(message.key()),
                    value: convert::from_bytes(message.payload()),
                    headers,
                    timestamp: message.timestamp().to_millis(),
                });
            }
        }
    }
    Ok(batch)
}

/// The offset to commit per partition: the one after the last flushed record.
type CommitOffsets = BTreeMap<(String, i32), i64>;

/// put, then flush; returns the offsets to commit, now that the records
/// are durable.
fn deliver(
    ctx: &TaskContext,
    instance: &mut crate::plugin::ConnectorInstance,
    task: wasmtime::component::ResourceAny,
    batch: Batch,
) -> Result<CommitOffsets> {
    let records = &batch.records;
    ctx.call_with_records("put", records, || instance.put(task, records))?;
    ctx.call("flush", || instance.flush(task))?;
    let offsets = batch.commit_offsets();
    ctx.topics.record(
        &ctx.connector.name,
        offsets.keys().map(|(topic, _)| topic.as_str()),
    );
    tracing::debug!(
        "{}: flushed {} records up to {offsets:?}",
        ctx.label(),
        records.len()
    );
    Ok(offsets)
}

fn apply_change(
    ctx: &TaskContext,
    instance: &mut crate::plugin::ConnectorInstance,
    task: wasmtime::component::ResourceAny,
    assigned: &mut BTreeSet<(String, i32)>,
    change: PartitionChange,
) -> Result<()> {
    match change {
        PartitionChange::Assigned(partitions) => {
            tracing::info!("{}: assigned {}", ctx.label(), describe(&partitions));
            assigned.extend(partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)));
            ctx.call("open", || instance.open(task, &partitions))
        }
        PartitionChange::Revoked(partitions) => {
            tracing::info!("{}: revoked {}", ctx.label(), describe(&partitions));
            for tp in &partitions {
                assigned.remove(&(tp.topic.clone(), tp.partition));
            }
            ctx.call("close", || instance.close(task, &partitions))
        }
    }
}

fn describe(partitions: &[TopicPartition]) -> String {
    let names: Vec<String> = partitions
        .iter()
        .map(|tp| format!("{}-{}", tp.topic, tp.partition))
        .collect();
    names.join(", ")
}

/// A change of the partitions assigned to this task.
enum PartitionChange {
    Assigned(Vec<TopicPartition>),
    Revoked(Vec<TopicPartition>),
}

/// The consumer context: rebalance callbacks run inside `poll`, where the
/// plugin cannot be reached, so they queue changes for the loop to apply.
#[derive(Default)]
struct PartitionEvents {
    changes: Mutex<Vec<PartitionChange>>,
}

impl PartitionEvents {
    fn take(&self) -> Vec<PartitionChange> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn push(&self, change: PartitionChange) {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(change);
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<TopicPartition> {
    list.elements()
        .iter()
        .map(|e| TopicPartition {
            topic: e.topic().to_string(),
            partition: e.partition(),
        })
        .collect()
}

impl ClientContext for PartitionEvents {}

impl ConsumerContext for PartitionEvents {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            self.push(PartitionChange::Revoked(partitions(list)));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => self.push(PartitionChange::Assigned(partitions(list))),
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!("rebalance error: {e}"),
        }
    }
}
