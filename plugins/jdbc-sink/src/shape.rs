//! Which columns a record writes and its values in their order. A record's
//! key and value schemas, read with `pk.mode`, `pk.fields` and
//! `fields.whitelist`, give a [`Shape`]: its columns (value columns first,
//! then the key's, so an update's parameters are the row as it is) and
//! where each column's value comes from. Shapes are kept and recognised by
//! comparing a record's schema with them field by field, so a batch of
//! records with one schema is analysed once.

use sluice_sdk::prelude::*;
use sluice_sdk::wit::{SchemaField, SchemaNode, Structured, ValueNode};

use crate::column::ColumnSpec;
use crate::config::{PkMode, SinkConfig};
use crate::dialect::Sql;
use crate::values::{self, FieldType};

/// The most shapes kept; past it they are forgotten and analysed again, so
/// a topic whose schema changes with every record cannot grow memory.
const MAX_SHAPES: usize = 256;

/// The column names of a statement, in row order (values, then the key),
/// quoted for the database. Shapes that differ only in types share one,
/// and so share runs of statements.
#[derive(Debug, PartialEq, Eq)]
pub struct Layout {
    pub names: Vec<String>,
    pub quoted: Vec<String>,
    pub key_count: usize,
}

/// Where a column's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Field `n` of the value's struct schema.
    ValueField(usize),
    /// Field `n` of the key's struct schema.
    KeyField(usize),
    /// The whole (primitive) key.
    Key,
    Topic,
    Partition,
    Offset,
}

/// What decides a field's column and conversion, to recognise the same
/// schema in the next record without analysing it again.
#[derive(Debug, PartialEq, Eq)]
struct FieldSig {
    name: String,
    type_: SchemaType,
    schema_name: Option<String>,
    scale: Option<String>,
    optional: bool,
    has_default: bool,
}

impl FieldSig {
    fn of(name: &str, node: &SchemaNode) -> FieldSig {
        FieldSig {
            name: name.to_string(),
            type_: node.type_,
            schema_name: node.name.clone(),
            scale: scale_parameter(node).map(String::from),
            optional: node.optional,
            has_default: node.default_value.is_some(),
        }
    }

    fn matches(&self, name: &str, node: &SchemaNode) -> bool {
        self.name == name
            && self.type_ == node.type_
            && self.optional == node.optional
            && self.has_default == node.default_value.is_some()
            && self.schema_name == node.name
            && self.scale.as_deref() == scale_parameter(node)
    }
}

fn scale_parameter(node: &SchemaNode) -> Option<&str> {
    if node.type_ != SchemaType::Bytes || node.name.is_none() {
        return None;
    }
    node.parameters
        .iter()
        .find(|(k, _)| k == sluice_sdk::data::logical::DECIMAL_SCALE)
        .map(|(_, v)| v.as_str())
}

/// The key's part of a shape's identity (only `pk.mode=record_key` reads
/// the key).
#[derive(Debug, PartialEq, Eq)]
enum KeySig {
    Unread,
    Primitive(FieldSig),
    Struct(Vec<FieldSig>),
}

/// The columns of records with one key and value schema.
#[derive(Debug)]
pub struct Shape {
    key_sig: KeySig,
    /// `None` for a tombstone, which writes only its key.
    value_sig: Option<Vec<FieldSig>>,
    /// In row order: the value columns, then the key columns.
    pub columns: Vec<ColumnSpec>,
    sources: Vec<Source>,
    pub layout: usize,
}

impl Shape {
    pub fn is_delete(&self) -> bool {
        self.value_sig.is_none()
    }
}

/// A record read into a row.
#[derive(Debug)]
pub struct Row {
    pub shape: usize,
    pub values: Vec<SqlValue>,
}

/// The shapes and layouts seen so far.
pub struct Shapes {
    sql: Sql,
    pk_mode: PkMode,
    pk_fields: Vec<String>,
    whitelist: Vec<String>,
    delete_enabled: bool,
    shapes: Vec<Shape>,
    layouts: Vec<Layout>,
    last: usize,
}

/// A record's key or value, taken out of it: its schema and value nodes.
struct Part {
    schema: Vec<SchemaNode>,
    values: Vec<ValueNode>,
}

