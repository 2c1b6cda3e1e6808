//! Host capabilities a plugin can be granted, each one module of the same
//! shape behind one trait, [`Capability`], modelled on Spin's factors: what
//! the worker defines (`files.root.<name>`, `sql.datasource.<name>.url`),
//! what a connector is granted of it (`grant.files`, `grant.sql`), checked
//! when the connector is configured, the host functions it links, and its
//! part of each plugin instance's state. `mod.rs` of a capability holds its
//! definitions, grant and `impl Capability`; `host.rs` (where there is one)
//! the `Host` impl of its generated WIT interface, generated beside it in
//! `bindings.rs`.
//!
//! The list at the bottom of this file is the one place that names them:
//! the runtime, the configuration and the worker see only the bundles it
//! generates ([`Definitions`], [`Grants`], [`Instances`]).

pub mod files;
pub mod lifecycle;
pub mod logging;
pub mod net;
pub mod sql;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};

use crate::configdef::{ConfigError, KeyDefinition};
pub use lifecycle::{
    Access, Capability, CapabilityHost, GRANTS_GROUP, InstanceContext, View, parse_access_grants,
    undefined, valid_name,
};

/// A store state that holds every capability's part: what the plugin
/// layer's state offers the capabilities.
pub trait HostState: CapabilityHost {
    /// The capabilities' parts and the resource table, borrowed together.
    fn capability_parts(&mut self) -> (&mut Instances, &mut ResourceTable);
}

/// Generates the bundles of every capability in the list: one field each
/// in [`Definitions`], [`Grants`] and [`Instances`], and the functions that
/// go through all of them.
macro_rules! capabilities {
    ($($field:ident: $capability:ty),* $(,)?) => {
        /// What the worker defines for each capability.
        #[derive(Clone, Debug, Default)]
        pub struct Definitions {
            $(pub $field: <$capability as Capability>::Definitions,)*
        }

        /// What one connector was granted of each capability.
        #[derive(Clone, Debug, Default)]
        pub struct Grants {
            $(pub $field: <$capability as Capability>::Grant,)*
        }

        /// Each capability's part of one plugin instance's state.
        pub struct Instances {
            $(pub $field: <$capability as Capability>::InstanceState,)*
        }

        /// The worker keys the capabilities read, whole.
        pub fn worker_keys() -> Vec<&'static str> {
            let mut keys = Vec::new();
            $(keys.extend_from_slice(<$capability as Capability>::WORKER_KEYS);)*
            keys
        }

        /// The worker key prefixes the capabilities read.
        pub fn worker_prefixes() -> Vec<&'static str> {
            let mut prefixes = Vec::new();
            $(prefixes.extend_from_slice(<$capability as Capability>::WORKER_PREFIXES);)*
            prefixes
        }

        /// The connector keys the capabilities read, in the list's order.
        pub fn connector_keys() -> Vec<&'static KeyDefinition> {
            let mut keys = Vec::new();
            $(keys.extend(<$capability as Capability>::connector_keys());)*
            keys
        }

        /// The connector keys of the capabilities a plugin with `imports`
        /// may use: what it may ask to be granted.
        pub fn grant_keys_for(imports: &[String]) -> Vec<&'static KeyDefinition> {
            let mut keys = Vec::new();
            $(
                if imports.iter().any(|import| {
                    <$capability as Capability>::IMPORTS
                        .iter()
                        .any(|prefix| import.starts_with(prefix))
                }) {
                    keys.extend(<$capability as Capability>::connector_keys());
                }
            )*
            keys
        }

        impl Definitions {
            /// Reads every capability's worker keys.
            pub fn from_worker_config(
                worker: &BTreeMap<String, String>,
                base: &Path,
                errors: &mut Vec<ConfigError>,
            ) -> Self {
                Definitions {
                    $($field: <$capability as Capability>::define(worker, base, errors),)*
                }
            }

            /// Reads every capability's grant of a connector.
            pub fn grants(
                &self,
                connector: &BTreeMap<String, String>,
                errors: &mut Vec<ConfigError>,
            ) -> Grants {
                Grants {
                    $($field: <$capability as Capability>::grant(connector, &self.$field, errors),)*
                }
            }

            /// Every capability's state for one plugin instance.
            pub fn instances(
                &self,
                grants: &Grants,
                instance: &mut InstanceContext<'_>,
            ) -> Result<Instances> {
                Ok(Instances {
                    $($field: <$capability as Capability>::instance_state(
                        &self.$field,
                        &grants.$field,
                        instance,
                    )?,)*
                })
            }
        }

        /// Adds every capability's host functions to `linker`.
        pub fn add_to_linker<S: HostState>(linker: &mut Linker<S>) -> Result<()> {
            $({
                fn get<S: HostState>(
                    state: &mut S,
                ) -> View<'_, <$capability as Capability>::InstanceState> {
                    let (instances, table) = state.capability_parts();
                    View::new(&mut instances.$field, table)
                }
                <$capability as Capability>::add_to_linker(linker, get::<S>)?;
            })*
            Ok(())
        }
    };
}

impl Instances {
    /// What checks an instance's outgoing HTTP requests: wasi:http asks
    /// the store's state for them, so the state hands on the net grant.
    pub fn http_hooks(&mut self) -> &mut dyn wasmtime_wasi_http::WasiHttpHooks {
        &mut self.net
    }
}

// Every capability of the host. Adding one is its folder and a line here.
capabilities! {
    files: files::Files,
    net: net::Net,
    sql: sql::Sql,
    logging: logging::Logging,
}
