//! Kafka Connect values to SQL values: the sink's type mapping, Decimal
//! bytes to plain decimal text, and schema defaults.

use java_text::decimal::BigDecimal;
use sluice_sdk::data::logical;
use sluice_sdk::prelude::*;
use sluice_sdk::wit::{SchemaNode, ValueNode};

/// The most digits a Decimal's scale may add around its unscaled value
/// (PostgreSQL's own limit after the point): a scale is data, and must not
/// make the plugin allocate without bound.
const MAX_SCALE: i32 = 16_383;

/// The type of a column's values: a primitive Kafka Connect type or one of
/// its logical types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    /// `org.apache.kafka.connect.data.Decimal` with its scale.
    Decimal(i32),
    /// `org.apache.kafka.connect.data.Date`: INT32 days since the epoch.
    Date,
    /// `org.apache.kafka.connect.data.Time`: INT32 milliseconds since midnight.
    Time,
    /// `org.apache.kafka.connect.data.Timestamp`: INT64 milliseconds since the epoch.
    Timestamp,
}

impl FieldType {
    /// The column type of a schema node; an error says why it has none
    /// (arrays, maps and structs have no column type).
    pub fn of(node: &SchemaNode) -> Result<FieldType, String> {
        Ok(match (node.name.as_deref(), node.type_) {
            (Some(logical::DECIMAL), SchemaType::Bytes) => FieldType::Decimal(decimal_scale(node)?),
            (Some(logical::DATE), SchemaType::Int32) => FieldType::Date,
            (Some(logical::TIME), SchemaType::Int32) => FieldType::Time,
            (Some(logical::TIMESTAMP), SchemaType::Int64) => FieldType::Timestamp,
            (_, SchemaType::Int8) => FieldType::Int8,
            (_, SchemaType::Int16) => FieldType::Int16,
            (_, SchemaType::Int32) => FieldType::Int32,
            (_, SchemaType::Int64) => FieldType::Int64,
            (_, SchemaType::Float32) => FieldType::Float32,
            (_, SchemaType::Float64) => FieldType::Float64,
            (_, SchemaType::Boolean) => FieldType::Boolean,
            (_, SchemaType::String) => FieldType::String,
            (_, SchemaType::Bytes) => FieldType::Bytes,
            (_, other @ (SchemaType::Array | SchemaType::Map | SchemaType::Struct)) => {
                return Err(format!(
                    "its schema is {}, which has no SQL column type (only primitive and logical \
                     types do); leave it out with fields.whitelist or flatten it with the \
                     Flatten transform",
                    other.kafka_name()
                ));
            }
        })
    }

    /// The name of the type as Kafka Connect writes it, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            FieldType::Int8 => "INT8",
            FieldType::Int16 => "INT16",
            FieldType::Int32 => "INT32",
            FieldType::Int64 => "INT64",
            FieldType::Float32 => "FLOAT32",
            FieldType::Float64 => "FLOAT64",
            FieldType::Boolean => "BOOLEAN",
            FieldType::String => "STRING",
            FieldType::Bytes => "BYTES",
            FieldType::Decimal(_) => "Decimal",
            FieldType::Date => "Date",
            FieldType::Time => "Time",
            FieldType::Timestamp => "Timestamp",
        }
    }
}

fn decimal_scale(node: &SchemaNode) -> Result<i32, String> {
    let raw = node
        .parameters
        .iter()
        .find(|(k, _)| k == logical::DECIMAL_SCALE)
        .map(|(_, v)| v.as_str())
        .ok_or("its Decimal schema has no scale parameter")?;
    match raw.trim().parse::<i32>() {
        Ok(scale) if (-MAX_SCALE..=MAX_SCALE).contains(&scale) => Ok(scale),
        _ => Err(format!(
            "its Decimal schema has the scale \"{raw}\", not a whole number between \
             -{MAX_SCALE} and {MAX_SCALE}"
        )),
    }
}

