//! Instances of converter plugins: one store, one `converter-instance`
//! created for keys, values or headers, called once per batch.

use anyhow::{Context, anyhow};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::converter::Converter;
use super::registry::Plugin;
use super::state::{PluginState, Runtime};
use super::world::WitConfig;
use crate::runtime::bindings::shared;
use crate::runtime::bindings::types::{BatchData, BatchSchema, Data};
use crate::runtime::limits::timed;

/// One converter, configured; the outer error of every call is a trap.
pub struct ConverterInstance {
    store: Store<PluginState>,
    world: Converter,
    converter: ResourceAny,
}

impl ConverterInstance {
    /// Instantiates `plugin` and creates its converter with `config` (the
    /// `.` sub-keys, prefix removed).
    pub fn new(
        runtime: &Runtime,
        plugin: &Plugin,
        config: &WitConfig,
        is_key: bool,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let mut store = runtime.store(state);
        let world = Converter::instantiate(&mut store, &plugin.component, runtime.linker())
            .map_err(anyhow::Error::from)
            .context("instantiating the converter")?;
        let converter = world
            .sluice_connect_conversion()
            .converter_instance()
            .call_create(&mut store, config, is_key)
            .map_err(anyhow::Error::from)
            .context("creating the converter")?
            .map_err(|e| anyhow!("{}", e.message))?;
        Ok(ConverterInstance {
            store,
            world,
            converter,
        })
    }

    /// Bytes from Kafka to data, one result per item.
    pub fn to_data(
        &mut self,
        topic: &str,
        items: &[Option<Vec<u8>>],
    ) -> wasmtime::Result<Vec<Result<Option<Data>, String>>> {
        let api = self.world.sluice_connect_conversion().converter_instance();
        timed(&mut self.store, |store| {
            api.call_to_data(store, self.converter, topic, items)
        })
    }

    /// Data to bytes for Kafka, one result per item; the items'
    /// structured data refers to `schemas`.
    pub fn from_batch(
        &mut self,
        topic: &str,
        schemas: &[BatchSchema],
        items: &[Option<BatchData>],
    ) -> wasmtime::Result<Vec<Result<Option<Vec<u8>>, String>>> {
        let api = self.world.sluice_connect_conversion().converter_instance();
        timed(&mut self.store, |store| {
            api.call_from_data(store, self.converter, topic, schemas, items)
        })
    }

    /// Data to bytes for Kafka, one result per item of data that carries
    /// its own schema; equal schemas are listed once for the call.
    pub fn from_data(
        &mut self,
        topic: &str,
        items: &[Option<Data>],
    ) -> wasmtime::Result<Vec<Result<Option<Vec<u8>>, String>>> {
        let mut schemas = Vec::new();
        let items = items
            .iter()
            .map(|item| {
                item.clone()
                    .map(|data| shared::share(data, &mut schemas))
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| wasmtime::Error::msg(format!("malformed structured data: {e}")))?;
        self.from_batch(topic, &schemas, &items)
    }
}
