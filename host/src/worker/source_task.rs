//! The source task loop: poll the plugin for a batch, run it through the
//! transforms and converters, produce it, and persist the batch's source
//! offsets only once Kafka has acknowledged every record of it (dead
//! letters included) and of every batch before it.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use tokio_util::sync::CancellationToken;

use super::acks::{AckContext, Acks};
use super::dead_letter;
use super::error_policy::{DeadLetter, ErrorHandler, Origin, Stage, StageFailure};
use super::pipeline::Pipeline;
use super::records::{self, Serialized};
use super::task::TaskContext;
use crate::config::topic_creation::NewTopicSettings;
use crate::kafka;
use crate::offsets::ConnectorOffsets;
use crate::runtime::bindings::types::{
    BatchData, BatchSchema, BatchStructured, SourceBatch, SourceRecord,
};

/// At most this many polled batches wait for Kafka's acknowledgement at
/// once. It bounds memory, and it bounds what a crash can duplicate: only
/// records of unacknowledged batches are produced again after a restart.
pub const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// The most records asked of one poll; the plugin may return fewer.
const MAX_POLL_RECORDS: u32 = 10_000;
/// How long to wait before polling again after an empty batch, at most.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(100);
/// librdkafka's `message.max.bytes` when neither the worker's `producer.*`
/// nor the connector's `producer.override.*` sets it.
const DEFAULT_MESSAGE_MAX_BYTES: usize = 1_000_000;
/// Batches polled ahead of the one being sent: one waits while the next is
/// polled, so at most two batches beyond those in flight are in memory.
const POLLED_AHEAD: usize = 1;

/// Runs a source task until it is cancelled or fails; the error is the
/// task's trace.
pub fn run(ctx: &TaskContext) -> Result<()> {
    let mut instance = ctx.instantiate()?;
    let stored = ctx.offsets.offsets(&ctx.connector.name);
    let task = ctx.call("start", || {
        instance.start_source_task(&ctx.task_config, &stored)
    })?;
    let acks = Arc::new(Acks::default());
    let producer: ThreadedProducer<AckContext> = kafka::client_config(
        &ctx.worker.bootstrap_servers,
        kafka::PRODUCER_DEFAULTS,
        [&ctx.worker.producer, &ctx.connector.producer_overrides],
    )
    .create_with_context(AckContext {
        acks: Arc::clone(&acks),
        label: ctx.label(),
        errors: Default::default(),
    })
    .map_err(|e| anyhow::anyhow!("creating the Kafka producer: {e}"))?;
    if let Some(queue) = &ctx.connector.pipeline.errors.dead_letter {
        dead_letter::ensure_topic(ctx, &queue.topic, queue.replication_factor)?;
    }
    let mut loop_state = SourceLoop {
        ctx,
        acks,
        producer,
        pipeline: Pipeline::new(&ctx.runtime, &ctx.connector.pipeline, ctx.pipeline_state())?,
        errors: ctx.error_handler(),
        known_topics: HashSet::new(),
        next_seq: 0,
        last_offset_flush: Instant::now(),
        message_max_bytes: message_max_bytes(ctx)?,
    };
    // The plugin polls the next batch on a thread of its own while this one
    // converts and produces the last: the two halves of a batch's work run
    // on two cores instead of taking turns on one.
    let stop_polling = ctx.cancel.child_token();
    let (batches, polled) = mpsc::sync_channel(POLLED_AHEAD);
    let outcome = std::thread::scope(|scope| {
        let poller = std::thread::Builder::new()
            .name(format!("{}-poll", ctx.label()))
            .spawn_scoped(scope, || {
                // Host capabilities (SQL, sockets) run on the worker's
                // runtime, as from the task's own thread.
                let _runtime = ctx.tokio.enter();
                poll_ahead(
                    |max| ctx.call("poll", || instance.poll(task, max)),
                    &stop_polling,
                    batches,
                    &ctx.label(),
                )
            })
            .map_err(|e| anyhow::anyhow!("starting the source task's poll thread: {e}"))?;
        let outcome = loop_state.run(&polled);
        // The poller stops at its next batch (or idle wait) and hands the
        // plugin instance back for commit and stop.
        stop_polling.cancel();
        drop(polled);
        poller
            .join()
            .map_err(|_| anyhow::anyhow!("the source task's poll thread panicked"))?;
        outcome
    });
    // Whatever happened, persist what Kafka acknowledged before stopping.
    let flushed = loop_state.drain(ctx.worker.task_shutdown_timeout);
    let committed = loop_state.persist_offsets(|offsets: &[(String, String)]| {
        ctx.call("commit", || instance.commit(task, offsets))
    });
    let stopped = ctx.call("stop", || instance.stop_source_task(task));
    outcome.and(flushed).and(committed).and(stopped)
}

