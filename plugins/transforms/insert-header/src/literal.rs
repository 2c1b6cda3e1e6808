//! A string read as a typed value the way Kafka's `Values.parseString`
//! infers it: `null`, `true` and `false`; numbers as the smallest integer
//! type that holds them (INT8 to INT64), as FLOAT32 or FLOAT64 when they
//! have a fraction or an exponent, or as a Decimal when an integer is too
//! large for INT64; ISO-8601 dates (`2024-05-01`), times (`12:30:00.000Z`)
//! and timestamps (`2024-05-01T12:30:00.000Z`) as the logical types;
//! arrays and maps (`[1,2]`, `{"a":1}`) of such values; anything else as
//! the STRING it is.
//!
//! Where Kafka's parser is lenient or quirky this one is plain: a top-level
//! number or container must be the whole text (`42 apples` is a STRING), a
//! date must be a real date (`2024-13-01` is a STRING), and an array or map
//! whose elements have no common type is read as a STRING.

use sluice_sdk::data::logical::{DATE, DECIMAL, DECIMAL_SCALE, TIME, TIMESTAMP};
use sluice_sdk::data::{Schema, SchemaType, Value};

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A value and the schema `parseString` infers for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Typed {
    pub schema: Schema,
    pub value: Value,
}

impl Typed {
    fn new(type_: SchemaType, value: Value) -> Self {
        Typed {
            schema: Schema::of(type_),
            value,
        }
    }

    fn string(text: &str) -> Self {
        Typed::new(SchemaType::String, Value::String(text.to_string()))
    }

    /// A logical type, with the version 1 Kafka's logical schemas carry.
    fn logical(type_: SchemaType, name: &str, value: Value) -> Self {
        let mut schema = Schema::of(type_).named(name);
        schema.version = Some(1);
        Typed { schema, value }
    }
}

/// `text` as a typed value; `None` for the literal `null`.
pub fn parse_string(text: &str) -> Option<Typed> {
    if text.is_empty() {
        return Some(Typed::string(text));
    }
    let trimmed = text.trim();
    match trimmed {
        "null" => return None,
        "true" => return Some(Typed::new(SchemaType::Boolean, Value::Boolean(true))),
        "false" => return Some(Typed::new(SchemaType::Boolean, Value::Boolean(false))),
        _ => {}
    }
    if trimmed.starts_with(['[', '{']) {
        let mut parser = Parser::new(trimmed);
        if let Ok(parsed) = parser.element()
            && parser.at_end()
        {
            return parsed.or_else(|| Some(Typed::string(text)));
        }
    } else if let Some(scalar) = scalar(trimmed) {
        return Some(scalar);
    }
    Some(Typed::string(text))
}

/// A temporal value or a number, as a whole token.
fn scalar(token: &str) -> Option<Typed> {
    let first = token.chars().next()?;
    if first.is_ascii_digit()
        && let Some(temporal) = temporal(&token.replace("\\:", ":"))
    {
        return Some(temporal);
    }
    if first.is_ascii_digit() || first == '+' || first == '-' {
        return number(token);
    }
    None
}

/// Why a container could not be read; the caller falls back to a STRING.
struct NotAValue;

