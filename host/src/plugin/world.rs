//! A plugin's world, instantiated by its kind in one place: connector
//! instances and the describer both start here. Every world answers the
//! same three calls (`metadata`, `config-keys`, `validate`) on its own
//! exported interface.

use anyhow::Context;
use wasmtime::Store;
use wasmtime::component::Component;

use super::bindings::converter::Converter;
use super::bindings::predicate::Predicate;
use super::bindings::sink::SinkConnector;
use super::bindings::source::SourceConnector;
use super::bindings::transform::Transform;
use super::kind::PluginKind;
use super::state::{PluginState, Runtime};
use crate::runtime::bindings::types::{ConfigIssue, ConfigKey, PluginMetadata};
use crate::runtime::limits::timed;

/// The `config` WIT type.
pub type WitConfig = Vec<(String, String)>;

/// The exports of an instantiated plugin, by world.
pub enum World {
    Source(SourceConnector),
    Sink(SinkConnector),
    Converter(Converter),
    Transform(Transform),
    Predicate(Predicate),
}

/// Calls `$call` on the exported interface of whichever world it is: the
/// interfaces are distinct generated types with the same methods.
macro_rules! on_interface {
    ($world:expr, $interface:ident => $call:expr) => {
        match $world {
            World::Source(w) => {
                let $interface = w.sluice_connect_source();
                $call
            }
            World::Sink(w) => {
                let $interface = w.sluice_connect_sink();
                $call
            }
            World::Converter(w) => {
                let $interface = w.sluice_connect_conversion();
                $call
            }
            World::Transform(w) => {
                let $interface = w.sluice_connect_transformation();
                $call
            }
            World::Predicate(w) => {
                let $interface = w.sluice_connect_condition();
                $call
            }
        }
    };
}

impl World {
    /// Instantiates `component` as a plugin of `kind` in a new store of
    /// `state`.
    pub fn instantiate(
        runtime: &Runtime,
        component: &Component,
        kind: PluginKind,
        state: PluginState,
    ) -> anyhow::Result<(Store<PluginState>, World)> {
        let mut store = runtime.store(state);
        let linker = runtime.linker();
        let world = match kind {
            PluginKind::Source => {
                SourceConnector::instantiate(&mut store, component, linker).map(World::Source)
            }
            PluginKind::Sink => {
                SinkConnector::instantiate(&mut store, component, linker).map(World::Sink)
            }
            PluginKind::Converter => {
                Converter::instantiate(&mut store, component, linker).map(World::Converter)
            }
            PluginKind::Transform => {
                Transform::instantiate(&mut store, component, linker).map(World::Transform)
            }
            PluginKind::Predicate => {
                Predicate::instantiate(&mut store, component, linker).map(World::Predicate)
            }
        }
        .map_err(anyhow::Error::from)
        .with_context(|| format!("instantiating the {kind} plugin"))?;
        Ok((store, world))
    }

    pub fn metadata(&self, store: &mut Store<PluginState>) -> wasmtime::Result<PluginMetadata> {
        on_interface!(self, interface => timed(store, |store| interface.call_metadata(store)))
    }

    pub fn config_keys(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Vec<ConfigKey>> {
        on_interface!(self, interface => timed(store, |store| interface.call_config_keys(store)))
    }

    pub fn validate(
        &self,
        store: &mut Store<PluginState>,
        config: &WitConfig,
    ) -> wasmtime::Result<Vec<ConfigIssue>> {
        on_interface!(self, interface => timed(store, |store| interface.call_validate(store, config)))
    }
}

/// An instance of any plugin, for describing it.
pub struct PluginDescriber {
    store: Store<PluginState>,
    world: World,
}

impl PluginDescriber {
    pub fn new(
        runtime: &Runtime,
        component: &Component,
        kind: PluginKind,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let (store, world) = World::instantiate(runtime, component, kind, state)?;
        Ok(PluginDescriber { store, world })
    }

    pub fn metadata(&mut self) -> wasmtime::Result<PluginMetadata> {
        self.world.metadata(&mut self.store)
    }

    pub fn config_keys(&mut self) -> wasmtime::Result<Vec<ConfigKey>> {
        self.world.config_keys(&mut self.store)
    }

    pub fn validate(&mut self, config: &WitConfig) -> wasmtime::Result<Vec<ConfigIssue>> {
        self.world.validate(&mut self.store, config)
    }
}
