//! `jdbc-sink`: Sluice's equivalent of Confluent's JDBC sink connector. It
//! writes records with schemas to PostgreSQL and MySQL/MariaDB tables
//! through the host's sql capability: a datasource the worker defines and
//! the connector is granted read-write (`grant.sql=<name>:rw`).
//!
//! A put goes in three steps. Every record is read into a row (its fields
//! converted to SQL values) up to the first that cannot be; the tables are
//! checked against the rows' columns, created or altered as configured; the
//! rows are written in one transaction, bulk-loaded or in multi-row
//! statements. A record that cannot be written is named to the host after
//! the records before it were committed, so the host's error policy deals
//! with it alone.

mod batch;
mod config;
mod dialect;
mod shape;
mod tables;
mod values;
mod writer;

use sluice_sdk::prelude::*;
use sluice_sdk::sql::{Connection, SqlError};

use crate::batch::{Batch, Entry, Op};
use crate::config::{InsertMode, SinkConfig};
use crate::dialect::Sql;
use crate::shape::Shapes;
use crate::tables::{Problem, Tables};
use crate::writer::{WriteError, Writer};

pub struct JdbcSink;

impl SinkConnector for JdbcSink {
    type Task = JdbcSinkTask;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "jdbc-sink",
            env!("CARGO_PKG_VERSION"),
            "Writes records with schemas to PostgreSQL and MySQL/MariaDB tables: insert, \
             upsert, update or delete, creating and evolving tables as asked",
        )
        .alias("io.confluent.connect.jdbc.JdbcSinkConnector")
        .alias("JdbcSinkConnector")
    }

    fn config_keys() -> Vec<ConfigKey> {
        config::config_keys()
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        config::validate(config)
    }
}

pub struct JdbcSinkTask {
    conn: Connection,
    sql: Sql,
    insert_mode: InsertMode,
    batch_size: usize,
    shapes: Shapes,
    tables: Tables,
}

impl SinkTask for JdbcSinkTask {
    fn start(config: Config) -> Result<Self> {
        let config = SinkConfig::parse(&config).map_err(|issues| {
            let problems: Vec<String> = issues
                .into_iter()
                .map(|i| format!("{}: {}", i.key, i.message))
                .collect();
            ConnectError::fatal(format!("invalid configuration: {}", problems.join("; ")))
        })?;
        let datasource = &config.datasource;
        let conn = sql::open(datasource).map_err(|e| {
            let mut error = ConnectError::from(e);
            error.message = format!("opening datasource \"{datasource}\": {}", error.message);
            error
        })?;
        if conn.is_read_only() {
            return Err(ConnectError::fatal(format!(
                "datasource \"{datasource}\" is granted read-only, and the sink writes: grant it \
                 with grant.sql={datasource}:rw"
            )));
        }
        let sql = Sql::new(conn.dialect()).ok_or_else(|| {
            ConnectError::fatal(format!(
                "datasource \"{datasource}\" is a {:?} database; the JDBC sink writes to \
                 PostgreSQL and MySQL/MariaDB",
                conn.dialect()
            ))
        })?;
        sluice_sdk::log::info(&format!(
            "writing to datasource \"{datasource}\" ({:?}), insert.mode={:?}, pk.mode={:?}",
            conn.dialect(),
            config.insert_mode,
            config.pk_mode
        ));
        Ok(JdbcSinkTask {
            sql,
            insert_mode: config.insert_mode,
            batch_size: config.batch_size,
            shapes: Shapes::new(&config, sql),
            tables: Tables::new(&config, sql),
            conn,
        })
    }

    fn put(&mut self, mut records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.shapes.trim() {
            self.tables.forget_shapes();
        }
        let (mut batch, mut rejected) = self.read(&mut records);
        if let Some((index, problem)) = self.resolve(&mut batch)? {
            rejected = Some((index, problem));
        }
        let writer = Writer {
            conn: &self.conn,
            sql: self.sql,
            tables: &self.tables,
            shapes: &self.shapes,
            batch_size: self.batch_size,
        };
        let end = batch.len();
        match writer.write(&mut batch, end) {
            Ok(None) => {}
            Ok(Some(refusal)) => {
                let message = format!(
                    "record {}: table {} refused it: {}",
                    coordinates(&records[refusal.record]),
                    self.tables.name(refusal.table),
                    database_error(&refusal.error)
                );
                self.forget_table_after(&refusal.error, Some(refusal.table));
                return Err(ConnectError::fatal(message).for_record(refusal.record));
            }
            Err(WriteError::Retriable(error)) => {
                return Err(ConnectError::retriable(format!(
                    "writing {end} records failed, and nothing of them was written; the put will \
                     be retried: {}",
                    database_error(&error)
                )));
            }
            Err(WriteError::Unlocated { error, table }) => {
                let table_name = table.map(|t| format!(" to table {}", self.tables.name(t)));
                self.forget_table_after(&error, table);
                return Err(ConnectError::fatal(format!(
                    "writing {end} records{} failed, and the record at fault could not be \
                     found; nothing of them was written: {}",
                    table_name.unwrap_or_default(),
                    database_error(&error)
                )));
            }
        }
        match rejected {
            None => Ok(()),
            Some((index, problem)) => Err(ConnectError::fatal(format!(
                "record {}: {problem}",
                coordinates(&records[index])
            ))
            .for_record(index)),
        }
    }

