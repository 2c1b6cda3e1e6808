//! The sql capability from a plugin's side, without a plugin: the host
//! functions called as a component calls them, on datasources of the
//! machine's real PostgreSQL (127.0.0.1:5432, database `test`), MariaDB
//! (127.0.0.1:3306, database `test`) or a SQLite file. Tests of the
//! capability use it, and end-to-end tests set their tables up with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sluice::capability::sql::bindings::sql::{
    Column, Host, HostConnection, HostRows, SqlError, SqlValue,
};
use sluice::capability::sql::{
    Access, DatasourceGrant, Grant, SqlConfig, SqlConnection, SqlContext, SqlFailure, SqlRows,
    SqlView,
};
use sluice::config::ConfigError;
use wasmtime::component::{Resource, ResourceTable};

use crate::Scratch;

/// The machine's PostgreSQL (trust authentication).
pub const POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";
/// The machine's MariaDB (root without a password).
pub const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// The databases under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Postgres,
    MariaDb,
    Sqlite,
}

impl Db {
    /// The `n`th placeholder.
    pub fn p(self, n: usize) -> String {
        match self {
            Db::Postgres => format!("${n}"),
            Db::MariaDb | Db::Sqlite => "?".into(),
        }
    }

    /// `n` placeholders, comma-separated.
    pub fn placeholders(self, n: usize) -> String {
        (1..=n).map(|i| self.p(i)).collect::<Vec<_>>().join(", ")
    }
}

/// A table name no other test (or test run) uses.
pub fn table(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "sql_cap_{test}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A plugin instance of a connector granted `grants` of a worker with
/// datasources `db` (the database under test) and `other` (a second name
/// for it), calling the host implementation as the plugin would.
pub struct SqlPlugin {
    ctx: SqlContext,
    table: ResourceTable,
    runtime: tokio::runtime::Runtime,
    _scratch: Option<Scratch>,
}

/// Datasource definitions of a worker for `db`.
pub fn worker_config(db: Db, scratch: Option<&Scratch>) -> SqlConfig {
    let url = match db {
        Db::Postgres => POSTGRES_URL.to_string(),
        Db::MariaDb => MARIADB_URL.to_string(),
        Db::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            scratch
                .expect("a scratch directory")
                .file("test.db")
                .display()
        ),
    };
    let map = [
        ("sql.datasource.db.url".to_string(), url.clone()),
        ("sql.datasource.other.url".to_string(), url),
    ]
    .into_iter()
    .collect();
    let mut errors: Vec<ConfigError> = Vec::new();
    let config = SqlConfig::from_worker_config(&map, &mut errors);
    assert_eq!(errors, []);
    config
}

impl SqlPlugin {
    pub fn new(db: Db, grants: &[(&str, Access)], timeout: Option<Duration>) -> SqlPlugin {
        let scratch = (db == Db::Sqlite).then(|| Scratch::new("sql"));
        let config = worker_config(db, scratch.as_ref());
        Self::with_config(&config, grants, timeout, scratch)
    }

    pub fn with_config(
        config: &SqlConfig,
        grants: &[(&str, Access)],
        timeout: Option<Duration>,
        scratch: Option<Scratch>,
    ) -> SqlPlugin {
        let grant = Grant {
            datasources: grants
                .iter()
                .map(|(name, access)| DatasourceGrant {
                    datasource: name.to_string(),
                    access: *access,
                })
                .collect(),
            statement_timeout: timeout,
        };
        SqlPlugin {
            ctx: SqlContext::new(config, &grant, "sql-capability-test"),
            table: ResourceTable::new(),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime"),
            _scratch: scratch,
        }
    }

