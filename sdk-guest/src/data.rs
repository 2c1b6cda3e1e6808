//! Structured values and schemas as natural Rust trees.
//!
//! WIT has no recursive types, so a structured value crosses the component
//! boundary as flat node lists that refer to each other by index (see
//! `structured` in wit/sluice.wit). This module converts between those lists
//! and the trees a plugin author works with. Encoding writes parents before
//! children, and decoding insists on it, so a malformed list can never loop.

pub use crate::wit::SchemaType;
use crate::wit::{
    BatchData, BatchSchema, BatchStructured, Data, SchemaField, SchemaNode, Structured, ValueNode,
};

// `share`, `inline` and `copy_value_tree`: between inline data and data
// whose schema a batch lists once.
sluice_wire::wit_schema_table!();

/// The names and parameters of Kafka Connect's logical types, which are
/// named schemas over a primitive type.
pub mod logical {
    /// An arbitrary-precision decimal: BYTES holding the two's-complement
    /// big-endian unscaled value, with the scale in the `scale` parameter.
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// The `Decimal` parameter holding the scale.
    pub const DECIMAL_SCALE: &str = "scale";
    /// Days since the Unix epoch, as INT32.
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// Milliseconds since midnight, as INT32.
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// Milliseconds since the Unix epoch, as INT64.
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
}

/// A Kafka Connect value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A null (Java's `null`): no value where the schema is optional, or a
    /// schemaless null.
    Null,
    /// A `BOOLEAN`.
    Boolean(bool),
    /// An `INT8`.
    Int8(i8),
    /// An `INT16`.
    Int16(i16),
    /// An `INT32`; also the logical types Date and Time ([`logical`]).
    Int32(i32),
    /// An `INT64`; also the logical type Timestamp ([`logical`]).
    Int64(i64),
    /// A `FLOAT32`.
    Float32(f32),
    /// A `FLOAT64`.
    Float64(f64),
    /// A `STRING`.
    String(String),
    /// `BYTES`; also the logical type Decimal's unscaled value
    /// ([`logical::DECIMAL`]).
    Bytes(Vec<u8>),
    /// An `ARRAY`: the elements, in order.
    Array(Vec<Value>),
    /// A `MAP`: (key, value) entries, in order. A list rather than a hash
    /// map, since Kafka Connect's keys can be any value, floats and structs
    /// included.
    Map(Vec<(Value, Value)>),
    /// A `STRUCT` (Kafka Connect's `Struct`): (field name, value) pairs, in
    /// the order of the schema's fields.
    Struct(Vec<(String, Value)>),
}

/// A Kafka Connect schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    /// The type (`Schema.type()`); for a logical type, the primitive type
    /// it is stored as. `type` is a Rust keyword, hence the underscore.
    pub type_: SchemaType,
    /// Whether the value may be null, as `SchemaBuilder.optional()`.
    pub optional: bool,
    /// The name, as `SchemaBuilder.name`: a logical type's (see
    /// [`logical`]) or a record name.
    pub name: Option<String>,
    /// The version, as `SchemaBuilder.version`.
    pub version: Option<i32>,
    /// The documentation, as `SchemaBuilder.doc`.
    pub doc: Option<String>,
    /// The parameters, as `SchemaBuilder.parameter`, in the order they were
    /// set; such as a Decimal's [`logical::DECIMAL_SCALE`].
    pub parameters: Vec<(String, String)>,
    /// The default value, as `SchemaBuilder.defaultValue`: what Kafka
    /// Connect uses in place of a null.
    pub default: Option<Box<Value>>,
    /// Struct fields, in order.
    pub fields: Vec<(String, Schema)>,
    /// Map keys.
    pub key: Option<Box<Schema>>,
    /// Map values and array elements.
    pub value: Option<Box<Schema>>,
}

impl Schema {
    /// A required schema of `type_` with nothing else set.
    pub fn of(type_: SchemaType) -> Self {
        Schema {
            type_,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
            fields: Vec::new(),
            key: None,
            value: None,
        }
    }
}

impl SchemaType {
    /// The type's name as Kafka prints `Schema.Type` (`INT32`, `STRUCT`),
    /// for messages that must read like Kafka's.
    pub fn kafka_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "INT8",
            SchemaType::Int16 => "INT16",
            SchemaType::Int32 => "INT32",
            SchemaType::Int64 => "INT64",
            SchemaType::Float32 => "FLOAT32",
            SchemaType::Float64 => "FLOAT64",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "STRING",
            SchemaType::Bytes => "BYTES",
            SchemaType::Array => "ARRAY",
            SchemaType::Map => "MAP",
            SchemaType::Struct => "STRUCT",
        }
    }
}

