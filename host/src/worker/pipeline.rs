//! The record pipeline between a connector and Kafka: the transform chain
//! and the key, value and header converters, each a plugin called once per
//! batch. A plugin that traps is replaced by a fresh instance and the batch
//! is split until the records that trap on their own are found; those,
//! and records a plugin rejects, come back as failures for the error policy
//! to handle one by one, while the rest of the batch goes on.

use std::fmt;
use std::ops::Range;
use std::rc::Rc;

use anyhow::{Result, bail};
use sluice_wire::{Transformed, Wire};

use super::convert;
use crate::config::ConfigError;
use crate::config::pipeline::{ConverterSpec, PipelineSpec, PredicateSpec, TransformSpec};
use crate::plugin::{ConverterInstance, PredicateInstance, TransformInstance, bare_state};
use crate::runtime::bindings::shared;
use crate::runtime::bindings::types::{
    BatchData, BatchSchema, ConnectRecord, Data, Header, SinkRecord, SourceRecord,
};
use crate::runtime::limits::LimitExceeded;
use crate::runtime::{PluginState, Runtime};

/// Where in the pipeline a record failed; Kafka Connect's stage names are
/// what `__connect.errors.stage` carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
        })
    }
}

/// Why one record could not go on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageFailure {
    pub stage: Stage,
    /// The plugin, as the configuration named it.
    pub class: String,
    pub message: String,
    /// The plugin trapped on this record alone (as opposed to rejecting it
    /// with an error).
    pub trapped: bool,
}

/// What happened to one record in a pipeline step.
pub type Outcome<T> = Result<Option<T>, StageFailure>;

/// Creates each converter, transform and predicate of `spec` once, so a
/// configuration the plugins refuse is refused before any task starts.
pub fn probe(runtime: &Runtime, spec: &PipelineSpec) -> Vec<ConfigError> {
    let mut problems = Vec::new();
    for (key, converter) in [
        ("key.converter", &spec.key_converter),
        ("value.converter", &spec.value_converter),
        ("header.converter", &spec.header_converter),
    ] {
        if let Some(converter) = converter
            && let Err(e) =
                make_converter(runtime, converter, key == "key.converter", bare_state(key))
        {
            problems.push(ConfigError::invalid(
                key,
                &converter.class,
                format!("{e:#}"),
            ));
        }
    }
    for link in &spec.transforms {
        if let Err(e) = make_transform(runtime, link, bare_state(&link.alias)) {
            problems.push(ConfigError::invalid(
                &format!("transforms.{}.type", link.alias),
                &link.class,
                format!("{e:#}"),
            ));
        }
        if let Some(predicate) = &link.predicate
            && let Err(e) = make_predicate(runtime, predicate, bare_state(&predicate.alias))
        {
            problems.push(ConfigError::invalid(
                &format!("predicates.{}.type", predicate.alias),
                &predicate.class,
                format!("{e:#}"),
            ));
        }
    }
    problems
}

fn make_converter(
    runtime: &Runtime,
    spec: &ConverterSpec,
    is_key: bool,
    state: PluginState,
) -> Result<ConverterInstance> {
    ConverterInstance::new(runtime, &spec.plugin, &spec.config, is_key, state)
}

fn make_transform(
    runtime: &Runtime,
    spec: &TransformSpec,
    state: PluginState,
) -> Result<TransformInstance> {
    TransformInstance::new(runtime, &spec.plugin, &spec.config, spec.part, state)
}

fn make_predicate(
    runtime: &Runtime,
    spec: &PredicateSpec,
    state: PluginState,
) -> Result<PredicateInstance> {
    PredicateInstance::new(runtime, &spec.plugin, &spec.config, state)
}

/// A call on a batch: one output per item, or a trap.
pub type BatchCall<'a, T, I, O> = dyn FnMut(&mut T, &[I]) -> wasmtime::Result<Vec<O>> + 'a;

/// A plugin instance that is never reused after a trap: the next call gets
/// a fresh one.
pub struct Renewable<T> {
    instance: Option<T>,
    make: Box<dyn Fn() -> Result<T> + Send>,
}

impl<T> Renewable<T> {
    pub fn new(make: impl Fn() -> Result<T> + Send + 'static) -> Result<Self> {
        let instance = make()?;
        Ok(Renewable {
            instance: Some(instance),
            make: Box::new(make),
        })
    }

