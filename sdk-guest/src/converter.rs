//! Converters: the trait a plugin implements and the adapter that exports it
//! through the `converter` world. The host hands a converter every key (or
//! value, or header) of a batch in one call; the adapter walks them.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::converter::exports::sluice::connect::conversion as wit_conversion;
use crate::wit::{BatchData, BatchSchema, ConfigIssue, ConfigKey, Data, PluginMetadata};
use crate::{Config, Result};

/// A converter between the bytes on the wire and structured data, as Kafka
/// Connect's `Converter` (and `HeaderConverter`, which the host creates
/// with `is_key` false).
pub trait Converter: Sized + 'static {
    /// Name, version, description and aliases; the name (or an alias, such
    /// as `org.apache.kafka.connect.json.JsonConverter`) is what
    /// `value.converter` refers to.
    fn metadata() -> PluginMetadata;

    /// The configuration keys the converter understands (the `.` sub-keys:
    /// `value.converter.schemas.enable` arrives as `schemas.enable`).
    fn config_keys() -> Vec<ConfigKey>;

    /// Checks beyond types and required keys, which the host already did.
    fn validate(_config: &Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// A converter for keys (`is_key`) or values.
    fn create(config: Config, is_key: bool) -> Result<Self>;

    /// Bytes from Kafka to data. `None` is a null (a tombstone's value).
    fn to_data(&mut self, topic: &str, bytes: Option<Vec<u8>>) -> Result<Option<Data>, String>;

    /// Data to bytes for Kafka. The host converts only structured data:
    /// raw bytes are on-the-wire already and nulls stay null.
    // Named after the WIT function `from-data`, as Kafka's `fromConnectData`.
    #[allow(clippy::wrong_self_convention)]
    fn from_data(&mut self, topic: &str, data: Option<Data>) -> Result<Option<Vec<u8>>, String>;

    /// Data to bytes for a whole batch, one result per item, in order. Its
    /// structured items refer to `schemas`, each listed once for the
    /// batch. The default gives each item its schema and calls
    /// [`Converter::from_data`]; a converter that can do a schema's work
    /// once per batch (the JsonConverter renders it once) overrides this.
    #[allow(clippy::wrong_self_convention)]
    fn from_batch(
        &mut self,
        topic: &str,
        schemas: &[BatchSchema],
        items: Vec<Option<BatchData>>,
    ) -> Vec<Result<Option<Vec<u8>>, String>> {
        items
            .into_iter()
            .map(|item| {
                let data = item
                    .map(|d| crate::data::inline(d, schemas))
                    .transpose()
                    .map_err(|e| format!("malformed structured data: {e}"))?;
                self.from_data(topic, data)
            })
            .collect()
    }
}

/// The adapter [`crate::export_converter!`] exports; not for direct use.
#[doc(hidden)]
pub struct Exports<C>(PhantomData<C>);

/// The exported `converter-instance` resource.
#[doc(hidden)]
pub struct ConverterResource<C>(RefCell<C>);

impl<C: Converter> wit_conversion::Guest for Exports<C> {
    type ConverterInstance = ConverterResource<C>;

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
}

impl<C: Converter> wit_conversion::GuestConverterInstance for ConverterResource<C> {
    fn create(
        config: Vec<(String, String)>,
        is_key: bool,
    ) -> Result<wit_conversion::ConverterInstance> {
        crate::log::report_panics();
        let converter = C::create(config.into(), is_key)?;
        Ok(wit_conversion::ConverterInstance::new(ConverterResource(
            RefCell::new(converter),
        )))
    }

    fn to_data(
        &self,
        topic: String,
        items: Vec<Option<Vec<u8>>>,
    ) -> Vec<Result<Option<Data>, String>> {
        let mut converter = self.0.borrow_mut();
        items
            .into_iter()
            .map(|item| converter.to_data(&topic, item))
            .collect()
    }

    fn from_data(
        &self,
        topic: String,
        schemas: Vec<BatchSchema>,
        items: Vec<Option<BatchData>>,
    ) -> Vec<Result<Option<Vec<u8>>, String>> {
        self.0.borrow_mut().from_batch(&topic, &schemas, items)
    }
}