impl Schema {
    /// The same schema, optional.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The same schema, named (a logical type or a record name).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A struct schema with `fields`, in order.
    pub fn structure(fields: Vec<(String, Schema)>) -> Self {
        Schema {
            fields,
            ..Schema::of(SchemaType::Struct)
        }
    }

    /// An array schema of `items`.
    pub fn array(items: Schema) -> Self {
        Schema {
            value: Some(Box::new(items)),
            ..Schema::of(SchemaType::Array)
        }
    }

    /// A map schema from `keys` to `values`.
    pub fn map(keys: Schema, values: Schema) -> Self {
        Schema {
            key: Some(Box::new(keys)),
            value: Some(Box::new(values)),
            ..Schema::of(SchemaType::Map)
        }
    }

    /// The schema of field `name` of a struct schema.
    pub fn field(&self, name: &str) -> Option<&Schema> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// The value of parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl Value {
    /// The value of field `name` of a struct.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The entry of a map whose key is the string `key`.
    pub fn entry(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::String(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The lower-case name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Int8(_) => "int8",
            Value::Int16(_) => "int16",
            Value::Int32(_) => "int32",
            Value::Int64(_) => "int64",
            Value::Float32(_) => "float32",
            Value::Float64(_) => "float64",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
            Value::Struct(_) => "struct",
        }
    }
}

impl Data {
    /// Structured data from a value and its optional schema.
    pub fn structured(schema: Option<Schema>, value: Value) -> Data {
        Data::Structured(StructuredValue { schema, value }.into())
    }

    /// The data as a tree. Raw bytes read as a schemaless bytes value.
    pub fn to_tree(&self) -> Result<StructuredValue, MalformedStructure> {
        match self {
            Data::Raw(bytes) => Ok(StructuredValue {
                schema: None,
                value: Value::Bytes(bytes.clone()),
            }),
            Data::Structured(flat) => StructuredValue::try_from(flat),
        }
    }
}

/// A handle to one of the schemas a batch lists (see
/// [`crate::SourceBatch::schema`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchemaRef(pub(crate) u32);

impl BatchData {
    /// Structured data whose schema is one the batch lists, or schemaless.
    pub fn structured(schema: Option<SchemaRef>, value: Value) -> BatchData {
        let mut values = Vec::new();
        push_value(&mut values, value);
        BatchData::Structured(BatchStructured {
            schema: schema.map(|s| s.0),
            values,
        })
    }
}

impl BatchStructured {
    /// The value as a tree.
    pub fn to_value(&self) -> Result<Value, MalformedStructure> {
        if self.values.is_empty() {
            return Err(MalformedStructure("no root value".into()));
        }
        read_value(&self.values, 0)
    }
}

impl TryFrom<&BatchSchema> for Schema {
    type Error = MalformedStructure;

    fn try_from(listed: &BatchSchema) -> Result<Self, Self::Error> {
        if listed.nodes.is_empty() {
            return Err(MalformedStructure("a listed schema has no nodes".into()));
        }
        read_schema(&listed.nodes, &listed.defaults, 0)
    }
}

/// A value with its optional schema: the tree form of the WIT `structured`.
#[derive(Clone, Debug, PartialEq)]
pub struct StructuredValue {
    /// The value's schema, or `None` for schemaless data (such as JSON
    /// read with `schemas.enable=false`).
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

/// Why a node list could not be read as a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedStructure(pub String);

impl std::fmt::Display for MalformedStructure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed structured data: {}", self.0)
    }
}

impl std::error::Error for MalformedStructure {}

/// Plugins report a record's problem as a message: `data.to_tree()?` in a
/// function that returns `Result<_, String>`.
impl From<MalformedStructure> for String {
    fn from(e: MalformedStructure) -> String {
        e.to_string()
    }
}

impl From<StructuredValue> for Structured {
    fn from(tree: StructuredValue) -> Self {
        let mut out = Structured {
            schema: Vec::new(),
            values: Vec::new(),
        };
        push_value(&mut out.values, tree.value);
        if let Some(schema) = tree.schema {
            push_schema(&mut out, schema);
        }
        out
    }
}

impl TryFrom<&Structured> for StructuredValue {
    type Error = MalformedStructure;

    fn try_from(flat: &Structured) -> Result<Self, Self::Error> {
        if flat.values.is_empty() {
            return Err(MalformedStructure("no root value".into()));
        }
        let value = read_value(&flat.values, 0)?;
        let schema = if flat.schema.is_empty() {
            None
        } else {
            Some(read_schema(&flat.schema, &flat.values, 0)?)
        };
        Ok(StructuredValue { schema, value })
    }
}

