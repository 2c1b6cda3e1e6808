//! Instances of transform plugins: one store, one `transform-instance`,
//! called once per batch.

use anyhow::{Context, anyhow};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::transform::Transform;
use super::registry::Plugin;
use super::state::{PluginState, Runtime};
use super::world::WitConfig;
use crate::runtime::bindings::types::{ConnectRecord, RecordBatch, RecordPart, TransformResults};
use crate::runtime::limits::timed;

/// One transform, configured; the outer error of every call is a trap.
pub struct TransformInstance {
    store: Store<PluginState>,
    world: Transform,
    transform: ResourceAny,
}

impl TransformInstance {
    /// Instantiates `plugin` and creates its transform with `config` (the
    /// `transforms.<alias>.` keys, prefix removed) for `part`, the `$Key` or
    /// `$Value` variant the operator named.
    pub fn new(
        runtime: &Runtime,
        plugin: &Plugin,
        config: &WitConfig,
        part: Option<RecordPart>,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let mut store = runtime.store(state);
        let world = Transform::instantiate(&mut store, &plugin.component, runtime.linker())
            .map_err(anyhow::Error::from)
            .context("instantiating the transform")?;
        let transform = world
            .sluice_connect_transformation()
            .transform_instance()
            .call_create(&mut store, config, part)
            .map_err(anyhow::Error::from)
            .context("creating the transform")?
            .map_err(|e| anyhow!("{}", e.message))?;
        Ok(TransformInstance {
            store,
            world,
            transform,
        })
    }

    /// Applies the transform to a batch in the record-batch byte form and
    /// returns its results in the same form, unchecked (see `sluice-wire`).
    pub fn apply_batch(&mut self, batch: &RecordBatch) -> wasmtime::Result<TransformResults> {
        let api = self
            .world
            .sluice_connect_transformation()
            .transform_instance();
        timed(&mut self.store, |store| {
            api.call_apply(store, self.transform, batch)
        })
    }

    /// One result per record: the new record, `None` when dropped, or why
    /// the record could not be transformed. Results the plugin wrote
    /// malformed are an error, as a trap is.
    pub fn apply(
        &mut self,
        records: &[ConnectRecord],
    ) -> wasmtime::Result<Vec<Result<Option<ConnectRecord>, String>>> {
        let results = self.apply_batch(&sluice_wire::encode_batch(records))?;
        sluice_wire::decode_results(&results).map_err(wasmtime::Error::msg)
    }
}
