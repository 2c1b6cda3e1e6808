//! Kafka's `Requirements`: the checks a transform makes on the value it
//! works on, failing with Kafka's messages (`Only Struct objects supported
//! for [cast types], found: java.lang.String`).

use sluice_sdk::{Schema, Value};

use crate::java::class_name;

/// The fields of a struct value, or Kafka's `requireStruct` error.
pub fn require_struct<'a>(
    value: &'a Value,
    purpose: &str,
) -> Result<&'a [(String, Value)], String> {
    match value {
        Value::Struct(fields) => Ok(fields),
        other => Err(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            class_name(other)
        )),
    }
}

/// As [`require_struct`], with a null value passing as `None`.
pub fn require_struct_or_null<'a>(
    value: &'a Value,
    purpose: &str,
) -> Result<Option<&'a [(String, Value)]>, String> {
    match value {
        Value::Null => Ok(None),
        other => require_struct(other, purpose).map(Some),
    }
}

/// The entries of a schemaless map, or Kafka's `requireMap` error.
pub fn require_map<'a>(value: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)], String> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            class_name(other)
        )),
    }
}

/// As [`require_map`], with a null value passing as `None`.
pub fn require_map_or_null<'a>(
    value: &'a Value,
    purpose: &str,
) -> Result<Option<&'a [(Value, Value)]>, String> {
    match value {
        Value::Null => Ok(None),
        other => require_map(other, purpose).map(Some),
    }
}

/// The schema, or Kafka's `requireSchema` error.
pub fn require_schema<'a>(schema: Option<&'a Schema>, purpose: &str) -> Result<&'a Schema, String> {
    schema.ok_or_else(|| format!("Schema required for [{purpose}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_java_class() {
        assert_eq!(
            require_struct(&Value::String("x".into()), "cast types").unwrap_err(),
            "Only Struct objects supported for [cast types], found: java.lang.String"
        );
        assert_eq!(
            require_map(&Value::Null, "flattening").unwrap_err(),
            "Only Map objects supported in absence of schema for [flattening], found: null"
        );
        assert!(require_map_or_null(&Value::Null, "x").unwrap().is_none());
    }
}