fn push_value(nodes: &mut Vec<ValueNode>, value: Value) -> u32 {
    let index = nodes.len();
    nodes.push(ValueNode::Null);
    let node = match value {
        Value::Null => ValueNode::Null,
        Value::Boolean(v) => ValueNode::Boolean(v),
        Value::Int8(v) => ValueNode::Int8(v),
        Value::Int16(v) => ValueNode::Int16(v),
        Value::Int32(v) => ValueNode::Int32(v),
        Value::Int64(v) => ValueNode::Int64(v),
        Value::Float32(v) => ValueNode::Float32(v),
        Value::Float64(v) => ValueNode::Float64(v),
        Value::String(v) => ValueNode::String(v),
        Value::Bytes(v) => ValueNode::Bytes(v),
        Value::Array(items) => {
            ValueNode::Array(items.into_iter().map(|v| push_value(nodes, v)).collect())
        }
        Value::Map(entries) => ValueNode::Map(
            entries
                .into_iter()
                .map(|(k, v)| (push_value(nodes, k), push_value(nodes, v)))
                .collect(),
        ),
        Value::Struct(fields) => ValueNode::Struct(
            fields
                .into_iter()
                .map(|(name, v)| (name, push_value(nodes, v)))
                .collect(),
        ),
    };
    nodes[index] = node;
    index as u32
}

fn push_schema(out: &mut Structured, schema: Schema) -> u32 {
    let index = out.schema.len();
    out.schema.push(SchemaNode {
        type_: schema.type_,
        optional: schema.optional,
        name: schema.name,
        version: schema.version,
        doc: schema.doc,
        parameters: schema.parameters,
        default_value: None,
        fields: Vec::new(),
        key_schema: None,
        value_schema: None,
    });
    let default_value = schema.default.map(|v| push_value(&mut out.values, *v));
    let fields = schema
        .fields
        .into_iter()
        .map(|(name, s)| SchemaField {
            name,
            schema: push_schema(out, s),
        })
        .collect();
    let key_schema = schema.key.map(|s| push_schema(out, *s));
    let value_schema = schema.value.map(|s| push_schema(out, *s));
    let node = &mut out.schema[index];
    node.default_value = default_value;
    node.fields = fields;
    node.key_schema = key_schema;
    node.value_schema = value_schema;
    index as u32
}

/// The index of a child of node `parent`, checked to lie after it.
fn child(parent: usize, child: u32, len: usize) -> Result<usize, MalformedStructure> {
    let child = child as usize;
    if child <= parent || child >= len {
        return Err(MalformedStructure(format!(
            "node {parent} refers to node {child}, which is not after it in a list of {len}"
        )));
    }
    Ok(child)
}

fn read_value(nodes: &[ValueNode], index: usize) -> Result<Value, MalformedStructure> {
    let at = |c: u32| -> Result<Value, MalformedStructure> {
        read_value(nodes, child(index, c, nodes.len())?)
    };
    Ok(match &nodes[index] {
        ValueNode::Null => Value::Null,
        ValueNode::Boolean(v) => Value::Boolean(*v),
        ValueNode::Int8(v) => Value::Int8(*v),
        ValueNode::Int16(v) => Value::Int16(*v),
        ValueNode::Int32(v) => Value::Int32(*v),
        ValueNode::Int64(v) => Value::Int64(*v),
        ValueNode::Float32(v) => Value::Float32(*v),
        ValueNode::Float64(v) => Value::Float64(*v),
        ValueNode::String(v) => Value::String(v.clone()),
        ValueNode::Bytes(v) => Value::Bytes(v.clone()),
        ValueNode::Array(items) => {
            Value::Array(items.iter().map(|&c| at(c)).collect::<Result<_, _>>()?)
        }
        ValueNode::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|&(k, v)| Ok((at(k)?, at(v)?)))
                .collect::<Result<_, MalformedStructure>>()?,
        ),
        ValueNode::Struct(fields) => Value::Struct(
            fields
                .iter()
                .map(|(name, c)| Ok((name.clone(), at(*c)?)))
                .collect::<Result<_, MalformedStructure>>()?,
        ),
    })
}

