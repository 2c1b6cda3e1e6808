//! Text to a value with an inferred schema, as Kafka's `Values.parseString`
//! reads it: the same tokens (split at unescaped `:,{}[]"`), the same order
//! of attempts (null, booleans, arrays and maps, dates and times, numbers)
//! and the same fall-back to the whole text as a string when a list or map
//! does not parse.
//!
//! One difference: text left over after a value (`1,2`, `[1]x`) makes the
//! whole text a string, where the Kafka version this follows returned the
//! first value and dropped the rest.

use sluice_sdk::data::{Schema, SchemaType, Value, logical};

use super::render;
use crate::decimal::BigDecimal;
use crate::time::{MILLIS_PER_DAY, days_from_civil};

/// A value and its schema (Kafka's `SchemaAndValue`).
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub schema: Schema,
    pub value: Value,
}

impl Parsed {
    fn new(schema: Schema, value: Value) -> Parsed {
        Parsed { schema, value }
    }

    fn string(text: impl Into<String>) -> Parsed {
        Parsed::new(Schema::of(SchemaType::String), Value::String(text.into()))
    }
}

/// Why a list or map did not parse; the caller reads the text as a string.
type Failure = String;

/// `Values.parseString`: `None` for the text `null`.
pub fn parse_string(text: &str) -> Result<Option<Parsed>, Failure> {
    if text.is_empty() {
        return Ok(Some(Parsed::string("")));
    }
    let mut parser = Parser::new(text);
    let parsed = parse(&mut parser, false)?;
    if parser.rest_is_blank() {
        Ok(parsed)
    } else {
        Ok(Some(Parsed::string(text)))
    }
}

/// Java's `String.trim()`: every character up to the space goes.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Kafka's `Values.Parser`: a tokenizer with one token of look-ahead that
/// can rewind to a mark.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    next_token: Option<String>,
    previous_token: Option<String>,
}

