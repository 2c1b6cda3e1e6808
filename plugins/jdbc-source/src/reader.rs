//! One table (or the query) of a task: the statement each mode reads it
//! with, the position reached in it, which is the record's source offset,
//! and when it is due to be read again.
//!
//! The incremental modes read in keyset pages (`WHERE position > last ORDER
//! BY position LIMIT n`): a page is one short statement, so the statement
//! timeout never cuts a large table's read, and a restart resumes after the
//! last row Kafka acknowledged.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_sdk::prelude::*;
use sluice_sdk::source::PartitionRef;
use sluice_sdk::sql::{Connection, Rows, ValueKind};

use crate::config::{Mode, SourceConfig};
use crate::dialect::{Sql, split_qualified};
use crate::schema::{ColumnFacts, Field};

const MICROS_PER_MILLI: i64 = 1_000;
const MICROS_PER_SECOND: i64 = 1_000_000;
const NANOS_PER_MICRO: i64 = 1_000;

/// What a reader reads.
#[derive(Clone, Debug)]
pub enum Target {
    Table(String),
    Query(String),
}

/// How far a table has been read: the last row's timestamp (in µs, as the
/// database keeps it) and incrementing value. `None` before the first row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub timestamp: Option<i64>,
    pub incrementing: Option<i64>,
}

impl Position {
    /// The source offset, in Confluent's form: the timestamp as
    /// milliseconds plus the nanoseconds of its second, as
    /// `java.sql.Timestamp` splits it.
    pub fn to_offset(self) -> serde_json::Value {
        let mut offset = serde_json::Map::new();
        if let Some(micros) = self.timestamp {
            offset.insert(
                "timestamp".into(),
                json!(micros.div_euclid(MICROS_PER_MILLI)),
            );
            offset.insert(
                "timestamp_nanos".into(),
                json!(micros.rem_euclid(MICROS_PER_SECOND) * NANOS_PER_MICRO),
            );
        }
        if let Some(incrementing) = self.incrementing {
            offset.insert("incrementing".into(), json!(incrementing));
        }
        serde_json::Value::Object(offset)
    }

    /// The position a stored offset records.
    pub fn from_offset(offset: &serde_json::Value) -> std::result::Result<Position, String> {
        let field = |name: &str| match offset.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| format!("\"{name}\" is not an integer in the offset {offset}")),
        };
        let timestamp = match (field("timestamp")?, field("timestamp_nanos")?) {
            (Some(millis), nanos) => {
                let seconds = millis.div_euclid(1_000);
                let nanos = nanos.unwrap_or(millis.rem_euclid(1_000) * 1_000_000);
                Some(seconds * MICROS_PER_SECOND + nanos / NANOS_PER_MICRO)
            }
            (None, _) => None,
        };
        Ok(Position {
            timestamp,
            incrementing: field("incrementing")?,
        })
    }
}

/// The columns of a target as the task maps them, found on its first read.
struct Shape {
    fields: Vec<Field>,
    /// The struct schema of every record, unless a Decimal's scale varies.
    schema: Schema,
    varies: bool,
    incrementing: Option<usize>,
    timestamps: Vec<usize>,
    /// Whether the timestamp is an instant (TIMESTAMPTZ, MySQL TIMESTAMP),
    /// so its bounds are bound as one.
    timestamp_is_instant: bool,
}

/// One target's reading state.
pub struct TableReader {
    target: Target,
    partition: serde_json::Value,
    topic: String,
    mode: Mode,
    incrementing_column: Option<String>,
    timestamp_columns: Vec<String>,
    delay_micros: i64,
    poll_interval: Duration,
    position: Position,
    shape: Option<Shape>,
    /// When the target is next read; `None` when it is due now.
    due: Option<Instant>,
    /// The open whole-table read of bulk mode.
    stream: Option<Rows>,
}

/// What a read found.
pub struct Page {
    /// Whether the target has been read to its end for now.
    pub caught_up: bool,
}

