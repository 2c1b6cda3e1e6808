//! PostgreSQL: values cross in PostgreSQL's binary forms, written and read
//! here so that numerics and times keep every digit; bulk loads use
//! `COPY ... FROM STDIN` in the text format.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;

use sqlx::encode::IsNull;
use sqlx::error::{BoxDynError, DatabaseError};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{
    PgArgumentBuffer, PgArguments, PgColumn, PgConnection, PgDatabaseError, PgQueryResult, PgRow,
    PgTypeInfo, PgTypeKind, PgValueFormat, PgValueRef, Postgres,
};
use sqlx::{Arguments, Row, TypeInfo, ValueRef};

use super::session::{Backend, bind_all, check_copy_shape, column_error, column_of, sql_error};
use super::values::{self, pg_numeric};
use super::{Column, ErrorKind, SqlError, SqlValue, ValueKind};

/// PostgreSQL's dates count days from 2000-01-01, its timestamps
/// microseconds from 2000-01-01T00:00:00.
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Built-in type OIDs (pg_type.dat).
mod oid {
    pub const UNSPECIFIED: u32 = 0;
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const XML: u32 = 142;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;
}

/// The type a parameter is sent as. A null is sent untyped, so that
/// PostgreSQL gives it the type its place in the statement calls for.
fn parameter_oid(value: &SqlValue) -> u32 {
    match value {
        SqlValue::Null => oid::UNSPECIFIED,
        SqlValue::Boolean(_) => oid::BOOL,
        SqlValue::Int(_) => oid::INT8,
        SqlValue::Float(_) => oid::FLOAT8,
        SqlValue::Numeric(_) => oid::NUMERIC,
        SqlValue::Text(_) => oid::TEXT,
        SqlValue::Bytes(_) => oid::BYTEA,
        SqlValue::Date(_) => oid::DATE,
        SqlValue::Time(_) => oid::TIME,
        SqlValue::Timestamp(_) => oid::TIMESTAMP,
        SqlValue::Timestamptz(_) => oid::TIMESTAMPTZ,
    }
}

/// A parameter in PostgreSQL's binary form.
struct Parameter<'a>(&'a SqlValue);

impl sqlx::Type<Postgres> for Parameter<'_> {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(oid::UNSPECIFIED))
    }
}

impl sqlx::Encode<'_, Postgres> for Parameter<'_> {
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(Oid(parameter_oid(self.0))))
    }

    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let timestamp = |micros: i64| {
            micros
                .checked_sub(PG_EPOCH_MICROS)
                .map(i64::to_be_bytes)
                .ok_or_else(|| format!("timestamp {micros} is out of range"))
        };
        match self.0 {
            SqlValue::Null => return Ok(IsNull::Yes),
            SqlValue::Boolean(b) => buf.push(u8::from(*b)),
            SqlValue::Int(i) => buf.extend_from_slice(&i.to_be_bytes()),
            SqlValue::Float(f) => buf.extend_from_slice(&f.to_be_bytes()),
            SqlValue::Numeric(text) => pg_numeric::encode(text, buf)?,
            SqlValue::Text(text) => buf.extend_from_slice(text.as_bytes()),
            SqlValue::Bytes(bytes) => buf.extend_from_slice(bytes),
            SqlValue::Date(days) => {
                let days = days
                    .checked_sub(PG_EPOCH_DAYS)
                    .ok_or_else(|| format!("date {days} is out of range"))?;
                buf.extend_from_slice(&days.to_be_bytes())
            }
            SqlValue::Time(micros) => {
                // PostgreSQL's `time` runs from 00:00 to 24:00 inclusive.
                if !(0..=MICROS_PER_DAY).contains(micros) {
                    return Err(format!(
                        "time {micros} is not a time of day in microseconds (0 to {MICROS_PER_DAY})"
                    )
                    .into());
                }
                buf.extend_from_slice(&micros.to_be_bytes())
            }
            SqlValue::Timestamp(micros) | SqlValue::Timestamptz(micros) => {
                buf.extend_from_slice(&timestamp(*micros)?)
            }
        }
        Ok(IsNull::No)
    }
}

