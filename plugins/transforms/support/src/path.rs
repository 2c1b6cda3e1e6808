//! Field paths (Kafka's KIP-821 `SingleFieldPath`): with
//! `field.syntax.version=V1` a path is one top-level field name; with `V2`
//! it is dotted (`address.city`), with backticks around names that hold
//! dots (`` `foo.bar`.baz ``) and a backslash before a backtick that is
//! part of a name.

use sluice_sdk::{Config, ConfigKey, ConfigType, Importance, Schema, Value};

use crate::config::{ConfigProblem, string};
use crate::fields::{field_value, map_get};
use crate::require::{require_map_or_null, require_struct_or_null};

/// The `field.syntax.version` key.
pub const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// How field names in the configuration are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSyntaxVersion {
    /// Top-level fields only (before KIP-821).
    V1,
    /// Dotted paths into nested structs and maps.
    V2,
}

impl FieldSyntaxVersion {
    /// The version the configuration asks for, `V1` by default; the value
    /// is read regardless of case.
    pub fn from_config(config: &Config) -> Result<Self, ConfigProblem> {
        match string(config, FIELD_SYNTAX_VERSION) {
            None => Ok(FieldSyntaxVersion::V1),
            Some(v) if v.eq_ignore_ascii_case("V1") => Ok(FieldSyntaxVersion::V1),
            Some(v) if v.eq_ignore_ascii_case("V2") => Ok(FieldSyntaxVersion::V2),
            Some(v) => Err(ConfigProblem::invalid(
                FIELD_SYNTAX_VERSION,
                &v,
                "String must be one of (case insensitive): V1, V2",
            )),
        }
    }

    /// The key's description, as Kafka documents it.
    pub fn config_key() -> ConfigKey {
        ConfigKey::new(
            FIELD_SYNTAX_VERSION,
            ConfigType::String,
            Importance::High,
            "Defines the version of the syntax to access fields. If set to `V1`, then the field \
             paths are limited to access the elements at the root level of the struct or map. If \
             set to `V2`, the syntax will support accessing nested elements. To access nested \
             elements, dotted notation is used. If dots are already included in the field name, \
             then backtick pairs can be used to wrap field names containing dots. E.g. to access \
             the subfield `baz` from a field named \"foo.bar\" in a struct/map the following \
             format can be used to access its elements: \"`foo.bar`.baz\".",
        )
        .default_value("V1")
    }
}

/// A path to one field, as steps of field names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    steps: Vec<String>,
}

impl FieldPath {
    /// Reads `path` in syntax `version`; the error is Kafka's for an
    /// unclosed backtick.
    pub fn parse(path: &str, version: FieldSyntaxVersion) -> Result<Self, String> {
        let steps = match version {
            FieldSyntaxVersion::V1 => vec![path.to_string()],
            FieldSyntaxVersion::V2 => steps_v2(path)?,
        };
        Ok(FieldPath { steps })
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    /// The schema of the field at the path, if the schema has it.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> Option<&'a Schema> {
        let mut current = schema;
        for step in &self.steps {
            current = current.field(step)?;
        }
        Some(current)
    }

    /// The value at the path of a struct with `schema`; null where a step
    /// is missing or null. A null field reads as its schema's default.
    pub fn value_from_struct(&self, schema: &Schema, value: &Value) -> Result<Value, String> {
        let (last, inner) = self.steps.split_last().expect("a path has a step");
        let mut schema = schema;
        let mut current = value.clone();
        for step in inner {
            let Some(fields) = require_struct_or_null(&current, "nested field access")? else {
                return Ok(Value::Null);
            };
            let Some(field_schema) = schema.field(step) else {
                return Ok(Value::Null);
            };
            current = field_value(fields, step, field_schema, true);
            schema = field_schema;
        }
        let Some(fields) = require_struct_or_null(&current, "nested field access")? else {
            return Ok(Value::Null);
        };
        Ok(match schema.field(last) {
            Some(field_schema) => field_value(fields, last, field_schema, true),
            None => Value::Null,
        })
    }

