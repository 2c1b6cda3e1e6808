//! Plugin components outside a pipeline: the registry of every plugin this
//! checkout built, instances of converters, transforms and predicates, and
//! helpers that build and read structured data through the json converter
//! (Kafka's JsonConverter format), so tests read like Kafka's documentation:
//! JSON in, JSON out.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;

use sluice::plugin::Runtime;
use sluice::plugin::WitConfig;
use sluice::plugin::{
    ConverterInstance, PluginRegistry, PredicateInstance, TransformInstance, bare_state,
};
use sluice::runtime::bindings::types::{
    ConnectRecord, Data, Header, SchemaNode, SchemaType, Structured, ValueNode,
};

use crate::{PLUGIN_DIR, shared_cache_dir};

/// The wasmtime runtime and every plugin of the build.
pub struct Components {
    pub runtime: Runtime,
    pub registry: PluginRegistry,
}

/// The components, loaded once per test binary.
pub fn components() -> &'static Components {
    static COMPONENTS: OnceLock<Components> = OnceLock::new();
    COMPONENTS.get_or_init(|| Components::load(true))
}

impl Components {
    /// Every plugin of the build, in a runtime of its own that enforces
    /// task limits or not.
    pub fn load(enforce_limits: bool) -> Components {
        let plugins = PathBuf::from(PLUGIN_DIR);
        let runtime = Runtime::new(&shared_cache_dir(), enforce_limits)
            .expect("creating the wasmtime runtime");
        let registry = PluginRegistry::load(&runtime, &[plugins]).expect("loading the plugins");
        if let Some(rejected) = registry.rejected().first() {
            panic!(
                "plugin {} was rejected: {}",
                rejected.path.display(),
                rejected.reason
            );
        }
        Components { runtime, registry }
    }
}