    fn get(&mut self) -> Result<&mut T> {
        if self.instance.is_none() {
            self.instance = Some((self.make)()?);
        }
        Ok(self.instance.as_mut().expect("just set"))
    }

    /// Calls `call` with `items`, which must answer one output per item.
    /// When the plugin traps, the instance is dropped and the items are
    /// halved until each trapping item is alone: it gets the trap's message
    /// as its error, and every other item its output. A batch with one
    /// poisonous record costs about 2·log2(n) calls. A trap on one of the
    /// task's limits (time, memory) is no record's fault: it fails the
    /// task instead, rather than paying the limit again for every half.
    pub fn call_isolating<I, O>(
        &mut self,
        items: &[I],
        call: &mut BatchCall<'_, T, I, O>,
    ) -> Result<Vec<Result<O, String>>> {
        let mut out = Vec::with_capacity(items.len());
        self.isolate(items, call, &mut out)?;
        Ok(out)
    }

    fn isolate<I, O>(
        &mut self,
        items: &[I],
        call: &mut BatchCall<'_, T, I, O>,
        out: &mut Vec<Result<O, String>>,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        match call(self.get()?, items) {
            Ok(outputs) => {
                if outputs.len() != items.len() {
                    bail!(
                        "the plugin returned {} results for {} records",
                        outputs.len(),
                        items.len()
                    );
                }
                out.extend(outputs.into_iter().map(Ok));
            }
            Err(trap) if LimitExceeded::caused(&trap) => {
                self.instance = None;
                bail!("{}", super::task::describe_trap(&trap));
            }
            Err(trap) => {
                // A trapped instance is dead: never call it again.
                self.instance = None;
                if items.len() == 1 {
                    out.push(Err(super::task::describe_trap(&trap)));
                } else {
                    let (left, right) = items.split_at(items.len() / 2);
                    self.isolate(left, call, out)?;
                    self.isolate(right, call, out)?;
                }
            }
        }
        Ok(())
    }
}

/// A converter in the pipeline, or the pass-through when none is set.
struct ConverterStage {
    class: String,
    stage: Stage,
    converter: Renewable<ConverterInstance>,
}

/// One link of the transform chain.
struct ChainLink {
    class: String,
    transform: Renewable<TransformInstance>,
    predicate: Option<(String, Renewable<PredicateInstance>)>,
    negate: bool,
}

/// A record consumed from Kafka, as it was on the wire.
#[derive(Clone, Debug)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A record converted for the producer.
#[derive(Clone, Debug)]
pub struct Serialized {
    pub topic: String,
    pub partition: Option<i32>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

/// The converters and transforms of one task.
pub struct Pipeline {
    key: Option<ConverterStage>,
    value: Option<ConverterStage>,
    header: Option<ConverterStage>,
    chain: Vec<ChainLink>,
}

impl Pipeline {
    /// Instantiates every plugin of `spec`; `state` makes each instance's
    /// store (attributed to the task in logs).
    pub fn new(
        runtime: &Runtime,
        spec: &PipelineSpec,
        state: impl Fn() -> PluginState + Clone + Send + 'static,
    ) -> Result<Self> {
        let converter = |spec: &Option<ConverterSpec>, stage: Stage| -> Result<_> {
            let Some(spec) = spec.clone() else {
                return Ok(None);
            };
            let runtime = runtime.clone();
            let state = state.clone();
            let class = spec.class.clone();
            let is_key = stage == Stage::KeyConverter;
            let converter =
                Renewable::new(move || make_converter(&runtime, &spec, is_key, state()))?;
            Ok(Some(ConverterStage {
                class,
                stage,
                converter,
            }))
        };
        let mut chain = Vec::with_capacity(spec.transforms.len());
        for link in &spec.transforms {
            let transform = {
                let (runtime, state, link) = (runtime.clone(), state.clone(), link.clone());
                Renewable::new(move || make_transform(&runtime, &link, state()))?
            };
            let predicate = match &link.predicate {
                None => None,
                Some(predicate) => {
                    let (runtime, state, p) = (runtime.clone(), state.clone(), predicate.clone());
                    let instance = Renewable::new(move || make_predicate(&runtime, &p, state()))?;
                    Some((predicate.class.clone(), instance))
                }
            };
            chain.push(ChainLink {
                class: link.class.clone(),
                transform,
                predicate,
                negate: link.negate,
            });
        }
        Ok(Pipeline {
            key: converter(&spec.key_converter, Stage::KeyConverter)?,
            value: converter(&spec.value_converter, Stage::ValueConverter)?,
            header: converter(&spec.header_converter, Stage::HeaderConverter)?,
            chain,
        })
    }