impl Shapes {
    pub fn new(config: &SinkConfig, sql: Sql) -> Shapes {
        Shapes {
            sql,
            pk_mode: config.pk_mode,
            pk_fields: config.pk_fields.clone(),
            whitelist: config.fields_whitelist.clone(),
            delete_enabled: config.delete_enabled,
            shapes: Vec::new(),
            layouts: Vec::new(),
            last: 0,
        }
    }

    pub fn get(&self, shape: usize) -> &Shape {
        &self.shapes[shape]
    }

    pub fn layout(&self, layout: usize) -> &Layout {
        &self.layouts[layout]
    }

    /// Forgets every shape when there are too many. Only between batches:
    /// a batch refers to shapes by index. Returns whether it did.
    pub fn trim(&mut self) -> bool {
        if self.shapes.len() < MAX_SHAPES {
            return false;
        }
        self.shapes.clear();
        self.layouts.clear();
        self.last = 0;
        true
    }

    /// Reads `record` into a row, taking its key and value out of it (their
    /// strings and bytes move into the row). The error says what is wrong
    /// with the record, for a message that then names it.
    pub fn read(&mut self, record: &mut SinkRecord) -> Result<Row, String> {
        let value = match record.value.take() {
            None => None,
            Some(data) => part(data, "value")?.filter(|v| !is_null_root(v)),
        };
        let value = match value {
            Some(v) => Some(v),
            None if self.delete_enabled => None,
            None => {
                return Err(
                    "it is a tombstone (its value is null), and delete.enabled is false: the \
                     sink writes only records with a value unless deletes are enabled"
                        .into(),
                );
            }
        };
        if let Some(value) = &value
            && value.schema[0].type_ != SchemaType::Struct
        {
            return Err(format!(
                "its value's schema is {}, not a STRUCT: the JDBC sink writes the fields of a \
                 struct as columns",
                value.schema[0].type_.kafka_name()
            ));
        }
        // Only record_key reads the key; the other modes ignore whatever it
        // holds (raw bytes, no schema).
        let key = match (self.pk_mode, record.key.take()) {
            (PkMode::RecordKey, Some(data)) => part(data, "key")?.filter(|k| !is_null_root(k)),
            _ => None,
        };
        if self.pk_mode == PkMode::RecordKey && key.is_none() {
            return Err(
                "it has no key, and pk.mode=record_key takes the primary key from the key".into(),
            );
        }

        let shape = self.shape_of(key.as_ref(), value.as_ref())?;
        let values = self.row(shape, record, key, value)?;
        Ok(Row { shape, values })
    }

    /// The index of the shape of a record with `key` and `value`, built if
    /// it is new.
    fn shape_of(&mut self, key: Option<&Part>, value: Option<&Part>) -> Result<usize, String> {
        let matches = |shape: &Shape| {
            key_matches(&shape.key_sig, key) && value_matches(shape.value_sig.as_deref(), value)
        };
        if self.shapes.get(self.last).is_some_and(matches) {
            return Ok(self.last);
        }
        if let Some(found) = self.shapes.iter().position(matches) {
            self.last = found;
            return Ok(found);
        }
        let shape = self.build(key, value)?;
        self.shapes.push(shape);
        self.last = self.shapes.len() - 1;
        Ok(self.last)
    }