impl Parser {
    fn new(text: &str) -> Parser {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            next_token: None,
            previous_token: None,
        }
    }

    fn original(&self) -> String {
        self.chars.iter().collect()
    }

    fn mark(&self) -> usize {
        self.pos - self.next_token.as_ref().map_or(0, |t| t.chars().count())
    }

    fn rewind_to(&mut self, position: usize) {
        self.pos = position;
        self.next_token = None;
        self.previous_token = None;
    }

    fn has_next(&self) -> bool {
        self.next_token.is_some() || self.can_consume_next_token()
    }

    fn can_consume_next_token(&self) -> bool {
        self.pos < self.chars.len()
    }

    /// Nothing but blanks left.
    fn rest_is_blank(&self) -> bool {
        self.next_token
            .as_deref()
            .is_none_or(|t| java_trim(t).is_empty())
            && self.chars[self.pos..].iter().all(|&c| c <= ' ')
    }

    fn next(&mut self) -> String {
        let token = match self.next_token.take() {
            Some(token) => token,
            None => self.consume_next_token(),
        };
        self.previous_token = Some(token.clone());
        token
    }

    /// The text of the next `n` tokens, or `None` (and no move) when fewer
    /// are left.
    fn next_n(&mut self, n: usize) -> Option<String> {
        let start = self.mark();
        for _ in 0..n {
            if !self.has_next() {
                self.rewind_to(start);
                return None;
            }
            self.next();
        }
        Some(self.chars[start..self.pos].iter().collect())
    }

    fn consume_next_token(&mut self) -> String {
        let start = self.pos;
        let mut escaped = false;
        while self.pos < self.chars.len() {
            match self.chars[self.pos] {
                '\\' => escaped = !escaped,
                ':' | ',' | '{' | '}' | '[' | ']' | '"' => {
                    if !escaped {
                        if start < self.pos {
                            return self.chars[start..self.pos].iter().collect();
                        }
                        self.pos += 1;
                        return self.chars[start..start + 1].iter().collect();
                    }
                    escaped = false;
                }
                _ => escaped = false,
            }
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn previous(&self) -> Option<&str> {
        self.previous_token.as_deref()
    }

    fn can_consume(&mut self, expected: &str) -> bool {
        if self.is_next(expected) {
            self.next_token = None;
            return true;
        }
        false
    }

    /// Whether the next token, blanks skipped, is `expected`.
    fn is_next(&mut self, expected: &str) -> bool {
        if self.next_token.is_none() {
            if !self.has_next() {
                return false;
            }
            self.next_token = Some(self.consume_next_token());
        }
        while self
            .next_token
            .as_deref()
            .is_some_and(|t| java_trim(t).is_empty())
            && self.can_consume_next_token()
        {
            self.next_token = Some(self.consume_next_token());
        }
        self.next_token
            .as_deref()
            .is_some_and(|t| java_trim(t) == expected)
    }
}

fn can_parse_single_token_literal(parser: &mut Parser, embedded: bool, literal: &str) -> bool {
    let start = parser.mark();
    if parser.can_consume(literal) && (embedded || !parser.has_next()) {
        return true;
    }
    parser.rewind_to(start);
    false
}

fn is_temporal(schema: &Schema) -> bool {
    matches!(
        schema.name.as_deref(),
        Some(logical::DATE | logical::TIME | logical::TIMESTAMP)
    )
}

/// `Values.parse`: `None` for a null.
fn parse(parser: &mut Parser, embedded: bool) -> Result<Option<Parsed>, Failure> {
    if !parser.has_next() {
        return Ok(None);
    }
    if embedded && parser.can_consume("\"") {
        let mut content = String::new();
        while parser.has_next() {
            if parser.can_consume("\"") {
                break;
            }
            content.push_str(&parser.next());
        }
        // A quoted date or time is one; anything else quoted is a string.
        if let Ok(Some(parsed)) = parse_string(&content)
            && is_temporal(&parsed.schema)
        {
            return Ok(Some(parsed));
        }
        return Ok(Some(Parsed::string(content)));
    }
    if can_parse_single_token_literal(parser, embedded, "null") {
        return Ok(None);
    }
    if can_parse_single_token_literal(parser, embedded, "true") {
        return Ok(Some(Parsed::new(
            Schema::of(SchemaType::Boolean),
            Value::Boolean(true),
        )));
    }
    if can_parse_single_token_literal(parser, embedded, "false") {
        return Ok(Some(Parsed::new(
            Schema::of(SchemaType::Boolean),
            Value::Boolean(false),
        )));
    }

    let start = parser.mark();
    match parse_collection(parser) {
        Ok(Some(parsed)) => return Ok(Some(parsed)),
        Ok(None) => {}
        Err(_) => parser.rewind_to(start),
    }

    let token = parser.next();
    if java_trim(&token).is_empty() {
        return Ok(Some(Parsed::string(token)));
    }
    let token = java_trim(&token).to_string();
    let first = token.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() {
        // A time or timestamp is five tokens, its colons being delimiters.
        let position = parser.mark();
        if let Some(rest) = parser.next_n(4)
            && let Some(temporal) = parse_temporal(&format!("{token}{rest}"))
        {
            return Ok(Some(temporal));
        }
        parser.rewind_to(position);
        if let Some(temporal) = parse_temporal(&token) {
            return Ok(Some(temporal));
        }
    }
    if (first.is_ascii_digit() || first == '+' || first == '-')
        && let Some(number) = parse_number(&token)
    {
        return Ok(Some(number));
    }
    if embedded {
        return Err("Failed to parse embedded value".into());
    }
    Ok(Some(Parsed::string(parser.original())))
}

/// An array or a map, `Ok(None)` when the next token starts neither.
fn parse_collection(parser: &mut Parser) -> Result<Option<Parsed>, Failure> {
    if parser.can_consume("[") {
        let mut items: Vec<Option<Parsed>> = Vec::new();
        let mut item_schema: Option<Schema> = None;
        while parser.has_next() {
            if parser.can_consume("]") {
                let schema = match item_schema {
                    Some(item_schema) => {
                        let values = items
                            .iter()
                            .map(|item| convert_to(&item_schema, item.as_ref()))
                            .collect::<Result<_, _>>()?;
                        return Ok(Some(Parsed::new(
                            Schema::array(item_schema),
                            Value::Array(values),
                        )));
                    }
                    // Every item is null.
                    None => Schema {
                        value: None,
                        ..Schema::of(SchemaType::Array)
                    },
                };
                let values = items.iter().map(|_| Value::Null).collect();
                return Ok(Some(Parsed::new(schema, Value::Array(values))));
            }
            if parser.can_consume(",") {
                return Err(format!(
                    "Unable to parse an empty array element: {}",
                    parser.original()
                ));
            }
            let item = parse(parser, true)?;
            item_schema = common_schema(item_schema, item.as_ref());
            items.push(item);
            let current = parser.mark();
            if parser.can_consume("]") {
                parser.rewind_to(current);
            } else if !parser.can_consume(",") {
                return Err("Array elements missing ',' delimiter".into());
            }
        }
        if parser.previous() == Some(",") {
            return Err(format!(
                "Array is missing element after ',': {}",
                parser.original()
            ));
        }
        return Err(format!(
            "Array is missing terminating ']': {}",
            parser.original()
        ));
    }
    if parser.can_consume("{") {
        let mut entries: Vec<(Parsed, Option<Parsed>)> = Vec::new();
        let mut key_schema: Option<Schema> = None;
        let mut value_schema: Option<Schema> = None;
        while parser.has_next() {
            if parser.can_consume("}") {
                return map(entries, key_schema, value_schema).map(Some);
            }
            if parser.can_consume(",") {
                return Err(format!(
                    "Unable to parse a map entry with no key or value: {}",
                    parser.original()
                ));
            }
            let Some(key) = parse(parser, true)? else {
                return Err(format!(
                    "Map entry may not have a null key: {}",
                    parser.original()
                ));
            };
            if !parser.can_consume(":") {
                return Err(format!("Map entry is missing ':' in {}", parser.original()));
            }
            let value = parse(parser, true)?;
            parser.can_consume(",");
            key_schema = common_schema(key_schema, Some(&key));
            value_schema = common_schema(value_schema, value.as_ref());
            // A map: a repeated key replaces the earlier value in its place.
            match entries.iter_mut().find(|(k, _)| k.value == key.value) {
                Some(entry) => entry.1 = value,
                None => entries.push((key, value)),
            }
        }
        if parser.previous() == Some(",") {
            return Err(format!(
                "Map is missing element after ',': {}",
                parser.original()
            ));
        }
        return Err(format!(
            "Map is missing terminating '}}': {}",
            parser.original()
        ));
    }
    Ok(None)
}

/// The map with its keys (and values, unless all are null) converted to
/// their common schema.
fn map(
    entries: Vec<(Parsed, Option<Parsed>)>,
    key_schema: Option<Schema>,
    value_schema: Option<Schema>,
) -> Result<Parsed, Failure> {
    let Some(key_schema) = key_schema else {
        // No entries.
        let schema = Schema {
            key: None,
            value: None,
            ..Schema::of(SchemaType::Map)
        };
        return Ok(Parsed::new(schema, Value::Map(Vec::new())));
    };
    let mut out: Vec<(Value, Value)> = Vec::with_capacity(entries.len());
    for (key, value) in &entries {
        let key = convert_to(&key_schema, Some(key))?;
        let value = match &value_schema {
            Some(value_schema) => convert_to(value_schema, value.as_ref())?,
            None => value.as_ref().map_or(Value::Null, |v| v.value.clone()),
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => out.push((key, value)),
        }
    }
    let schema = Schema {
        key: Some(Box::new(key_schema)),
        value: value_schema.map(Box::new),
        ..Schema::of(SchemaType::Map)
    };
    Ok(Parsed::new(schema, Value::Map(out)))
}

/// `Values.commonSchemaFor`: the schema that holds both, where numbers
/// widen; `None` where there is none.
fn common_schema(previous: Option<Schema>, latest: Option<&Parsed>) -> Option<Schema> {
    let Some(latest) = latest else {
        return previous;
    };
    let Some(previous) = previous else {
        return Some(latest.schema.clone());
    };
    let new = &latest.schema;
    if previous.type_ != new.type_ {
        use SchemaType::*;
        let rank = |t: SchemaType| match t {
            Int8 => Some(0),
            Int16 => Some(1),
            Int32 => Some(2),
            Int64 => Some(3),
            Float32 => Some(4),
            Float64 => Some(5),
            _ => None,
        };
        return match (rank(previous.type_), rank(new.type_)) {
            (Some(p), Some(n)) if n > p => Some(new.clone()),
            (Some(_), Some(_)) => Some(previous),
            _ => None,
        };
    }
    if previous.optional == new.optional {
        return Some(if previous.optional {
            previous
        } else {
            new.clone()
        });
    }
    if previous != *new {
        return None;
    }
    Some(previous)
}

/// Kafka's `Values.convertTo` for the schemas parsing infers: `parsed`
/// (`None` for a null) as a value of `to`.
fn convert_to(to: &Schema, parsed: Option<&Parsed>) -> Result<Value, Failure> {
    let Some(parsed) = parsed else {
        if to.optional {
            return Ok(Value::Null);
        }
        return Err("Unable to convert a null value to a schema that requires a value".into());
    };
    let value = &parsed.value;
    let from_name = parsed.schema.name.as_deref();
    let cannot = || format!("Unable to convert {value:?} to {:?}", to.type_);
    match (to.name.as_deref(), to.type_) {
        (Some(logical::DECIMAL), SchemaType::Bytes) => {
            let scale: i32 = to
                .parameter(logical::DECIMAL_SCALE)
                .and_then(|s| s.parse().ok())
                .ok_or_else(cannot)?;
            let text = decimal_text(parsed).ok_or_else(cannot)?;
            let decimal = BigDecimal::parse(&text)
                .and_then(|d| d.with_scale(scale))
                .ok_or_else(cannot)?;
            Ok(Value::Bytes(decimal.to_unscaled_bytes()))
        }
        (Some(logical::DATE), SchemaType::Int32) => match (from_name, value) {
            (Some(logical::DATE), _) => Ok(value.clone()),
            (Some(logical::TIMESTAMP), Value::Int64(millis)) => {
                Ok(Value::Int32((millis / MILLIS_PER_DAY) as i32))
            }
            (Some(_), _) => Err(cannot()),
            _ => Ok(Value::Int32(as_long(parsed)? as i32)),
        },
        (Some(logical::TIME), SchemaType::Int32) => {
            let millis = match (from_name, value) {
                (Some(logical::TIME), _) => return Ok(value.clone()),
                (Some(logical::TIMESTAMP), Value::Int64(millis)) => {
                    millis.rem_euclid(MILLIS_PER_DAY) as i32
                }
                (Some(_), _) => return Err(cannot()),
                _ => as_long(parsed)? as i32,
            };
            if !(0..=MILLIS_PER_DAY as i32).contains(&millis) {
                return Err("Kafka Connect Time type should not have any date fields set to non-zero values.".into());
            }
            Ok(Value::Int32(millis))
        }
        (Some(logical::TIMESTAMP), SchemaType::Int64) => match (from_name, value) {
            (Some(logical::TIMESTAMP), _) => Ok(value.clone()),
            (Some(logical::DATE), Value::Int32(days)) => {
                Ok(Value::Int64(i64::from(*days) * MILLIS_PER_DAY))
            }
            (Some(logical::TIME), Value::Int32(millis)) => Ok(Value::Int64(i64::from(*millis))),
            (Some(_), _) => Err(cannot()),
            _ => Ok(Value::Int64(as_long(parsed)?)),
        },
        (_, SchemaType::String) => {
            let mut out = String::new();
            render::append(&mut out, Some(&parsed.schema), value, false);
            Ok(Value::String(out))
        }
        (_, SchemaType::Boolean) => match value {
            Value::Boolean(_) => Ok(value.clone()),
            Value::String(s) => match parse_string(s) {
                Ok(Some(Parsed {
                    value: b @ Value::Boolean(_),
                    ..
                })) => Ok(b),
                _ => Ok(Value::Boolean(as_long(parsed)? != 0)),
            },
            _ => Ok(Value::Boolean(as_long(parsed)? != 0)),
        },
        (_, SchemaType::Int8) => match value {
            Value::Int8(_) => Ok(value.clone()),
            _ => Ok(Value::Int8(as_long(parsed)? as i8)),
        },
        (_, SchemaType::Int16) => match value {
            Value::Int16(_) => Ok(value.clone()),
            _ => Ok(Value::Int16(as_long(parsed)? as i16)),
        },
        (_, SchemaType::Int32) => match value {
            Value::Int32(_) if from_name.is_none() => Ok(value.clone()),
            _ => Ok(Value::Int32(as_long(parsed)? as i32)),
        },
        (_, SchemaType::Int64) => match value {
            Value::Int64(_) if from_name.is_none() => Ok(value.clone()),
            _ => Ok(Value::Int64(as_long(parsed)?)),
        },
        (_, SchemaType::Float32) => match value {
            Value::Float32(_) => Ok(value.clone()),
            _ => Ok(Value::Float32(as_double(parsed)? as f32)),
        },
        (_, SchemaType::Float64) => match value {
            Value::Float64(_) => Ok(value.clone()),
            _ => Ok(Value::Float64(as_double(parsed)?)),
        },
        (_, SchemaType::Array) => match value {
            Value::Array(_) => Ok(value.clone()),
            Value::String(s) => match parse_string(s)? {
                Some(Parsed {
                    value: list @ Value::Array(_),
                    ..
                }) => Ok(list),
                _ => Err(cannot()),
            },
            _ => Err(cannot()),
        },
        (_, SchemaType::Map) => match value {
            Value::Map(_) => Ok(value.clone()),
            Value::String(s) => match parse_string(s)? {
                Some(Parsed {
                    value: map @ Value::Map(_),
                    ..
                }) => Ok(map),
                _ => Err(cannot()),
            },
            _ => Err(cannot()),
        },
        _ => Err(cannot()),
    }
}

/// The number's text, for a number or a string.
fn decimal_text(parsed: &Parsed) -> Option<String> {
    match &parsed.value {
        Value::String(s) => Some(s.trim().to_string()),
        v => {
            let mut out = String::new();
            render::append(&mut out, Some(&parsed.schema), v, false);
            match v {
                Value::Int8(_)
                | Value::Int16(_)
                | Value::Int32(_)
                | Value::Int64(_)
                | Value::Float32(_)
                | Value::Float64(_)
                | Value::Bytes(_) => Some(out),
                _ => None,
            }
        }
    }
}

/// Kafka's `Values.asLong`: a number's `longValue()` (truncated), a
/// string's as a `BigDecimal`; a date, time or timestamp without its
/// schema is not a number.
fn as_long(parsed: &Parsed) -> Result<i64, Failure> {
    let not_a_number = || format!("Unable to convert {:?} to a number", parsed.value);
    if parsed.schema.name.is_some() && parsed.schema.type_ != SchemaType::Bytes {
        return Err(not_a_number());
    }
    match &parsed.value {
        Value::Int8(v) => Ok(i64::from(*v)),
        Value::Int16(v) => Ok(i64::from(*v)),
        Value::Int32(v) => Ok(i64::from(*v)),
        Value::Int64(v) => Ok(*v),
        Value::Float32(v) => Ok(*v as i64),
        Value::Float64(v) => Ok(*v as i64),
        _ => {
            let text = decimal_text(parsed).ok_or_else(not_a_number)?;
            let decimal = BigDecimal::parse(&text).ok_or_else(not_a_number)?;
            Ok(decimal.to_i64_wrapping())
        }
    }
}

/// Kafka's `Values.asDouble`.
fn as_double(parsed: &Parsed) -> Result<f64, Failure> {
    match &parsed.value {
        Value::Float32(v) => Ok(f64::from(*v)),
        Value::Float64(v) => Ok(*v),
        Value::String(s) => BigDecimal::parse(s.trim())
            .and_then(|_| s.trim().parse().ok())
            .ok_or_else(|| format!("Unable to convert {s} to a number")),
        _ if parsed.schema.name.as_deref() == Some(logical::DECIMAL) => decimal_text(parsed)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| "Unable to convert a Decimal to a number".to_string()),
        _ => as_long(parsed).map(|v| v as f64),
    }
}