    /// Applies the transform chain: one outcome per record, in order;
    /// `Ok(None)` for a record a transform dropped.
    ///
    /// Records cross to the plugins in the record-batch byte form, and
    /// stay in it from one link to the next: each link's output is checked
    /// and handed on as it is, and only what comes out of the chain is
    /// read back into records.
    pub fn transform(
        &mut self,
        records: Vec<ConnectRecord>,
    ) -> Result<Vec<Outcome<ConnectRecord>>> {
        if self.chain.is_empty() {
            return Ok(records.into_iter().map(|r| Ok(Some(r))).collect());
        }
        let mut outcomes: Vec<Outcome<EncodedRecord>> = EncodedRecord::encode_all(&records)
            .into_iter()
            .map(|r| Ok(Some(r)))
            .collect();
        drop(records);
        for link in &mut self.chain {
            let live: Vec<usize> = (0..outcomes.len())
                .filter(|&i| matches!(outcomes[i], Ok(Some(_))))
                .collect();
            if live.is_empty() {
                break;
            }
            let mut batch: Vec<EncodedRecord> =
                live.iter().map(|&i| outcomes[i].take_record()).collect();
            // Which records the transform applies to.
            let mut selected = vec![true; batch.len()];
            if let Some((class, predicate)) = &mut link.predicate {
                let answers = predicate.call_isolating(&batch, &mut |p, items| {
                    p.test_batch(&EncodedRecord::batch(items))
                })?;
                for (k, answer) in answers.into_iter().enumerate() {
                    match answer {
                        Ok(matched) => selected[k] = matched != link.negate,
                        Err(trap) => {
                            selected[k] = false;
                            outcomes[live[k]] = Err(StageFailure {
                                stage: Stage::Transformation,
                                class: class.clone(),
                                message: format!("the predicate trapped: {trap}"),
                                trapped: true,
                            });
                        }
                    }
                }
            }
            let mut chosen: Vec<usize> = Vec::new();
            let mut input: Vec<EncodedRecord> = Vec::new();
            for (k, record) in batch.drain(..).enumerate() {
                if selected[k] {
                    chosen.push(live[k]);
                    input.push(record);
                } else if outcomes[live[k]].is_ok() {
                    outcomes[live[k]] = Ok(Some(record));
                }
            }
            let results = link
                .transform
                .call_isolating(&input, &mut EncodedRecord::apply)?;
            for (index, result) in chosen.into_iter().zip(results) {
                outcomes[index] = match result {
                    Ok(Ok(record)) => Ok(record),
                    Ok(Err(message)) => Err(StageFailure {
                        stage: Stage::Transformation,
                        class: link.class.clone(),
                        message,
                        trapped: false,
                    }),
                    Err(trap) => Err(StageFailure {
                        stage: Stage::Transformation,
                        class: link.class.clone(),
                        message: format!("the transform trapped: {trap}"),
                        trapped: true,
                    }),
                };
            }
        }
        outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(Some(record)) => Ok(Ok(Some(record.decode()?))),
                Ok(None) => Ok(Ok(None)),
                Err(failure) => Ok(Err(failure)),
            })
            .collect()
    }

    /// Converts consumed records to sink records: keys, values and headers
    /// through their converters, then the transform chain. One outcome per
    /// consumed record, in order.
    pub fn sink_records(&mut self, consumed: &[Consumed]) -> Result<Vec<Outcome<SinkRecord>>> {
        let topics: Vec<&str> = consumed.iter().map(|c| c.topic.as_str()).collect();
        let keys = to_data(
            &mut self.key,
            &topics,
            consumed.iter().map(|c| c.key.clone()).collect(),
        )?;
        let values = to_data(
            &mut self.value,
            &topics,
            consumed.iter().map(|c| c.value.clone()).collect(),
        )?;
        // Every header of the batch goes to the header converter in one
        // call per topic; `owner` maps each back to its record.
        let mut owner = Vec::new();
        let mut header_topics = Vec::new();
        let mut header_bytes = Vec::new();
        for (index, record) in consumed.iter().enumerate() {
            for (_, value) in &record.headers {
                owner.push(index);
                header_topics.push(record.topic.as_str());
                header_bytes.push(value.clone());
            }
        }
        let mut header_values =
            to_data(&mut self.header, &header_topics, header_bytes)?.into_iter();

        let mut failures: Vec<Option<StageFailure>> = vec![None; consumed.len()];
        let mut records = Vec::with_capacity(consumed.len());
        let mut indices = Vec::with_capacity(consumed.len());
        let mut header_owner = owner.into_iter().peekable();
        for ((index, record), (key, value)) in consumed
            .iter()
            .enumerate()
            .zip(keys.into_iter().zip(values))
        {
            let mut headers = Vec::with_capacity(record.headers.len());
            while header_owner.peek() == Some(&index) {
                header_owner.next();
                let (name, _) = &record.headers[headers.len()];
                match header_values.next().expect("one result per header") {
                    Ok(value) => headers.push(Header {
                        key: name.clone(),
                        value,
                    }),
                    Err(failure) => {
                        failures[index].get_or_insert(failure);
                        headers.push(Header {
                            key: name.clone(),
                            value: None,
                        });
                    }
                }
            }
            let (key, value) = match (key, value) {
                (Ok(key), Ok(value)) => (key, value),
                (Err(failure), _) | (_, Err(failure)) => {
                    failures[index] = Some(failure);
                    continue;
                }
            };
            if failures[index].is_some() {
                continue;
            }
            indices.push(index);
            records.push(ConnectRecord {
                topic: record.topic.clone(),
                partition: Some(record.partition),
                offset: Some(record.offset),
                key,
                value,
                headers,
                timestamp: record.timestamp,
            });
        }
        let transformed = self.transform(records)?;
        let mut outcomes: Vec<Outcome<SinkRecord>> = failures
            .into_iter()
            .map(|f| match f {
                Some(failure) => Err(failure),
                None => Ok(None),
            })
            .collect();
        for (index, outcome) in indices.into_iter().zip(transformed) {
            let source = &consumed[index];
            outcomes[index] = outcome.map(|record| {
                record.map(|r| SinkRecord {
                    topic: r.topic,
                    partition: r.partition.unwrap_or(source.partition),
                    offset: source.offset,
                    key: r.key,
                    value: r.value,
                    headers: r.headers,
                    timestamp: r.timestamp,
                })
            });
        }
        Ok(outcomes)
    }

    /// Transforms records a source connector produced, then converts them
    /// for the producer. One outcome per record, in order. Their
    /// structured keys and values refer to `schemas`.
    ///
    /// The records are lent, not consumed: each is as it was when this
    /// returns, for the error policy to name and dead-letter the ones that
    /// failed, so they are never copied for it. Without transforms, keys
    /// and values go to the converters in the batch form the connector
    /// gave, each schema once per batch.
    pub fn source_records(
        &mut self,
        schemas: &[BatchSchema],
        records: &mut [SourceRecord],
    ) -> Result<Vec<Outcome<Serialized>>> {
        if !self.chain.is_empty() {
            return self.transformed_source_records(schemas, records);
        }
        let shells: Vec<Shell> = records.iter().map(Shell::of).collect();
        let headers: Vec<Vec<Option<Data>>> = records
            .iter()
            .map(|r| r.headers.iter().map(|h| h.value.clone()).collect())
            .collect();
        let mut keys: Vec<Option<BatchData>> = records.iter_mut().map(|r| r.key.take()).collect();
        let mut values: Vec<Option<BatchData>> =
            records.iter_mut().map(|r| r.value.take()).collect();
        let serialized = self.serialize(shells, schemas, &mut keys, &mut values, headers);
        // Back where they came from, whether or not the conversion worked.
        for (record, (key, value)) in records.iter_mut().zip(keys.into_iter().zip(values)) {
            record.key = key;
            record.value = value;
        }
        Ok(serialized?.into_iter().map(|s| s.map(Some)).collect())
    }

    /// [`Pipeline::source_records`] through the transform chain, which
    /// works on records whose data carries its schema: each record is
    /// copied with its schema in, and what the chain returns is put back in
    /// batch form, equal schemas listed once, for the converters.
    fn transformed_source_records(
        &mut self,
        schemas: &[BatchSchema],
        records: &[SourceRecord],
    ) -> Result<Vec<Outcome<Serialized>>> {
        let inline = |data: &Option<BatchData>| -> Result<Option<Data>> {
            data.clone()
                .map(|d| shared::inline(d, schemas))
                .transpose()
                .map_err(|e| {
                    anyhow::anyhow!("the connector returned malformed structured data: {e}")
                })
        };
        let connect_records = records
            .iter()
            .map(|r| {
                Ok(ConnectRecord {
                    topic: r.topic.clone(),
                    partition: r.partition,
                    offset: None,
                    key: inline(&r.key)?,
                    value: inline(&r.value)?,
                    headers: r.headers.clone(),
                    timestamp: r.timestamp,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let transformed = self.transform(connect_records)?;
        let mut outcomes: Vec<Outcome<Serialized>> = Vec::with_capacity(transformed.len());
        let mut live = Vec::new();
        let mut shells = Vec::new();
        let mut headers = Vec::new();
        let mut out_schemas = Vec::new();
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for (index, outcome) in transformed.into_iter().enumerate() {
            let record = match outcome {
                Ok(Some(record)) => record,
                other => {
                    outcomes.push(other.map(|_| None));
                    continue;
                }
            };
            let mut share = |data: Option<Data>, stage: Stage| {
                data.map(|d| shared::share(d, &mut out_schemas))
                    .transpose()
                    .map_err(|e| StageFailure {
                        stage,
                        class: "(transform chain)".into(),
                        message: format!("a transform returned malformed structured data: {e}"),
                        trapped: false,
                    })
            };
            match (
                share(record.key, Stage::KeyConverter),
                share(record.value, Stage::ValueConverter),
            ) {
                (Ok(key), Ok(value)) => {
                    keys.push(key);
                    values.push(value);
                }
                (Err(failure), _) | (_, Err(failure)) => {
                    outcomes.push(Err(failure));
                    continue;
                }
            }
            live.push(index);
            let (names, header_values) =
                record.headers.into_iter().map(|h| (h.key, h.value)).unzip();
            headers.push(header_values);
            shells.push(Shell {
                topic: record.topic,
                partition: record.partition,
                timestamp: record.timestamp,
                header_names: names,
            });
            outcomes.push(Ok(None));
        }
        let serialized = self.serialize(shells, &out_schemas, &mut keys, &mut values, headers)?;
        for (index, result) in live.into_iter().zip(serialized) {
            outcomes[index] = result.map(Some);
        }
        Ok(outcomes)
    }

    /// Converts keys, values and headers for the producer: one result per
    /// shell, in order. `keys` and `values` refer to `schemas` and are as
    /// they were when this returns.
    fn serialize(
        &mut self,
        shells: Vec<Shell>,
        schemas: &[BatchSchema],
        keys: &mut [Option<BatchData>],
        values: &mut [Option<BatchData>],
        headers: Vec<Vec<Option<Data>>>,
    ) -> Result<Vec<Result<Serialized, StageFailure>>> {
        let topics: Vec<&str> = shells.iter().map(|s| s.topic.as_str()).collect();
        let keys = from_data(&mut self.key, Stage::KeyConverter, &topics, schemas, keys)?;
        let values = from_data(
            &mut self.value,
            Stage::ValueConverter,
            &topics,
            schemas,
            values,
        )?;
        // Every header of the batch goes to the header converter in one
        // call per topic, its schemas listed for that call; the results
        // come back in the same order, record by record.
        let mut header_schemas = Vec::new();
        let mut header_topics = Vec::new();
        let mut header_items = Vec::new();
        let mut header_failures = Vec::new();
        for (owner, values) in headers.into_iter().enumerate() {
            for value in values {
                header_topics.push(topics[owner]);
                match value
                    .map(|d| shared::share(d, &mut header_schemas))
                    .transpose()
                {
                    Ok(item) => {
                        header_items.push(item);
                        header_failures.push(None);
                    }
                    Err(e) => {
                        header_items.push(None);
                        header_failures.push(Some(format!("malformed structured data: {e}")));
                    }
                }
            }
        }
        let converted_headers = from_data(
            &mut self.header,
            Stage::HeaderConverter,
            &header_topics,
            &header_schemas,
            &mut header_items,
        )?;
        let mut header_results = converted_headers.into_iter().zip(header_failures);
        let mut out = Vec::with_capacity(shells.len());
        for (shell, (key, value)) in shells.into_iter().zip(keys.into_iter().zip(values)) {
            let mut record_headers = Vec::with_capacity(shell.header_names.len());
            let mut failure = None;
            for name in shell.header_names {
                match header_results.next().expect("one result per header") {
                    (Ok(bytes), None) => record_headers.push((name, bytes)),
                    (Err(f), _) => {
                        failure.get_or_insert(f);
                    }
                    (Ok(_), Some(message)) => {
                        failure.get_or_insert(StageFailure {
                            stage: Stage::HeaderConverter,
                            class: "(connector)".into(),
                            message,
                            trapped: false,
                        });
                    }
                }
            }
            out.push(match (key, value, failure) {
                (Ok(key), Ok(value), None) => Ok(Serialized {
                    topic: shell.topic,
                    partition: shell.partition,
                    key,
                    value,
                    headers: record_headers,
                    timestamp: shell.timestamp,
                }),
                (Err(f), _, _) | (_, Err(f), _) | (_, _, Some(f)) => Err(f),
            });
        }
        Ok(out)
    }
}

/// What a record bound for Kafka keeps besides its key, value and header
/// values while those are converted.
struct Shell {
    topic: String,
    partition: Option<i32>,
    timestamp: Option<i64>,
    header_names: Vec<String>,
}

impl Shell {
    fn of(record: &SourceRecord) -> Shell {
        Shell {
            topic: record.topic.clone(),
            partition: record.partition,
            timestamp: record.timestamp,
            header_names: record.headers.iter().map(|h| h.key.clone()).collect(),
        }
    }
}

/// A record in the record-batch byte form between links of the chain: a
/// range of the buffer it was encoded into or a transform returned, which
/// the records of a batch share.
#[derive(Clone)]
struct EncodedRecord {
    buffer: Rc<Vec<u8>>,
    range: Range<usize>,
}

impl EncodedRecord {
    /// Each of `records` encoded, all into one buffer.
    fn encode_all(records: &[ConnectRecord]) -> Vec<EncodedRecord> {
        let mut buffer = Vec::new();
        let mut ranges = Vec::with_capacity(records.len());
        for record in records {
            let start = buffer.len();
            record.write(&mut buffer);
            ranges.push(start..buffer.len());
        }
        let buffer = Rc::new(buffer);
        ranges
            .into_iter()
            .map(|range| EncodedRecord {
                buffer: Rc::clone(&buffer),
                range,
            })
            .collect()
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[self.range.clone()]
    }

    fn decode(&self) -> Result<ConnectRecord> {
        Ok(sluice_wire::read_exact(self.bytes())?)
    }

    /// A batch of `records` to hand a plugin.
    fn batch(records: &[EncodedRecord]) -> Vec<u8> {
        sluice_wire::write_batch(records.iter().map(EncodedRecord::bytes))
    }

    /// Applies `transform` to `records`. Every record it returns is checked
    /// here, so that the next link never receives one that is malformed;
    /// malformed results count as a trap of this transform.
    #[allow(clippy::type_complexity)]
    fn apply(
        transform: &mut TransformInstance,
        records: &[EncodedRecord],
    ) -> wasmtime::Result<Vec<Result<Option<EncodedRecord>, String>>> {
        let results = Rc::new(transform.apply_batch(&Self::batch(records))?);
        let malformed = |e: sluice_wire::WireError| {
            wasmtime::Error::msg(format!("the transform returned a {e}"))
        };
        sluice_wire::read_results(&results)
            .map_err(malformed)?
            .into_iter()
            .map(|result| match result {
                Transformed::Record(range) => {
                    sluice_wire::check_exact::<ConnectRecord>(&results[range.clone()])
                        .map_err(malformed)?;
                    Ok(Ok(Some(EncodedRecord {
                        buffer: Rc::clone(&results),
                        range,
                    })))
                }
                Transformed::Dropped => Ok(Ok(None)),
                Transformed::Failed(message) => Ok(Err(message)),
            })
            .collect()
    }
}

trait TakeRecord<T> {
    fn take_record(&mut self) -> T;
}

impl<T> TakeRecord<T> for Outcome<T> {
    /// Moves a live record out, leaving `Ok(None)` until it is put back.
    fn take_record(&mut self) -> T {
        match std::mem::replace(self, Ok(None)) {
            Ok(Some(record)) => record,
            _ => unreachable!("only live records are taken"),
        }
    }
}

/// Indices of `topics` grouped by topic, in first-seen order: a converter
/// call names one topic.
fn by_topic(topics: &[&str]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, topic) in topics.iter().enumerate() {
        match groups.iter_mut().find(|(t, _)| t == topic) {
            Some((_, members)) => members.push(index),
            None => groups.push((topic.to_string(), vec![index])),
        }
    }
    groups
}

/// Bytes to data through `stage`'s converter, or as raw bytes when there
/// is none. One result per item.
fn to_data(
    stage: &mut Option<ConverterStage>,
    topics: &[&str],
    items: Vec<Option<Vec<u8>>>,
) -> Result<Vec<Result<Option<Data>, StageFailure>>> {
    let Some(stage) = stage else {
        return Ok(items.into_iter().map(|b| Ok(b.map(Data::Raw))).collect());
    };
    let mut out: Vec<Result<Option<Data>, StageFailure>> = vec![Ok(None); items.len()];
    let mut items: Vec<Option<Option<Vec<u8>>>> = items.into_iter().map(Some).collect();
    for (topic, members) in by_topic(topics) {
        let group: Vec<Option<Vec<u8>>> = members
            .iter()
            .map(|&i| items[i].take().expect("each item once"))
            .collect();
        let results = stage
            .converter
            .call_isolating(&group, &mut |c, items| c.to_data(&topic, items))?;
        for (index, result) in members.into_iter().zip(results) {
            out[index] = flatten(stage, result);
        }
    }
    Ok(out)
}

/// Data to bytes through `stage`'s converter. Raw bytes are on the wire
/// already and nulls stay null: only structured data is converted, each
/// topic's in one call with `schemas`. Without a converter, structured
/// strings and bytes pass as their bytes and other structured data is an
/// error naming the missing converter. `items` are as they were when this
/// returns.
fn from_data(
    stage: &mut Option<ConverterStage>,
    which: Stage,
    topics: &[&str],
    schemas: &[BatchSchema],
    items: &mut [Option<BatchData>],
) -> Result<Vec<Result<Option<Vec<u8>>, StageFailure>>> {
    let mut out: Vec<Result<Option<Vec<u8>>, StageFailure>> = Vec::with_capacity(items.len());
    let mut pending: Vec<usize> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item {
            None => out.push(Ok(None)),
            Some(BatchData::Raw(bytes)) => out.push(Ok(Some(bytes.clone()))),
            Some(structured) => {
                match stage {
                    None => out.push(convert::to_bytes(Some(structured)).map_err(|message| {
                        StageFailure {
                            stage: which,
                            class: "(none)".into(),
                            message: format!("{message}; set {} to a converter", config_key(which)),
                            trapped: false,
                        }
                    })),
                    Some(_) => {
                        out.push(Ok(None));
                        pending.push(index);
                    }
                }
            }
        }
    }
    let Some(stage) = stage else {
        return Ok(out);
    };
    let pending_topics: Vec<&str> = pending.iter().map(|&i| topics[i]).collect();
    for (topic, members) in by_topic(&pending_topics) {
        let indices: Vec<usize> = members.iter().map(|&m| pending[m]).collect();
        // Moved into one contiguous batch for the call, and back after it.
        let group: Vec<Option<BatchData>> = indices.iter().map(|&i| items[i].take()).collect();
        let results = stage
            .converter
            .call_isolating(&group, &mut |c, batch| c.from_batch(&topic, schemas, batch));
        for (&index, item) in indices.iter().zip(group) {
            items[index] = item;
        }
        for (index, result) in indices.into_iter().zip(results?) {
            out[index] = flatten(stage, result);
        }
    }
    Ok(out)
}

fn config_key(stage: Stage) -> &'static str {
    match stage {
        Stage::KeyConverter => "key.converter",
        Stage::HeaderConverter => "header.converter",
        _ => "value.converter",
    }
}

