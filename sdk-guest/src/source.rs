//! Source connectors: the traits a plugin implements and the adapter that
//! exports them through the `source-connector` world.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::source::exports::sluice::connect::source as wit_source;
use crate::data::{self, SchemaRef};
use crate::wit::{self, BatchData, ConfigIssue, ConfigKey, ConnectError, Data, PluginMetadata};
use crate::{Config, Result, Schema, Value};

/// A source connector, as Kafka Connect's `SourceConnector`: it describes its
/// configuration and splits the work into task configurations.
pub trait SourceConnector: 'static {
    /// The task type that does the reading.
    type Task: SourceTask;

    /// Name, version and description; the name is what `connector.class`
    /// refers to.
    fn metadata() -> PluginMetadata;

    /// The configuration keys the connector understands.
    fn config_keys() -> Vec<ConfigKey>;

    /// Checks beyond types and required keys, which the host already did.
    fn validate(_config: &Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// Splits the work into at most `max_tasks` configurations. The default
    /// runs one task with the connector's configuration.
    fn task_configs(config: &Config, _max_tasks: u32) -> Result<Vec<Config>> {
        Ok(vec![config.clone()])
    }
}

/// A running source task, as Kafka Connect's `SourceTask`.
pub trait SourceTask: Sized + 'static {
    /// Starts the task. `offsets` holds the positions the host committed
    /// for this connector, so a restarted task resumes where it stopped.
    fn start(config: Config, offsets: Offsets) -> Result<Self>;

    /// Returns up to `max_records` records, or an empty batch when there is
    /// nothing yet; it should not block for long.
    fn poll(&mut self, max_records: u32) -> Result<SourceBatch>;

    /// The host has durably committed these offsets.
    fn commit(&mut self, _offsets: Offsets) -> Result<()> {
        Ok(())
    }

    /// The task is stopping.
    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Committed source offsets: (partition, offset) pairs of JSON values.
#[derive(Clone, Debug, Default)]
pub struct Offsets {
    entries: Vec<(serde_json::Value, serde_json::Value)>,
}

impl Offsets {
    /// The committed offset of `partition`, if there is one.
    pub fn get(&self, partition: &serde_json::Value) -> Option<&serde_json::Value> {
        self.entries
            .iter()
            .find(|(p, _)| p == partition)
            .map(|(_, o)| o)
    }

    /// Every (partition, offset) pair.
    pub fn iter(&self) -> impl Iterator<Item = &(serde_json::Value, serde_json::Value)> {
        self.entries.iter()
    }