/// The schema at node `index` of `nodes`, whose default values refer to
/// `values`.
fn read_schema(
    nodes: &[SchemaNode],
    values: &[ValueNode],
    index: usize,
) -> Result<Schema, MalformedStructure> {
    let node = &nodes[index];
    let sub = |c: u32| -> Result<Schema, MalformedStructure> {
        read_schema(nodes, values, child(index, c, nodes.len())?)
    };
    let default = match node.default_value {
        None => None,
        Some(v) if (v as usize) < values.len() => Some(Box::new(read_value(values, v as usize)?)),
        Some(v) => {
            return Err(MalformedStructure(format!(
                "schema node {index} has default value {v}, outside a list of {}",
                values.len()
            )));
        }
    };
    Ok(Schema {
        type_: node.type_,
        optional: node.optional,
        name: node.name.clone(),
        version: node.version,
        doc: node.doc.clone(),
        parameters: node.parameters.clone(),
        default,
        fields: node
            .fields
            .iter()
            .map(|f| Ok((f.name.clone(), sub(f.schema)?)))
            .collect::<Result<_, MalformedStructure>>()?,
        key: node.key_schema.map(sub).transpose()?.map(Box::new),
        value: node.value_schema.map(sub).transpose()?.map(Box::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_value_with_schema_round_trips() {
        let mut address = Schema::of(SchemaType::Struct);
        address.fields = vec![("city".into(), Schema::of(SchemaType::String))];
        let mut tags = Schema::of(SchemaType::Array);
        tags.value = Some(Box::new(Schema::of(SchemaType::String)));
        let mut amount = Schema::of(SchemaType::Bytes);
        amount.name = Some("org.apache.kafka.connect.data.Decimal".into());
        amount.parameters = vec![("scale".into(), "2".into())];
        amount.optional = true;
        amount.default = Some(Box::new(Value::Bytes(vec![0])));
        let mut root = Schema::of(SchemaType::Struct);
        root.fields = vec![
            ("address".into(), address),
            ("tags".into(), tags),
            ("amount".into(), amount),
        ];
        let tree = StructuredValue {
            schema: Some(root),
            value: Value::Struct(vec![
                (
                    "address".into(),
                    Value::Struct(vec![("city".into(), Value::String("Zürich".into()))]),
                ),
                (
                    "tags".into(),
                    Value::Array(vec![Value::String("a".into()), Value::String("b".into())]),
                ),
                ("amount".into(), Value::Null),
            ]),
        };
        let flat = Structured::from(tree.clone());
        assert_eq!(StructuredValue::try_from(&flat).unwrap(), tree);
    }

    /// A struct whose optional field has a default: the default moves to
    /// the listed schema's `defaults` and back into the record's values.
    fn with_default(id: i32) -> Data {
        let mut note = Schema::of(SchemaType::String).optional();
        note.default = Some(Box::new(Value::String("none".into())));
        let schema = Schema::structure(vec![
            ("id".into(), Schema::of(SchemaType::Int32)),
            ("note".into(), note),
        ]);
        let value = Value::Struct(vec![
            ("id".into(), Value::Int32(id)),
            ("note".into(), Value::Null),
        ]);
        Data::structured(Some(schema), value)
    }

    #[test]
    fn equal_schemas_are_listed_once_and_come_back_whole() {
        let mut schemas = Vec::new();
        let first = share(with_default(1), &mut schemas).unwrap();
        let second = share(with_default(2), &mut schemas).unwrap();
        let raw = share(Data::Raw(b"x".to_vec()), &mut schemas).unwrap();
        assert_eq!(schemas.len(), 1);
        assert_eq!(schemas[0].defaults, [ValueNode::String("none".into())]);
        let BatchData::Structured(s) = &second else {
            panic!("structured stays structured")
        };
        assert_eq!(s.schema, Some(0));
        assert_eq!(
            Schema::try_from(&schemas[0]).unwrap(),
            with_default(2).to_tree().unwrap().schema.unwrap()
        );
        for (batch, id) in [(first, 1), (second, 2)] {
            let inlined = inline(batch, &schemas).unwrap();
            assert_eq!(
                inlined.to_tree().unwrap(),
                with_default(id).to_tree().unwrap()
            );
        }
        assert_eq!(inline(raw, &schemas).unwrap(), Data::Raw(b"x".to_vec()));
    }

    #[test]
    fn an_unlisted_schema_or_a_bad_default_is_an_error() {
        let unlisted = BatchData::Structured(BatchStructured {
            schema: Some(3),
            values: vec![ValueNode::Null],
        });
        let err = inline(unlisted, &[]).unwrap_err();
        assert_eq!(err.0, "the data refers to schema 3 of a batch that lists 0");
        let Data::Structured(mut flat) = with_default(1) else {
            unreachable!()
        };
        flat.schema[2].default_value = Some(9);
        let err = share(Data::Structured(flat), &mut Vec::new()).unwrap_err();
        assert!(err.0.contains("outside a list of"), "{err}");
    }

    #[test]
    fn a_child_before_its_parent_is_refused() {
        let flat = Structured {
            schema: Vec::new(),
            values: vec![ValueNode::Array(vec![0])],
        };
        let err = StructuredValue::try_from(&flat).unwrap_err();
        assert!(err.0.contains("node 0 refers to node 0"), "{err}");
    }

    #[test]
    fn empty_value_list_is_refused() {
        let flat = Structured {
            schema: Vec::new(),
            values: Vec::new(),
        };
        assert!(StructuredValue::try_from(&flat).is_err());
    }
}