/// A converter's answer for one item: its result, or the trap it caused.
fn flatten<T>(
    stage: &ConverterStage,
    result: Result<Result<T, String>, String>,
) -> Result<T, StageFailure> {
    let failure = |message: String, trapped: bool| StageFailure {
        stage: stage.stage,
        class: stage.class.clone(),
        message,
        trapped,
    };
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(failure(message, false)),
        Err(trap) => Err(failure(format!("the converter trapped: {trap}"), true)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake plugin that traps on any batch holding a poisonous item and
    /// doubles the others.
    struct Doubler;

    fn doubler() -> (Renewable<Doubler>, Arc<AtomicUsize>) {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let renewable = Renewable::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Doubler)
        })
        .unwrap();
        (renewable, made)
    }

    fn double(_: &mut Doubler, items: &[i32]) -> wasmtime::Result<Vec<i32>> {
        if items.contains(&13) {
            wasmtime::bail!("unreachable executed");
        }
        Ok(items.iter().map(|i| i * 2).collect())
    }

    #[test]
    fn a_trapping_item_is_isolated_and_the_rest_go_through() {
        let (mut plugin, made) = doubler();
        let items: Vec<i32> = (0..100).collect();
        let out = plugin.call_isolating(&items, &mut double).unwrap();
        assert_eq!(out.len(), 100);
        for (i, result) in out.iter().enumerate() {
            if i == 13 {
                assert!(result.as_ref().unwrap_err().contains("unreachable"));
            } else {
                assert_eq!(result.as_ref().unwrap(), &(i as i32 * 2));
            }
        }
        // One instance per trap, never a trapped one reused: the first
        // instance, then a fresh one after each of the ~log2(100) traps.
        let instances = made.load(Ordering::SeqCst);
        assert!((7..=9).contains(&instances), "{instances} instances");
    }

    #[test]
    fn several_trapping_items_are_each_found() {
        let (mut plugin, _) = doubler();
        let items = vec![13, 1, 13, 2, 3, 13];
        let out = plugin.call_isolating(&items, &mut double).unwrap();
        let trapped: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_err()).collect();
        assert_eq!(trapped, [0, 2, 5]);
        assert_eq!(out[3].as_ref().unwrap(), &4);
    }

    #[test]
    fn a_limit_breach_fails_the_call_instead_of_being_isolated() {
        let (mut plugin, made) = doubler();
        let items: Vec<i32> = (0..100).collect();
        let mut calls = 0;
        let err = plugin
            .call_isolating(&items, &mut |_, _| -> wasmtime::Result<Vec<i32>> {
                calls += 1;
                Err(LimitExceeded::trap(
                    "exceeded the call time limit: the call ran for 2.00 s".into(),
                ))
            })
            .unwrap_err();
        assert!(
            err.to_string().starts_with("exceeded the call time limit"),
            "{err}"
        );
        // Paid once, not once per half.
        assert_eq!(calls, 1);
        // The instance that breached is not reused.
        plugin.call_isolating(&[1], &mut double).unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_wrong_number_of_results_fails() {
        let (mut plugin, _) = doubler();
        let err = plugin
            .call_isolating(&[1, 2], &mut |_, _| Ok(vec![1]))
            .unwrap_err();
        assert!(err.to_string().contains("1 results for 2 records"), "{err}");
    }

    #[test]
    fn topics_group_in_first_seen_order() {
        assert_eq!(
            by_topic(&["b", "a", "b"]),
            [("b".to_string(), vec![0, 2]), ("a".to_string(), vec![1])]
        );
    }

    #[test]
    fn without_converters_bytes_pass_and_other_structures_name_the_key() {
        let mut items = vec![
            Some(BatchData::Raw(b"x".to_vec())),
            Some(BatchData::Structured(
                crate::runtime::bindings::types::BatchStructured {
                    schema: None,
                    values: vec![crate::runtime::bindings::types::ValueNode::Int32(1)],
                },
            )),
        ];
        let before = items.clone();
        let out = from_data(
            &mut None,
            Stage::ValueConverter,
            &["t", "t"],
            &[],
            &mut items,
        )
        .unwrap();
        assert_eq!(items, before, "the items are lent, not consumed");
        assert_eq!(out[0], Ok(Some(b"x".to_vec())));
        let failure = out[1].clone().unwrap_err();
        assert_eq!(failure.stage, Stage::ValueConverter);
        assert!(
            failure.message.contains("set value.converter"),
            "{}",
            failure.message
        );
    }
}