struct SourceLoop<'a> {
    ctx: &'a TaskContext,
    acks: Arc<Acks>,
    producer: ThreadedProducer<AckContext>,
    pipeline: Pipeline,
    errors: ErrorHandler,
    known_topics: HashSet<String>,
    next_seq: u64,
    last_offset_flush: Instant,
    /// The producer's `message.max.bytes`: a larger record goes to the
    /// error policy instead of failing the task at the producer.
    message_max_bytes: usize,
}

/// The `message.max.bytes` the task's producer runs with.
fn message_max_bytes(ctx: &TaskContext) -> Result<usize> {
    let key = "message.max.bytes";
    match ctx
        .connector
        .producer_overrides
        .get(key)
        .or_else(|| ctx.worker.producer.get(key))
    {
        None => Ok(DEFAULT_MESSAGE_MAX_BYTES),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("producer {key} \"{value}\" is not a number of bytes")),
    }
}

/// Polls the plugin until `stop` or a failed poll, handing each non-empty
/// batch (or the failure) to `batches`; an empty poll waits before the next,
/// longer each time up to `MAX_IDLE_WAIT`.
fn poll_ahead(
    mut poll: impl FnMut(u32) -> Result<SourceBatch>,
    stop: &CancellationToken,
    batches: SyncSender<Result<SourceBatch>>,
    label: &str,
) {
    let mut idle = Duration::from_millis(1);
    while !stop.is_cancelled() {
        // A connector that returns more than it was asked for breaks the
        // bound on what a task holds in memory: it fails the task, by name,
        // before its batch is converted or produced.
        let polled = poll(MAX_POLL_RECORDS).and_then(|batch| {
            if batch.records.len() > MAX_POLL_RECORDS as usize {
                bail!(
                    "the connector returned {} records to a poll that asked for at most {}",
                    batch.records.len(),
                    MAX_POLL_RECORDS
                );
            }
            Ok(batch)
        });
        let batch = match polled {
            Ok(batch) => batch,
            Err(e) => {
                // The loop ends the task with this error as its trace; if
                // the loop has already ended for another reason, the error
                // still reaches the log.
                if let Err(mpsc::SendError(Err(e))) = batches.send(Err(e)) {
                    tracing::warn!("{label}: poll failed while the task was stopping: {e:#}");
                }
                return;
            }
        };
        if batch.records.is_empty() {
            std::thread::sleep(idle);
            idle = (idle * 2).min(MAX_IDLE_WAIT);
            continue;
        }
        idle = Duration::from_millis(1);
        if batches.send(Ok(batch)).is_err() {
            // The loop has ended: this batch's records were never produced,
            // so its offsets are not committed and a restart reads it again.
            return;
        }
    }
}

