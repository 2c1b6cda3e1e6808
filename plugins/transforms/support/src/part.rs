//! The key or value a `$Key`/`$Value` transform works on: the variant
//! checks `create` makes, and reading and writing that part of a record as
//! a schema and value tree.

use sluice_sdk::{ConnectError, ConnectRecord, Data, RecordPart, Schema, StructuredValue, Value};

/// The part a transform with `$Key` and `$Value` variants was asked for,
/// or the error for a bare name.
pub fn variant(transform: &str, part: Option<RecordPart>) -> Result<RecordPart, ConnectError> {
    part.ok_or_else(|| {
        ConnectError::fatal(format!(
            "{transform} needs a variant: use {transform}$Key or {transform}$Value"
        ))
    })
}

/// The error for a variant asked of a transform that has none.
pub fn no_variant(transform: &str, part: Option<RecordPart>) -> Result<(), ConnectError> {
    match part {
        None => Ok(()),
        Some(_) => Err(ConnectError::fatal(format!(
            "{transform} has no $Key or $Value variant: use {transform}"
        ))),
    }
}

/// `Key` or `Value`, as Kafka names the variant.
pub fn part_name(part: RecordPart) -> &'static str {
    match part {
        RecordPart::Key => "Key",
        RecordPart::Value => "Value",
    }
}

/// The schema and value of `part`. An absent key or value reads as a null
/// value without a schema, as Kafka's null key or value; raw bytes read as
/// a schemaless bytes value.
pub fn read(record: &ConnectRecord, part: RecordPart) -> Result<StructuredValue, String> {
    read_data(record.part(part))
}

/// The schema and value of optional data, as [`read`].
pub fn read_data(data: Option<&Data>) -> Result<StructuredValue, String> {
    match data {
        None => Ok(StructuredValue {
            schema: None,
            value: Value::Null,
        }),
        Some(data) => Ok(data.to_tree()?),
    }
}

/// Sets `part` to `value` with `schema`.
pub fn write(record: &mut ConnectRecord, part: RecordPart, schema: Option<Schema>, value: Value) {
    *record.part_mut(part) = to_data(schema, value);
}

/// Data for a schema and value: a null without a schema is no data at all,
/// as Kafka's null key or value.
pub fn to_data(schema: Option<Schema>, value: Value) -> Option<Data> {
    if schema.is_none() && value == Value::Null {
        None
    } else {
        Some(Data::structured(schema, value))
    }
}