    /// Every put was committed before it returned.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl JdbcSinkTask {
    /// Reads records into rows, up to the first that cannot be read, which
    /// is returned with its problem. [`Self::resolve`] then sets each
    /// entry's layout and operation.
    fn read(&mut self, records: &mut [SinkRecord]) -> (Batch, Option<(usize, String)>) {
        let mut batch = Batch::with_capacity(records.len());
        for (index, record) in records.iter_mut().enumerate() {
            match self.shapes.read(record) {
                Ok(row) => {
                    let table = self.tables.for_topic(&record.topic);
                    let entry = Entry {
                        table,
                        shape: row.shape,
                        layout: 0,
                        op: Op::Skip,
                    };
                    batch.push(entry, row.values);
                }
                Err(problem) => return (batch, Some((index, problem))),
            }
        }
        (batch, None)
    }

    /// Checks each record's table against its columns (creating or
    /// altering it as configured), binds Timestamps as instants where the
    /// column holds them, and sets each entry's layout and operation. A
    /// record that does not fit its table ends the batch there and is
    /// returned with its problem.
    fn resolve(&mut self, batch: &mut Batch) -> Result<Option<(usize, String)>> {
        let write_op = match self.insert_mode {
            InsertMode::Insert => Op::Insert,
            InsertMode::Upsert => Op::Upsert,
            InsertMode::Update => Op::Update,
        };
        let mut current: Option<(usize, usize, Vec<usize>, Op)> = None;
        for index in 0..batch.len() {
            let Entry {
                table,
                shape: shape_id,
                ..
            } = batch.entries[index];
            let known = matches!(&current, Some((t, s, ..)) if *t == table && *s == shape_id);
            if !known {
                let shape = self.shapes.get(shape_id);
                match self.tables.resolve(&self.conn, table, shape_id, shape) {
                    Ok(resolution) => {
                        let op = if resolution.skip {
                            Op::Skip
                        } else if shape.is_delete() {
                            Op::Delete
                        } else {
                            write_op
                        };
                        current = Some((table, shape_id, resolution.instants.clone(), op));
                    }
                    Err(Problem::Record(problem)) => {
                        batch.truncate(index);
                        return Ok(Some((index, problem)));
                    }
                    Err(Problem::Sql { error, doing }) => {
                        let message = format!("{doing}: {}", database_error(&error));
                        return Err(if error.is_retriable() {
                            ConnectError::retriable(message)
                        } else {
                            ConnectError::fatal(message)
                        });
                    }
                }
            }
            let Some((_, _, instants, op)) = &current else {
                unreachable!("resolved above")
            };
            let row = &mut batch.rows[index];
            for &position in instants {
                if let SqlValue::Timestamp(micros) = row[position] {
                    row[position] = SqlValue::Timestamptz(micros);
                }
            }
            let entry = &mut batch.entries[index];
            entry.layout = self.shapes.get(shape_id).layout;
            entry.op = *op;
        }
        Ok(None)
    }

    /// A statement error may come from a table changed behind the sink's
    /// back: read its columns again next time.
    fn forget_table_after(&mut self, error: &SqlError, table: Option<usize>) {
        if let (sql::SqlErrorKind::Statement, Some(table)) = (error.kind, table) {
            self.tables.forget_columns(table);
        }
    }
}

/// `topic-partition@offset`, as the host and Kafka name a record.
fn coordinates(record: &SinkRecord) -> String {
    format!("{}-{}@{}", record.topic, record.partition, record.offset)
}

/// The database's message with its SQLSTATE.
fn database_error(error: &SqlError) -> String {
    match &error.sqlstate {
        Some(state) => format!("{} (SQLSTATE {state})", error.message),
        None => error.message.clone(),
    }
}

sluice_sdk::export_sink_connector!(JdbcSink);
