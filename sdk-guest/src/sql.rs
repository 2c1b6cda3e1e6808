//! SQL databases through the host: open a datasource the operator granted
//! the connector (`grant.sql=<name>:ro|rw`), run parameterised statements,
//! read rows in batches, load many rows in one call. The host holds the
//! connection pool, the credentials and the statement timeout; the plugin
//! only names the datasource.
//!
//! ```no_run
//! use sluice_sdk::sql::{self, SqlValue};
//!
//! # fn main() -> Result<(), sql::SqlError> {
//! let warehouse = sql::open("warehouse")?;
//! // PostgreSQL's placeholders; MySQL and SQLite take `?` (see `dialect`).
//! let mut rows = warehouse.query(
//!     "SELECT id, name FROM customers WHERE id > $1 ORDER BY id",
//!     &[SqlValue::Int(5)],
//! )?;
//! while let Some(batch) = rows.next_batch(1000)? {
//!     for row in batch.rows() {
//!         if let [SqlValue::Int(id), SqlValue::Text(name)] = row {
//!             println!("{id}: {name}");
//!         }
//!     }
//! }
//!
//! // Many rows in one call, all or nothing.
//! warehouse.copy_in(
//!     "customers",
//!     &["id", "name"],
//!     &[
//!         vec![SqlValue::Int(6), SqlValue::Text("Ada".into())],
//!         vec![SqlValue::Int(7), SqlValue::Null],
//!     ],
//! )?;
//!
//! // Statements that apply together or not at all.
//! warehouse.transaction(|tx| {
//!     tx.execute("UPDATE accounts SET balance = balance - $1 WHERE id = $2", &[SqlValue::Int(10), SqlValue::Int(1)])?;
//!     tx.execute("UPDATE accounts SET balance = balance + $1 WHERE id = $2", &[SqlValue::Int(10), SqlValue::Int(2)])?;
//!     Ok(())
//! })?;
//! # Ok(())
//! # }
//! ```

use crate::bindings::source::sluice::connect::sql as wit;
use crate::wit::{ConnectError, ErrorKind};

pub use wit::{Column, Dialect, ErrorKind as SqlErrorKind, SqlError, SqlValue, ValueKind};

/// Opens a connection to `datasource`, which the connector must have been
/// granted; any other name fails with [`SqlErrorKind::NotGranted`].
pub fn open(datasource: &str) -> Result<Connection, SqlError> {
    wit::open(datasource).map(Connection)
}

/// A database session, held until it is dropped. A transaction it leaves
/// open is rolled back.
pub struct Connection(wit::Connection);

impl Connection {
    /// The SQL the database speaks, for the placeholders and syntax a
    /// connector writes.
    pub fn dialect(&self) -> Dialect {
        self.0.dialect()
    }

    /// Whether the grant is read-only: the database refuses writes.
    pub fn is_read_only(&self) -> bool {
        self.0.read_only()
    }

    /// Runs a statement that returns rows. Read them with
    /// [`Rows::next_batch`] or [`Rows::batches`]; the connection runs
    /// nothing else until the result has been read or dropped.
    pub fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        let inner = self.0.query(sql, params)?;
        let columns = inner.columns();
        Ok(Rows { inner, columns })
    }

    /// Runs a statement; returns how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        self.0.execute(sql, params)
    }

    /// Runs one statement for each parameter row, all or nothing; a
    /// failure names its row in [`SqlError::row`].
    pub fn execute_batch(&self, sql: &str, rows: &[Vec<SqlValue>]) -> Result<u64, SqlError> {
        self.0.execute_batch(sql, rows)
    }

    /// Bulk-loads `rows` into `table` (`COPY` on PostgreSQL, multi-row
    /// `INSERT`s elsewhere), all or nothing. `table` and `columns` are SQL:
    /// quote them if they need it.
    pub fn copy_in(
        &self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<SqlValue>],
    ) -> Result<u64, SqlError> {
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        self.0.copy_in(table, &columns, rows)
    }

    /// Starts a transaction: the statements until [`Connection::commit`] or
    /// [`Connection::rollback`] apply together or not at all. Transactions
    /// are controlled only through these calls, never with SQL text, so that
    /// the host always knows whether one is open; [`Connection::transaction`]
    /// pairs them for you.
    pub fn begin(&self) -> Result<(), SqlError> {
        self.0.begin()
    }

    /// Commits the open transaction.
    pub fn commit(&self) -> Result<(), SqlError> {
        self.0.commit()
    }

    /// Rolls back the open transaction. It also ends a transaction that
    /// failed or timed out, which until then allows nothing but `rollback`.
    pub fn rollback(&self) -> Result<(), SqlError> {
        self.0.rollback()
    }

    /// Runs `work` in a transaction: commits if it returns `Ok`, rolls
    /// back if it returns an error.
    pub fn transaction<T, E>(&self, work: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<SqlError>,
    {
        self.begin()?;
        match work(self) {
            Ok(value) => {
                self.commit()?;
                Ok(value)
            }
            Err(error) => {
                // The work's error says more than a failed rollback would.
                let _ = self.rollback();
                Err(error)
            }
        }
    }
}

