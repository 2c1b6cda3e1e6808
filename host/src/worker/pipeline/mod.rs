//! The record pipeline between a connector and Kafka: the transform chain
//! (`chain`) and the key, value and header converters (`conversion`), each
//! a plugin called once per batch. A plugin that traps is replaced by a
//! fresh instance and the batch is split until the records that trap on
//! their own are found (`isolation`); those, and records a plugin rejects,
//! come back as failures for the error policy to handle one by one, while
//! the rest of the batch goes on.

pub mod chain;
pub mod conversion;
pub mod passthrough;

use anyhow::Result;

use crate::config::pipeline::PipelineSpec;
use crate::configdef::ConfigError;
use crate::plugin::{PluginState, Runtime, bare_state};
use crate::runtime::bindings::shared;
use crate::runtime::bindings::types::{
    BatchData, BatchSchema, ConnectRecord, Data, Header, SinkRecord, SourceRecord,
};
use crate::worker::error_policy::{Outcome, Stage, StageFailure};
use crate::worker::records::{Consumed, Serialized};
use chain::{Chain, make_predicate, make_transform};
use conversion::{Converters, Shell, make_converter, to_data};

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

/// The converters and transforms of one task.
pub struct Pipeline {
    converters: Converters,
    chain: Chain,
}

impl Pipeline {
    /// Instantiates every plugin of `spec`; `state` makes each instance's
    /// store (attributed to the task in logs).
    pub fn new(
        runtime: &Runtime,
        spec: &PipelineSpec,
        state: impl Fn() -> PluginState + Clone + Send + 'static,
    ) -> Result<Self> {
        Ok(Pipeline {
            converters: Converters::new(
                runtime,
                &spec.key_converter,
                &spec.value_converter,
                &spec.header_converter,
                state.clone(),
            )?,
            chain: Chain::new(runtime, &spec.transforms, state)?,
        })
    }

    /// Applies the transform chain: one outcome per record, in order;
    /// `Ok(None)` for a record a transform dropped.
    pub fn transform(
        &mut self,
        records: Vec<ConnectRecord>,
    ) -> Result<Vec<Outcome<ConnectRecord>>> {
        self.chain.apply(records)
    }

    /// Converts consumed records to sink records: keys, values and headers
    /// through their converters, then the transform chain. One outcome per
    /// consumed record, in order.
    pub fn sink_records(&mut self, consumed: &[Consumed]) -> Result<Vec<Outcome<SinkRecord>>> {
        let topics: Vec<&str> = consumed.iter().map(|c| c.topic.as_str()).collect();
        let keys = to_data(
            &mut self.converters.key,
            &topics,
            consumed.iter().map(|c| c.key.clone()).collect(),
        )?;
        let values = to_data(
            &mut self.converters.value,
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
            to_data(&mut self.converters.header, &header_topics, header_bytes)?.into_iter();

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
        let serialized =
            self.converters
                .serialize(shells, schemas, &mut keys, &mut values, headers);
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
        let serialized =
            self.converters
                .serialize(shells, &out_schemas, &mut keys, &mut values, headers)?;
        for (index, result) in live.into_iter().zip(serialized) {
            outcomes[index] = result.map(Some);
        }
        Ok(outcomes)
    }
}
