//! Column types to Kafka Connect schemas, and row values to Connect values,
//! as Confluent's JDBC source maps them: integers by width, exact numerics
//! to `Decimal`, character types to STRING, binary to BYTES, dates, times
//! and timestamps to their logical types, and nullable columns to optional
//! fields.

use java_text::decimal::BigDecimal;
use sluice_sdk::data::logical;
use sluice_sdk::prelude::*;
use sluice_sdk::sql::{Column, ValueKind};

/// The Decimal parameter Confluent adds with a column's precision.
const DECIMAL_PRECISION: &str = "connect.decimal.precision";

const MICROS_PER_MILLI: i64 = 1_000;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// What the catalogue says of a column beyond its result description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnFacts {
    pub nullable: bool,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
}

/// How one column's values become Connect values.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldType {
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// A Decimal of this scale; `None` when the column does not fix one
    /// (PostgreSQL's unconstrained `NUMERIC`, or a query's column): each
    /// value then has the scale it was written with.
    Decimal(Option<i32>),
    String,
    Bytes,
    Date,
    Time,
    Timestamp,
}

/// A column of the result and how it maps.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub field_type: FieldType,
    pub optional: bool,
    pub precision: Option<i64>,
}

impl Field {
    /// The mapping of a result column. `facts` come from the catalogue when
    /// the column is a table's; without them (a query's column) it is
    /// optional and its scale is the value's.
    pub fn of(column: &Column, facts: Option<&ColumnFacts>) -> Field {
        let type_name = column.type_name.to_ascii_uppercase();
        let field_type = match column.kind {
            Some(ValueKind::Boolean) => FieldType::Boolean,
            Some(ValueKind::Int) => int_type(&type_name),
            Some(ValueKind::Float) => match type_name.as_str() {
                "FLOAT4" | "REAL" | "FLOAT" => FieldType::Float32,
                _ => FieldType::Float64,
            },
            Some(ValueKind::Numeric) => FieldType::Decimal(
                facts
                    .and_then(|f| f.scale)
                    .and_then(|s| i32::try_from(s).ok()),
            ),
            Some(ValueKind::Bytes) => FieldType::Bytes,
            Some(ValueKind::Date) => FieldType::Date,
            Some(ValueKind::Time) => FieldType::Time,
            Some(ValueKind::Timestamp | ValueKind::Timestamptz) => FieldType::Timestamp,
            Some(ValueKind::Text) | None => FieldType::String,
        };
        Field {
            name: column.name.clone(),
            field_type,
            optional: facts.is_none_or(|f| f.nullable),
            precision: facts.and_then(|f| f.precision),
        }
    }

    /// The field's schema; a Decimal without a fixed scale takes `scale`,
    /// the value's.
    pub fn schema(&self, scale: Option<i32>) -> Schema {
        let schema = match &self.field_type {
            FieldType::Boolean => Schema::of(SchemaType::Boolean),
            FieldType::Int8 => Schema::of(SchemaType::Int8),
            FieldType::Int16 => Schema::of(SchemaType::Int16),
            FieldType::Int32 => Schema::of(SchemaType::Int32),
            FieldType::Int64 => Schema::of(SchemaType::Int64),
            FieldType::Float32 => Schema::of(SchemaType::Float32),
            FieldType::Float64 => Schema::of(SchemaType::Float64),
            FieldType::Decimal(fixed) => {
                let mut schema = Schema::of(SchemaType::Bytes).named(logical::DECIMAL);
                schema.version = Some(1);
                schema.parameters.push((
                    logical::DECIMAL_SCALE.into(),
                    fixed.or(scale).unwrap_or(0).to_string(),
                ));
                if let Some(precision) = self.precision {
                    schema
                        .parameters
                        .push((DECIMAL_PRECISION.into(), precision.to_string()));
                }
                schema
            }
            FieldType::String => Schema::of(SchemaType::String),
            FieldType::Bytes => Schema::of(SchemaType::Bytes),
            FieldType::Date => logical_type(SchemaType::Int32, logical::DATE),
            FieldType::Time => logical_type(SchemaType::Int32, logical::TIME),
            FieldType::Timestamp => logical_type(SchemaType::Int64, logical::TIMESTAMP),
        };
        if self.optional {
            schema.optional()
        } else {
            schema
        }
    }

    /// Whether each value may need a schema of its own (a Decimal whose
    /// scale the column does not fix).
    pub fn scale_varies(&self) -> bool {
        self.field_type == FieldType::Decimal(None)
    }