/// The rows of a query, read in batches.
pub struct Rows {
    inner: wit::Rows,
    columns: Vec<Column>,
}

impl Rows {
    /// The result's columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The next `max_rows` rows (fewer at the end of the result), or
    /// `None` once the result has ended.
    pub fn next_batch(&mut self, max_rows: u32) -> Result<Option<RowBatch>, SqlError> {
        let values = self.inner.next_batch(max_rows)?;
        if values.is_empty() {
            return Ok(None);
        }
        Ok(Some(RowBatch {
            width: self.columns.len(),
            values,
        }))
    }

    /// The remaining rows as an iterator of batches of `max_rows`.
    pub fn batches(self, max_rows: u32) -> Batches {
        Batches {
            rows: Some(self),
            max_rows,
        }
    }
}

/// The batches of [`Rows::batches`]; it ends after the last batch or the
/// first error.
pub struct Batches {
    rows: Option<Rows>,
    max_rows: u32,
}

impl Iterator for Batches {
    type Item = Result<RowBatch, SqlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rows = self.rows.as_mut()?;
        match rows.next_batch(self.max_rows) {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.rows = None;
                None
            }
            Err(error) => {
                self.rows = None;
                Some(Err(error))
            }
        }
    }
}

/// Rows as they crossed from the host: one list of values, row after row.
#[derive(Clone, Debug)]
pub struct RowBatch {
    width: usize,
    values: Vec<SqlValue>,
}

impl RowBatch {
    /// How many rows the batch holds.
    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether the batch holds no rows. [`Rows::next_batch`] ends a result
    /// with `None`, not with an empty batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each row's values, in column order.
    pub fn rows(&self) -> impl Iterator<Item = &[SqlValue]> {
        self.values.chunks(self.width.max(1)).take(self.len())
    }

    /// Row `index`, if the batch has it.
    pub fn row(&self, index: usize) -> Option<&[SqlValue]> {
        let start = index.checked_mul(self.width)?;
        self.values.get(start..start.checked_add(self.width)?)
    }

    /// The values, row after row, to take them without copying.
    pub fn into_values(self) -> Vec<SqlValue> {
        self.values
    }
}

impl SqlError {
    /// Whether retrying may succeed: a lost connection, a timeout, a
    /// conflict with another transaction.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self.kind,
            SqlErrorKind::Connection | SqlErrorKind::Timeout | SqlErrorKind::Conflict
        )
    }
}

/// A SQL error fails the call retriably or fatally as [`SqlError::is_retriable`]
/// says, so plugins can use `?` on SQL calls.
impl From<SqlError> for ConnectError {
    fn from(error: SqlError) -> Self {
        ConnectError {
            kind: if error.is_retriable() {
                ErrorKind::Retriable
            } else {
                ErrorKind::Fatal
            },
            message: format!("SQL error ({:?}): {}", error.kind, error.message),
            record: None,
        }
    }
}
