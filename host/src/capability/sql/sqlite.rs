//! SQLite: values keep their storage class (integer, real, text, blob)
//! unless the column is declared `BOOLEAN`, `DATE`, `TIME` or `DATETIME`,
//! whose text is read back into those kinds; dates and times are stored as
//! the ISO text SQLite's date functions read. SQLite has no statement
//! timeout: a progress handler interrupts a statement past its deadline.

use std::borrow::Cow;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    Sqlite, SqliteArguments, SqliteColumn, SqliteConnection, SqliteQueryResult, SqliteRow,
    SqliteTypeInfo, SqliteValueRef,
};
use sqlx::{Arguments, Decode, Row, TypeInfo, ValueRef};

use super::session::{Backend, bind_all, column_error, column_of, sql_error};
use super::values;
use super::{Column, ErrorKind, SqlError, SqlValue, ValueKind};

/// How many virtual machine instructions run between two looks at the
/// deadline: a look costs nanoseconds, a thousand instructions
/// microseconds.
const PROGRESS_INSTRUCTIONS: i32 = 1000;

/// The kind a declared type reads as (sqlx has parsed the declaration
/// into one of a few names; a column of an expression has none).
fn value_kind(type_name: &str) -> Option<ValueKind> {
    Some(match type_name {
        "BOOLEAN" => ValueKind::Boolean,
        "INTEGER" => ValueKind::Int,
        "REAL" => ValueKind::Float,
        "TEXT" => ValueKind::Text,
        "BLOB" => ValueKind::Bytes,
        "DATE" => ValueKind::Date,
        "TIME" => ValueKind::Time,
        "DATETIME" => ValueKind::Timestamp,
        _ => return None,
    })
}

fn read_value(
    declared: &SqliteTypeInfo,
    row: &SqliteRow,
    index: usize,
) -> Result<SqlValue, sqlx::error::BoxDynError> {
    // A value is read once; a second look needs a second reference.
    let raw = || row.try_get_raw(index);
    let value: SqliteValueRef<'_> = raw()?;
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    let stored = value.type_info().into_owned();
    let is_text = stored.name() == "TEXT";
    Ok(match (value_kind(declared.name()), stored.name()) {
        (Some(ValueKind::Boolean), "INTEGER") => {
            SqlValue::Boolean(<i64 as Decode<Sqlite>>::decode(value)? != 0)
        }
        (Some(ValueKind::Date), _) if is_text => SqlValue::Date(values::days_from_date(
            <NaiveDate as Decode<Sqlite>>::decode(value)?,
        )),
        (Some(ValueKind::Time), _) if is_text => SqlValue::Time(values::micros_from_time(
            <NaiveTime as Decode<Sqlite>>::decode(value)?,
        )),
        (Some(ValueKind::Timestamp), _) => {
            // Text with an offset is an instant; without, a wall clock.
            let text = if is_text {
                Some(<&str as Decode<Sqlite>>::decode(raw()?)?)
            } else {
                None
            };
            match text.and_then(parse_instant) {
                Some(micros) => SqlValue::Timestamptz(micros),
                None => SqlValue::Timestamp(
                    values::micros_from_datetime(<NaiveDateTime as Decode<Sqlite>>::decode(value)?)
                        .ok_or("a timestamp out of range")?,
                ),
            }
        }
        (_, "INTEGER") => SqlValue::Int(<i64 as Decode<Sqlite>>::decode(value)?),
        (_, "REAL") => SqlValue::Float(<f64 as Decode<Sqlite>>::decode(value)?),
        (_, "BLOB") => SqlValue::Bytes(<&[u8] as Decode<Sqlite>>::decode(value)?.to_vec()),
        _ => SqlValue::Text(<&str as Decode<Sqlite>>::decode(value)?.to_string()),
    })
}

