//! Host-side bindings generated from wit/, one module per world. The shared
//! interfaces (`types`, `logging`, `sql`) are generated once, in `source`,
//! and reused by the other worlds so a record is one Rust type everywhere.

/// The `source-connector` world, and the shared `types`, `logging` and
/// `sql`.
pub mod source {
    wasmtime::component::bindgen!({
        world: "source-connector",
        path: "../wit",
        // A panicking plugin's last call traps with the panic's message;
        // a SQL call returns the plugin's errors as `sql-error` and traps on
        // a host fault (a bad resource handle).
        imports: {
            "sluice:connect/logging.panicked": trappable,
            "sluice:connect/sql": trappable,
        },
        trappable_error_type: {
            "sluice:connect/sql.sql-error" => crate::capability::sql::SqlFailure,
        },
        // Values and errors compare, for tests of what crosses.
        additional_derives: [PartialEq],
        with: {
            "sluice:connect/sql.connection": crate::capability::sql::SqlConnection,
            "sluice:connect/sql.rows": crate::capability::sql::SqlRows,
        },
    });
}

/// The `sink-connector` world.
pub mod sink {
    wasmtime::component::bindgen!({
        world: "sink-connector",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
            "sluice:connect/sql": super::source::sluice::connect::sql,
        },
    });
}

/// The `converter` world.
pub mod converter {
    wasmtime::component::bindgen!({
        world: "converter",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

/// The `transform` world.
pub mod transform {
    wasmtime::component::bindgen!({
        world: "transform",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

/// The `predicate` world.
pub mod predicate {
    wasmtime::component::bindgen!({
        world: "predicate",
        path: "../wit",
        with: {
            "sluice:connect/types": super::source::sluice::connect::types,
            "sluice:connect/logging": super::source::sluice::connect::logging,
        },
    });
}

pub use source::sluice::connect::logging;
pub use source::sluice::connect::sql;
pub use source::sluice::connect::types;

/// The fully qualified names of the interfaces that tell a plugin's kind.
pub const SOURCE_INTERFACE: &str = "sluice:connect/source@0.1.0";
pub const SINK_INTERFACE: &str = "sluice:connect/sink@0.1.0";
pub const CONVERSION_INTERFACE: &str = "sluice:connect/conversion@0.1.0";
pub const TRANSFORMATION_INTERFACE: &str = "sluice:connect/transformation@0.1.0";
pub const CONDITION_INTERFACE: &str = "sluice:connect/condition@0.1.0";

/// Structured data between its inline form and the batch form whose
/// schemas a batch lists once (`share`, `inline`; see
/// `sluice_wire::shared`).
pub mod shared {
    use super::types::{BatchData, BatchSchema, BatchStructured, Data, Structured, ValueNode};

    sluice_wire::wit_schema_table!();
}

/// The record types in the record-batch byte form, in which batches cross
/// to transforms and predicates (see `sluice-wire`).
mod record_codec {
    use super::types::{
        ConnectRecord, Data, Header, SchemaField, SchemaNode, SchemaType, Structured, ValueNode,
    };

    sluice_wire::wit_record_codec!();
}

#[cfg(test)]
mod tests {
    use super::types::*;

    /// A record holding every kind of value node and schema type, and
    /// every optional field both set and not.
    fn every_kind() -> ConnectRecord {
        let node = |type_: SchemaType, fields: Vec<SchemaField>| SchemaNode {
            type_,
            optional: fields.is_empty(),
            name: Some("org.apache.kafka.connect.data.Decimal".into()),
            version: Some(3),
            doc: None,
            parameters: vec![("scale".into(), "2".into())],
            default_value: Some(1),
            fields,
            key_schema: Some(2),
            value_schema: None,
        };
        let field = |name: &str, schema: u32| SchemaField {
            name: name.into(),
            schema,
        };
        let types = [
            SchemaType::Int8,
            SchemaType::Int16,
            SchemaType::Int32,
            SchemaType::Int64,
            SchemaType::Float32,
            SchemaType::Float64,
            SchemaType::Boolean,
            SchemaType::String,
            SchemaType::Bytes,
            SchemaType::Array,
            SchemaType::Map,
        ];
        let mut schema = vec![node(
            SchemaType::Struct,
            (1..=types.len() as u32).map(|i| field("f", i)).collect(),
        )];
        schema.extend(types.into_iter().map(|t| node(t, Vec::new())));
        ConnectRecord {
            topic: "tópico".into(),
            partition: Some(-1),
            offset: None,
            key: Some(Data::Raw(vec![0, 255])),
            value: Some(Data::Structured(Structured {
                schema,
                values: vec![
                    ValueNode::Struct(vec![("a".into(), 1), ("b".into(), 2)]),
                    ValueNode::Null,
                    ValueNode::Boolean(true),
                    ValueNode::Int8(-8),
                    ValueNode::Int16(-16),
                    ValueNode::Int32(-32),
                    ValueNode::Int64(i64::MIN),
                    ValueNode::Float32(f32::NAN),
                    ValueNode::Float64(-0.0),
                    ValueNode::String("ü".into()),
                    ValueNode::Bytes(vec![1, 2]),
                    ValueNode::Array(vec![3, 4]),
                    ValueNode::Map(vec![(5, 6)]),
                ],
            })),
            headers: vec![
                Header {
                    key: "h".into(),
                    value: None,
                },
                Header {
                    key: "".into(),
                    value: Some(Data::Raw(Vec::new())),
                },
            ],
            timestamp: Some(1_700_000_000_000),
        }
    }

    #[test]
    fn a_record_round_trips_through_the_byte_form() {
        let record = every_kind();
        let batch = sluice_wire::encode_batch(std::slice::from_ref(&record));
        let items = sluice_wire::read_batch(&batch).unwrap();
        sluice_wire::check_exact::<ConnectRecord>(items[0]).unwrap();
        let back: ConnectRecord = sluice_wire::read_exact(items[0]).unwrap();
        // NaN is not equal to itself: compare what Debug shows.
        assert_eq!(format!("{back:?}"), format!("{record:?}"));
    }

    #[test]
    fn every_truncation_of_a_record_is_refused() {
        let mut bytes = Vec::new();
        sluice_wire::Wire::write(&every_kind(), &mut bytes);
        for len in 0..bytes.len() {
            assert!(
                sluice_wire::check_exact::<ConnectRecord>(&bytes[..len]).is_err(),
                "{len} of {} bytes passed the check",
                bytes.len()
            );
        }
    }
}