    /// `value` of this column as a Connect value, or why it cannot be one.
    /// It takes the value, so that text and bytes move rather than copy.
    pub fn value(&self, value: SqlValue) -> std::result::Result<Value, String> {
        let out_of_range = |what: &dyn std::fmt::Display| {
            format!(
                "the value {what} does not fit the field's {:?} schema",
                self.field_type
            )
        };
        Ok(match (&self.field_type, value) {
            (_, SqlValue::Null) if self.optional => Value::Null,
            (_, SqlValue::Null) => {
                return Err("a NULL in a column the catalogue says is NOT NULL".into());
            }
            (FieldType::Boolean, SqlValue::Boolean(b)) => Value::Boolean(b),
            (FieldType::Boolean, SqlValue::Int(i)) => Value::Boolean(i != 0),
            (FieldType::Int8, SqlValue::Int(i)) => {
                Value::Int8(i8::try_from(i).map_err(|_| out_of_range(&i))?)
            }
            (FieldType::Int16, SqlValue::Int(i)) => {
                Value::Int16(i16::try_from(i).map_err(|_| out_of_range(&i))?)
            }
            (FieldType::Int32, SqlValue::Int(i)) => {
                Value::Int32(i32::try_from(i).map_err(|_| out_of_range(&i))?)
            }
            (FieldType::Int64, SqlValue::Int(i)) => Value::Int64(i),
            (FieldType::Float32, SqlValue::Float(f)) => Value::Float32(f as f32),
            (FieldType::Float64, SqlValue::Float(f)) => Value::Float64(f),
            (FieldType::Decimal(scale), SqlValue::Numeric(text)) => {
                Value::Bytes(decimal_bytes(&text, *scale)?)
            }
            (FieldType::Decimal(scale), SqlValue::Int(i)) => {
                Value::Bytes(decimal_bytes(&i.to_string(), *scale)?)
            }
            (FieldType::String, SqlValue::Text(s)) => Value::String(s),
            (FieldType::Bytes, SqlValue::Bytes(b)) => Value::Bytes(b),
            (FieldType::Date, SqlValue::Date(days)) => Value::Int32(days),
            (FieldType::Time, SqlValue::Time(micros)) => {
                let millis = micros.div_euclid(MICROS_PER_MILLI);
                if !(0..MILLIS_PER_DAY).contains(&millis) {
                    return Err(format!(
                        "the time {micros} µs is outside a day, which Kafka Connect's Time \
                         cannot hold (a MySQL TIME is a duration)"
                    ));
                }
                Value::Int32(millis as i32)
            }
            (FieldType::Timestamp, SqlValue::Timestamp(micros) | SqlValue::Timestamptz(micros)) => {
                Value::Int64(micros.div_euclid(MICROS_PER_MILLI))
            }
            // A column the host gives no kind (a MySQL type it does not
            // know): each value as text.
            (FieldType::String, other) => Value::String(text_of(other)),
            (expected, got) => {
                return Err(format!(
                    "the database returned {got:?} for a column mapped to {expected:?}"
                ));
            }
        })
    }
}

/// The value's own scale, for a Decimal without a fixed one.
pub fn value_scale(value: &SqlValue) -> Option<i32> {
    match value {
        SqlValue::Numeric(text) => Some(
            text.split_once('.')
                .map_or(0, |(_, fraction)| fraction.len() as i32),
        ),
        _ => None,
    }
}

/// A named primitive schema: one of Kafka Connect's logical types.
fn logical_type(type_: SchemaType, name: &str) -> Schema {
    let mut schema = Schema::of(type_).named(name);
    schema.version = Some(1);
    schema
}

/// The Connect integer type that holds every value of a column type.
fn int_type(type_name: &str) -> FieldType {
    match type_name {
        "TINYINT" => FieldType::Int8,
        "INT2" | "SMALLINT" | "TINYINT UNSIGNED" | "YEAR" => FieldType::Int16,
        "INT4" | "INT" | "INTEGER" | "MEDIUMINT" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" => {
            FieldType::Int32
        }
        // Above 2^63 - 1 it is not an INT64: Confluent maps it to a Decimal.
        "BIGINT UNSIGNED" => FieldType::Decimal(Some(0)),
        _ => FieldType::Int64,
    }
}

