//! Single-message transforms: the trait a plugin implements and the adapter
//! that exports it through the `transform` world. The host hands a
//! transform a whole batch in one call, in the record-batch byte form; the
//! adapter reads each record, applies the transform and writes its result.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::transform::exports::sluice::connect::transformation as wit_transformation;
use crate::wit::{ConfigIssue, ConfigKey, ConnectRecord, Data, PluginMetadata, RecordPart};
use crate::{Config, Result};

/// A single-message transform, as Kafka Connect's `Transformation`.
pub trait Transform: Sized + 'static {
    /// Name, version, description and aliases; the name (or an alias, such
    /// as `org.apache.kafka.connect.transforms.Cast`) is what
    /// `transforms.<alias>.type` refers to, with `$Key` or `$Value` after it
    /// for a transform that has those variants.
    fn metadata() -> PluginMetadata;

    /// The configuration keys the transform understands, without the
    /// `transforms.<alias>.` prefix.
    fn config_keys() -> Vec<ConfigKey>;

    /// Checks beyond types and required keys, which the host already did.
    fn validate(_config: &Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// A transform instance; `part` is the `$Key`/`$Value` variant asked for.
    fn create(config: Config, part: Option<RecordPart>) -> Result<Self>;

    /// The transformed record, `None` to drop it, or an error naming what
    /// is wrong with this record (the host applies the connector's error
    /// policy to it alone).
    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>, String>;
}

impl ConnectRecord {
    /// The key or the value.
    pub fn part(&self, part: RecordPart) -> Option<&Data> {
        match part {
            RecordPart::Key => self.key.as_ref(),
            RecordPart::Value => self.value.as_ref(),
        }
    }

    /// The key or the value, to change.
    pub fn part_mut(&mut self, part: RecordPart) -> &mut Option<Data> {
        match part {
            RecordPart::Key => &mut self.key,
            RecordPart::Value => &mut self.value,
        }
    }
}

/// The adapter [`crate::export_transform!`] exports; not for direct use.
#[doc(hidden)]
pub struct Exports<T>(PhantomData<T>);

/// The exported `transform-instance` resource.
#[doc(hidden)]
pub struct TransformResource<T>(RefCell<T>);

impl<T: Transform> wit_transformation::Guest for Exports<T> {
    type TransformInstance = TransformResource<T>;

    fn metadata() -> PluginMetadata {
        T::metadata()
    }

    fn config_keys() -> Vec<ConfigKey> {
        T::config_keys()
    }

    fn validate(config: Vec<(String, String)>) -> Vec<ConfigIssue> {
        crate::log::report_panics();
        T::validate(&config.into())
    }
}

impl<T: Transform> wit_transformation::GuestTransformInstance for TransformResource<T> {
    fn create(
        config: Vec<(String, String)>,
        part: Option<RecordPart>,
    ) -> Result<wit_transformation::TransformInstance> {
        crate::log::report_panics();
        let transform = T::create(config.into(), part)?;
        Ok(wit_transformation::TransformInstance::new(
            TransformResource(RefCell::new(transform)),
        ))
    }

    fn apply(&self, batch: Vec<u8>) -> Vec<u8> {
        let mut transform = self.0.borrow_mut();
        let records = crate::wire::records(&batch);
        // Results are about as large as the records they replace.
        let mut results = sluice_wire::ResultsWriter::with_capacity(batch.len() + batch.len() / 4);
        for record in records {
            match transform.apply(record) {
                Ok(Some(record)) => results.record(&record),
                Ok(None) => results.dropped(),
                Err(message) => results.failed(&message),
            }
        }
        results.finish()
    }
}
