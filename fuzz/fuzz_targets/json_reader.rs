//! The JSON converter's reader: `to_data`, which the host calls on every
//! key and value a sink's records bring from Kafka, with `schemas.enable`
//! on (an envelope `{"schema":...,"payload":...}`) and off, and with
//! `replace.null.with.default` on and off. What it reads must write back,
//! and what it writes must read back as the same data.

#![no_main]

use json_converter::JsonConverter;
use libfuzzer_sys::fuzz_target;
use sluice_sdk::data::{StructuredValue, Value};
use sluice_sdk::{Config, Converter};

fn converter(
    schemas_enable: bool,
    replace_null_with_default: bool,
    decimals: &str,
) -> JsonConverter {
    let config: Config = [
        ("schemas.enable", schemas_enable.to_string()),
        (
            "replace.null.with.default",
            replace_null_with_default.to_string(),
        ),
        ("decimal.format", decimals.to_string()),
    ]
    .into_iter()
    .collect();
    JsonConverter::create(config, false).expect("valid converter settings")
}

/// Schemaless, Kafka writes a non-finite double as a JSON string
/// ("Infinity"), which reads back as a string: the one change a round
/// trip may make.
fn has_non_finite(value: &Value) -> bool {
    match value {
        Value::Float32(v) => !v.is_finite(),
        Value::Float64(v) => !v.is_finite(),
        Value::Array(items) => items.iter().any(has_non_finite),
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| has_non_finite(k) || has_non_finite(v)),
        Value::Struct(fields) => fields.iter().any(|(_, v)| has_non_finite(v)),
        _ => false,
    }
}

/// Compared by their `Debug` text, so that a NaN equals itself and 0.0
/// differs from -0.0.
fn same(a: &StructuredValue, b: &StructuredValue) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fuzz_target!(|bytes: &[u8]| {
    for schemas_enable in [true, false] {
        for replace_null_with_default in [true, false] {
            let mut json = converter(schemas_enable, replace_null_with_default, "BASE64");
            let Ok(Some(data)) = json.to_data("t", Some(bytes.to_vec())) else {
                continue;
            };
            let tree = data.to_tree().expect("the reader's data is well-formed");
            let written = json
                .from_data("t", Some(data.clone()))
                .unwrap_or_else(|e| panic!("{tree:?} was read but cannot be written: {e}"));
            let again = json
                .to_data("t", written.clone())
                .unwrap_or_else(|e| {
                    panic!(
                        "{:?}, written from {tree:?}, cannot be read: {e}",
                        written.as_deref().map(String::from_utf8_lossy)
                    )
                })
                .map(|data| data.to_tree().expect("the reader's data is well-formed"));
            let Some(again) = again else {
                panic!("{tree:?} was written as {written:?}, which reads as null");
            };
            let kafkas_one_change = tree.schema.is_none() && has_non_finite(&tree.value);
            assert!(
                kafkas_one_change || same(&tree, &again),
                "{tree:?} was written as {:?}, which reads as {again:?}",
                written.as_deref().map(String::from_utf8_lossy)
            );
            // Decimals as JSON numbers: written without a panic.
            let _ = converter(schemas_enable, replace_null_with_default, "NUMERIC")
                .from_data("t", Some(data));
        }
    }
});
