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
mod column;
mod config;
mod dialect;
mod session;
mod shape;
mod sink;
mod tables;
mod values;
mod writer;

use sluice_sdk::prelude::*;
use sluice_sdk::sql::Connection;

use crate::config::SinkConfig;
use crate::dialect::Sql;
use crate::sink::Sink;

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
    config: SinkConfig,
    /// `None` until the datasource could be opened.
    sink: Option<Sink<Connection>>,
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
        let mut task = JdbcSinkTask { config, sink: None };
        // A database that cannot be reached now may be by the first put,
        // which the host retries; anything else (no grant, read-only, the
        // wrong database) will not get better.
        match task.connect() {
            Ok(_) => {}
            Err(error) if error.kind == ErrorKind::Retriable => {
                log_warn(&format!("{}; trying again at the first put", error.message))
            }
            Err(error) => return Err(error),
        }
        Ok(task)
    }

    fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.connect()?.put(records)
    }

    /// Every put was committed before it returned.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl JdbcSinkTask {
    /// The sink on its connection, opening the datasource if it is not
    /// open yet.
    fn connect(&mut self) -> Result<&mut Sink<Connection>> {
        if self.sink.is_none() {
            self.sink = Some(open(&self.config)?);
        }
        Ok(self.sink.as_mut().expect("opened above"))
    }
}

/// Opens the configured datasource, which must be granted read-write and
/// be PostgreSQL or MySQL/MariaDB.
fn open(config: &SinkConfig) -> Result<Sink<Connection>> {
    let datasource = &config.datasource;
    let conn = sql::open(datasource).map_err(|e| {
        let mut error = ConnectError::from(e);
        error.message = format!("opening datasource \"{datasource}\": {}", error.message);
        error
    })?;
    if conn.is_read_only() {
        return Err(ConnectError::fatal(format!(
            "datasource \"{datasource}\" is granted read-only, and the sink writes: grant it with \
             grant.sql={datasource}:rw"
        )));
    }
    let sql = Sql::new(conn.dialect()).ok_or_else(|| {
        ConnectError::fatal(format!(
            "datasource \"{datasource}\" is a SQLite database; the JDBC sink writes to \
             PostgreSQL and MySQL/MariaDB"
        ))
    })?;
    log_info(&format!(
        "writing to datasource \"{datasource}\" ({}), insert.mode={}, pk.mode={}",
        sql.name(),
        config.insert_mode.name(),
        config.pk_mode.name()
    ));
    Ok(Sink::new(conn, sql, config))
}

/// Logs into the host's log; the unit tests, which run without a host,
/// print instead.
fn log_info(message: &str) {
    #[cfg(target_family = "wasm")]
    sluice_sdk::log::info(message);
    #[cfg(not(target_family = "wasm"))]
    eprintln!("{message}");
}

fn log_warn(message: &str) {
    #[cfg(target_family = "wasm")]
    sluice_sdk::log::warn(message);
    #[cfg(not(target_family = "wasm"))]
    eprintln!("{message}");
}

sluice_sdk::export_sink_connector!(JdbcSink);
