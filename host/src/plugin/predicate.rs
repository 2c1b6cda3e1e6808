//! Instances of predicate plugins: one store, one `predicate-instance`,
//! called once per batch.

use anyhow::{Context, anyhow};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::predicate::Predicate;
use super::registry::Plugin;
use super::state::{PluginState, Runtime};
use super::world::WitConfig;
use crate::runtime::bindings::types::{ConnectRecord, RecordBatch};
use crate::runtime::limits::timed;

/// One predicate, configured; the outer error of every call is a trap.
pub struct PredicateInstance {
    store: Store<PluginState>,
    world: Predicate,
    predicate: ResourceAny,
}

impl PredicateInstance {
    /// Instantiates `plugin` and creates its predicate with `config` (the
    /// `predicates.<alias>.` keys, prefix removed).
    pub fn new(
        runtime: &Runtime,
        plugin: &Plugin,
        config: &WitConfig,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let mut store = runtime.store(state);
        let world = Predicate::instantiate(&mut store, &plugin.component, runtime.linker())
            .map_err(anyhow::Error::from)
            .context("instantiating the predicate")?;
        let predicate = world
            .sluice_connect_condition()
            .predicate_instance()
            .call_create(&mut store, config)
            .map_err(anyhow::Error::from)
            .context("creating the predicate")?
            .map_err(|e| anyhow!("{}", e.message))?;
        Ok(PredicateInstance {
            store,
            world,
            predicate,
        })
    }

    /// One answer per record of a batch in the record-batch byte form.
    pub fn test_batch(&mut self, batch: &RecordBatch) -> wasmtime::Result<Vec<bool>> {
        let api = self.world.sluice_connect_condition().predicate_instance();
        timed(&mut self.store, |store| {
            api.call_test(store, self.predicate, batch)
        })
    }

    /// One answer per record.
    pub fn test(&mut self, records: &[ConnectRecord]) -> wasmtime::Result<Vec<bool>> {
        self.test_batch(&sluice_wire::encode_batch(records))
    }
}