/// A cursor over the text of an array or map.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn at_end(&mut self) -> bool {
        self.skip_blanks();
        self.rest().is_empty()
    }

    /// Consumes `c` (after blanks) if it comes next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_blanks();
        if self.rest().starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// The text up to the next unescaped character of `stops`, consumed.
    fn token(&mut self, stops: &[char]) -> &'a str {
        let rest = self.rest();
        let mut escaped = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                let stop = !escaped && stops.contains(&c);
                escaped = c == '\\' && !escaped;
                stop
            })
            .map_or(rest.len(), |(i, _)| i);
        self.at += end;
        &rest[..end]
    }

    /// One element of a container (or the container itself); `None` for
    /// `null`.
    fn element(&mut self) -> Result<Option<Typed>, NotAValue> {
        if self.eat('"') {
            // Kept as written, escapes and all, as Kafka keeps it; only a
            // temporal value is read out of a quoted string.
            let content = self.token(&['"']);
            if !self.eat('"') {
                return Err(NotAValue);
            }
            return Ok(Some(
                temporal(content).unwrap_or_else(|| Typed::string(content)),
            ));
        }
        if self.eat('[') {
            return self.array().map(Some);
        }
        if self.eat('{') {
            return self.map().map(Some);
        }
        // A time has colons, which otherwise end a map key: try the longer
        // token first.
        let start = self.at;
        let long = self.token(&[',', ']', '}']).trim();
        if long.starts_with(|c: char| c.is_ascii_digit())
            && let Some(temporal) = temporal(&long.replace("\\:", ":"))
        {
            return Ok(Some(temporal));
        }
        self.at = start;
        match self.token(&[',', ']', '}', ':']).trim() {
            "null" => Ok(None),
            "true" => Ok(Some(Typed::new(SchemaType::Boolean, Value::Boolean(true)))),
            "false" => Ok(Some(Typed::new(SchemaType::Boolean, Value::Boolean(false)))),
            token => scalar(token).map(Some).ok_or(NotAValue),
        }
    }

    /// The rest of an array, after its `[`.
    fn array(&mut self) -> Result<Typed, NotAValue> {
        let mut items = Vec::new();
        if !self.eat(']') {
            loop {
                items.push(self.element()?);
                if self.eat(']') {
                    break;
                }
                if !self.eat(',') {
                    return Err(NotAValue);
                }
            }
        }
        let (schema, values) = common(items)?;
        let mut array = Schema::of(SchemaType::Array);
        array.value = schema.map(Box::new);
        Ok(Typed {
            schema: array,
            value: Value::Array(values),
        })
    }

    /// The rest of a map, after its `{`.
    fn map(&mut self) -> Result<Typed, NotAValue> {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        if !self.eat('}') {
            loop {
                // A null key is refused, as Kafka refuses it.
                keys.push(Some(self.element()?.ok_or(NotAValue)?));
                if !self.eat(':') {
                    return Err(NotAValue);
                }
                values.push(self.element()?);
                if self.eat('}') {
                    break;
                }
                if !self.eat(',') {
                    return Err(NotAValue);
                }
            }
        }
        let (key_schema, keys) = common(keys)?;
        let (value_schema, values) = common(values)?;
        let mut map = Schema::of(SchemaType::Map);
        map.key = key_schema.map(Box::new);
        map.value = value_schema.map(Box::new);
        Ok(Typed {
            schema: map,
            value: Value::Map(keys.into_iter().zip(values).collect()),
        })
    }
}

/// The schema every item fits, widening numbers as Kafka's
/// `commonSchemaFor` does, and the items converted to it. Nulls make the
/// schema optional; only nulls (or nothing) give no schema.
fn common(items: Vec<Option<Typed>>) -> Result<(Option<Schema>, Vec<Value>), NotAValue> {
    let mut schema: Option<Schema> = None;
    let mut has_null = false;
    for item in &items {
        let Some(item) = item else {
            has_null = true;
            continue;
        };
        schema = Some(match schema {
            None => item.schema.clone(),
            Some(previous) if previous == item.schema => previous,
            Some(previous) => match (rank(previous.type_), rank(item.schema.type_)) {
                (Some(a), Some(b)) if previous.name.is_none() && item.schema.name.is_none() => {
                    if a >= b {
                        previous
                    } else {
                        item.schema.clone()
                    }
                }
                _ => return Err(NotAValue),
            },
        });
    }
    let target = schema.as_ref().map(|s| s.type_);
    let values = items
        .into_iter()
        .map(|item| match (item, target) {
            (None, _) => Value::Null,
            (Some(item), Some(target)) => widen(item.value, target),
            (Some(item), None) => item.value,
        })
        .collect();
    if has_null {
        schema = schema.map(Schema::optional);
    }
    Ok((schema, values))
}

/// The order in which numeric types widen.
fn rank(type_: SchemaType) -> Option<u8> {
    Some(match type_ {
        SchemaType::Int8 => 0,
        SchemaType::Int16 => 1,
        SchemaType::Int32 => 2,
        SchemaType::Int64 => 3,
        SchemaType::Float32 => 4,
        SchemaType::Float64 => 5,
        _ => return None,
    })
}

/// A number converted to a type at least as wide.
fn widen(value: Value, target: SchemaType) -> Value {
    let (integer, float) = match value {
        Value::Int8(v) => (i64::from(v), f64::from(v)),
        Value::Int16(v) => (i64::from(v), f64::from(v)),
        Value::Int32(v) => (i64::from(v), f64::from(v)),
        Value::Int64(v) => (v, v as f64),
        Value::Float32(v) => (0, f64::from(v)),
        other => return other,
    };
    // The integer casts cannot truncate: `common` only widens.
    match target {
        SchemaType::Int16 => Value::Int16(integer as i16),
        SchemaType::Int32 => Value::Int32(integer as i32),
        SchemaType::Int64 => Value::Int64(integer),
        SchemaType::Float32 => Value::Float32(float as f32),
        SchemaType::Float64 => Value::Float64(float),
        _ => Value::Int8(integer as i8),
    }
}

