//! Plugins: the worlds a component can target and the bindings of each,
//! the store state of an instance (which bundles the capabilities), the
//! registry of the plugin directory, and typed instances of each kind.

pub mod bindings;
pub mod converter;
pub mod instance;
pub mod kind;
pub mod predicate;
pub mod registry;
pub mod state;
pub mod transform;
pub mod world;

pub use converter::ConverterInstance;
pub use instance::ConnectorInstance;
pub use kind::PluginKind;
pub use predicate::PredicateInstance;
pub use registry::{Plugin, PluginRegistry, RejectedPlugin};
pub use state::{Identity, PluginState, Runtime, bare_state};
pub use transform::TransformInstance;
pub use world::{PluginDescriber, WitConfig};