/// The two's-complement unscaled bytes of a decimal's text at `scale` (the
/// text's own scale when `None`). NaN and the infinities have no Decimal.
fn decimal_bytes(text: &str, scale: Option<i32>) -> std::result::Result<Vec<u8>, String> {
    let parsed = BigDecimal::parse(text).ok_or_else(|| {
        format!("{text} has no Kafka Connect Decimal (only finite numbers have one)")
    })?;
    let scaled = match scale {
        Some(scale) => parsed.with_scale(scale).ok_or_else(|| {
            format!("{text} does not fit the column's scale {scale} without rounding")
        })?,
        None => parsed,
    };
    Ok(scaled.to_unscaled_bytes())
}

/// A value of a column typed per value, as text.
fn text_of(value: SqlValue) -> String {
    match value {
        SqlValue::Boolean(b) => b.to_string(),
        SqlValue::Int(i) => i.to_string(),
        SqlValue::Float(f) => f.to_string(),
        SqlValue::Numeric(s) | SqlValue::Text(s) => s,
        SqlValue::Bytes(b) => String::from_utf8(b)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        SqlValue::Date(d) => d.to_string(),
        SqlValue::Time(t) | SqlValue::Timestamp(t) | SqlValue::Timestamptz(t) => t.to_string(),
        SqlValue::Null => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str, kind: ValueKind) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
            kind: Some(kind),
        }
    }

    fn facts(nullable: bool, scale: Option<i64>) -> ColumnFacts {
        ColumnFacts {
            nullable,
            precision: scale.map(|_| 12),
            scale,
        }
    }

    #[test]
    fn integers_map_by_width() {
        for (type_name, expected) in [
            ("INT2", FieldType::Int16),
            ("INT4", FieldType::Int32),
            ("INT8", FieldType::Int64),
            ("TINYINT", FieldType::Int8),
            ("INT UNSIGNED", FieldType::Int64),
            ("BIGINT UNSIGNED", FieldType::Decimal(Some(0))),
        ] {
            let field = Field::of(&column("n", type_name, ValueKind::Int), None);
            assert_eq!(field.field_type, expected, "{type_name}");
        }
    }

    #[test]
    fn nullability_and_scale_come_from_the_catalogue() {
        let amount = Field::of(
            &column("amount", "NUMERIC", ValueKind::Numeric),
            Some(&facts(false, Some(2))),
        );
        let schema = amount.schema(None);
        assert!(!schema.optional);
        assert_eq!(schema.name.as_deref(), Some(logical::DECIMAL));
        assert_eq!(schema.parameter("scale"), Some("2"));
        assert_eq!(schema.parameter(DECIMAL_PRECISION), Some("12"));
        // 12.50 at scale 2 is the unscaled 1250 = 0x04E2.
        assert_eq!(
            amount.value(SqlValue::Numeric("12.5".into())).unwrap(),
            Value::Bytes(vec![0x04, 0xE2])
        );
        assert_eq!(
            amount.value(SqlValue::Numeric("-1.00".into())).unwrap(),
            Value::Bytes(vec![0x9C])
        );
        assert!(amount.value(SqlValue::Null).is_err());
        assert!(
            amount
                .value(SqlValue::Numeric("0.125".into()))
                .unwrap_err()
                .contains("scale 2")
        );
        assert!(
            amount
                .value(SqlValue::Numeric("NaN".into()))
                .unwrap_err()
                .contains("NaN")
        );

        let free = Field::of(&column("x", "NUMERIC", ValueKind::Numeric), None);
        assert!(free.schema(None).optional);
        assert!(free.scale_varies());
        assert_eq!(value_scale(&SqlValue::Numeric("1.250".into())), Some(3));
        assert_eq!(free.schema(Some(3)).parameter("scale"), Some("3"));
    }

    #[test]
    fn times_become_milliseconds() {
        let ts = Field::of(&column("t", "TIMESTAMPTZ", ValueKind::Timestamptz), None);
        assert_eq!(
            ts.value(SqlValue::Timestamptz(1_700_000_000_123_456))
                .unwrap(),
            Value::Int64(1_700_000_000_123)
        );
        assert_eq!(ts.value(SqlValue::Timestamp(-1)).unwrap(), Value::Int64(-1));
        let time = Field::of(&column("t", "TIME", ValueKind::Time), None);
        assert_eq!(
            time.value(SqlValue::Time(3_600_000_999)).unwrap(),
            Value::Int32(3_600_000)
        );
        assert!(time.value(SqlValue::Time(-1)).is_err());
        assert_eq!(time.schema(None).name.as_deref(), Some(logical::TIME));
    }
}