impl SourceLoop<'_> {
    /// Sends each polled batch until the task is cancelled, a batch fails,
    /// or the poller ends.
    fn run(&mut self, polled: &Receiver<Result<SourceBatch>>) -> Result<()> {
        while !self.ctx.cancel.is_cancelled() {
            self.acks
                .wait_for_room(MAX_BATCHES_IN_FLIGHT, &self.ctx.cancel)?;
            if self.last_offset_flush.elapsed() >= self.ctx.worker.offset_flush_interval {
                self.persist_offsets(|_| Ok(()))?;
            }
            match polled.recv_timeout(MAX_IDLE_WAIT) {
                Ok(batch) => self.send(batch?)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        Ok(())
    }

    /// Transforms and converts a batch, hands failed records to the error
    /// policy, registers the batch with the acknowledgement tracker and
    /// gives every record (and dead letter) to the producer.
    fn send(&mut self, batch: SourceBatch) -> Result<()> {
        let SourceBatch {
            schemas,
            partitions,
            mut records,
        } = batch;
        let offsets = batch_offsets(&partitions, &records)?;
        check_schema_refs(&schemas, &records)?;
        let outcomes = self.pipeline.source_records(&schemas, &mut records)?;
        let mut outgoing: Vec<Serialized> = Vec::with_capacity(outcomes.len());
        let mut letters = Vec::new();
        let max = self.message_max_bytes;
        for (index, outcome) in outcomes.into_iter().enumerate() {
            // A record the producer would refuse is the record's failure,
            // for the error policy, not the task's.
            let outcome = match outcome {
                Ok(Some(record)) if record.wire_size() > max => Err(StageFailure {
                    stage: Stage::KafkaProduce,
                    class: "org.apache.kafka.clients.producer.KafkaProducer".into(),
                    message: format!(
                        "the record is {} bytes, more than the producer's message.max.bytes \
                         ({max}); a dead letter of it carries its value only if that fits",
                        record.wire_size()
                    ),
                    trapped: false,
                }),
                other => other,
            };
            match outcome {
                Ok(Some(record)) => outgoing.push(record),
                Ok(None) => {}
                Err(failure) => {
                    let record = &records[index];
                    let source_partition = record
                        .position
                        .as_ref()
                        .and_then(|p| partitions.get(p.partition as usize))
                        .map(String::as_str);
                    let origin = Origin::Source {
                        record,
                        source_partition,
                    };
                    if let Some(mut letter) = self.errors.handle(origin, &failure)? {
                        // The dead-letter topic has the same limit: what
                        // does not fit is left out, as its headers say.
                        let size = |l: &DeadLetter| {
                            records::wire_size(l.key.as_deref(), l.value.as_deref(), &l.headers)
                        };
                        if size(&letter) > max {
                            letter.value = None;
                        }
                        if size(&letter) > max {
                            letter.key = None;
                        }
                        letters.push(letter);
                    }
                }
            }
        }
        self.ensure_topics(&outgoing)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.acks
            .register(seq, outgoing.len() + letters.len(), offsets);
        for record in outgoing {
            self.produce(seq, record)?;
        }
        for letter in letters {
            self.produce(
                seq,
                Serialized {
                    topic: letter.topic,
                    partition: None,
                    key: letter.key,
                    value: letter.value,
                    headers: letter.headers,
                    timestamp: None,
                },
            )?;
        }
        Ok(())
    }

    fn produce(&self, seq: u64, record: Serialized) -> Result<()> {
        let mut base: BaseRecord<'_, [u8], [u8], usize> =
            BaseRecord::with_opaque_to(&record.topic, seq as usize);
        base.partition = record.partition;
        base.key = record.key.as_deref();
        base.payload = record.value.as_deref();
        base.timestamp = record.timestamp;
        base.headers = dead_letter::letter_headers(&record.headers);
        kafka::send_when_room(&self.producer, base)
            .map_err(|e| anyhow::anyhow!("producing to topic \"{}\": {e}", record.topic))
    }

    /// Records the batch's topics as the connector's active topics and
    /// creates the ones this task has not produced to yet.
    fn ensure_topics(&mut self, records: &[Serialized]) -> Result<()> {
        // A batch names few topics, mostly in runs: collect them in one pass
        // without a map.
        let mut batch_topics: Vec<&str> = Vec::new();
        for record in records {
            if batch_topics.last() != Some(&record.topic.as_str())
                && !batch_topics.contains(&record.topic.as_str())
            {
                batch_topics.push(&record.topic);
            }
        }
        let new: Vec<String> = batch_topics
            .iter()
            .filter(|t| !self.known_topics.contains(**t))
            .map(|t| t.to_string())
            .collect();
        self.ctx
            .topics
            .record(&self.ctx.connector.name, self.ctx.task_id, batch_topics);
        if new.is_empty() {
            return Ok(());
        }
        if self.ctx.worker.topic_creation_enable {
            // The connector's `topic.creation.*` rules, or one partition.
            let unconfigured = NewTopicSettings::unconfigured();
            let wanted: Vec<(&str, &NewTopicSettings)> = new
                .iter()
                .map(|topic| {
                    let settings = match &self.ctx.connector.topic_creation {
                        Some(rules) => rules.settings_for(topic),
                        None => &unconfigured,
                    };
                    (topic.as_str(), settings)
                })
                .collect();
            let admin = kafka::admin_config(&self.ctx.worker);
            self.ctx
                .tokio
                .block_on(kafka::create_topics(&admin, &wanted))?;
        }
        // With topic creation off the broker must have the topic or create
        // it; if it does neither, the producer's delivery fails the task.
        self.known_topics.extend(new);
        Ok(())
    }

    /// Waits until Kafka acknowledged everything produced, or `timeout`.
    fn drain(&self, timeout: Duration) -> Result<()> {
        if let Err(e) = self.producer.flush(timeout) {
            bail!("records still unacknowledged after {timeout:?} at shutdown: {e}");
        }
        self.acks.wait_idle(timeout)
    }

    /// Writes the offsets of acknowledged batches and tells the plugin.
    fn persist_offsets(
        &mut self,
        mut tell_plugin: impl FnMut(&[(String, String)]) -> Result<()>,
    ) -> Result<()> {
        self.last_offset_flush = Instant::now();
        let offsets = self.acks.take_committable();
        if offsets.is_empty() {
            return Ok(());
        }
        self.ctx
            .offsets
            .commit(&self.ctx.connector.name, &offsets)?;
        let pairs: Vec<(String, String)> = offsets.into_iter().collect();
        tell_plugin(&pairs)
    }
}

/// Refuses a batch whose data refers to a schema it does not list: the
/// connector is broken, and no record of the batch can be read as meant.
fn check_schema_refs(schemas: &[BatchSchema], records: &[SourceRecord]) -> Result<()> {
    for (index, record) in records.iter().enumerate() {
        for data in [&record.key, &record.value].into_iter().flatten() {
            if let BatchData::Structured(BatchStructured {
                schema: Some(schema),
                ..
            }) = data
                && *schema as usize >= schemas.len()
            {
                bail!(
                    "the connector returned a batch whose record {index} refers to schema \
                     {schema}, but the batch lists {} schemas",
                    schemas.len()
                );
            }
        }
    }
    Ok(())
}

/// The source offsets a batch reaches: for each source partition, the
/// position of its last record there. Walks back and takes the first seen,
/// copying one position per partition rather than one per record.
fn batch_offsets(partitions: &[String], records: &[SourceRecord]) -> Result<ConnectorOffsets> {
    let mut offsets = ConnectorOffsets::new();
    let mut seen = vec![false; partitions.len()];
    for (index, record) in records.iter().enumerate().rev() {
        if let Some(position) = &record.position {
            let partition_index = position.partition as usize;
            let (Some(seen), Some(partition)) = (
                seen.get_mut(partition_index),
                partitions.get(partition_index),
            ) else {
                bail!(
                    "record {index} of a batch from the plugin (topic \"{}\"): source partition {} is not among the batch's {} partitions",
                    record.topic,
                    position.partition,
                    partitions.len()
                );
            };
            if !std::mem::replace(seen, true) {
                // The store keeps offsets as JSON: anything else is the
                // plugin's error, refused before a record is produced.
                for (what, text) in [("partition", partition), ("offset", &position.offset)] {
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
                        bail!(
                            "record {index} of a batch from the plugin (topic \"{}\"): its source \
                             {what} {text} is not JSON: {e}",
                            record.topic
                        );
                    }
                }
                offsets.insert(partition.clone(), position.offset.clone());
            }
        }
    }
    Ok(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_over_the_poll_limit_fails_the_task_by_name() {
        let (batches, polled) = mpsc::sync_channel(1);
        let too_many = || SourceBatch {
            schemas: Vec::new(),
            partitions: vec!["{}".into()],
            records: vec![record(None); MAX_POLL_RECORDS as usize + 1],
        };
        // One poll only: the poller stops once this one is handed over.
        let stop = CancellationToken::new();
        poll_ahead(
            |_| {
                stop.cancel();
                Ok(too_many())
            },
            &stop,
            batches,
            "t-0",
        );
        let error = polled.recv().unwrap().unwrap_err().to_string();
        assert!(
            error.contains("returned 10001 records") && error.contains("at most 10000"),
            "{error}"
        );
    }

    fn record(position: Option<(u32, &str)>) -> SourceRecord {
        SourceRecord {
            topic: "t".into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
            position: position.map(|(partition, offset)| {
                crate::runtime::bindings::types::SourcePosition {
                    partition,
                    offset: offset.into(),
                }
            }),
        }
    }

    #[test]
    fn a_record_referring_to_an_unlisted_schema_is_refused() {
        let structured = |schema| {
            Some(BatchData::Structured(BatchStructured {
                schema,
                values: vec![crate::runtime::bindings::types::ValueNode::Null],
            }))
        };
        let listed = BatchSchema {
            nodes: Vec::new(),
            defaults: Vec::new(),
        };
        let mut good = record(None);
        good.value = structured(Some(0));
        let mut schemaless = record(None);
        schemaless.key = structured(None);
        let mut bad = record(None);
        bad.key = structured(Some(1));
        let schemas = [listed];
        check_schema_refs(&schemas, &[good.clone(), schemaless.clone()]).unwrap();
        let err = check_schema_refs(&schemas, &[good, schemaless, bad]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the connector returned a batch whose record 2 refers to schema 1, but the batch \
             lists 1 schemas"
        );
    }

    #[test]
    fn a_batch_reaches_the_last_position_of_each_source_partition() {
        let partitions = vec![r#"{"f":"a"}"#.to_string(), r#"{"f":"b"}"#.to_string()];
        let records = vec![
            record(Some((0, "1"))),
            record(Some((1, "10"))),
            record(Some((0, "2"))),
            record(None),
            record(Some((1, "11"))),
            record(Some((0, "3"))),
        ];
        let offsets = batch_offsets(&partitions, &records).unwrap();
        assert_eq!(offsets.len(), 2);
        assert_eq!(offsets[&partitions[0]], "3");
        assert_eq!(offsets[&partitions[1]], "11");
    }

    /// The offset store keeps JSON: a plugin's offset that is not JSON
    /// would otherwise stop every connector's offsets from being written.
    #[test]
    fn a_position_that_is_not_json_is_refused_by_record() {
        let partitions = vec![r#"{"f":"a"}"#.to_string()];
        let records = vec![record(Some((0, "1"))), record(Some((0, "not json")))];
        let error = batch_offsets(&partitions, &records)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("record 1") && error.contains("source offset not json is not JSON"),
            "{error}"
        );
        let error = batch_offsets(&["a".to_string()], &records[..1])
            .unwrap_err()
            .to_string();
        assert!(error.contains("source partition a is not JSON"), "{error}");
    }

    #[test]
    fn a_position_outside_the_batch_partitions_is_refused() {
        let partitions = vec!["a".to_string()];
        let records = vec![record(Some((0, "1"))), record(Some((2, "5")))];
        let error = batch_offsets(&partitions, &records)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("record 1") && error.contains("source partition 2"),
            "{error}"
        );
    }
}