/// A number in the smallest type that holds it exactly: INT8 to INT64 for
/// integers, FLOAT32 or FLOAT64 for fractions, a Decimal beyond those.
fn parse_number(token: &str) -> Option<Parsed> {
    let decimal = BigDecimal::parse(token)?;
    if let Some(v) = decimal.to_i64_exact() {
        return Some(if let Ok(v) = i8::try_from(v) {
            Parsed::new(Schema::of(SchemaType::Int8), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(v) {
            Parsed::new(Schema::of(SchemaType::Int16), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(v) {
            Parsed::new(Schema::of(SchemaType::Int32), Value::Int32(v))
        } else {
            Parsed::new(Schema::of(SchemaType::Int64), Value::Int64(v))
        });
    }
    if decimal.scale() != 0 {
        if let Ok(f) = token.parse::<f32>()
            && f.is_finite()
        {
            return Some(Parsed::new(
                Schema::of(SchemaType::Float32),
                Value::Float32(f),
            ));
        }
        if let Ok(d) = token.parse::<f64>()
            && d.is_finite()
        {
            return Some(Parsed::new(
                Schema::of(SchemaType::Float64),
                Value::Float64(d),
            ));
        }
    }
    let schema = Schema {
        version: Some(1),
        parameters: vec![(logical::DECIMAL_SCALE.into(), decimal.scale().to_string())],
        ..Schema::of(SchemaType::Bytes).named(logical::DECIMAL)
    };
    Some(Parsed::new(
        schema,
        Value::Bytes(decimal.to_unscaled_bytes()),
    ))
}

/// A date (`yyyy-MM-dd`), time (`HH:mm:ss.SSS'Z'`) or timestamp
/// (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`), in UTC, with escaped colons allowed.
fn parse_temporal(token: &str) -> Option<Parsed> {
    let token = token.replace("\\:", ":");
    let b = token.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let date = |b: &[u8]| -> Option<i64> {
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        if !(1..=days_in_month).contains(&day) {
            return None;
        }
        Some(days_from_civil(year, month, day))
    };
    let time = |at: usize| -> Option<i64> {
        let sep = |i: usize, c: u8| b.get(at + i) == Some(&c);
        if !(sep(2, b':') && sep(5, b':') && sep(8, b'.') && sep(12, b'Z')) {
            return None;
        }
        let (h, m, s, ms) = (
            num(at..at + 2)?,
            num(at + 3..at + 5)?,
            num(at + 6..at + 8)?,
            num(at + 9..at + 12)?,
        );
        if h > 23 || m > 59 || s > 59 {
            return None;
        }
        Some(((h * 60 + m) * 60 + s) * 1000 + ms)
    };
    let named = |type_, name| Schema {
        version: Some(1),
        ..Schema::of(type_).named(name)
    };
    match token.chars().count() {
        13 => Some(Parsed::new(
            named(SchemaType::Int32, logical::TIME),
            Value::Int32(time(0)? as i32),
        )),
        24 if b.get(10) == Some(&b'T') => {
            let millis = date(b)? * MILLIS_PER_DAY + time(11)?;
            Some(Parsed::new(
                named(SchemaType::Int64, logical::TIMESTAMP),
                Value::Int64(millis),
            ))
        }
        10 => Some(Parsed::new(
            named(SchemaType::Int32, logical::DATE),
            Value::Int32(i32::try_from(date(b)?).ok()?),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Option<(SchemaType, Value)> {
        parse_string(text)
            .unwrap()
            .map(|p| (p.schema.type_, p.value))
    }

    #[test]
    fn infers_the_smallest_type() {
        assert_eq!(
            parsed("true"),
            Some((SchemaType::Boolean, Value::Boolean(true)))
        );
        assert_eq!(parsed("12"), Some((SchemaType::Int8, Value::Int8(12))));
        assert_eq!(parsed("300"), Some((SchemaType::Int16, Value::Int16(300))));
        assert_eq!(
            parsed("70000"),
            Some((SchemaType::Int32, Value::Int32(70000)))
        );
        assert_eq!(parsed("1.0"), Some((SchemaType::Int8, Value::Int8(1))));
        assert_eq!(
            parsed("1.5"),
            Some((SchemaType::Float32, Value::Float32(1.5)))
        );
        assert_eq!(parsed("null"), None);
        assert_eq!(
            parsed("hello"),
            Some((SchemaType::String, Value::String("hello".into())))
        );
        assert_eq!(
            parsed("true}"),
            Some((SchemaType::String, Value::String("true}".into())))
        );
        assert_eq!(
            parsed("1,2"),
            Some((SchemaType::String, Value::String("1,2".into())))
        );
    }

    #[test]
    fn reads_lists_and_maps() {
        assert_eq!(
            parsed("[1, 2, 300]"),
            Some((
                SchemaType::Array,
                Value::Array(vec![Value::Int16(1), Value::Int16(2), Value::Int16(300)])
            ))
        );
        assert_eq!(
            parsed(r#"{"a":1,"b":2}"#),
            Some((
                SchemaType::Map,
                Value::Map(vec![
                    (Value::String("a".into()), Value::Int8(1)),
                    (Value::String("b".into()), Value::Int8(2)),
                ])
            ))
        );
        // An unquoted word inside a list: the whole text is a string.
        assert_eq!(
            parsed("[a,b]"),
            Some((SchemaType::String, Value::String("[a,b]".into())))
        );
    }

    #[test]
    fn reads_dates_and_times() {
        let p = parse_string("2021-03-04T05:06:07.089Z").unwrap().unwrap();
        assert_eq!(p.schema.name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(
            render::format_date(match p.value {
                Value::Int64(v) => v,
                _ => panic!(),
            }),
            "2021-03-04T05:06:07.089Z"
        );
        let p = parse_string("12:34:56.789Z").unwrap().unwrap();
        assert_eq!(p.value, Value::Int32(45_296_789));
        let p = parse_string("2021-03-04").unwrap().unwrap();
        assert_eq!(p.schema.name.as_deref(), Some(logical::DATE));
    }
}
