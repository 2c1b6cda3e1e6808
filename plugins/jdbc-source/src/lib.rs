//! `jdbc-source`: Sluice's equivalent of Confluent's JDBC source connector.
//! It reads tables (or one query) of a PostgreSQL or MySQL/MariaDB
//! datasource the connector is granted, in bulk or incrementally by an
//! incrementing column, a timestamp, or both, and produces one record per
//! row: a struct whose fields are the columns, typed with Kafka Connect's
//! schemas. A table's position is its source offset, so a restarted task
//! resumes after the last row Kafka acknowledged.
//!
//! The connector lists the tables and spreads them over `tasks.max` tasks;
//! each task reads its tables in turn, one page per poll, on one
//! connection from the host's pool. Credentials never enter the plugin:
//! it names the datasource, the worker connects.

mod config;
mod dialect;
mod reader;
mod schema;

use std::time::Instant;

use sluice_sdk::prelude::*;
use sluice_sdk::sql::{Connection, Dialect};

use config::{SourceConfig, TASK_TABLES};
use dialect::{Sql, split_qualified};
use reader::{TableReader, Target};

pub struct JdbcSource;

impl SourceConnector for JdbcSource {
    type Task = JdbcSourceTask;

    fn metadata() -> PluginMetadata {
        PluginMetadata::new(
            "jdbc-source",
            env!("CARGO_PKG_VERSION"),
            "Reads tables or a query of a PostgreSQL or MySQL/MariaDB datasource into Kafka, in \
             bulk or incrementally",
        )
        .alias("io.confluent.connect.jdbc.JdbcSourceConnector")
        .alias("JdbcSourceConnector")
    }

    fn config_keys() -> Vec<ConfigKey> {
        config::keys()
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        SourceConfig::parse(config).err().unwrap_or_default()
    }

    /// One task for a query; for tables, the tables spread evenly over at
    /// most `max_tasks` tasks.
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        let parsed = SourceConfig::parse_for_task(config)?;
        let config::Selection::Tables {
            whitelist,
            blacklist,
        } = &parsed.selection
        else {
            return Ok(vec![config.clone()]);
        };
        let (conn, sql) = open(&parsed.datasource)?;
        let tables = list_tables(&conn, sql, whitelist, blacklist)?;
        if tables.is_empty() {
            return Err(ConnectError::fatal(format!(
                "datasource {} has no table to read (table.blacklist: {})",
                parsed.datasource,
                blacklist.join(", ")
            )));
        }
        let groups = (max_tasks.max(1) as usize).min(tables.len());
        Ok((0..groups)
            .map(|g| {
                let mine: Vec<&str> = tables
                    .iter()
                    .skip(g)
                    .step_by(groups)
                    .map(String::as_str)
                    .collect();
                let mut task = config.clone();
                task.set(TASK_TABLES, mine.join(","));
                task
            })
            .collect())
    }
}

/// Opens the datasource, which must be PostgreSQL or MySQL/MariaDB: the
/// catalogue queries and the type mapping are theirs, and SQLite types
/// its values one by one.
fn open(datasource: &str) -> Result<(Connection, Sql)> {
    let conn = sql::open(datasource)?;
    match conn.dialect() {
        Dialect::Sqlite => Err(ConnectError::fatal(format!(
            "datasource \"{datasource}\" is a SQLite database; the JDBC source reads \
             PostgreSQL and MySQL/MariaDB"
        ))),
        dialect => Ok((conn, Sql(dialect))),
    }
}