/// The kind of values a column of type `type_info` holds.
fn value_kind(type_info: &PgTypeInfo) -> Option<ValueKind> {
    Some(match type_info.oid()?.0 {
        oid::BOOL => ValueKind::Boolean,
        oid::BYTEA => ValueKind::Bytes,
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => ValueKind::Int,
        oid::FLOAT4 | oid::FLOAT8 => ValueKind::Float,
        oid::NUMERIC => ValueKind::Numeric,
        oid::CHAR
        | oid::NAME
        | oid::TEXT
        | oid::BPCHAR
        | oid::VARCHAR
        | oid::JSON
        | oid::JSONB
        | oid::XML
        | oid::UUID => ValueKind::Text,
        oid::DATE => ValueKind::Date,
        oid::TIME => ValueKind::Time,
        oid::TIMESTAMP => ValueKind::Timestamp,
        oid::TIMESTAMPTZ => ValueKind::Timestamptz,
        _ => match type_info.kind() {
            PgTypeKind::Enum(_) => ValueKind::Text,
            PgTypeKind::Domain(base) => return value_kind(base),
            _ => return None,
        },
    })
}

fn read_value(column: &str, value: PgValueRef<'_>) -> Result<SqlValue, String> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    let type_info = value.type_info().into_owned();
    if value.format() == PgValueFormat::Text {
        return Ok(SqlValue::Text(
            value.as_str().map_err(|e| e.to_string())?.to_string(),
        ));
    }
    let bytes = value.as_bytes().map_err(|e| e.to_string())?;
    read_binary(column, &type_info, bytes)
}

fn read_binary(column: &str, type_info: &PgTypeInfo, bytes: &[u8]) -> Result<SqlValue, String> {
    let fixed = |n: usize| -> Result<&[u8], String> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(format!(
                "{} bytes for a value of type {}",
                bytes.len(),
                type_info.name()
            ))
        }
    };
    let i64_at = |b: &[u8]| i64::from_be_bytes(b.try_into().expect("8 bytes"));
    let text = |b: &[u8]| -> Result<SqlValue, String> {
        Ok(SqlValue::Text(
            std::str::from_utf8(b)
                .map_err(|e| e.to_string())?
                .to_string(),
        ))
    };
    let timestamp = |b: &[u8]| -> Result<i64, String> {
        let raw = i64_at(fixed(8).map(|_| b)?);
        if raw == i64::MAX || raw == i64::MIN {
            return Err(format!(
                "column \"{column}\" holds an infinite timestamp, which has no value in \
                 microseconds; cast it to text to read it"
            ));
        }
        raw.checked_add(PG_EPOCH_MICROS)
            .ok_or_else(|| "a timestamp out of range".to_string())
    };
    let Some(type_oid) = type_info.oid() else {
        return Err(format!("type {} has no OID", type_info.name()));
    };
    Ok(match type_oid.0 {
        oid::BOOL => SqlValue::Boolean(fixed(1)?[0] != 0),
        oid::BYTEA => SqlValue::Bytes(bytes.to_vec()),
        oid::INT2 => SqlValue::Int(i16::from_be_bytes(fixed(2)?.try_into().unwrap()).into()),
        oid::INT4 => SqlValue::Int(i32::from_be_bytes(fixed(4)?.try_into().unwrap()).into()),
        oid::OID => SqlValue::Int(u32::from_be_bytes(fixed(4)?.try_into().unwrap()).into()),
        oid::INT8 => SqlValue::Int(i64_at(fixed(8)?)),
        oid::FLOAT4 => SqlValue::Float(f32::from_be_bytes(fixed(4)?.try_into().unwrap()).into()),
        oid::FLOAT8 => SqlValue::Float(f64::from_be_bytes(fixed(8)?.try_into().unwrap())),
        oid::NUMERIC => SqlValue::Numeric(pg_numeric::decode(bytes)?),
        oid::CHAR | oid::NAME | oid::TEXT | oid::BPCHAR | oid::VARCHAR | oid::JSON | oid::XML => {
            text(bytes)?
        }
        // jsonb's binary form is a version byte, then the text.
        oid::JSONB => match bytes.split_first() {
            Some((1, json)) => text(json)?,
            _ => return Err("a jsonb value of an unknown version".into()),
        },
        oid::UUID => {
            let hex: String = fixed(16)?.iter().map(|b| format!("{b:02x}")).collect();
            SqlValue::Text(format!(
                "{}-{}-{}-{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..]
            ))
        }
        oid::DATE => {
            let raw = i32::from_be_bytes(fixed(4)?.try_into().unwrap());
            if raw == i32::MAX || raw == i32::MIN {
                return Err(format!(
                    "column \"{column}\" holds an infinite date, which has no value in days; \
                     cast it to text to read it"
                ));
            }
            SqlValue::Date(
                raw.checked_add(PG_EPOCH_DAYS)
                    .ok_or_else(|| "a date out of range".to_string())?,
            )
        }
        oid::TIME => SqlValue::Time(i64_at(fixed(8)?)),
        oid::TIMESTAMP => SqlValue::Timestamp(timestamp(bytes)?),
        oid::TIMESTAMPTZ => SqlValue::Timestamptz(timestamp(bytes)?),
        _ => match type_info.kind() {
            // An enum's binary form is its label.
            PgTypeKind::Enum(_) => text(bytes)?,
            PgTypeKind::Domain(base) => return read_binary(column, base, bytes),
            _ => {
                return Err(format!(
                    "column \"{column}\" has type {}, which Sluice does not convert; cast it \
                     in the query (\"{column}\"::text)",
                    type_info.name()
                ));
            }
        },
    })
}

