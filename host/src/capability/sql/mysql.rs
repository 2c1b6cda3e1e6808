//! MySQL and MariaDB: values through sqlx's own encoders and decoders,
//! chosen by the column's type; sessions in UTC so that `TIMESTAMP`s are
//! instants; bulk loads as multi-row `INSERT`s (sqlx speaks no
//! `LOAD DATA LOCAL INFILE`).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::error::DatabaseError;
use sqlx::mysql::types::{MySqlTime, MySqlTimeSign};
use sqlx::mysql::{
    MySql, MySqlArguments, MySqlColumn, MySqlDatabaseError, MySqlQueryResult, MySqlRow,
    MySqlTypeInfo, MySqlValueRef,
};
use sqlx::{Arguments, Decode, Row, TypeInfo, ValueRef};

use super::session::{Backend, bind_all, column_error, column_of, sql_error};
use super::values;
use super::{Column, ErrorKind, SqlError, SqlValue, ValueKind};

const MICROS_PER_SECOND: i64 = 1_000_000;

/// What a column's type reads as. sqlx names `TINYINT(1)` `BOOLEAN` and
/// the binary string types (`BINARY`, `VARBINARY`, `BLOB`) apart from the
/// text ones.
fn value_kind(type_name: &str) -> Option<ValueKind> {
    Some(match type_name {
        "BOOLEAN" => ValueKind::Boolean,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" | "TINYINT UNSIGNED"
        | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => ValueKind::Int,
        // Above 2^63 - 1 a BIGINT UNSIGNED reads as a numeric.
        "BIGINT UNSIGNED" => ValueKind::Int,
        "FLOAT" | "DOUBLE" => ValueKind::Float,
        "DECIMAL" => ValueKind::Numeric,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET"
        | "JSON" => ValueKind::Text,
        "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "BIT"
        | "GEOMETRY" => ValueKind::Bytes,
        "DATE" => ValueKind::Date,
        "TIME" => ValueKind::Time,
        "DATETIME" => ValueKind::Timestamp,
        // The session's time zone is UTC, so a TIMESTAMP reads as the
        // instant it stores.
        "TIMESTAMP" => ValueKind::Timestamptz,
        _ => return None,
    })
}

fn read_value(value: MySqlValueRef<'_>) -> Result<SqlValue, sqlx::error::BoxDynError> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    let type_info: MySqlTypeInfo = value.type_info().into_owned();
    let type_name = type_info.name();
    Ok(match (type_name, value_kind(type_name)) {
        ("BIGINT UNSIGNED", _) => {
            let n = <u64 as Decode<MySql>>::decode(value)?;
            match i64::try_from(n) {
                Ok(n) => SqlValue::Int(n),
                Err(_) => SqlValue::Numeric(n.to_string()),
            }
        }
        (name, _) if name.ends_with(" UNSIGNED") => {
            SqlValue::Int(<u32 as Decode<MySql>>::decode(value)?.into())
        }
        (_, Some(ValueKind::Boolean)) => {
            SqlValue::Boolean(<i64 as Decode<MySql>>::decode(value)? != 0)
        }
        (_, Some(ValueKind::Int)) => SqlValue::Int(<i64 as Decode<MySql>>::decode(value)?),
        ("FLOAT", _) => SqlValue::Float(<f32 as Decode<MySql>>::decode(value)?.into()),
        (_, Some(ValueKind::Float)) => SqlValue::Float(<f64 as Decode<MySql>>::decode(value)?),
        // MySQL sends decimals as their text.
        (_, Some(ValueKind::Numeric)) => {
            SqlValue::Numeric(<&str as Decode<MySql>>::decode(value)?.to_string())
        }
        (_, Some(ValueKind::Text)) => {
            SqlValue::Text(<&str as Decode<MySql>>::decode(value)?.to_string())
        }
        (_, Some(ValueKind::Bytes)) => {
            SqlValue::Bytes(<&[u8] as Decode<MySql>>::decode(value)?.to_vec())
        }
        (_, Some(ValueKind::Date)) => SqlValue::Date(values::days_from_date(
            <NaiveDate as Decode<MySql>>::decode(value)?,
        )),
        (_, Some(ValueKind::Time)) => {
            let time = <MySqlTime as Decode<MySql>>::decode(value)?;
            let magnitude = i64::from(time.hours()) * 3600 * MICROS_PER_SECOND
                + i64::from(time.minutes()) * 60 * MICROS_PER_SECOND
                + i64::from(time.seconds()) * MICROS_PER_SECOND
                + i64::from(time.microseconds());
            SqlValue::Time(if time.sign().is_negative() {
                -magnitude
            } else {
                magnitude
            })
        }
        (_, Some(ValueKind::Timestamp)) => SqlValue::Timestamp(datetime_micros(
            <NaiveDateTime as Decode<MySql>>::decode(value)?,
        )?),
        (_, Some(ValueKind::Timestamptz)) => SqlValue::Timestamptz(datetime_micros(
            <NaiveDateTime as Decode<MySql>>::decode(value)?,
        )?),
        ("NULL", None) => SqlValue::Null,
        (other, None) => {
            return Err(
                format!("type {other} is not one Sluice converts; cast it in the query").into(),
            );
        }
    })
}

fn datetime_micros(datetime: NaiveDateTime) -> Result<i64, String> {
    values::micros_from_datetime(datetime).ok_or_else(|| format!("{datetime} is out of range"))
}