/// A value node as the SQL value of a column of type `ty`. The node is
/// taken, so strings and bytes move rather than copy. `Null` is the
/// caller's to handle (it depends on optionality and defaults).
pub fn convert(node: ValueNode, ty: FieldType) -> Result<SqlValue, String> {
    Ok(match (ty, node) {
        (FieldType::Int8, ValueNode::Int8(v)) => SqlValue::Int(v.into()),
        (FieldType::Int16, ValueNode::Int16(v)) => SqlValue::Int(v.into()),
        (FieldType::Int32, ValueNode::Int32(v)) => SqlValue::Int(v.into()),
        (FieldType::Int64, ValueNode::Int64(v)) => SqlValue::Int(v),
        (FieldType::Float32, ValueNode::Float32(v)) => SqlValue::Float(v.into()),
        (FieldType::Float64, ValueNode::Float64(v)) => SqlValue::Float(v),
        (FieldType::Boolean, ValueNode::Boolean(v)) => SqlValue::Boolean(v),
        (FieldType::String, ValueNode::String(v)) => SqlValue::Text(v),
        (FieldType::Bytes, ValueNode::Bytes(v)) => SqlValue::Bytes(v),
        (FieldType::Decimal(scale), ValueNode::Bytes(v)) => {
            SqlValue::Numeric(decimal_text(&v, scale)?)
        }
        (FieldType::Date, ValueNode::Int32(days)) => SqlValue::Date(days),
        (FieldType::Time, ValueNode::Int32(millis)) => SqlValue::Time(i64::from(millis) * 1000),
        (FieldType::Timestamp, ValueNode::Int64(millis)) => {
            SqlValue::Timestamp(millis.checked_mul(1000).ok_or_else(|| {
                format!("the Timestamp {millis} ms is out of range of microseconds")
            })?)
        }
        (ty, node) => {
            return Err(format!(
                "it holds {} where its schema says {}",
                node_name(&node),
                ty.describe()
            ));
        }
    })
}

/// The kind of a value node, for messages.
pub fn node_name(node: &ValueNode) -> &'static str {
    match node {
        ValueNode::Null => "null",
        ValueNode::Boolean(_) => "a boolean",
        ValueNode::Int8(_) => "an int8",
        ValueNode::Int16(_) => "an int16",
        ValueNode::Int32(_) => "an int32",
        ValueNode::Int64(_) => "an int64",
        ValueNode::Float32(_) => "a float32",
        ValueNode::Float64(_) => "a float64",
        ValueNode::String(_) => "a string",
        ValueNode::Bytes(_) => "bytes",
        ValueNode::Array(_) => "an array",
        ValueNode::Map(_) => "a map",
        ValueNode::Struct(_) => "a struct",
    }
}

/// The plain decimal text (no exponent) of a Decimal: `bytes` is the
/// unscaled value in big-endian two's complement, as Java's
/// `BigInteger.toByteArray()` writes it.
pub fn decimal_text(bytes: &[u8], scale: i32) -> Result<String, String> {
    if bytes.is_empty() {
        return Err("its Decimal has no bytes".into());
    }
    let mut out = String::with_capacity(bytes.len() * 3 + 4);
    // Up to 16 bytes fit an i128: almost every Decimal, without the
    // arbitrary-precision arithmetic.
    let magnitude = if bytes.len() <= 16 {
        let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
        let mut wide = [fill; 16];
        wide[16 - bytes.len()..].copy_from_slice(bytes);
        let unscaled = i128::from_be_bytes(wide);
        if unscaled < 0 {
            out.push('-');
        }
        unscaled.unsigned_abs().to_string()
    } else {
        let decimal =
            BigDecimal::from_unscaled_bytes(bytes, scale).ok_or("its Decimal has no bytes")?;
        if decimal.is_negative() {
            out.push('-');
        }
        decimal.unscaled_digits().to_string()
    };
    place_point(&mut out, &magnitude, scale);
    Ok(out)
}

