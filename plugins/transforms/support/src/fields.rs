//! Field access on struct values and schemaless maps, with Kafka's
//! `Struct.get` rule that a null field reads as its schema's default.

use sluice_sdk::{Schema, Value};

/// The value of field `name` of a struct's fields (null when absent).
pub fn struct_field<'a>(fields: &'a [(String, Value)], name: &str) -> &'a Value {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .unwrap_or(&Value::Null)
}

/// The value of a struct field as Kafka's `Struct.get` reads it: a null
/// value is the field schema's default, when it has one and
/// `replace_null_with_default` is set (`getWithoutDefault` otherwise).
pub fn field_value(
    fields: &[(String, Value)],
    name: &str,
    schema: &Schema,
    replace_null_with_default: bool,
) -> Value {
    match struct_field(fields, name) {
        Value::Null if replace_null_with_default => {
            schema.default.as_deref().cloned().unwrap_or(Value::Null)
        }
        value => value.clone(),
    }
}

/// The entry of a schemaless map under the string `key`.
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
        .map(|(_, v)| v)
}

/// Sets the entry under `key`, in place when it exists (as a `HashMap.put`).
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries
        .iter_mut()
        .find(|(k, _)| matches!(k, Value::String(s) if s == key))
    {
        Some((_, v)) => *v = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// Removes the entry under `key`, if any.
pub fn map_remove(entries: &mut Vec<(Value, Value)>, key: &str) {
    entries.retain(|(k, _)| !matches!(k, Value::String(s) if s == key));
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sdk::SchemaType;

    #[test]
    fn null_fields_read_their_default() {
        let mut schema = Schema::of(SchemaType::Int32).optional();
        schema.default = Some(Box::new(Value::Int32(7)));
        let fields = vec![("a".to_string(), Value::Null)];
        assert_eq!(field_value(&fields, "a", &schema, true), Value::Int32(7));
        assert_eq!(field_value(&fields, "a", &schema, false), Value::Null);
    }

    #[test]
    fn map_put_replaces_in_place() {
        let mut entries = vec![(Value::String("a".into()), Value::Int64(1))];
        map_put(&mut entries, "a", Value::Int64(2));
        map_put(&mut entries, "b", Value::Int64(3));
        assert_eq!(map_get(&entries, "a"), Some(&Value::Int64(2)));
        assert_eq!(entries.len(), 2);
        map_remove(&mut entries, "a");
        assert_eq!(map_get(&entries, "a"), None);
    }
}