fn add(arguments: &mut MySqlArguments, value: &SqlValue) -> Result<(), sqlx::error::BoxDynError> {
    match value {
        SqlValue::Null => arguments.add(Option::<i64>::None),
        SqlValue::Boolean(b) => arguments.add(*b),
        SqlValue::Int(i) => arguments.add(*i),
        SqlValue::Float(f) => arguments.add(*f),
        // MySQL converts a string to DECIMAL exactly.
        SqlValue::Numeric(text) | SqlValue::Text(text) => arguments.add(text.as_str()),
        SqlValue::Bytes(bytes) => arguments.add(bytes.as_slice()),
        SqlValue::Date(days) => arguments.add(values::date_from_days(*days)?),
        SqlValue::Time(micros) => match values::time_from_micros(*micros) {
            Some(time) => arguments.add(time),
            // A TIME is a duration: negative, or over a day.
            None => arguments.add(duration_time(*micros)?),
        },
        SqlValue::Timestamp(micros) => arguments.add(values::datetime_from_micros(*micros)?),
        SqlValue::Timestamptz(micros) => {
            arguments.add::<DateTime<Utc>>(values::instant_from_micros(*micros)?)
        }
    }
}

fn duration_time(micros: i64) -> Result<MySqlTime, String> {
    let sign = if micros < 0 {
        MySqlTimeSign::Negative
    } else {
        MySqlTimeSign::Positive
    };
    let magnitude = micros.unsigned_abs();
    let seconds = magnitude / MICROS_PER_SECOND as u64;
    let hours =
        u32::try_from(seconds / 3600).map_err(|_| format!("time {micros} is out of range"))?;
    MySqlTime::new(
        sign,
        hours,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        (magnitude % MICROS_PER_SECOND as u64) as u32,
    )
    .map_err(|e| format!("time {micros}: {e}"))
}

impl Backend for MySql {
    const MAX_PARAMETERS: usize = u16::MAX as usize;

    fn arguments(params: &[SqlValue]) -> Result<MySqlArguments, SqlError> {
        bind_all(params, MySqlArguments::default(), "", add)
    }

    fn parameter_types(_params: &[SqlValue]) -> Vec<MySqlTypeInfo> {
        // MySQL takes the parameters' types with each execution.
        Vec::new()
    }

    fn column(column: &MySqlColumn) -> Column {
        column_of(column, value_kind(sqlx::Column::type_info(column).name()))
    }

    fn read_row(row: &MySqlRow, out: &mut Vec<SqlValue>) -> Result<(), SqlError> {
        for (index, column) in row.columns().iter().enumerate() {
            let value = row.try_get_raw(index).map_err(sql_error::<MySql>)?;
            out.push(read_value(value).map_err(|e| column_error(sqlx::Column::name(column), e))?);
        }
        Ok(())
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn classify(error: &dyn DatabaseError) -> (ErrorKind, Option<String>, String) {
        let sqlstate = error.code().map(Cow::into_owned);
        let number = error
            .try_downcast_ref::<MySqlDatabaseError>()
            .map(MySqlDatabaseError::number);
        let kind = match number {
            // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, ER_READ_ONLY_MODE
            Some(1792 | 1836) => ErrorKind::ReadOnly,
            // MariaDB's max_statement_time, MySQL's max_execution_time,
            // a query killed by an interrupt
            Some(1969 | 3024 | 1317) => ErrorKind::Timeout,
            // deadlock, lock wait timeout
            Some(1213 | 1205) => ErrorKind::Conflict,
            // duplicate key, foreign keys, null in a NOT NULL column, check
            Some(1062 | 1451 | 1452 | 1048 | 3819 | 4025) => ErrorKind::Constraint,
            // access denied, unknown database, too many connections, server gone
            Some(1044 | 1045 | 1049 | 1040 | 2006 | 2013) => ErrorKind::Connection,
            _ => match sqlstate.as_deref().map(|s| &s[..s.len().min(2)]) {
                Some("23") => ErrorKind::Constraint,
                Some("22") => ErrorKind::Data,
                Some("42") => ErrorKind::Statement,
                Some("40") => ErrorKind::Conflict,
                Some("08" | "28") => ErrorKind::Connection,
                Some("25") => ErrorKind::InvalidUse,
                _ => ErrorKind::Other,
            },
        };
        let message = match number {
            Some(number) => format!("{} (error {number})", error.message()),
            None => error.message().to_string(),
        };
        (kind, sqlstate, message)
    }

    fn begin_statement(read_only: bool) -> &'static str {
        if read_only {
            "START TRANSACTION READ ONLY"
        } else {
            "START TRANSACTION"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_mysql_times() {
        let time = duration_time(-(26 * 3600 * MICROS_PER_SECOND + 5)).unwrap();
        assert!(time.sign().is_negative());
        assert_eq!((time.hours(), time.minutes(), time.seconds()), (26, 0, 0));
        assert_eq!(time.microseconds(), 5);
        assert!(duration_time(900 * 3600 * MICROS_PER_SECOND).is_err());
    }

    #[test]
    fn column_types_have_kinds() {
        assert_eq!(value_kind("BOOLEAN"), Some(ValueKind::Boolean));
        assert_eq!(value_kind("VARBINARY"), Some(ValueKind::Bytes));
        assert_eq!(value_kind("TIMESTAMP"), Some(ValueKind::Timestamptz));
        assert_eq!(value_kind("GEOMETRYCOLLECTION"), None);
    }
}