/// Microseconds since the epoch of `YYYY-MM-DD HH:MM:SS[.f]` followed by
/// an offset (`+00:00`, `Z`), or of RFC 3339 text.
fn parse_instant(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()
        .map(|t| t.timestamp_micros())
}

fn add<'q>(
    arguments: &mut SqliteArguments<'q>,
    value: &'q SqlValue,
) -> Result<(), sqlx::error::BoxDynError> {
    match value {
        SqlValue::Null => arguments.add(Option::<i64>::None),
        SqlValue::Boolean(b) => arguments.add(*b),
        SqlValue::Int(i) => arguments.add(*i),
        SqlValue::Float(f) => arguments.add(*f),
        // A column of NUMERIC affinity turns it into an integer or a real
        // where that loses nothing (SQLite's "type affinity").
        SqlValue::Numeric(text) | SqlValue::Text(text) => arguments.add(text.as_str()),
        SqlValue::Bytes(bytes) => arguments.add(bytes.as_slice()),
        other => arguments.add(values::iso_text(other)?.expect("a date or time")),
    }
}

impl Backend for Sqlite {
    /// SQLITE_MAX_VARIABLE_NUMBER of SQLite 3.32 and later.
    const MAX_PARAMETERS: usize = 32_766;

    fn arguments(params: &[SqlValue]) -> Result<SqliteArguments<'_>, SqlError> {
        bind_all(params, SqliteArguments::default(), "", add)
    }

    fn parameter_types(_params: &[SqlValue]) -> Vec<SqliteTypeInfo> {
        // SQLite types values, not parameters.
        Vec::new()
    }

    fn column(column: &SqliteColumn) -> Column {
        column_of(column, value_kind(sqlx::Column::type_info(column).name()))
    }

    fn read_row(row: &SqliteRow, out: &mut Vec<SqlValue>) -> Result<(), SqlError> {
        for (index, column) in row.columns().iter().enumerate() {
            out.push(
                read_value(sqlx::Column::type_info(column), row, index)
                    .map_err(|e| column_error(sqlx::Column::name(column), e))?,
            );
        }
        Ok(())
    }

    fn rows_affected(result: &SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn classify(error: &dyn DatabaseError) -> (ErrorKind, Option<String>, String) {
        let code = error.code().map(Cow::into_owned);
        // Extended result codes keep the primary code in the low byte.
        let primary = code
            .as_deref()
            .and_then(|c| c.parse::<i32>().ok())
            .map(|c| c & 0xff);
        let kind = match primary {
            Some(8) => ErrorKind::ReadOnly,
            Some(9) => ErrorKind::Timeout,
            Some(5 | 6) => ErrorKind::Conflict,
            Some(19) => ErrorKind::Constraint,
            Some(18 | 20 | 25) => ErrorKind::Data,
            Some(1) => ErrorKind::Statement,
            Some(10 | 11 | 14 | 23 | 26) => ErrorKind::Connection,
            _ => ErrorKind::Other,
        };
        let message = if kind == ErrorKind::Timeout {
            format!("{} (the statement timeout passed)", error.message())
        } else {
            error.message().to_string()
        };
        // SQLite has no SQLSTATE; its result code is no SQLSTATE either.
        (kind, None, message)
    }

    fn begin_statement(_read_only: bool) -> &'static str {
        // A read-only grant opens the database read-only: every
        // transaction of it is.
        "BEGIN"
    }

    async fn arm_deadline(conn: &mut SqliteConnection, deadline: Instant) -> Result<(), SqlError> {
        let mut handle = conn.lock_handle().await.map_err(sql_error::<Sqlite>)?;
        handle.set_progress_handler(PROGRESS_INSTRUCTIONS, move || Instant::now() < deadline);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_told_from_wall_clocks() {
        assert_eq!(
            parse_instant("1970-01-01 00:00:01.5+00:00"),
            Some(1_500_000)
        );
        assert_eq!(parse_instant("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_instant("1970-01-01 00:00:01.5"), None);
    }
}