    /// The value at the path of a schemaless map; null where a step is
    /// missing or null.
    pub fn value_from_map(&self, value: &Value) -> Result<Value, String> {
        let mut current = value;
        for step in &self.steps {
            let Some(entries) = require_map_or_null(current, "nested field access")? else {
                return Ok(Value::Null);
            };
            current = map_get(entries, step).unwrap_or(&Value::Null);
        }
        Ok(current.clone())
    }
}

/// Splits a V2 path into steps, as Kafka's `buildFieldPathV2`.
fn steps_v2(path: &str) -> Result<Vec<String>, String> {
    let bytes = path.as_bytes();
    let mut steps = Vec::new();
    let mut idx = 0usize;
    while idx < bytes.len() {
        if bytes[idx] != b'`' {
            match path[idx..].find('.') {
                Some(offset) => {
                    steps.push(path[idx..idx + offset].to_string());
                    idx += offset + 1;
                }
                None => {
                    steps.push(path[idx..].to_string());
                    idx = bytes.len();
                }
            }
            continue;
        }
        let backtick_at = idx;
        idx += 1;
        let mut field = String::new();
        let mut start = idx;
        loop {
            let Some(offset) = path[idx..].find('`') else {
                return Err(incomplete_backtick(path, backtick_at));
            };
            idx += offset;
            let escaped = bytes[idx - 1] == b'\\';
            if idx >= bytes.len() - 1 {
                if escaped {
                    return Err(incomplete_backtick(path, backtick_at));
                }
                field.push_str(&path[start..idx]);
                steps.push(field);
                idx += 1;
                break;
            }
            if bytes[idx + 1] != b'.' {
                // A backtick inside the name: keep looking for one before a dot.
                idx += 1;
                continue;
            }
            if escaped {
                field.push_str(&path[start..idx - 1]);
                field.push('`');
                idx += 1;
                start = idx;
                continue;
            }
            field.push_str(&path[start..idx]);
            steps.push(field);
            idx += 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    if steps.is_empty() {
        // An empty path names the field with the empty name.
        steps.push(String::new());
    }
    Ok(steps)
}

fn incomplete_backtick(path: &str, at: usize) -> String {
    format!(
        "Incomplete backtick pair in path: [{path}], consider adding a backslash before \
         backtick at position {at} to escape it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(path: &str) -> Vec<String> {
        FieldPath::parse(path, FieldSyntaxVersion::V2)
            .unwrap()
            .steps
    }

    #[test]
    fn v2_paths_split_like_kafka() {
        assert_eq!(steps("foo"), ["foo"]);
        assert_eq!(steps("foo.bar"), ["foo", "bar"]);
        assert_eq!(steps("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(steps("foo."), ["foo", ""]);
        assert_eq!(steps("`foo\\`.bar`.baz"), ["foo`.bar", "baz"]);
        assert_eq!(steps("`a`b`"), ["a`b"]);
        assert!(FieldPath::parse("`foo", FieldSyntaxVersion::V2).is_err());
        assert_eq!(
            FieldPath::parse("a.b", FieldSyntaxVersion::V1)
                .unwrap()
                .steps,
            ["a.b"]
        );
    }

    #[test]
    fn values_from_maps_and_structs() {
        let map = Value::Map(vec![(
            Value::String("a".into()),
            Value::Map(vec![(Value::String("b".into()), Value::Int64(1))]),
        )]);
        let path = FieldPath::parse("a.b", FieldSyntaxVersion::V2).unwrap();
        assert_eq!(path.value_from_map(&map).unwrap(), Value::Int64(1));
        let missing = FieldPath::parse("x.b", FieldSyntaxVersion::V2).unwrap();
        assert_eq!(missing.value_from_map(&map).unwrap(), Value::Null);

        let inner = Schema::structure(vec![(
            "b".into(),
            Schema::of(sluice_sdk::SchemaType::Int32),
        )]);
        let schema = Schema::structure(vec![("a".into(), inner)]);
        let value = Value::Struct(vec![(
            "a".into(),
            Value::Struct(vec![("b".into(), Value::Int32(5))]),
        )]);
        assert_eq!(
            path.value_from_struct(&schema, &value).unwrap(),
            Value::Int32(5)
        );
        assert!(path.field_from(&schema).is_some());
        assert!(missing.field_from(&schema).is_none());
    }
}