    fn build(&mut self, key: Option<&Part>, value: Option<&Part>) -> Result<Shape, String> {
        let mut columns: Vec<ColumnSpec> = Vec::new();
        let mut sources: Vec<Source> = Vec::new();
        let mut keys: Vec<(ColumnSpec, Source)> = Vec::new();

        let key_sig = match (self.pk_mode, key) {
            (PkMode::RecordKey, Some(key)) => {
                let root = &key.schema[0];
                if root.type_ == SchemaType::Struct {
                    let fields = struct_fields(key, "key")?;
                    let wanted = self.pick(&fields, "the record key")?;
                    for &i in &wanted {
                        let (name, node) = fields[i];
                        let ty = FieldType::of(node)
                            .map_err(|e| format!("key field \"{name}\": {e}"))?;
                        keys.push((column(name, ty, node, key, true)?, Source::KeyField(i)));
                    }
                    KeySig::Struct(fields.iter().map(|(n, s)| FieldSig::of(n, s)).collect())
                } else {
                    let [name] = self.pk_fields.as_slice() else {
                        return Err(format!(
                            "its key is a primitive ({}), so pk.fields must name exactly one \
                             column for it, not {}",
                            root.type_.kafka_name(),
                            self.pk_fields.len()
                        ));
                    };
                    let ty = FieldType::of(root).map_err(|e| format!("the key: {e}"))?;
                    keys.push((column(name, ty, root, key, true)?, Source::Key));
                    KeySig::Primitive(FieldSig::of("", root))
                }
            }
            (PkMode::Kafka, _) => {
                let sources = [
                    (FieldType::String, Source::Topic),
                    (FieldType::Int32, Source::Partition),
                    (FieldType::Int64, Source::Offset),
                ];
                for (name, (ty, source)) in self.pk_fields.iter().zip(sources) {
                    let spec = ColumnSpec {
                        name: name.clone(),
                        ty,
                        optional: false,
                        default: None,
                        key: true,
                    };
                    keys.push((spec, source));
                }
                KeySig::Unread
            }
            _ => KeySig::Unread,
        };

        let value_sig = match value {
            None => None,
            Some(value) => {
                let fields = struct_fields(value, "value")?;
                if self.pk_mode == PkMode::RecordValue {
                    for i in self.pick(&fields, "the record value")? {
                        let (name, node) = fields[i];
                        let ty =
                            FieldType::of(node).map_err(|e| format!("field \"{name}\": {e}"))?;
                        keys.push((column(name, ty, node, value, true)?, Source::ValueField(i)));
                    }
                }
                for (i, (name, node)) in fields.iter().enumerate() {
                    let is_key = keys.iter().any(|(k, _)| k.name == *name);
                    let wanted =
                        self.whitelist.is_empty() || self.whitelist.iter().any(|w| w == name);
                    if is_key || !wanted {
                        continue;
                    }
                    let ty = FieldType::of(node).map_err(|e| format!("field \"{name}\": {e}"))?;
                    columns.push(column(name, ty, node, value, false)?);
                    sources.push(Source::ValueField(i));
                }
                Some(fields.iter().map(|(n, s)| FieldSig::of(n, s)).collect())
            }
        };
        if columns.is_empty() && keys.is_empty() {
            return Err(
                "it writes no column: its value has no field that fields.whitelist lets \
                 through, and pk.mode gives no key"
                    .into(),
            );
        }
        let key_count = keys.len();
        for (spec, source) in keys {
            columns.push(spec);
            sources.push(source);
        }
        let layout = self.intern_layout(&columns, key_count);
        Ok(Shape {
            key_sig,
            value_sig,
            columns,
            sources,
            layout,
        })
    }

    /// The indices of `pk.fields` in `fields`, or of every field when it
    /// is empty.
    fn pick(&self, fields: &[(&str, &SchemaNode)], what: &str) -> Result<Vec<usize>, String> {
        if self.pk_fields.is_empty() {
            return Ok((0..fields.len()).collect());
        }
        self.pk_fields
            .iter()
            .map(|wanted| {
                fields
                    .iter()
                    .position(|(name, _)| name == wanted)
                    .ok_or_else(|| {
                        let have: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                        format!(
                            "pk.fields names \"{wanted}\", which the schema of {what} does not \
                             have (it has {})",
                            have.join(", ")
                        )
                    })
            })
            .collect()
    }

    fn intern_layout(&mut self, columns: &[ColumnSpec], key_count: usize) -> usize {
        let same = |layout: &Layout| {
            layout.key_count == key_count
                && layout.names.len() == columns.len()
                && layout.names.iter().zip(columns).all(|(n, c)| *n == c.name)
        };
        if let Some(found) = self.layouts.iter().position(same) {
            return found;
        }
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let quoted = names.iter().map(|n| self.sql.quote(n)).collect();
        self.layouts.push(Layout {
            names,
            quoted,
            key_count,
        });
        self.layouts.len() - 1
    }