/// A number as `new BigDecimal(token)` reads it, typed as `parseString`
/// types it.
fn number(token: &str) -> Option<Typed> {
    let (negative, unsigned) = match token.as_bytes().first()? {
        b'-' => (true, &token[1..]),
        b'+' => (false, &token[1..]),
        _ => (false, token),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => e.parse().ok()?,
    };
    let scale = fraction.len() as i64 - exponent;
    if let Some(integer) = integral(&digits, scale) {
        let integer = if negative { -integer } else { integer };
        if let Ok(v) = i8::try_from(integer) {
            return Some(Typed::new(SchemaType::Int8, Value::Int8(v)));
        }
        if let Ok(v) = i16::try_from(integer) {
            return Some(Typed::new(SchemaType::Int16, Value::Int16(v)));
        }
        if let Ok(v) = i32::try_from(integer) {
            return Some(Typed::new(SchemaType::Int32, Value::Int32(v)));
        }
        if let Ok(v) = i64::try_from(integer) {
            return Some(Typed::new(SchemaType::Int64, Value::Int64(v)));
        }
        if scale == 0 {
            let mut decimal = Typed::logical(
                SchemaType::Bytes,
                DECIMAL,
                Value::Bytes(twos_complement(integer)),
            );
            decimal.schema.parameters = vec![(DECIMAL_SCALE.to_string(), "0".to_string())];
            return Some(decimal);
        }
    }
    if scale == 0 {
        // An integer beyond 128 bits: Kafka makes it a Decimal, which this
        // parser cannot hold.
        return None;
    }
    if let Ok(v) = token.parse::<f32>()
        && v.is_finite()
    {
        return Some(Typed::new(SchemaType::Float32, Value::Float32(v)));
    }
    match token.parse::<f64>() {
        Ok(v) if v.is_finite() => Some(Typed::new(SchemaType::Float64, Value::Float64(v))),
        _ => None,
    }
}

/// The unscaled `digits` divided by 10^`scale`, if that is an integer that
/// fits 128 bits.
fn integral(digits: &str, scale: i64) -> Option<i128> {
    let digits = digits.trim_start_matches('0');
    let digits = if scale > 0 {
        let scale = usize::try_from(scale).ok()?;
        if scale >= digits.len() {
            return digits.is_empty().then_some(0);
        }
        let (integer, fraction) = digits.split_at(digits.len() - scale);
        if !fraction.bytes().all(|b| b == b'0') {
            return None;
        }
        integer.to_string()
    } else if digits.is_empty() {
        return Some(0);
    } else {
        let zeros = usize::try_from(-scale).ok().filter(|&z| z <= 40)?;
        format!("{digits}{}", "0".repeat(zeros))
    };
    digits.parse().ok()
}

/// The shortest big-endian two's-complement bytes of `n`, as Java's
/// `BigInteger.toByteArray`.
fn twos_complement(n: i128) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start + 1 < bytes.len() {
        let (byte, next) = (bytes[start], bytes[start + 1]);
        if (byte == 0x00 && next & 0x80 == 0) || (byte == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// An ISO-8601 date, time or timestamp in the exact forms Kafka's `Values`
/// writes them, as Date, Time or Timestamp.
fn temporal(token: &str) -> Option<Typed> {
    match token.len() {
        10 => {
            let days = date(token)?;
            Some(Typed::logical(
                SchemaType::Int32,
                DATE,
                Value::Int32(i32::try_from(days).ok()?),
            ))
        }
        13 => {
            let millis = time(token)?;
            Some(Typed::logical(
                SchemaType::Int32,
                TIME,
                Value::Int32(i32::try_from(millis).ok()?),
            ))
        }
        24 => {
            let (day, rest) = token.split_at(10);
            let days = date(day)?;
            let millis = time(rest.strip_prefix('T')?)?;
            Some(Typed::logical(
                SchemaType::Int64,
                TIMESTAMP,
                Value::Int64(days * MILLIS_PER_DAY + millis),
            ))
        }
        _ => None,
    }
}

/// Digits only, as a number.
fn digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `yyyy-MM-dd` as days since 1970-01-01.
fn date(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day) = (digits(year)?, digits(month)?, digits(day)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[month as usize - 1] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `HH:mm:ss.SSSZ` as milliseconds since midnight.
fn time(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (clock, millis) = text.split_once('.')?;
    let mut parts = clock.splitn(3, ':');
    let (hour, minute, second) = (parts.next()?, parts.next()?, parts.next()?);
    if [hour, minute, second].iter().any(|p| p.len() != 2) || millis.len() != 3 {
        return None;
    }
    let (hour, minute, second, millis) = (
        digits(hour)?,
        digits(minute)?,
        digits(second)?,
        digits(millis)?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(((hour * 60 + minute) * 60 + second) * 1000 + millis)
}