/// Appends `digits` × 10^-`scale` in plain notation to `out`.
fn place_point(out: &mut String, digits: &str, scale: i32) {
    if scale <= 0 {
        out.push_str(digits);
        if digits != "0" {
            out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let point = digits.len() - scale;
        out.push_str(&digits[..point]);
        out.push('.');
        out.push_str(&digits[point..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8], scale: i32) -> String {
        decimal_text(bytes, scale).unwrap()
    }

    #[test]
    fn decimals_read_as_plain_text() {
        assert_eq!(text(&[0x30, 0x39], 2), "123.45");
        assert_eq!(text(&[0xcf, 0xc7], 2), "-123.45");
        assert_eq!(text(&[0x00], 0), "0");
        assert_eq!(text(&[0x00], 3), "0.000");
        assert_eq!(text(&[0x80], 0), "-128");
        assert_eq!(text(&[0x00, 0x80], 0), "128");
        assert_eq!(text(&[0x01], 3), "0.001");
        assert_eq!(text(&[0x01], 8), "0.00000001");
        assert_eq!(text(&[0xff], 8), "-0.00000001");
        assert_eq!(text(&[0x0c], -2), "1200");
        assert_eq!(text(&[0x00], -2), "0");
        assert_eq!(text(&[0x04, 0xd2], 4), "0.1234");
    }

    #[test]
    fn wide_decimals_read_exactly() {
        // i128::MIN and one more byte than an i128 holds.
        let mut min = vec![0x80];
        min.extend([0u8; 15]);
        assert_eq!(text(&min, 0), i128::MIN.to_string());
        let mut two_pow_128 = vec![0x01];
        two_pow_128.extend([0u8; 16]);
        assert_eq!(
            text(&two_pow_128, 2),
            "3402823669209384634633746074317682114.56"
        );
        let negative: Vec<u8> = [0xff; 17].to_vec();
        assert_eq!(text(&negative, 1), "-0.1");
    }

    #[test]
    fn no_bytes_is_no_decimal() {
        assert!(decimal_text(&[], 2).is_err());
    }

    #[test]
    fn values_convert_by_their_schema_type() {
        let show = |node, ty| format!("{:?}", convert(node, ty)).replace("SqlValue::", "");
        assert_eq!(show(ValueNode::Int16(-3), FieldType::Int16), "Ok(Int(-3))");
        assert_eq!(
            show(ValueNode::Float32(0.5), FieldType::Float32),
            "Ok(Float(0.5))"
        );
        assert_eq!(
            show(ValueNode::Int32(1500), FieldType::Time),
            "Ok(Time(1500000))"
        );
        assert_eq!(
            show(ValueNode::Int64(-1), FieldType::Timestamp),
            "Ok(Timestamp(-1000))"
        );
        assert_eq!(show(ValueNode::Int32(7), FieldType::Date), "Ok(Date(7))");
        assert_eq!(
            show(ValueNode::Bytes(vec![0x30, 0x39]), FieldType::Decimal(1)),
            "Ok(Numeric(\"1234.5\"))"
        );
        let wrong = convert(ValueNode::String("x".into()), FieldType::Int32).unwrap_err();
        assert!(
            wrong.contains("a string") && wrong.contains("INT32"),
            "{wrong}"
        );
        assert!(convert(ValueNode::Int64(i64::MAX), FieldType::Timestamp).is_err());
    }

    fn node(type_: SchemaType, name: Option<&str>, parameters: &[(&str, &str)]) -> SchemaNode {
        SchemaNode {
            type_,
            optional: false,
            name: name.map(String::from),
            version: None,
            doc: None,
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            default_value: None,
            fields: Vec::new(),
            key_schema: None,
            value_schema: None,
        }
    }

    #[test]
    fn logical_types_are_recognised() {
        let decimal = node(SchemaType::Bytes, Some(logical::DECIMAL), &[("scale", "2")]);
        assert_eq!(FieldType::of(&decimal), Ok(FieldType::Decimal(2)));
        let no_scale = node(SchemaType::Bytes, Some(logical::DECIMAL), &[]);
        assert!(FieldType::of(&no_scale).unwrap_err().contains("scale"));
        let date = node(SchemaType::Int32, Some(logical::DATE), &[]);
        assert_eq!(FieldType::of(&date), Ok(FieldType::Date));
        // A logical name over the wrong type is just the type.
        let odd = node(SchemaType::Int64, Some(logical::DATE), &[]);
        assert_eq!(FieldType::of(&odd), Ok(FieldType::Int64));
        let array = node(SchemaType::Array, None, &[]);
        assert!(FieldType::of(&array).unwrap_err().contains("ARRAY"));
    }
}