    /// The record's values in the shape's column order.
    fn row(
        &self,
        shape: usize,
        record: &SinkRecord,
        mut key: Option<Part>,
        mut value: Option<Part>,
    ) -> Result<Vec<SqlValue>, String> {
        let shape = &self.shapes[shape];
        let mut row = Vec::with_capacity(shape.columns.len());
        for (column, source) in shape.columns.iter().zip(&shape.sources) {
            let taken = match source {
                Source::Topic => {
                    row.push(SqlValue::Text(record.topic.clone()));
                    continue;
                }
                Source::Partition => {
                    row.push(SqlValue::Int(record.partition.into()));
                    continue;
                }
                Source::Offset => {
                    row.push(SqlValue::Int(record.offset));
                    continue;
                }
                Source::Key => key.as_mut().map(|k| take(&mut k.values, 0)),
                Source::KeyField(i) => match key.as_mut() {
                    Some(k) => take_field(k, &column.name, *i)?,
                    None => None,
                },
                Source::ValueField(i) => match value.as_mut() {
                    Some(v) => take_field(v, &column.name, *i)?,
                    None => None,
                },
            };
            let field = || match source {
                Source::Key => "the key".to_string(),
                Source::KeyField(_) => format!("key field \"{}\"", column.name),
                _ => format!("field \"{}\"", column.name),
            };
            let sql = match taken {
                None | Some(ValueNode::Null) => {
                    if column.key {
                        return Err(format!(
                            "{} is null, and it is part of the primary key",
                            field()
                        ));
                    } else if let Some(default) = &column.default {
                        default.clone()
                    } else if column.optional {
                        SqlValue::Null
                    } else {
                        return Err(format!(
                            "{} is null, and its schema is neither optional nor has a default",
                            field()
                        ));
                    }
                }
                Some(node) => {
                    values::convert(node, column.ty).map_err(|e| format!("{}: {e}", field()))?
                }
            };
            row.push(sql);
        }
        Ok(row)
    }
}

/// Data as schema and value nodes; an error for data without a schema.
/// `None` for structured data without a value node.
fn part(data: Data, what: &str) -> Result<Option<Part>, String> {
    let converter = if what == "key" {
        "key.converter"
    } else {
        "value.converter"
    };
    match data {
        Data::Raw(_) => Err(format!(
            "its {what} is raw bytes, not data with a schema: the JDBC sink needs schemas; set \
             {converter}=org.apache.kafka.connect.json.JsonConverter with \
             {converter}.schemas.enable=true (or another converter that gives schemas)"
        )),
        Data::Structured(Structured { schema, .. }) if schema.is_empty() => Err(format!(
            "its {what} has no schema: the JDBC sink needs schemas; set \
             {converter}.schemas.enable=true for the JsonConverter (or use a converter that \
             gives schemas)"
        )),
        Data::Structured(Structured { values, .. }) if values.is_empty() => Ok(None),
        Data::Structured(Structured { schema, values }) => Ok(Some(Part { schema, values })),
    }
}

fn is_null_root(part: &Part) -> bool {
    matches!(part.values[0], ValueNode::Null)
}

/// The fields of a struct schema's root with their schema nodes.
fn struct_fields<'a>(part: &'a Part, what: &str) -> Result<Vec<(&'a str, &'a SchemaNode)>, String> {
    part.schema[0]
        .fields
        .iter()
        .map(|f| Ok((f.name.as_str(), field_node(&part.schema, f, what)?)))
        .collect()
}

fn field_node<'a>(
    schema: &'a [SchemaNode],
    field: &SchemaField,
    what: &str,
) -> Result<&'a SchemaNode, String> {
    match schema.get(field.schema as usize) {
        Some(node) if field.schema > 0 => Ok(node),
        _ => Err(format!(
            "the schema of its {what} is malformed: field \"{}\" refers to node {} of {}",
            field.name,
            field.schema,
            schema.len()
        )),
    }
}

/// A column of a key or value field, with the schema's default converted.
fn column(
    name: &str,
    ty: FieldType,
    node: &SchemaNode,
    part: &Part,
    key: bool,
) -> Result<ColumnSpec, String> {
    let default = match node.default_value {
        None => None,
        Some(index) => match part.values.get(index as usize) {
            None | Some(ValueNode::Null) => None,
            Some(v) => Some(
                values::convert(v.clone(), ty)
                    .map_err(|e| format!("the default of field \"{name}\": {e}"))?,
            ),
        },
    };
    Ok(ColumnSpec {
        name: name.to_string(),
        ty,
        optional: node.optional,
        default,
        key,
    })
}