/// The tables to read: the whitelist (each checked to exist), or every
/// base table of the current schema but the blacklisted ones.
fn list_tables(
    conn: &Connection,
    sql: Sql,
    whitelist: &[String],
    blacklist: &[String],
) -> Result<Vec<String>> {
    let mut existing = Vec::new();
    for batch in conn.query(sql.tables_query(), &[])?.batches(1000) {
        for row in batch?.rows() {
            if let [SqlValue::Text(name)] = row {
                existing.push(name.clone());
            }
        }
    }
    if whitelist.is_empty() {
        return Ok(existing
            .into_iter()
            .filter(|t| !blacklist.contains(t))
            .collect());
    }
    for table in whitelist {
        // A qualified name is in another schema, which the listing of the
        // current one does not show; its first read will say if it is
        // missing.
        if split_qualified(table).0.is_none() && !existing.contains(table) {
            return Err(ConnectError::fatal(format!(
                "table.whitelist names the table {table}, which does not exist (the tables: {})",
                existing.join(", ")
            )));
        }
    }
    Ok(whitelist.to_vec())
}

pub struct JdbcSourceTask {
    conn: Connection,
    sql: Sql,
    readers: Vec<TableReader>,
    batch_max_rows: u32,
    uses_timestamp: bool,
}

impl SourceTask for JdbcSourceTask {
    fn start(config: Config, offsets: Offsets) -> Result<Self> {
        let parsed = SourceConfig::parse_for_task(&config)?;
        let targets: Vec<Target> = match &parsed.selection {
            config::Selection::Query(query) => vec![Target::Query(query.clone())],
            config::Selection::Tables { whitelist, .. } => {
                let assigned = config.list(TASK_TABLES);
                let tables = if assigned.is_empty() {
                    whitelist.clone()
                } else {
                    assigned
                };
                tables.into_iter().map(Target::Table).collect()
            }
        };
        if targets.is_empty() {
            return Err(ConnectError::fatal(
                "the task was given no table to read".to_string(),
            ));
        }
        let (conn, sql) = open(&parsed.datasource)?;
        let readers = targets
            .into_iter()
            .map(|t| TableReader::new(t, &parsed, &offsets))
            .collect::<Result<Vec<_>>>()?;
        for reader in &readers {
            sluice_sdk::log::info(&format!(
                "reading {} from {:?}",
                reader.describe(),
                reader.position()
            ));
        }
        Ok(JdbcSourceTask {
            conn,
            sql,
            readers,
            batch_max_rows: parsed.batch_max_rows,
            uses_timestamp: parsed.mode.uses_timestamp(),
        })
    }

    /// Reads one page of the reader that has waited longest, or nothing
    /// when none is due: the host polls again shortly.
    fn poll(&mut self, max_records: u32) -> Result<SourceBatch> {
        let mut batch = SourceBatch::new();
        let now = Instant::now();
        let next = match self.readers.iter().position(TableReader::is_streaming) {
            Some(streaming) => Some(streaming),
            None => self
                .readers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.due().is_none_or(|due| due <= now))
                .min_by_key(|(_, r)| r.due())
                .map(|(i, _)| i),
        };
        let Some(index) = next else {
            return Ok(batch);
        };
        let database_now = if self.uses_timestamp {
            Some(self.database_now()?)
        } else {
            None
        };
        let limit = self.batch_max_rows.min(max_records.max(1));
        let reader = &mut self.readers[index];
        let page = reader.read(&self.conn, self.sql, limit, database_now, &mut batch)?;
        if page.caught_up {
            reader.rest();
        }
        // A reader that is not caught up stays due; rotating it to the back
        // keeps one busy table from starving the others.
        let reader = self.readers.remove(index);
        self.readers.push(reader);
        Ok(batch)
    }
}

impl JdbcSourceTask {
    /// The database's clock, in µs since the epoch.
    fn database_now(&self) -> Result<i64> {
        let mut rows = self.conn.query(self.sql.now_query(), &[])?;
        match rows.next_batch(1)?.as_ref().and_then(|b| b.row(0)) {
            Some([SqlValue::Timestamp(t) | SqlValue::Timestamptz(t)]) => Ok(*t),
            other => Err(ConnectError::fatal(format!(
                "the database's current time came back as {other:?}"
            ))),
        }
    }
}

sluice_sdk::export_source_connector!(JdbcSource);