/// The text form `COPY ... FROM STDIN` reads, with its escapes.
fn write_copy_value(value: &SqlValue, out: &mut String) -> Result<(), SqlError> {
    let escaped = |text: &str, out: &mut String| {
        for c in text.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    };
    match value {
        SqlValue::Null => out.push_str("\\N"),
        SqlValue::Boolean(b) => out.push(if *b { 't' } else { 'f' }),
        SqlValue::Int(i) => write!(out, "{i}").expect("writing to a String"),
        SqlValue::Float(f) if f.is_nan() => out.push_str("NaN"),
        SqlValue::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" })
        }
        SqlValue::Float(f) => write!(out, "{f}").expect("writing to a String"),
        SqlValue::Numeric(text) => escaped(text, out),
        SqlValue::Text(text) => escaped(text, out),
        SqlValue::Bytes(bytes) => {
            // bytea's hex form `\x0102`, its backslash escaped for COPY.
            out.push_str("\\\\x");
            for b in bytes {
                write!(out, "{b:02x}").expect("writing to a String");
            }
        }
        SqlValue::Time(micros) if *micros == MICROS_PER_DAY => out.push_str("24:00:00"),
        other => out.push_str(
            &values::iso_text(other)?
                .expect("a date or time")
                .replace("+00:00", "+00"),
        ),
    }
    Ok(())
}

/// The row a `COPY` error is about: PostgreSQL says `COPY t, line 7`.
fn copy_error_row(context: Option<&str>) -> Option<usize> {
    let rest = context?.split(", line ").nth(1)?;
    let line: usize = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    line.checked_sub(1)
}

/// How many bytes of COPY data are sent per message.
const COPY_CHUNK_BYTES: usize = 1 << 20;

async fn copy_in(
    conn: &mut PgConnection,
    table: &str,
    columns: &[String],
    rows: &[Vec<SqlValue>],
) -> Result<u64, SqlError> {
    check_copy_shape(columns, rows)?;
    let statement = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
    let mut copy = conn
        .copy_in_raw(&statement)
        .await
        .map_err(sql_error::<Postgres>)?;
    let mut buffer = String::with_capacity(COPY_CHUNK_BYTES + 4096);
    for (index, row) in rows.iter().enumerate() {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                buffer.push('\t');
            }
            if let Err(e) = write_copy_value(value, &mut buffer) {
                let _ = copy.abort(e.message.clone()).await;
                return Err(e.for_row(index));
            }
        }
        buffer.push('\n');
        if buffer.len() >= COPY_CHUNK_BYTES {
            copy.send(buffer.as_bytes())
                .await
                .map_err(sql_error::<Postgres>)?;
            buffer.clear();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes())
            .await
            .map_err(sql_error::<Postgres>)?;
    }
    copy.finish().await.map_err(|e| {
        let context = match &e {
            sqlx::Error::Database(db) => db
                .try_downcast_ref::<PgDatabaseError>()
                .and_then(|pg| pg.r#where().map(str::to_string)),
            _ => None,
        };
        let error = sql_error::<Postgres>(e);
        match copy_error_row(context.as_deref()) {
            Some(row) => error.for_row(row),
            None => error,
        }
    })
}

impl Backend for Postgres {
    const MAX_PARAMETERS: usize = u16::MAX as usize;

    fn arguments(params: &[SqlValue]) -> Result<PgArguments, SqlError> {
        bind_all(params, PgArguments::default(), "$", |arguments, value| {
            arguments.add(Parameter(value))
        })
    }

    fn parameter_types(params: &[SqlValue]) -> Vec<PgTypeInfo> {
        params
            .iter()
            .map(|v| PgTypeInfo::with_oid(Oid(parameter_oid(v))))
            .collect()
    }

