//! The pass-through converters (Kafka's StringConverter and
//! ByteArrayConverter): raw bytes cross unchanged; a structured string or
//! bytes value becomes its bytes. Structured values of other types need a
//! converter plugin, which a later version brings; until then they are an
//! error naming the record, never silently dropped.

use crate::runtime::bindings::types::{BatchData, Data, ValueNode};

/// The bytes of a key, value or header for Kafka.
pub fn to_bytes(data: Option<&BatchData>) -> Result<Option<Vec<u8>>, String> {
    match data {
        None => Ok(None),
        Some(BatchData::Raw(bytes)) => Ok(Some(bytes.clone())),
        Some(BatchData::Structured(s)) => match s.values.first() {
            Some(ValueNode::Null) | None => Ok(None),
            Some(ValueNode::String(text)) => Ok(Some(text.clone().into_bytes())),
            Some(ValueNode::Bytes(bytes)) => Ok(Some(bytes.clone())),
            Some(other) => Err(format!(
                "a structured {} value cannot be written by a pass-through converter \
                 (StringConverter or ByteArrayConverter)",
                node_type(other)
            )),
        },
    }
}

/// Bytes from Kafka as connector data.
pub fn from_bytes(bytes: Option<&[u8]>) -> Option<Data> {
    bytes.map(|b| Data::Raw(b.to_vec()))
}

fn node_type(node: &ValueNode) -> &'static str {
    match node {
        ValueNode::Null => "null",
        ValueNode::Boolean(_) => "boolean",
        ValueNode::Int8(_) => "int8",
        ValueNode::Int16(_) => "int16",
        ValueNode::Int32(_) => "int32",
        ValueNode::Int64(_) => "int64",
        ValueNode::Float32(_) => "float32",
        ValueNode::Float64(_) => "float64",
        ValueNode::String(_) => "string",
        ValueNode::Bytes(_) => "bytes",
        ValueNode::Array(_) => "array",
        ValueNode::Map(_) => "map",
        ValueNode::Struct(_) => "struct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::BatchStructured;

    fn structured(node: ValueNode) -> BatchData {
        BatchData::Structured(BatchStructured {
            schema: None,
            values: vec![node],
        })
    }

    #[test]
    fn raw_strings_and_bytes_pass_through() {
        assert_eq!(
            to_bytes(Some(&BatchData::Raw(b"a".to_vec()))).unwrap(),
            Some(b"a".to_vec())
        );
        assert_eq!(
            to_bytes(Some(&structured(ValueNode::String("é".into())))).unwrap(),
            Some("é".as_bytes().to_vec())
        );
        assert_eq!(to_bytes(Some(&structured(ValueNode::Null))).unwrap(), None);
        assert_eq!(to_bytes(None).unwrap(), None);
    }

    #[test]
    fn other_structured_values_are_an_error() {
        let err = to_bytes(Some(&structured(ValueNode::Int32(1)))).unwrap_err();
        assert!(err.contains("int32"), "{err}");
    }
}