    /// Calls `f` with the view the host functions take, inside the
    /// runtime's context as a task's thread is.
    pub fn call<T>(&mut self, f: impl FnOnce(&mut SqlView<'_>) -> T) -> T {
        let _runtime = self.runtime.enter();
        f(&mut SqlView::new(&mut self.ctx, &mut self.table))
    }

    pub fn open(&mut self, datasource: &str) -> Result<Conn, SqlError> {
        let opened = self.call(|v| Host::open(v, datasource.to_string()));
        match opened {
            Ok(resource) => Ok(Conn(resource.rep())),
            Err(failure) => Err(self.sql_error(failure)),
        }
    }

    pub fn sql_error(&mut self, failure: SqlFailure) -> SqlError {
        self.call(|v| Host::convert_sql_error(v, failure))
            .expect("an error for the plugin, not a trap")
    }
}

/// A connection handle, as the plugin holds it.
#[derive(Clone, Copy, Debug)]
pub struct Conn(pub u32);

/// A row stream handle.
#[derive(Clone, Copy, Debug)]
pub struct RowsHandle(pub u32);

/// The handle as a host function takes it.
pub fn conn(c: Conn) -> Resource<SqlConnection> {
    Resource::new_borrow(c.0)
}

/// The handle as a host function takes it.
pub fn rows(r: RowsHandle) -> Resource<SqlRows> {
    Resource::new_borrow(r.0)
}

impl SqlPlugin {
    pub fn execute(&mut self, c: Conn, sql: &str, params: Vec<SqlValue>) -> Result<u64, SqlError> {
        let result = self.call(|v| HostConnection::execute(v, conn(c), sql.into(), params));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn execute_batch(
        &mut self,
        c: Conn,
        sql: &str,
        params: Vec<Vec<SqlValue>>,
    ) -> Result<u64, SqlError> {
        let result = self.call(|v| HostConnection::execute_batch(v, conn(c), sql.into(), params));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn copy_in(
        &mut self,
        c: Conn,
        table: &str,
        columns: &[&str],
        rows: Vec<Vec<SqlValue>>,
    ) -> Result<u64, SqlError> {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        let result =
            self.call(|v| HostConnection::copy_in(v, conn(c), table.into(), columns, rows));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn begin(&mut self, c: Conn) -> Result<(), SqlError> {
        let result = self.call(|v| HostConnection::begin(v, conn(c)));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn commit(&mut self, c: Conn) -> Result<(), SqlError> {
        let result = self.call(|v| HostConnection::commit(v, conn(c)));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn rollback(&mut self, c: Conn) -> Result<(), SqlError> {
        let result = self.call(|v| HostConnection::rollback(v, conn(c)));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn close(&mut self, c: Conn) {
        self.call(|v| HostConnection::drop(v, Resource::new_own(c.0)))
            .expect("dropping a connection");
    }

    pub fn query(
        &mut self,
        c: Conn,
        sql: &str,
        params: Vec<SqlValue>,
    ) -> Result<RowsHandle, SqlError> {
        let result = self.call(|v| HostConnection::query(v, conn(c), sql.into(), params));
        match result {
            Ok(resource) => Ok(RowsHandle(resource.rep())),
            Err(f) => Err(self.sql_error(f)),
        }
    }

    pub fn columns(&mut self, r: RowsHandle) -> Vec<Column> {
        self.call(|v| HostRows::columns(v, rows(r)))
            .expect("columns")
    }

    pub fn next_batch(&mut self, r: RowsHandle, max_rows: u32) -> Result<Vec<SqlValue>, SqlError> {
        let result = self.call(|v| HostRows::next_batch(v, rows(r), max_rows));
        result.map_err(|f| self.sql_error(f))
    }

    pub fn close_rows(&mut self, r: RowsHandle) {
        self.call(|v| HostRows::drop(v, Resource::new_own(r.0)))
            .expect("dropping rows");
    }

    /// Every row of a query, read in batches of `batch`.
    pub fn select(
        &mut self,
        c: Conn,
        sql: &str,
        params: Vec<SqlValue>,
        batch: u32,
    ) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let r = self.query(c, sql, params)?;
        let width = self.columns(r).len();
        let mut all = Vec::new();
        loop {
            let values = self.next_batch(r, batch)?;
            if values.is_empty() {
                break;
            }
            assert!(
                values.len() <= batch as usize * width,
                "a batch over {batch} rows"
            );
            all.extend(values.chunks(width).map(<[SqlValue]>::to_vec));
        }
        self.close_rows(r);
        Ok(all)
    }

    pub fn count(&mut self, c: Conn, table: &str) -> i64 {
        let rows = self
            .select(c, &format!("SELECT COUNT(*) FROM {table}"), vec![], 10)
            .expect("counting");
        match rows[0][0] {
            SqlValue::Int(n) => n,
            ref other => panic!("a count of {other:?}"),
        }
    }
}