fn wit_config(config: &[(&str, &str)]) -> WitConfig {
    config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Components {
    /// A converter (`name` as `value.converter` takes it), or why it could
    /// not be created.
    pub fn try_converter(
        &self,
        name: &str,
        config: &[(&str, &str)],
        is_key: bool,
    ) -> anyhow::Result<ConverterInstance> {
        let plugin = self
            .registry
            .resolve_converter(name)
            .map_err(anyhow::Error::msg)?;
        ConverterInstance::new(
            &self.runtime,
            &plugin,
            &wit_config(config),
            is_key,
            bare_state(name),
        )
    }

    pub fn converter(
        &self,
        name: &str,
        config: &[(&str, &str)],
        is_key: bool,
    ) -> ConverterInstance {
        self.try_converter(name, config, is_key)
            .unwrap_or_else(|e| panic!("creating converter {name}: {e:#}"))
    }

    /// A transform (`class` as `transforms.<alias>.type` takes it, with
    /// `$Key` or `$Value` for a variant), or why it could not be created.
    pub fn try_transform(
        &self,
        class: &str,
        config: &[(&str, &str)],
    ) -> anyhow::Result<TransformInstance> {
        let (plugin, part) = self
            .registry
            .resolve_transform(class)
            .map_err(anyhow::Error::msg)?;
        TransformInstance::new(
            &self.runtime,
            &plugin,
            &wit_config(config),
            part,
            bare_state(class),
        )
    }

    pub fn transform(&self, class: &str, config: &[(&str, &str)]) -> TransformInstance {
        self.try_transform(class, config)
            .unwrap_or_else(|e| panic!("creating transform {class}: {e:#}"))
    }

    /// A predicate, or why it could not be created.
    pub fn try_predicate(
        &self,
        class: &str,
        config: &[(&str, &str)],
    ) -> anyhow::Result<PredicateInstance> {
        let plugin = self
            .registry
            .resolve_predicate(class)
            .map_err(anyhow::Error::msg)?;
        PredicateInstance::new(
            &self.runtime,
            &plugin,
            &wit_config(config),
            bare_state(class),
        )
    }

    pub fn predicate(&self, class: &str, config: &[(&str, &str)]) -> PredicateInstance {
        self.try_predicate(class, config)
            .unwrap_or_else(|e| panic!("creating predicate {class}: {e:#}"))
    }
}

thread_local! {
    /// json converters with schemas enabled and disabled, per test thread
    /// (an instance is not shareable between threads).
    static JSON: RefCell<Option<(ConverterInstance, ConverterInstance)>> = const { RefCell::new(None) };
}

fn with_json<T>(f: impl FnOnce(&mut ConverterInstance, &mut ConverterInstance) -> T) -> T {
    JSON.with(|cell| {
        let mut cell = cell.borrow_mut();
        let (with_schema, schemaless) = cell.get_or_insert_with(|| {
            let c = components();
            (
                c.converter("json", &[("schemas.enable", "true")], false),
                c.converter("json", &[("schemas.enable", "false")], false),
            )
        });
        f(with_schema, schemaless)
    })
}

fn read(converter: &mut ConverterInstance, text: &str) -> Data {
    let mut results = converter
        .to_data("test", &[Some(text.as_bytes().to_vec())])
        .expect("the json converter trapped");
    match results.pop() {
        Some(Ok(Some(data))) => data,
        other => panic!("the json converter could not read {text}: {other:?}"),
    }
}

fn write(converter: &mut ConverterInstance, data: &Data) -> String {
    if let Data::Raw(bytes) = data {
        return format!("raw:{}", String::from_utf8_lossy(bytes));
    }
    let mut results = converter
        .from_data("test", std::slice::from_ref(&Some(data.clone())))
        .expect("the json converter trapped");
    match results.pop() {
        Some(Ok(Some(bytes))) => String::from_utf8(bytes).expect("the json converter wrote UTF-8"),
        Some(Ok(None)) => "null".to_string(),
        other => panic!("the json converter could not write {data:?}: {other:?}"),
    }
}

/// Data with a schema, from Kafka's JsonConverter envelope:
/// `{"schema": {...}, "payload": ...}`.
pub fn json(envelope: &str) -> Data {
    with_json(|with_schema, _| read(with_schema, envelope))
}

/// Schemaless data from plain JSON (objects become maps).
pub fn schemaless(text: &str) -> Data {
    with_json(|_, schemaless| read(schemaless, text))
}

/// Data written as Kafka's JsonConverter envelope (schemas enabled).
/// Raw bytes are shown as `raw:<text>`.
pub fn to_json(data: &Data) -> String {
    with_json(|with_schema, _| write(with_schema, data))
}

/// Data written as plain JSON (schemas disabled).
pub fn to_schemaless(data: &Data) -> String {
    with_json(|_, schemaless| write(schemaless, data))
}

/// An optional part of a record as JSON (envelope form), `None` as `-`.
pub fn show(data: &Option<Data>) -> String {
    data.as_ref().map(to_json).unwrap_or_else(|| "-".into())
}

/// A required schema node of `type_` with nothing else set.
pub fn schema_node(type_: SchemaType) -> SchemaNode {
    SchemaNode {
        type_,
        optional: false,
        name: None,
        version: None,
        doc: None,
        parameters: Vec::new(),
        default_value: None,
        fields: Vec::new(),
        key_schema: None,
        value_schema: None,
    }
}

/// A required string with the STRING schema.
pub fn text(value: &str) -> Data {
    Data::Structured(Structured {
        schema: vec![schema_node(SchemaType::String)],
        values: vec![ValueNode::String(value.to_string())],
    })
}

/// A record of `topic`, partition 0, no offset, no headers.
pub fn record(topic: &str, key: Option<Data>, value: Option<Data>) -> ConnectRecord {
    ConnectRecord {
        topic: topic.to_string(),
        partition: Some(0),
        offset: None,
        key,
        value,
        headers: Vec::new(),
        timestamp: None,
    }
}

/// A header whose value is a string.
pub fn header(key: &str, value: &str) -> Header {
    Header {
        key: key.to_string(),
        value: Some(text(value)),
    }
}

/// Applies `transform` to one record: the transformed record, `None` when
/// dropped, or the transform's error.
pub fn apply_one(
    transform: &mut TransformInstance,
    record: ConnectRecord,
) -> Result<Option<ConnectRecord>, String> {
    let mut results = transform
        .apply(std::slice::from_ref(&record))
        .expect("the transform trapped");
    assert_eq!(results.len(), 1, "one result per record");
    results.pop().expect("checked")
}

/// Tests one record against `predicate`.
pub fn test_one(predicate: &mut PredicateInstance, record: &ConnectRecord) -> bool {
    let answers = predicate
        .test(std::slice::from_ref(record))
        .expect("the predicate trapped");
    assert_eq!(answers.len(), 1, "one answer per record");
    answers[0]
}
