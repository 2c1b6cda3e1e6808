//! What a plugin is: its kind, told by the Sluice interface its component
//! exports, and Kafka's names for the types and importances of the keys it
//! declares.

use std::fmt;

use anyhow::{Result, bail};
use wasmtime::component::Component;

use super::bindings::{
    CONDITION_INTERFACE, CONVERSION_INTERFACE, SINK_INTERFACE, SOURCE_INTERFACE,
    TRANSFORMATION_INTERFACE,
};
use super::state::Runtime;
use crate::runtime::bindings::types::{ConfigType, Importance};

/// What a plugin is, from the interface it exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginKind {
    Source,
    Sink,
    Converter,
    Transform,
    Predicate,
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginKind::Source => "source",
            PluginKind::Sink => "sink",
            PluginKind::Converter => "converter",
            PluginKind::Transform => "transformation",
            PluginKind::Predicate => "predicate",
        })
    }
}

/// The kind of a component, from the Sluice interface it exports.
pub fn detect_kind(runtime: &Runtime, component: &Component) -> Result<PluginKind> {
    let exports: Vec<String> = component
        .component_type()
        .exports(runtime.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let kinds = [
        (SOURCE_INTERFACE, PluginKind::Source),
        (SINK_INTERFACE, PluginKind::Sink),
        (CONVERSION_INTERFACE, PluginKind::Converter),
        (TRANSFORMATION_INTERFACE, PluginKind::Transform),
        (CONDITION_INTERFACE, PluginKind::Predicate),
    ];
    let found: Vec<PluginKind> = kinds
        .iter()
        .filter(|(interface, _)| exports.iter().any(|e| e == interface))
        .map(|(_, kind)| *kind)
        .collect();
    match found.as_slice() {
        [kind] => Ok(*kind),
        [] => bail!(
            "the component exports no Sluice plugin interface (it exports: {}); \
             a plugin targets one of the worlds in wit/ of sluice:connect@0.1.0",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        ),
        several => bail!("the component exports several plugin kinds: {several:?}"),
    }
}

/// Kafka Connect's name for a key type.
pub fn type_name(type_: ConfigType) -> &'static str {
    match type_ {
        ConfigType::Boolean => "BOOLEAN",
        ConfigType::String => "STRING",
        ConfigType::Int => "INT",
        ConfigType::Long => "LONG",
        ConfigType::Double => "DOUBLE",
        ConfigType::List => "LIST",
        ConfigType::Password => "PASSWORD",
        ConfigType::Class => "CLASS",
    }
}

/// Kafka's name of an importance.
pub fn importance_name(importance: Importance) -> &'static str {
    match importance {
        Importance::High => "HIGH",
        Importance::Medium => "MEDIUM",
        Importance::Low => "LOW",
    }
}
