//! The three calls every plugin kind answers the same way (`metadata`,
//! `config-keys`, `validate`), whatever its world: the registry describes
//! plugins with them and configuration checks ask them.

use anyhow::Context;
use wasmtime::Store;
use wasmtime::component::Component;

use super::PluginKind;
use super::instance::WitConfig;
use crate::runtime::bindings::converter::Converter;
use crate::runtime::bindings::predicate::Predicate;
use crate::runtime::bindings::sink::SinkConnector;
use crate::runtime::bindings::source::SourceConnector;
use crate::runtime::bindings::transform::Transform;
use crate::runtime::bindings::types::{ConfigIssue, ConfigKey, PluginMetadata};
use crate::runtime::limits::timed;
use crate::runtime::{PluginState, Runtime};

enum AnyWorld {
    Source(SourceConnector),
    Sink(SinkConnector),
    Converter(Converter),
    Transform(Transform),
    Predicate(Predicate),
}

/// An instance of any plugin, for describing it.
pub struct PluginDescriber {
    store: Store<PluginState>,
    world: AnyWorld,
}

/// Calls `$call` on the exported interface of whichever world it is: the
/// interfaces are distinct generated types with the same methods.
macro_rules! on_interface {
    ($self:ident, $interface:ident => $call:expr) => {
        match &$self.world {
            AnyWorld::Source(w) => {
                let $interface = w.sluice_connect_source();
                $call
            }
            AnyWorld::Sink(w) => {
                let $interface = w.sluice_connect_sink();
                $call
            }
            AnyWorld::Converter(w) => {
                let $interface = w.sluice_connect_conversion();
                $call
            }
            AnyWorld::Transform(w) => {
                let $interface = w.sluice_connect_transformation();
                $call
            }
            AnyWorld::Predicate(w) => {
                let $interface = w.sluice_connect_condition();
                $call
            }
        }
    };
}

impl PluginDescriber {
    pub fn new(
        runtime: &Runtime,
        component: &Component,
        kind: PluginKind,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let mut store = runtime.store(state);
        let linker = runtime.linker();
        let world = match kind {
            PluginKind::Source => {
                SourceConnector::instantiate(&mut store, component, linker).map(AnyWorld::Source)
            }
            PluginKind::Sink => {
                SinkConnector::instantiate(&mut store, component, linker).map(AnyWorld::Sink)
            }
            PluginKind::Converter => {
                Converter::instantiate(&mut store, component, linker).map(AnyWorld::Converter)
            }
            PluginKind::Transform => {
                Transform::instantiate(&mut store, component, linker).map(AnyWorld::Transform)
            }
            PluginKind::Predicate => {
                Predicate::instantiate(&mut store, component, linker).map(AnyWorld::Predicate)
            }
        }
        .map_err(anyhow::Error::from)
        .with_context(|| format!("instantiating the {kind} plugin"))?;
        Ok(PluginDescriber { store, world })
    }

    pub fn metadata(&mut self) -> wasmtime::Result<PluginMetadata> {
        on_interface!(self, interface => timed(&mut self.store, |store| interface.call_metadata(store)))
    }

    pub fn config_keys(&mut self) -> wasmtime::Result<Vec<ConfigKey>> {
        on_interface!(self, interface => timed(&mut self.store, |store| interface.call_config_keys(store)))
    }

    pub fn validate(&mut self, config: &WitConfig) -> wasmtime::Result<Vec<ConfigIssue>> {
        on_interface!(self, interface => timed(&mut self.store, |store| interface.call_validate(store, config)))
    }
}