fn key_matches(sig: &KeySig, key: Option<&Part>) -> bool {
    match (sig, key) {
        (KeySig::Unread, None) => true,
        (KeySig::Primitive(field), Some(key)) => field.matches("", &key.schema[0]),
        (KeySig::Struct(fields), Some(key)) => fields_match(fields, key),
        _ => false,
    }
}

fn value_matches(sig: Option<&[FieldSig]>, value: Option<&Part>) -> bool {
    match (sig, value) {
        (None, None) => true,
        (Some(fields), Some(value)) => fields_match(fields, value),
        _ => false,
    }
}

fn fields_match(sig: &[FieldSig], part: &Part) -> bool {
    let root = &part.schema[0];
    root.type_ == SchemaType::Struct
        && root.fields.len() == sig.len()
        && root.fields.iter().zip(sig).all(|(field, sig)| {
            field_node(&part.schema, field, "").is_ok_and(|node| sig.matches(&field.name, node))
        })
}

/// Takes node `index` out of `values`, leaving a null.
fn take(values: &mut [ValueNode], index: usize) -> ValueNode {
    std::mem::replace(&mut values[index], ValueNode::Null)
}

/// Takes the value of field `name` out of a struct value. Fields are
/// looked for at their schema position `hint` first: converters write
/// them in schema order. A field the value lacks reads as `None`.
fn take_field(part: &mut Part, name: &str, hint: usize) -> Result<Option<ValueNode>, String> {
    let ValueNode::Struct(entries) = &part.values[0] else {
        return Err(format!(
            "it holds {} where its schema says STRUCT",
            values::node_name(&part.values[0])
        ));
    };
    let index = match entries.get(hint) {
        Some((n, index)) if n == name => Some(*index),
        _ => entries.iter().find(|(n, _)| n == name).map(|(_, i)| *i),
    };
    match index {
        None => Ok(None),
        Some(i) if i > 0 && (i as usize) < part.values.len() => {
            Ok(Some(take(&mut part.values, i as usize)))
        }
        Some(i) => Err(format!(
            "its value is malformed: field \"{name}\" refers to node {i} of {}",
            part.values.len()
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sluice_sdk::data::{Schema, StructuredValue, Value, logical};
    use sluice_sdk::sql::Dialect;

    use crate::config::SinkConfig;

    pub fn config(pairs: &[(&str, &str)]) -> SinkConfig {
        let mut all = vec![("datasource", "db")];
        all.extend_from_slice(pairs);
        SinkConfig::parse(&all.into_iter().collect()).unwrap()
    }

    pub fn record(key: Option<Data>, value: Option<Data>) -> SinkRecord {
        SinkRecord {
            topic: "orders".into(),
            partition: 2,
            offset: 40,
            key,
            value,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    pub fn order_schema() -> Schema {
        let mut amount = Schema::of(SchemaType::Bytes).named(logical::DECIMAL);
        amount.parameters = vec![("scale".into(), "2".into())];
        Schema::structure(vec![
            ("id".into(), Schema::of(SchemaType::Int64)),
            ("name".into(), Schema::of(SchemaType::String).optional()),
            ("amount".into(), amount.optional()),
            (
                "at".into(),
                Schema::of(SchemaType::Int64).named(logical::TIMESTAMP),
            ),
        ])
    }

    pub fn order(id: i64, name: Option<&str>) -> Data {
        Data::structured(
            Some(order_schema()),
            Value::Struct(vec![
                ("id".into(), Value::Int64(id)),
                (
                    "name".into(),
                    name.map_or(Value::Null, |n| Value::String(n.into())),
                ),
                ("amount".into(), Value::Bytes(vec![0x30, 0x39])),
                ("at".into(), Value::Int64(1_000)),
            ]),
        )
    }

    pub fn id_key(id: i64) -> Data {
        Data::structured(
            Some(Schema::structure(vec![(
                "id".into(),
                Schema::of(SchemaType::Int64),
            )])),
            Value::Struct(vec![("id".into(), Value::Int64(id))]),
        )
    }

    fn shapes(pairs: &[(&str, &str)]) -> Shapes {
        Shapes::new(&config(pairs), Sql::new(Dialect::Postgresql).unwrap())
    }

    fn read(
        shapes: &mut Shapes,
        key: Option<Data>,
        value: Option<Data>,
    ) -> Result<(usize, String), String> {
        let row = shapes.read(&mut record(key, value))?;
        Ok((
            row.shape,
            format!("{:?}", row.values).replace("SqlValue::", ""),
        ))
    }

    fn names(shapes: &Shapes, shape: usize) -> Vec<String> {
        shapes
            .get(shape)
            .columns
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }

    #[test]
    fn every_value_field_is_a_column_without_a_key() {
        let mut s = shapes(&[]);
        let (shape, row) = read(&mut s, None, Some(order(7, Some("ada")))).unwrap();
        assert_eq!(names(&s, shape), ["id", "name", "amount", "at"]);
        assert_eq!(
            row,
            "[Int(7), Text(\"ada\"), Numeric(\"123.45\"), Timestamp(1000000)]"
        );
        // The same schema is recognised, not built again.
        let (again, _) = read(&mut s, None, Some(order(8, None))).unwrap();
        assert_eq!(again, shape);
        assert_eq!(s.shapes.len(), 1);
    }

    #[test]
    fn kafka_mode_keys_by_coordinates() {
        let mut s = shapes(&[("pk.mode", "kafka"), ("fields.whitelist", "name")]);
        let (shape, row) = read(&mut s, None, Some(order(7, Some("ada")))).unwrap();
        assert_eq!(
            names(&s, shape),
            [
                "name",
                "__connect_topic",
                "__connect_partition",
                "__connect_offset"
            ]
        );
        assert_eq!(row, "[Text(\"ada\"), Text(\"orders\"), Int(2), Int(40)]");
        let layout = s.layout(s.get(shape).layout);
        assert_eq!(layout.key_count, 3);
        assert_eq!(layout.quoted[0], "\"name\"");
    }

    #[test]
    fn record_key_mode_reads_the_key_and_skips_its_fields_in_the_value() {
        let mut s = shapes(&[("pk.mode", "record_key"), ("delete.enabled", "true")]);
        let (shape, row) = read(&mut s, Some(id_key(9)), Some(order(7, None))).unwrap();
        assert_eq!(names(&s, shape), ["name", "amount", "at", "id"]);
        assert_eq!(
            row,
            "[Null, Numeric(\"123.45\"), Timestamp(1000000), Int(9)]"
        );
        let (tombstone, row) = read(&mut s, Some(id_key(9)), None).unwrap();
        assert!(s.get(tombstone).is_delete());
        assert_eq!(names(&s, tombstone), ["id"]);
        assert_eq!(row, "[Int(9)]");
        let missing = read(&mut s, None, Some(order(7, None))).unwrap_err();
        assert!(missing.contains("no key"), "{missing}");
    }

    #[test]
    fn a_primitive_key_needs_one_name() {
        let key = || {
            Some(Data::structured(
                Some(Schema::of(SchemaType::String)),
                Value::String("k".into()),
            ))
        };
        let mut s = shapes(&[("pk.mode", "record_key"), ("pk.fields", "code")]);
        let (shape, row) = read(&mut s, key(), Some(order(1, None))).unwrap();
        assert_eq!(names(&s, shape).last().unwrap(), "code");
        assert!(row.ends_with("Text(\"k\")]"), "{row}");
        let mut s = shapes(&[("pk.mode", "record_key")]);
        let err = read(&mut s, key(), Some(order(1, None))).unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn record_value_mode_keys_by_value_fields() {
        let mut s = shapes(&[("pk.mode", "record_value"), ("pk.fields", "id")]);
        let (shape, row) = read(&mut s, None, Some(order(7, Some("x")))).unwrap();
        assert_eq!(names(&s, shape), ["name", "amount", "at", "id"]);
        assert!(row.ends_with("Int(7)]"), "{row}");
        let mut s = shapes(&[("pk.mode", "record_value"), ("pk.fields", "nope")]);
        let err = read(&mut s, None, Some(order(7, None))).unwrap_err();
        assert!(
            err.contains("\"nope\"") && err.contains("id, name, amount, at"),
            "{err}"
        );
        // All fields when pk.fields is empty.
        let mut s = shapes(&[("pk.mode", "record_value")]);
        let (shape, _) = read(&mut s, None, Some(order(7, Some("x")))).unwrap();
        let layout = s.layout(s.get(shape).layout);
        assert_eq!(layout.key_count, 4);
    }

    #[test]
    fn records_the_sink_cannot_write_say_why() {
        let mut s = shapes(&[]);
        let err = read(&mut s, None, Some(Data::Raw(b"{}".to_vec()))).unwrap_err();
        assert!(err.contains("value.converter.schemas.enable=true"), "{err}");
        let schemaless = Data::structured(None, Value::Struct(vec![]));
        let err = read(&mut s, None, Some(schemaless)).unwrap_err();
        assert!(err.contains("no schema"), "{err}");
        let err = read(&mut s, None, None).unwrap_err();
        assert!(err.contains("delete.enabled"), "{err}");
        let int = Data::structured(Some(Schema::of(SchemaType::Int32)), Value::Int32(1));
        let err = read(&mut s, None, Some(int)).unwrap_err();
        assert!(err.contains("INT32, not a STRUCT"), "{err}");
        let tags = Data::structured(
            Some(Schema::structure(vec![(
                "tags".into(),
                Schema::array(Schema::of(SchemaType::String)),
            )])),
            Value::Struct(vec![("tags".into(), Value::Array(vec![]))]),
        );
        let err = read(&mut s, None, Some(tags)).unwrap_err();
        assert!(
            err.contains("field \"tags\"") && err.contains("ARRAY"),
            "{err}"
        );
        let wrong = Data::Structured(
            StructuredValue {
                schema: Some(order_schema()),
                value: Value::Struct(vec![
                    ("id".into(), Value::String("seven".into())),
                    ("name".into(), Value::Null),
                    ("amount".into(), Value::Null),
                    ("at".into(), Value::Int64(0)),
                ]),
            }
            .into(),
        );
        let err = read(&mut s, None, Some(wrong)).unwrap_err();
        assert!(
            err.contains("field \"id\"") && err.contains("a string"),
            "{err}"
        );
    }

    #[test]
    fn nulls_take_the_default_or_must_be_optional() {
        let mut with_default = Schema::of(SchemaType::Int32);
        with_default.default = Some(Box::new(Value::Int32(5)));
        let schema = Schema::structure(vec![
            ("d".into(), with_default),
            ("r".into(), Schema::of(SchemaType::Int32)),
        ]);
        let data = |r: Value| {
            Some(Data::structured(
                Some(schema.clone()),
                Value::Struct(vec![("d".into(), Value::Null), ("r".into(), r)]),
            ))
        };
        let mut s = shapes(&[]);
        let (shape, row) = read(&mut s, None, data(Value::Int32(1))).unwrap();
        assert_eq!(row, "[Int(5), Int(1)]");
        assert_eq!(
            format!("{:?}", s.get(shape).columns[0].default).replace("SqlValue::", ""),
            "Some(Int(5))"
        );
        let err = read(&mut s, None, data(Value::Null)).unwrap_err();
        assert!(err.contains("field \"r\" is null"), "{err}");
    }

    #[test]
    fn fields_are_found_by_name_in_any_order() {
        let reordered = Data::structured(
            Some(order_schema()),
            Value::Struct(vec![
                ("at".into(), Value::Int64(2)),
                ("id".into(), Value::Int64(1)),
            ]),
        );
        let mut s = shapes(&[]);
        let (_, row) = read(&mut s, None, Some(reordered)).unwrap();
        // Missing optional fields are null.
        assert_eq!(row, "[Int(1), Null, Null, Timestamp(2000)]");
    }

    #[test]
    fn shapes_differing_only_in_types_share_a_layout() {
        let mut s = shapes(&[]);
        let (a, _) = read(&mut s, None, Some(order(1, None))).unwrap();
        let mut other = order_schema();
        other.fields[0].1 = Schema::of(SchemaType::Int32);
        let data = Data::structured(
            Some(other),
            Value::Struct(vec![
                ("id".into(), Value::Int32(1)),
                ("name".into(), Value::Null),
                ("amount".into(), Value::Null),
                ("at".into(), Value::Int64(0)),
            ]),
        );
        let (b, _) = read(&mut s, None, Some(data)).unwrap();
        assert_ne!(a, b);
        assert_eq!(s.get(a).layout, s.get(b).layout);
    }
}