impl TableReader {
    pub fn new(target: Target, config: &SourceConfig, offsets: &Offsets) -> Result<TableReader> {
        let (partition, topic) = match &target {
            Target::Table(name) => (
                json!({ "table": name }),
                format!("{}{name}", config.topic_prefix),
            ),
            Target::Query(_) => (json!({ "query": "query" }), config.topic_prefix.clone()),
        };
        let position = match (config.mode, offsets.get(&partition)) {
            (Mode::Bulk, _) | (_, None) => Position::default(),
            (_, Some(offset)) => Position::from_offset(offset).map_err(|e| {
                ConnectError::fatal(format!("the stored offset of {partition} is unusable: {e}"))
            })?,
        };
        Ok(TableReader {
            target,
            partition,
            topic,
            mode: config.mode,
            incrementing_column: config.incrementing_column.clone(),
            timestamp_columns: config.timestamp_columns.clone(),
            delay_micros: (config.timestamp_delay_ms as i64).saturating_mul(MICROS_PER_MILLI),
            poll_interval: Duration::from_millis(config.poll_interval_ms),
            position,
            shape: None,
            due: None,
            stream: None,
        })
    }

    /// What the reader reads, for messages.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Table(name) => format!("table {name}"),
            Target::Query(_) => "the query".into(),
        }
    }

    pub fn position(&self) -> Position {
        self.position
    }

    /// When the reader is next due; `None` means now.
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// After a read that reached the end: wait `poll.interval.ms`.
    pub fn rest(&mut self) {
        self.due = Some(Instant::now() + self.poll_interval);
    }

    /// The statement's FROM clause.
    fn from(&self, sql: Sql) -> String {
        match &self.target {
            Target::Table(name) => sql.quote(name),
            Target::Query(query) => format!("({query}) AS sluice_query"),
        }
    }

    /// Learns the target's columns with a query that returns no rows, and
    /// their nullability and scale from the catalogue.
    fn shape(&mut self, conn: &Connection, sql: Sql) -> Result<&Shape> {
        if self.shape.is_none() {
            let probe = format!("SELECT * FROM {} WHERE 1 = 0", self.from(sql));
            let columns = conn
                .query(&probe, &[])
                .map_err(|e| self.sql_error("describing", e))?
                .columns()
                .to_vec();
            let facts = match &self.target {
                Target::Table(name) => Some(self.catalogue(conn, sql, name)?),
                Target::Query(_) => None,
            };
            let fields: Vec<Field> = columns
                .iter()
                .map(|c| {
                    let fact = facts
                        .as_ref()
                        .and_then(|f| f.iter().find(|(name, _)| *name == c.name))
                        .map(|(_, f)| f);
                    Field::of(c, fact)
                })
                .collect();
            let index_of = |name: &str| {
                columns.iter().position(|c| c.name == name).ok_or_else(|| {
                    ConnectError::fatal(format!(
                        "{} has no column {name} (its columns: {})",
                        self.describe(),
                        columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            };
            let incrementing = match (&self.incrementing_column, self.mode.uses_incrementing()) {
                (Some(name), true) => {
                    let index = index_of(name)?;
                    if columns[index].kind != Some(ValueKind::Int) {
                        return Err(ConnectError::fatal(format!(
                            "the incrementing column {name} of {} is {}, not an integer",
                            self.describe(),
                            columns[index].type_name
                        )));
                    }
                    Some(index)
                }
                _ => None,
            };
            let timestamps = if self.mode.uses_timestamp() {
                self.timestamp_columns
                    .iter()
                    .map(|name| index_of(name))
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            for &index in &timestamps {
                if !matches!(
                    columns[index].kind,
                    Some(ValueKind::Timestamp | ValueKind::Timestamptz)
                ) {
                    return Err(ConnectError::fatal(format!(
                        "the timestamp column {} of {} is {}, not a timestamp",
                        columns[index].name,
                        self.describe(),
                        columns[index].type_name
                    )));
                }
            }
            let timestamp_is_instant = timestamps
                .first()
                .is_some_and(|&i| columns[i].kind == Some(ValueKind::Timestamptz));
            let varies = fields.iter().any(Field::scale_varies);
            let schema = self.struct_schema(&fields, None);
            self.shape = Some(Shape {
                fields,
                schema,
                varies,
                incrementing,
                timestamps,
                timestamp_is_instant,
            });
        }
        Ok(self.shape.as_ref().expect("set above"))
    }

    /// The record schema: a struct named after the table, as Confluent's.
    fn struct_schema(&self, fields: &[Field], row: Option<&[SqlValue]>) -> Schema {
        let mut schema = Schema::structure(
            fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let scale = row.and_then(|r| crate::schema::value_scale(&r[i]));
                    (f.name.clone(), f.schema(scale))
                })
                .collect(),
        );
        if let Target::Table(name) = &self.target {
            schema.name = Some(split_qualified(name).1.to_string());
        }
        schema
    }

    /// Each column's nullability, precision and scale from
    /// information_schema.
    fn catalogue(
        &self,
        conn: &Connection,
        sql: Sql,
        name: &str,
    ) -> Result<Vec<(String, ColumnFacts)>> {
        let (schema, table) = split_qualified(name);
        let schema = schema.map_or(SqlValue::Null, |s| SqlValue::Text(s.into()));
        let rows = conn
            .query(
                &sql.columns_query(),
                &[schema, SqlValue::Text(table.into())],
            )
            .map_err(|e| self.sql_error("reading the catalogue of", e))?;
        let mut facts = Vec::new();
        for batch in rows.batches(1000) {
            let batch = batch.map_err(|e| self.sql_error("reading the catalogue of", e))?;
            for row in batch.rows() {
                let number = |v: &SqlValue| match v {
                    SqlValue::Int(i) => Some(*i),
                    _ => None,
                };
                if let [SqlValue::Text(column), nullable, precision, scale] = row {
                    facts.push((
                        column.clone(),
                        ColumnFacts {
                            nullable: !matches!(nullable, SqlValue::Text(n) if n == "NO"),
                            precision: number(precision),
                            scale: number(scale),
                        },
                    ));
                }
            }
        }
        Ok(facts)
    }

    fn sql_error(&self, doing: &str, error: sluice_sdk::sql::SqlError) -> ConnectError {
        let mut e = ConnectError::from(error);
        e.message = format!("{doing} {}: {}", self.describe(), e.message);
        e
    }

    /// Reads the next page, at most `limit` rows, into `batch`. `now` is
    /// the database's current time in µs, for the timestamp modes.
    pub fn read(
        &mut self,
        conn: &Connection,
        sql: Sql,
        limit: u32,
        now: Option<i64>,
        batch: &mut SourceBatch,
    ) -> Result<Page> {
        self.shape(conn, sql)?;
        if self.mode == Mode::Bulk {
            return self.read_bulk(conn, sql, limit, batch);
        }
        let (statement, params) = self.statement(sql, limit, now);
        let rows = conn
            .query(&statement, &params)
            .map_err(|e| self.sql_error("reading", e))?;
        let mut values = read_all(rows, limit).map_err(|e| self.sql_error("reading", e))?;
        let width = self.shape.as_ref().map_or(1, |s| s.fields.len()).max(1);
        let mut count = values.len() / width;
        let full = count as u32 >= limit;
        if full && self.mode == Mode::Timestamp {
            // Rows with the page's last timestamp may go on past the page;
            // the next page starts after that timestamp, so they are read
            // then, unless the whole page has it: then read all of them now.
            let last = self.row_timestamp(&values[(count - 1) * width..count * width]);
            let keep = (0..count)
                .rev()
                .find(|&r| self.row_timestamp(&values[r * width..(r + 1) * width]) != last)
                .map_or(0, |r| r + 1);
            if keep > 0 {
                values.truncate(keep * width);
                count = keep;
            } else if let Some(last) = last {
                values = self.rows_at(conn, sql, last)?;
                count = values.len() / width;
            }
        }
        let partition = batch.partition(&self.partition);
        let schema = self.list_schema(batch);
        for row in values.chunks_mut(width).take(count) {
            self.emit(row, partition, schema, batch)?;
        }
        Ok(Page { caught_up: !full })
    }

    /// The next rows of the whole-table read, which stays open across
    /// polls: bulk mode has no position to page by.
    fn read_bulk(
        &mut self,
        conn: &Connection,
        sql: Sql,
        limit: u32,
        batch: &mut SourceBatch,
    ) -> Result<Page> {
        if self.stream.is_none() {
            let statement = format!("SELECT * FROM {}", self.from(sql));
            self.stream = Some(
                conn.query(&statement, &[])
                    .map_err(|e| self.sql_error("reading", e))?,
            );
        }
        let stream = self.stream.as_mut().expect("opened above");
        let next = stream.next_batch(limit);
        let rows = match next {
            Ok(Some(rows)) => rows,
            Ok(None) => {
                self.stream = None;
                return Ok(Page { caught_up: true });
            }
            Err(e) => {
                self.stream = None;
                return Err(self.sql_error("reading", e));
            }
        };
        let width = self.shape.as_ref().map_or(1, |s| s.fields.len()).max(1);
        let partition = batch.partition(&self.partition);
        let schema = self.list_schema(batch);
        for row in rows.into_values().chunks_mut(width) {
            self.emit(row, partition, schema, batch)?;
        }
        Ok(Page { caught_up: false })
    }

    /// Whether a whole-table read is under way: the connection serves
    /// nothing else until it ends.
    pub fn is_streaming(&self) -> bool {
        self.stream.is_some()
    }

    /// Every row whose timestamp is `at` (timestamp mode, where a page
    /// holds nothing else).
    fn rows_at(&self, conn: &Connection, sql: Sql, at: i64) -> Result<Vec<SqlValue>> {
        let shape = self.shape.as_ref().expect("shaped before reading");
        let statement = format!(
            "SELECT * FROM {} WHERE {} = {}",
            self.from(sql),
            self.timestamp_expression(sql),
            sql.placeholder(1)
        );
        let rows = conn
            .query(
                &statement,
                &[timestamp_value(at, shape.timestamp_is_instant)],
            )
            .map_err(|e| self.sql_error("reading", e))?;
        read_all(rows, u32::MAX).map_err(|e| self.sql_error("reading", e))
    }

    /// The row's timestamp: the first of the timestamp columns not null.
    fn row_timestamp(&self, row: &[SqlValue]) -> Option<i64> {
        let shape = self.shape.as_ref()?;
        shape.timestamps.iter().find_map(|&i| match row[i] {
            SqlValue::Timestamp(t) | SqlValue::Timestamptz(t) => Some(t),
            _ => None,
        })
    }

    /// The timestamp as SQL: the column, or the first non-null of several.
    fn timestamp_expression(&self, sql: Sql) -> String {
        match self.timestamp_columns.as_slice() {
            [one] => sql.quote(one),
            many => format!(
                "COALESCE({})",
                many.iter()
                    .map(|c| sql.quote(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The statement of the next page and its parameters.
    fn statement(&self, sql: Sql, limit: u32, now: Option<i64>) -> (String, Vec<SqlValue>) {
        let shape = self.shape.as_ref().expect("shaped before reading");
        let instant = shape.timestamp_is_instant;
        let from = self.from(sql);
        let mut params = Vec::new();
        let mut param = |value: SqlValue| {
            params.push(value);
            sql.placeholder(params.len())
        };
        let inc = self.incrementing_column.as_deref().map(|c| sql.quote(c));
        let ts = self.timestamp_expression(sql);
        let upper = now.map(|now| now.saturating_sub(self.delay_micros));
        let statement = match self.mode {
            Mode::Bulk => unreachable!("bulk mode reads through read_bulk"),
            Mode::Incrementing => {
                let inc = inc.expect("validated: incrementing mode has the column");
                let last = param(SqlValue::Int(
                    self.position.incrementing.unwrap_or(i64::MIN),
                ));
                format!(
                    "SELECT * FROM {from} WHERE {inc} > {last} ORDER BY {inc} ASC LIMIT {limit}"
                )
            }
            Mode::Timestamp => {
                let below = param(timestamp_value(upper.unwrap_or(i64::MAX), instant));
                let after = match self.position.timestamp {
                    Some(t) => format!(" AND {ts} > {}", param(timestamp_value(t, instant))),
                    None => String::new(),
                };
                format!(
                    "SELECT * FROM {from} WHERE {ts} < {below}{after} ORDER BY {ts} ASC LIMIT {limit}"
                )
            }
            Mode::TimestampIncrementing => {
                let inc = inc.expect("validated: this mode has the incrementing column");
                let below = param(timestamp_value(upper.unwrap_or(i64::MAX), instant));
                let after = match (self.position.timestamp, self.position.incrementing) {
                    (Some(t), i) => {
                        let at = param(timestamp_value(t, instant));
                        let last = param(SqlValue::Int(i.unwrap_or(i64::MIN)));
                        let later = param(timestamp_value(t, instant));
                        format!(" AND (({ts} = {at} AND {inc} > {last}) OR {ts} > {later})")
                    }
                    (None, _) => String::new(),
                };
                format!(
                    "SELECT * FROM {from} WHERE {ts} < {below}{after} \
                     ORDER BY {ts} ASC, {inc} ASC LIMIT {limit}"
                )
            }
        };
        (statement, params)
    }

    /// The record schema listed in `batch` once for all its rows, unless a
    /// Decimal's scale varies from row to row.
    fn list_schema(&self, batch: &mut SourceBatch) -> Option<SchemaRef> {
        let shape = self.shape.as_ref().expect("shaped before reading");
        (!shape.varies).then(|| batch.schema(&shape.schema))
    }

    /// Appends the record of `row` and advances the position past it. The
    /// row's values move into the record. `schema` is the schema every row
    /// of the batch has, if they have one.
    fn emit(
        &mut self,
        row: &mut [SqlValue],
        partition: PartitionRef,
        schema: Option<SchemaRef>,
        batch: &mut SourceBatch,
    ) -> Result<()> {
        let shape = self.shape.as_ref().expect("shaped before reading");
        // What the schema and the offset need, before the values move out.
        let schema = match schema {
            Some(listed) => listed,
            None => batch.schema(&self.struct_schema(&shape.fields, Some(row))),
        };
        let incrementing = shape.incrementing.and_then(|i| match row[i] {
            SqlValue::Int(value) => Some(value),
            _ => None,
        });
        let timestamp = if self.mode.uses_timestamp() {
            self.row_timestamp(row)
        } else {
            None
        };
        let mut fields = Vec::with_capacity(shape.fields.len());
        for (field, value) in shape.fields.iter().zip(row.iter_mut()) {
            let value = field
                .value(std::mem::replace(value, SqlValue::Null))
                .map_err(|problem| {
                    ConnectError::fatal(format!(
                        "{}, column {}, after position {:?}: {problem}",
                        self.describe(),
                        field.name,
                        self.position
                    ))
                })?;
            fields.push((field.name.clone(), value));
        }
        if incrementing.is_some() {
            self.position.incrementing = incrementing;
        }
        if timestamp.is_some() {
            self.position.timestamp = timestamp;
        }
        let mut record = SourceRecord::new(
            &self.topic,
            BatchData::structured(Some(schema), Value::Struct(fields)),
        );
        if self.mode != Mode::Bulk {
            record = record.at(partition, &self.position.to_offset());
        }
        batch.push(record);
        Ok(())
    }
}

/// A timestamp bound, as the kind of the column it is compared with, so
/// the database compares without converting through a time zone.
fn timestamp_value(micros: i64, instant: bool) -> SqlValue {
    // The far bounds stand for "no bound" and must still be valid dates.
    let micros = micros.clamp(MIN_TIMESTAMP, MAX_TIMESTAMP);
    if instant {
        SqlValue::Timestamptz(micros)
    } else {
        SqlValue::Timestamp(micros)
    }
}

/// 1000-01-01 and 9999-12-31, the range of MySQL's DATETIME, in µs.
const MIN_TIMESTAMP: i64 = -30_610_224_000 * MICROS_PER_SECOND;
const MAX_TIMESTAMP: i64 = 253_402_214_400 * MICROS_PER_SECOND;

/// Every value of `rows`, at most `limit` rows' worth, row after row.
fn read_all(
    mut rows: Rows,
    limit: u32,
) -> std::result::Result<Vec<SqlValue>, sluice_sdk::sql::SqlError> {
    let width = rows.columns().len().max(1);
    let mut values = Vec::new();
    let mut remaining = limit;
    while remaining > 0 {
        match rows.next_batch(remaining.min(4096))? {
            Some(batch) => {
                remaining = remaining.saturating_sub((batch.len()) as u32);
                if values.is_empty() {
                    values = batch.into_values();
                } else {
                    values.extend(batch.into_values());
                }
            }
            None => break,
        }
    }
    debug_assert_eq!(values.len() % width, 0);
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_split_the_timestamp_as_java_does() {
        let position = Position {
            timestamp: Some(1_700_000_000_123_456),
            incrementing: Some(42),
        };
        let offset = position.to_offset();
        assert_eq!(
            offset,
            json!({"timestamp": 1_700_000_000_123i64, "timestamp_nanos": 123_456_000, "incrementing": 42})
        );
        assert_eq!(Position::from_offset(&offset).unwrap(), position);
        // Before 1970 the millisecond rounds down and the nanoseconds stay
        // positive, as java.sql.Timestamp has them.
        let early = Position {
            timestamp: Some(-1),
            incrementing: None,
        };
        assert_eq!(
            early.to_offset(),
            json!({"timestamp": -1, "timestamp_nanos": 999_999_000})
        );
        assert_eq!(Position::from_offset(&early.to_offset()).unwrap(), early);
        // An offset Confluent's connector wrote without nanoseconds.
        assert_eq!(
            Position::from_offset(&json!({"timestamp": 1500})).unwrap(),
            Position {
                timestamp: Some(1_500_000),
                incrementing: None
            }
        );
        assert!(Position::from_offset(&json!({"incrementing": "x"})).is_err());
    }
}
