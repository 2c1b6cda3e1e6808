//! The data model's bindings, generated from wit/: the `types` interface
//! (records, schemas, values, configuration keys) that every world and
//! every layer of the host shares, and the two forms records take between
//! host and guest (`shared`, `record_codec`). Each capability generates its
//! own interface beside it (`capability::*::bindings`); the plugin worlds
//! reuse all of them (`plugin::bindings`).

mod generated {
    wasmtime::component::bindgen!({
        inline: "
            package sluice:host-types;
            world types {
                import sluice:connect/types@0.1.0;
            }
        ",
        path: "../wit",
        // Values and errors compare, for tests of what crosses.
        additional_derives: [PartialEq],
    });
}

pub use generated::sluice::connect::types;

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