    /// PostgreSQL fixes a prepared statement's parameter types, and sqlx
    /// caches statements by text: the same text run with an int where it
    /// once had a null would send bytes of the wrong type. A comment naming
    /// the types makes each combination a statement of its own.
    fn statement_key<'a>(sql: &'a str, params: &[SqlValue]) -> Cow<'a, str> {
        if params.is_empty() {
            return Cow::Borrowed(sql);
        }
        let mut key = String::with_capacity(sql.len() + 24 + params.len() * 5);
        key.push_str(sql);
        key.push_str("\n-- sluice parameter types:");
        for value in params {
            write!(key, " {}", parameter_oid(value)).expect("writing to a String");
        }
        Cow::Owned(key)
    }

    fn column(column: &PgColumn) -> Column {
        column_of(column, value_kind(sqlx::Column::type_info(column)))
    }

    fn read_row(row: &PgRow, out: &mut Vec<SqlValue>) -> Result<(), SqlError> {
        for (index, column) in row.columns().iter().enumerate() {
            let name = sqlx::Column::name(column);
            let value = row.try_get_raw(index).map_err(sql_error::<Postgres>)?;
            out.push(read_value(name, value).map_err(|e| column_error(name, e))?);
        }
        Ok(())
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn classify(error: &dyn DatabaseError) -> (ErrorKind, Option<String>, String) {
        let code = error.code().map(Cow::into_owned);
        let kind = match code.as_deref() {
            Some(code) => kind_of_sqlstate(code),
            None => ErrorKind::Other,
        };
        let mut message = error.message().to_string();
        if let Some(pg) = error.try_downcast_ref::<PgDatabaseError>() {
            // The column and the context name what the message may not:
            // `value too long for type character varying(20)` says which
            // column only in the context of a COPY (`COPY t, line 3,
            // column name: ...`).
            for (label, part) in [
                ("detail", pg.detail()),
                ("hint", pg.hint()),
                ("column", pg.column()),
                ("context", pg.r#where()),
            ] {
                if let Some(part) = part {
                    write!(message, " ({label}: {part})").expect("writing to a String");
                }
            }
        }
        (kind, code, message)
    }

    fn begin_statement(read_only: bool) -> &'static str {
        if read_only {
            "BEGIN READ ONLY"
        } else {
            "BEGIN"
        }
    }

    fn copy_in<'a>(
        conn: &'a mut PgConnection,
        table: &'a str,
        columns: &'a [String],
        rows: &'a [Vec<SqlValue>],
    ) -> impl Future<Output = Result<u64, SqlError>> + Send + 'a {
        copy_in(conn, table, columns, rows)
    }
}

/// The kind of an error by its SQLSTATE (PostgreSQL's Appendix A).
fn kind_of_sqlstate(code: &str) -> ErrorKind {
    match code {
        "25006" => ErrorKind::ReadOnly,
        "57014" => ErrorKind::Timeout,
        "55P03" => ErrorKind::Conflict,
        "57P01" | "57P02" | "57P03" | "53300" | "3D000" => ErrorKind::Connection,
        _ => match &code[..code.len().min(2)] {
            "08" | "28" => ErrorKind::Connection,
            "40" => ErrorKind::Conflict,
            "23" => ErrorKind::Constraint,
            "22" => ErrorKind::Data,
            "42" | "0A" | "26" | "3F" | "34" => ErrorKind::Statement,
            "25" => ErrorKind::InvalidUse,
            _ => ErrorKind::Other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_copy_reads_specially() {
        let mut out = String::new();
        for value in [
            SqlValue::Text("a\tb\\c\nd".into()),
            SqlValue::Bytes(vec![0, 255]),
            SqlValue::Null,
            SqlValue::Float(f64::NEG_INFINITY),
            SqlValue::Timestamptz(0),
        ] {
            write_copy_value(&value, &mut out).unwrap();
            out.push('|');
        }
        assert_eq!(
            out,
            "a\\tb\\\\c\\nd|\\\\x00ff|\\N|-Infinity|1970-01-01 00:00:00.000000+00|"
        );
    }

    #[test]
    fn the_failing_copy_row_is_read_from_the_context() {
        assert_eq!(
            copy_error_row(Some("COPY t_1, line 7, column n: \"x\"")),
            Some(6)
        );
        assert_eq!(copy_error_row(Some("SQL function f")), None);
    }

    #[test]
    fn sqlstates_map_to_kinds() {
        assert_eq!(kind_of_sqlstate("23505"), ErrorKind::Constraint);
        assert_eq!(kind_of_sqlstate("25006"), ErrorKind::ReadOnly);
        assert_eq!(kind_of_sqlstate("57014"), ErrorKind::Timeout);
        assert_eq!(kind_of_sqlstate("42P01"), ErrorKind::Statement);
        assert_eq!(kind_of_sqlstate("40P01"), ErrorKind::Conflict);
    }
}
