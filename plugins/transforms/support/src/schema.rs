//! Building the schemas transforms produce: Kafka's `SchemaUtil` copies,
//! the primitive and logical schemas (`Timestamp`, `Date`, `Time`), and
//! schema names as Kafka's messages print them.

use sluice_sdk::data::logical::{DATE, TIME, TIMESTAMP};
use sluice_sdk::{Schema, SchemaType};

/// Kafka's `SchemaUtil.copySchemaBasics(source, builder)`: a schema of
/// `type_` with the source's name, version, doc and parameters, required
/// and without a default (the caller decides those).
pub fn copy_basics(source: &Schema, type_: SchemaType) -> Schema {
    Schema {
        name: source.name.clone(),
        version: source.version,
        doc: source.doc.clone(),
        parameters: source.parameters.clone(),
        ..Schema::of(type_)
    }
}

/// Kafka's `SchemaUtil.copySchemaBasics(source)`: the same type, keeping
/// the element schema of an array and the key and value schemas of a map.
pub fn copy_basics_same_type(source: &Schema) -> Schema {
    Schema {
        key: source.key.clone(),
        value: source.value.clone(),
        ..copy_basics(source, source.type_)
    }
}

/// A primitive schema, optional or not.
pub fn primitive(type_: SchemaType, optional: bool) -> Schema {
    Schema {
        optional,
        ..Schema::of(type_)
    }
}

/// A logical type's schema as Kafka's builders make it (version 1).
pub fn logical(name: &str, type_: SchemaType, optional: bool) -> Schema {
    Schema {
        name: Some(name.to_string()),
        version: Some(1),
        optional,
        ..Schema::of(type_)
    }
}

/// `Timestamp.SCHEMA` (or its optional form): INT64 milliseconds.
pub fn timestamp_schema(optional: bool) -> Schema {
    logical(TIMESTAMP, SchemaType::Int64, optional)
}

/// `Date.SCHEMA`: INT32 days since the epoch.
pub fn date_schema(optional: bool) -> Schema {
    logical(DATE, SchemaType::Int32, optional)
}

/// `Time.SCHEMA`: INT32 milliseconds since midnight.
pub fn time_schema(optional: bool) -> Schema {
    logical(TIME, SchemaType::Int32, optional)
}

/// Whether `schema` has the name `name`.
pub fn is_named(schema: &Schema, name: &str) -> bool {
    schema.name.as_deref() == Some(name)
}

/// The schema as Kafka's `ConnectSchema.toString()` prints it:
/// `Schema{INT32}` or `Schema{org.apache.kafka.connect.data.Date:INT32}`.
pub fn describe(schema: &Schema) -> String {
    match &schema.name {
        Some(name) => format!("Schema{{{name}:{}}}", schema.type_.kafka_name()),
        None => format!("Schema{{{}}}", schema.type_.kafka_name()),
    }
}

/// The error Kafka's `SchemaBuilder.field` gives for a name used twice.
pub fn duplicate_field(name: &str) -> String {
    format!("Cannot create field because of field name duplication {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_identity_not_optionality() {
        let mut source = Schema::structure(Vec::new()).optional().named("Person");
        source.version = Some(2);
        let copy = copy_basics(&source, SchemaType::Struct);
        assert_eq!(copy.name.as_deref(), Some("Person"));
        assert_eq!(copy.version, Some(2));
        assert!(!copy.optional);
        assert_eq!(
            describe(&date_schema(false)),
            "Schema{org.apache.kafka.connect.data.Date:INT32}"
        );
    }
}