    fn from_wit(pairs: Vec<(String, String)>) -> Result<Self> {
        let parse = |s: &str| {
            serde_json::from_str(s).map_err(|e| {
                ConnectError::fatal(format!(
                    "the host passed an offset that is not JSON: {e}: {s}"
                ))
            })
        };
        Ok(Offsets {
            entries: pairs
                .iter()
                .map(|(p, o)| Ok((parse(p)?, parse(o)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// A handle to one of the source partitions listed in a [`SourceBatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionRef(u32);

/// The records one `poll` returns, with the source partitions they come from
/// and the schemas of their keys and values listed once instead of once per
/// record.
#[derive(Debug)]
pub struct SourceBatch {
    inner: wit::SourceBatch,
}

impl Default for SourceBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl SourceBatch {
    /// An empty batch: no records, partitions or schemas yet.
    pub fn new() -> Self {
        SourceBatch {
            inner: wit::SourceBatch {
                schemas: Vec::new(),
                partitions: Vec::new(),
                records: Vec::new(),
            },
        }
    }

    /// Registers a source partition (Kafka Connect's source partition map)
    /// and returns the handle records refer to it by.
    pub fn partition(&mut self, partition: &serde_json::Value) -> PartitionRef {
        let encoded = partition.to_string();
        if let Some(i) = self.inner.partitions.iter().position(|p| *p == encoded) {
            return PartitionRef(i as u32);
        }
        self.inner.partitions.push(encoded);
        PartitionRef(self.inner.partitions.len() as u32 - 1)
    }

    /// Lists a key or value schema (once, however often it is listed) and
    /// returns the handle data refers to it by: a connector that reads
    /// records of one shape lists it once per batch, and converters render
    /// it once per batch.
    pub fn schema(&mut self, schema: &Schema) -> SchemaRef {
        let data = Data::structured(Some(schema.clone()), Value::Null);
        match data::share(data, &mut self.inner.schemas) {
            Ok(BatchData::Structured(s)) => SchemaRef(s.schema.expect("a schema was given")),
            Ok(BatchData::Raw(_)) => unreachable!("structured data stays structured"),
            // Flattening a tree writes every node before its children.
            Err(e) => unreachable!("a flattened schema is well-formed: {e}"),
        }
    }

    /// `data` for a record of this batch: its schema, if any, listed once
    /// in the batch. Data whose nodes refer to missing ones is refused.
    pub fn data(&mut self, data: Data) -> Result<BatchData> {
        data::share(data, &mut self.inner.schemas)
            .map_err(|e| ConnectError::fatal(format!("malformed structured data: {e}")))
    }

    /// Adds a record. Its structured key and value refer to schemas this
    /// batch lists ([`SourceBatch::schema`], [`SourceBatch::data`]).
    pub fn push(&mut self, record: wit::SourceRecord) {
        self.inner.records.push(record);
    }

    /// How many records the batch holds.
    pub fn len(&self) -> usize {
        self.inner.records.len()
    }

    /// Whether the batch holds no records; for an empty batch the host
    /// waits a little before it polls again.
    pub fn is_empty(&self) -> bool {
        self.inner.records.is_empty()
    }
}

impl wit::SourceRecord {
    /// A record for `topic` with `value`, no key, no headers, and a
    /// partition and timestamp left to the host.
    pub fn new(topic: &str, value: BatchData) -> Self {
        wit::SourceRecord {
            topic: topic.to_string(),
            partition: None,
            key: None,
            value: Some(value),
            headers: Vec::new(),
            timestamp: None,
            position: None,
        }
    }

    /// Where the record came from: the host commits `offset` for
    /// `partition` once Kafka has acknowledged this record.
    pub fn at(mut self, partition: PartitionRef, offset: &serde_json::Value) -> Self {
        self.position = Some(wit::SourcePosition {
            partition: partition.0,
            offset: offset.to_string(),
        });
        self
    }

    /// Sets the record key.
    pub fn key(mut self, key: BatchData) -> Self {
        self.key = Some(key);
        self
    }
}

/// The adapter [`crate::export_source_connector!`] exports; not for direct use.
#[doc(hidden)]
pub struct Exports<C>(PhantomData<C>);

/// The exported `source-task` resource: wraps the plugin's task, which the
/// generated bindings hand out only by shared reference.
#[doc(hidden)]
pub struct TaskResource<T>(RefCell<T>);

impl<C: SourceConnector> wit_source::Guest for Exports<C> {
    type SourceTask = TaskResource<C::Task>;

    fn metadata() -> PluginMetadata {
        C::metadata()
    }

    fn config_keys() -> Vec<ConfigKey> {
        C::config_keys()
    }

    fn validate(config: Vec<(String, String)>) -> Vec<ConfigIssue> {
        crate::log::report_panics();
        C::validate(&config.into())
    }

    fn task_configs(
        config: Vec<(String, String)>,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        crate::log::report_panics();
        let configs = C::task_configs(&config.into(), max_tasks)?;
        Ok(configs.into_iter().map(Into::into).collect())
    }
}

impl<T: SourceTask> wit_source::GuestSourceTask for TaskResource<T> {
    fn start(
        config: Vec<(String, String)>,
        offsets: Vec<(String, String)>,
    ) -> Result<wit_source::SourceTask> {
        crate::log::report_panics();
        let task = T::start(config.into(), Offsets::from_wit(offsets)?)?;
        Ok(wit_source::SourceTask::new(TaskResource(RefCell::new(
            task,
        ))))
    }

    fn poll(&self, max_records: u32) -> Result<wit::SourceBatch> {
        Ok(self.0.borrow_mut().poll(max_records)?.inner)
    }

    fn commit(&self, offsets: Vec<(String, String)>) -> Result<()> {
        self.0.borrow_mut().commit(Offsets::from_wit(offsets)?)
    }

    fn stop(&self) -> Result<()> {
        self.0.borrow_mut().stop()
    }
}
