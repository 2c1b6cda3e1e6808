//! The transform chain: each link a transform plugin (under a predicate,
//! perhaps), called once per batch. Records cross to the plugins in the
//! record-batch byte form and stay in it from one link to the next.

use std::ops::Range;
use std::rc::Rc;

use anyhow::Result;
use sluice_wire::{Transformed, Wire};

use crate::config::pipeline::{PredicateSpec, TransformSpec};
use crate::plugin::{PluginState, PredicateInstance, Runtime, TransformInstance};
use crate::runtime::bindings::types::ConnectRecord;
use crate::worker::error_policy::{Outcome, Stage, StageFailure};
use crate::worker::isolation::Renewable;

/// One link of the transform chain.
struct ChainLink {
    class: String,
    transform: Renewable<TransformInstance>,
    predicate: Option<(String, Renewable<PredicateInstance>)>,
    negate: bool,
}

/// The transform chain of one task: each link a transform, perhaps under
/// a predicate.
pub struct Chain {
    links: Vec<ChainLink>,
}

impl Chain {
    /// Instantiates every link of `spec`; `state` makes each instance's
    /// store.
    pub fn new(
        runtime: &Runtime,
        transforms: &[TransformSpec],
        state: impl Fn() -> PluginState + Clone + Send + 'static,
    ) -> Result<Self> {
        let mut links = Vec::with_capacity(transforms.len());
        for link in transforms {
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
            links.push(ChainLink {
                class: link.class.clone(),
                transform,
                predicate,
                negate: link.negate,
            });
        }
        Ok(Chain { links })
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Applies the transform chain: one outcome per record, in order;
    /// `Ok(None)` for a record a transform dropped.
    ///
    /// Records cross to the plugins in the record-batch byte form, and
    /// stay in it from one link to the next: each link's output is checked
    /// and handed on as it is, and only what comes out of the chain is
    /// read back into records.
    pub fn apply(&mut self, records: Vec<ConnectRecord>) -> Result<Vec<Outcome<ConnectRecord>>> {
        if self.links.is_empty() {
            return Ok(records.into_iter().map(|r| Ok(Some(r))).collect());
        }
        let mut outcomes: Vec<Outcome<EncodedRecord>> = EncodedRecord::encode_all(&records)
            .into_iter()
            .map(|r| Ok(Some(r)))
            .collect();
        drop(records);
        for link in &mut self.links {
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
}

pub fn make_transform(
    runtime: &Runtime,
    spec: &TransformSpec,
    state: PluginState,
) -> Result<TransformInstance> {
    TransformInstance::new(runtime, &spec.plugin, &spec.config, spec.part, state)
}

pub fn make_predicate(
    runtime: &Runtime,
    spec: &PredicateSpec,
    state: PluginState,
) -> Result<PredicateInstance> {
    PredicateInstance::new(runtime, &spec.plugin, &spec.config, state)
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
