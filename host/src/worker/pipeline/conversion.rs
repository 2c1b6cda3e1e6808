//! Conversion: the key, value and header converters of a task, each a
//! plugin called once per batch and topic, or the pass-through when none
//! is set; and the shell a record keeps while its parts are converted.

use anyhow::Result;

use super::passthrough;
use crate::config::pipeline::ConverterSpec;
use crate::plugin::{ConverterInstance, PluginState, Runtime};
use crate::runtime::bindings::shared;
use crate::runtime::bindings::types::{BatchData, BatchSchema, Data, SourceRecord};
use crate::worker::error_policy::{Stage, StageFailure};
use crate::worker::isolation::Renewable;
use crate::worker::records::Serialized;

/// A converter in the pipeline, or the pass-through when none is set.
pub struct ConverterStage {
    class: String,
    stage: Stage,
    converter: Renewable<ConverterInstance>,
}

/// The key, value and header converters of one task.
pub struct Converters {
    pub key: Option<ConverterStage>,
    pub value: Option<ConverterStage>,
    pub header: Option<ConverterStage>,
}

impl Converters {
    /// Instantiates the converters of `spec`; `state` makes each
    /// instance's store.
    pub fn new(
        runtime: &Runtime,
        key: &Option<ConverterSpec>,
        value: &Option<ConverterSpec>,
        header: &Option<ConverterSpec>,
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
        Ok(Converters {
            key: converter(key, Stage::KeyConverter)?,
            value: converter(value, Stage::ValueConverter)?,
            header: converter(header, Stage::HeaderConverter)?,
        })
    }

    /// Converts keys, values and headers for the producer: one result per
    /// shell, in order. `keys` and `values` refer to `schemas` and are as
    /// they were when this returns.
    pub fn serialize(
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

pub fn make_converter(
    runtime: &Runtime,
    spec: &ConverterSpec,
    is_key: bool,
    state: PluginState,
) -> Result<ConverterInstance> {
    ConverterInstance::new(runtime, &spec.plugin, &spec.config, is_key, state)
}

/// What a record bound for Kafka keeps besides its key, value and header
/// values while those are converted.
pub struct Shell {
    pub topic: String,
    pub partition: Option<i32>,
    pub timestamp: Option<i64>,
    pub header_names: Vec<String>,
}

impl Shell {
    pub fn of(record: &SourceRecord) -> Shell {
        Shell {
            topic: record.topic.clone(),
            partition: record.partition,
            timestamp: record.timestamp,
            header_names: record.headers.iter().map(|h| h.key.clone()).collect(),
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
pub fn to_data(
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
pub fn from_data(
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
            Some(structured) => match stage {
                None => out.push(passthrough::to_bytes(Some(structured)).map_err(|message| {
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
            },
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
