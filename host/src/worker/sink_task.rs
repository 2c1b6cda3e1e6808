//! The sink task loop: consume a batch in the group `connect-<name>`, run
//! it through the converters and transforms, put it, flush it, and commit
//! the consumer offsets only after the flush (and any dead letters) were
//! acknowledged. Partition assignment changes reach the task as open/close.
//! A record that fails is handled by the error policy alone; a plugin that
//! traps on a batch is replaced and the batch split until the record that
//! causes it is found.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::client_health::ClientHealth;
use super::dead_letter::DeadLetterProducer;
use super::error_policy::{ErrorHandler, Origin, Stage, StageFailure};
use super::pipeline::Pipeline;
use super::records::Consumed;
use super::subscription::Subscription;
use super::task::{CallError, TaskContext};
use crate::kafka;
use crate::plugin::ConnectorInstance;
use crate::runtime::bindings::types::{SinkRecord, TopicPartition};

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
    // Named topics are created if missing, so that the task waits for
    // records rather than failing on a topic its source has not written to
    // yet; a pattern takes whatever topics match, now and later.
    let topics = &ctx.connector.topics;
    let admin = kafka::admin_config(&ctx.worker);
    ctx.tokio
        .block_on(kafka::ensure_topics(&admin, topics.named(), 1, 1))?;

    let mut sink_loop = SinkLoop {
        ctx,
        sink: SinkPlugin::start(ctx)?,
        pipeline: Pipeline::new(&ctx.runtime, &ctx.connector.pipeline, ctx.pipeline_state())?,
        errors: ctx.error_handler(),
        dead_letters: DeadLetterProducer::for_task(ctx)?,
        assigned: BTreeSet::new(),
    };

    // Static membership: a worker that restarts (even after a crash) takes
    // its partitions back at once instead of waiting for the broker to
    // expire the old member's session. In a cluster the member is the task
    // itself, wherever it runs: a task moved to another worker (after a
    // rebalance or a crash) takes over the old member at once, where a
    // worker-specific id would leave the old one holding its partitions
    // for the consumer's session timeout. A standalone worker keeps its id
    // in it, so that two standalone workers running a connector of the
    // same name do not fence each other off.
    let member = match ctx.worker.distributed() {
        Some(_) => ctx.label(),
        None => format!("{}-{}", ctx.worker_id, ctx.label()),
    };
    let consumer: BaseConsumer<PartitionEvents> = kafka::sink_consumer_config(
        &ctx.worker,
        &ctx.connector,
        &[("group.instance.id", &member)],
    )
    .create_with_context(PartitionEvents {
        label: ctx.label(),
        ..PartitionEvents::default()
    })
    .context("creating the Kafka consumer")?;
    let mut subscription = Subscription::start(topics, &consumer)?;

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
        let mut health = ClientHealth::default();
        let mut run = || -> Result<()> {
            while !ctx.cancel.is_cancelled() {
                subscription.refresh(consumer)?;
                let batch = next_batch(ctx, consumer, &mut health, &mut |change| {
                    if let PartitionChange::Revoked(revoked) = &change {
                        // Their new owner resumes from the last commit.
                        flushed.retain(|(t, p), _| {
                            !revoked
                                .iter()
                                .any(|tp| tp.topic == *t && tp.partition == *p)
                        });
                    }
                    sink_loop.apply_change(change)
                })?;
                if !batch.consumed.is_empty() {
                    flushed.extend(sink_loop.deliver(batch)?);
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
    let open = sink_loop.assigned_partitions();
    let SinkPlugin { mut instance, task } = sink_loop.sink;
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
    consumed: Vec<Consumed>,
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
        self.consumed.retain(|r| !gone(&r.topic, r.partition));
    }

    /// The offset to commit per partition once the batch is flushed: the
    /// one after its last record there (records dropped by a transform or
    /// dead-lettered count as handled). Derived at the end rather than kept
    /// per record, which would allocate a key for every record.
    fn commit_offsets(&self) -> CommitOffsets {
        // A batch spans few partitions: a linear search over borrowed names
        // beats a map keyed by owned ones.
        let mut next: Vec<(&str, i32, i64)> = Vec::new();
        for record in &self.consumed {
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
/// follow them. A fatal consumer error fails the task; a transient one
/// shows in its status until the consumer works again.
fn next_batch(
    ctx: &TaskContext,
    consumer: &BaseConsumer<PartitionEvents>,
    health: &mut ClientHealth,
    on_change: &mut dyn FnMut(PartitionChange) -> Result<()>,
) -> Result<Batch> {
    if health.probe_due() {
        // An idle topic brings no record to say the broker is back.
        match consumer.fetch_metadata(None, FIRST_RECORD_WAIT * 10) {
            Ok(_) => health.progress(ctx, "consumer"),
            Err(e) => health.still_failing(ctx, "consumer", &e),
        }
    }
    let mut batch = Batch::default();
    let mut deadline: Option<Instant> = None;
    while batch.consumed.len() < MAX_BATCH_RECORDS {
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
                health.error(ctx, "consumer", &e)?;
                break;
            }
            Some(Ok(message)) => {
                if deadline.is_none() {
                    // A batch's first record says the consumer works.
                    health.progress(ctx, "consumer");
                }
                deadline.get_or_insert_with(|| Instant::now() + BATCH_LINGER);
                let headers = message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                batch.consumed.push(Consumed {
                    topic: message.topic().to_string(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key().map(<[u8]>::to_vec),
                    value: message.payload().map(<[u8]>::to_vec),
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

/// The sink plugin instance and its task resource.
struct SinkPlugin {
    instance: ConnectorInstance,
    task: wasmtime::component::ResourceAny,
}

impl SinkPlugin {
    fn start(ctx: &TaskContext) -> Result<Self> {
        let mut instance = ctx.instantiate()?;
        let task = ctx.call("start", || instance.start_sink_task(&ctx.task_config))?;
        Ok(SinkPlugin { instance, task })
    }
}

/// Everything between a consumed batch and its commit.
struct SinkLoop<'a> {
    ctx: &'a TaskContext,
    sink: SinkPlugin,
    pipeline: Pipeline,
    errors: ErrorHandler,
    dead_letters: Option<DeadLetterProducer>,
    /// The partitions this task owns, opened in the plugin.
    assigned: BTreeSet<(String, i32)>,
}

impl SinkLoop<'_> {
    /// Converts and transforms the batch, puts and flushes what survives,
    /// hands what failed to the error policy, waits for the dead letters,
    /// and returns the offsets to commit.
    fn deliver(&mut self, batch: Batch) -> Result<CommitOffsets> {
        let outcomes = self.pipeline.sink_records(&batch.consumed)?;
        let mut records = Vec::with_capacity(outcomes.len());
        let mut origins = Vec::with_capacity(outcomes.len());
        for (index, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(Some(record)) => {
                    records.push(record);
                    origins.push(index);
                }
                // Dropped by a transform (a filter): handled.
                Ok(None) => {}
                Err(failure) => self.reject(&batch.consumed[index], &failure)?,
            }
        }
        self.put_durably(&batch.consumed, &records, &origins)?;
        if let Some(dead_letters) = &self.dead_letters {
            dead_letters.flush(self.ctx.worker.task_shutdown_timeout)?;
        }
        let offsets = batch.commit_offsets();
        self.ctx.topics.record(
            &self.ctx.connector.name,
            self.ctx.task_id,
            offsets.keys().map(|(topic, _)| topic.as_str()),
        );
        tracing::debug!(
            "{}: flushed {} records up to {offsets:?}",
            self.ctx.label(),
            records.len()
        );
        Ok(offsets)
    }

    /// Applies the error policy to one consumed record.
    fn reject(&mut self, consumed: &Consumed, failure: &StageFailure) -> Result<()> {
        if let Some(letter) = self.errors.handle(Origin::Consumed(consumed), failure)? {
            let producer = self
                .dead_letters
                .as_ref()
                .expect("a dead-letter queue is configured when the policy writes letters");
            producer.send(letter)?;
        }
        Ok(())
    }

    /// Puts `records` and flushes them. A record the plugin rejects (an
    /// error naming it) goes to the error policy: the records before it
    /// were accepted and are flushed (or, when the error was retriable and
    /// ran out of `errors.retry.timeout`, put again on their own), the
    /// ones after it are put again. A
    /// trap kills the instance: a fresh one takes over and the records are
    /// split in halves, each put and flushed on its own, until the record
    /// that traps is alone. A trap on one of the task's limits fails the
    /// task instead: it is not any one record's fault.
    fn put_durably(
        &mut self,
        consumed: &[Consumed],
        records: &[SinkRecord],
        origins: &[usize],
    ) -> Result<()> {
        let ctx = self.ctx;
        let mut start = 0;
        while start < records.len() {
            let slice = &records[start..];
            let SinkPlugin { instance, task } = &mut self.sink;
            let task = *task;
            let outcome = ctx
                .try_call("put", || instance.put(task, slice))
                .and_then(|()| ctx.try_call("flush", || instance.flush(task)));
            match outcome {
                Ok(()) => return Ok(()),
                Err(CallError::Failed {
                    message,
                    record: Some(index),
                    retriable,
                }) if (index as usize) < slice.len() => {
                    let index = index as usize;
                    if retriable {
                        // Nothing was accepted: put the records before the
                        // named one again, on their own.
                        self.put_durably(
                            consumed,
                            &slice[..index],
                            &origins[start..start + index],
                        )?;
                    } else if index > 0 {
                        ctx.call("flush", || instance.flush(task))?;
                    }
                    let failure = StageFailure {
                        stage: Stage::TaskPut,
                        class: ctx.connector.class.clone(),
                        message,
                        trapped: false,
                    };
                    self.reject(&consumed[origins[start + index]], &failure)?;
                    start += index + 1;
                }
                Err(CallError::Failed {
                    message, record, ..
                }) => {
                    let named = record
                        .map(|i| format!(" (it named record {i} of a batch of {})", slice.len()))
                        .unwrap_or_default();
                    anyhow::bail!(
                        "put failed in plugin {}: {message}{named}",
                        ctx.plugin.metadata.name
                    );
                }
                Err(CallError::LimitExceeded(trap)) => anyhow::bail!(
                    "the plugin {} trapped in put: {trap}",
                    ctx.plugin.metadata.name
                ),
                Err(CallError::Trapped(trap)) => {
                    tracing::warn!(
                        "{}: the plugin trapped on a batch of {} records; isolating the record that causes it: {trap}",
                        ctx.label(),
                        slice.len()
                    );
                    self.restart_plugin()?;
                    let origins = &origins[start..];
                    if slice.len() == 1 {
                        let failure = StageFailure {
                            stage: Stage::TaskPut,
                            class: ctx.connector.class.clone(),
                            message: format!("the connector trapped: {trap}"),
                            trapped: true,
                        };
                        return self.reject(&consumed[origins[0]], &failure);
                    }
                    let middle = slice.len() / 2;
                    self.put_durably(consumed, &slice[..middle], &origins[..middle])?;
                    return self.put_durably(consumed, &slice[middle..], &origins[middle..]);
                }
            }
        }
        Ok(())
    }

    /// The partitions assigned to this task, as the plugin names them.
    fn assigned_partitions(&self) -> Vec<TopicPartition> {
        self.assigned
            .iter()
            .map(|(topic, partition)| TopicPartition {
                topic: topic.clone(),
                partition: *partition,
            })
            .collect()
    }

    /// Replaces a trapped plugin instance (never reused) with a fresh one
    /// that owns the same partitions.
    fn restart_plugin(&mut self) -> Result<()> {
        self.sink = SinkPlugin::start(self.ctx)?;
        if !self.assigned.is_empty() {
            let partitions = self.assigned_partitions();
            let SinkPlugin { instance, task } = &mut self.sink;
            let task = *task;
            self.ctx.call("open", || instance.open(task, &partitions))?;
        }
        Ok(())
    }

    fn apply_change(&mut self, change: PartitionChange) -> Result<()> {
        let ctx = self.ctx;
        let SinkPlugin { instance, task } = &mut self.sink;
        let task = *task;
        match change {
            PartitionChange::Assigned(partitions) => {
                tracing::info!("{}: assigned {}", ctx.label(), describe(&partitions));
                self.assigned
                    .extend(partitions.iter().map(|tp| (tp.topic.clone(), tp.partition)));
                ctx.call("open", || instance.open(task, &partitions))
            }
            PartitionChange::Revoked(partitions) => {
                tracing::info!("{}: revoked {}", ctx.label(), describe(&partitions));
                for tp in &partitions {
                    self.assigned.remove(&(tp.topic.clone(), tp.partition));
                }
                ctx.call("close", || instance.close(task, &partitions))
            }
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
    /// The task's name, for the client's own errors.
    label: String,
    errors: kafka::ClientErrorLog,
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

impl ClientContext for PartitionEvents {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.errors
            .log(&format!("{}: Kafka consumer", self.label), &error, reason);
    }
}

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
