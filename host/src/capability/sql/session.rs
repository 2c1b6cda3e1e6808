//! What every backend provides ([`Backend`]: binding `sql-value`s, reading
//! rows, classifying errors, bulk loads) and the statements run the same
//! way on each, written once over sqlx's generic connection.

use std::borrow::Cow;
use std::future::Future;
use std::time::Instant;

use futures_util::TryStreamExt;
use sqlx::database::HasStatementCache;
use sqlx::{Database, Executor, IntoArguments, Statement as _};

use super::{Column, ErrorKind, SqlError, SqlValue};

/// How many bytes of values one multi-row `INSERT` of a bulk load carries
/// at most, well under MySQL's default `max_allowed_packet` (16 MiB).
const INSERT_CHUNK_BYTES: usize = 4 << 20;

/// One database's side of the sql capability.
pub trait Backend: Database + HasStatementCache {
    /// The most placeholders one statement may have.
    const MAX_PARAMETERS: usize;

    /// Binds `params`, in order, as the database wants them.
    fn arguments(params: &[SqlValue]) -> Result<Self::Arguments<'_>, SqlError>;

    /// The types `arguments` gives the parameters, for preparing the
    /// statement the way it is then run.
    fn parameter_types(params: &[SqlValue]) -> Vec<Self::TypeInfo>;

    /// The text under which the statement is prepared and cached. sqlx
    /// caches prepared statements by their text alone; a backend whose
    /// statements fix their parameter types when prepared makes the types
    /// part of the text.
    fn statement_key<'a>(sql: &'a str, _params: &[SqlValue]) -> Cow<'a, str> {
        Cow::Borrowed(sql)
    }

    /// A result column as the plugin sees it.
    fn column(column: &Self::Column) -> Column;

    /// Appends the values of `row` to `out`.
    fn read_row(row: &Self::Row, out: &mut Vec<SqlValue>) -> Result<(), SqlError>;

    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// What a database error means, its SQLSTATE and its message with the
    /// detail the database gave.
    fn classify(error: &dyn sqlx::error::DatabaseError) -> (ErrorKind, Option<String>, String);

    /// The statement that starts a transaction.
    fn begin_statement(read_only: bool) -> &'static str;

    /// Makes the database interrupt the next statements past `deadline`
    /// where it has no statement timeout of its own (SQLite).
    fn arm_deadline(
        _conn: &mut Self::Connection,
        _deadline: Instant,
    ) -> impl Future<Output = Result<(), SqlError>> + Send {
        async { Ok(()) }
    }

    /// Bulk-loads `rows` into `table`; the caller makes it all or nothing.
    /// The default sends multi-row `INSERT`s with `?` placeholders.
    fn copy_in<'a>(
        conn: &'a mut Self::Connection,
        table: &'a str,
        columns: &'a [String],
        rows: &'a [Vec<SqlValue>],
    ) -> impl Future<Output = Result<u64, SqlError>> + Send + 'a
    where
        for<'c> &'c mut Self::Connection: Executor<'c, Database = Self>,
        for<'q> Self::Arguments<'q>: IntoArguments<'q, Self>,
    {
        insert_rows::<Self>(conn, table, columns, rows)
    }
}

/// Binds `params` in order into `arguments` with `add`; a value that cannot
/// be bound is a data error naming its placeholder (`{placeholder}1` for
/// the first).
pub fn bind_all<'q, A, E: std::fmt::Display>(
    params: &'q [SqlValue],
    mut arguments: A,
    placeholder: &str,
    mut add: impl FnMut(&mut A, &'q SqlValue) -> Result<(), E>,
) -> Result<A, SqlError> {
    for (index, value) in params.iter().enumerate() {
        add(&mut arguments, value).map_err(|e| {
            SqlError::new(
                ErrorKind::Data,
                format!("parameter {placeholder}{}: {e}", index + 1),
            )
        })?;
    }
    Ok(arguments)
}

/// A result column as the plugin sees it: its name, the database's name
/// of its type, and `kind`.
pub fn column_of<C: sqlx::Column>(column: &C, kind: Option<super::ValueKind>) -> Column {
    Column {
        name: column.name().to_string(),
        type_name: sqlx::TypeInfo::name(column.type_info()).to_string(),
        kind,
    }
}

/// A value of column `name` that cannot be read as a `sql-value`.
pub fn column_error(name: &str, error: impl std::fmt::Display) -> SqlError {
    SqlError::new(ErrorKind::Data, format!("column \"{name}\": {error}"))
}

/// A sqlx error as a `sql-error`.
pub fn sql_error<DB: Backend>(error: sqlx::Error) -> SqlError {
    use sqlx::Error as E;
    let kind = match &error {
        E::Database(db) => {
            let (kind, sqlstate, message) = DB::classify(db.as_ref());
            return SqlError {
                kind,
                message,
                sqlstate,
                row: None,
            };
        }
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Configuration(_) => ErrorKind::Connection,
        E::Encode(_) | E::Decode(_) | E::ColumnDecode { .. } => ErrorKind::Data,
        E::TypeNotFound { .. } | E::ColumnNotFound(_) | E::ColumnIndexOutOfBounds { .. } => {
            ErrorKind::Statement
        }
        _ => ErrorKind::Other,
    };
    SqlError::new(kind, error.to_string())
}

/// Whether the connection that returned `error` can no longer be trusted
/// and must be replaced.
pub fn breaks_connection(error: &SqlError) -> bool {
    error.kind == ErrorKind::Connection
}

/// Runs a statement that needs no parameters (transaction control).
pub async fn run_plain<DB: Backend>(conn: &mut DB::Connection, sql: &str) -> Result<(), SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    conn.execute(sqlx::raw_sql(sql))
        .await
        .map(drop)
        .map_err(sql_error::<DB>)
}

pub async fn execute<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<u64, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let key = DB::statement_key(sql, params);
    let arguments = DB::arguments(params)?;
    let result = sqlx::query_with(&key, arguments)
        .execute(&mut *conn)
        .await
        .map_err(sql_error::<DB>)?;
    Ok(DB::rows_affected(&result))
}

/// Runs `sql` once per parameter row; a failure names its row.
pub async fn execute_each<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    rows: &[Vec<SqlValue>],
) -> Result<u64, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut changed = 0;
    for (index, params) in rows.iter().enumerate() {
        changed += execute::<DB>(conn, sql, params)
            .await
            .map_err(|e| e.for_row(index))?;
    }
    Ok(changed)
}

/// Prepares a query and describes its columns. The statement is cached
/// under the same key the query then runs with, so preparing it costs a
/// round trip only the first time on a connection.
pub async fn describe<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<Vec<Column>, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let key = DB::statement_key(sql, params);
    let types = DB::parameter_types(params);
    let statement = conn
        .prepare_with(&key, &types)
        .await
        .map_err(sql_error::<DB>)?;
    Ok(statement.columns().iter().map(DB::column).collect())
}

/// Streams the rows of a query into `rows`, one row's values per message,
/// until the result ends or the receiver is gone. Returns whether the
/// result was read to its end.
pub async fn stream_rows<DB: Backend>(
    conn: &mut DB::Connection,
    sql: &str,
    params: &[SqlValue],
    rows: &tokio::sync::mpsc::Sender<Result<Vec<SqlValue>, SqlError>>,
) -> Result<bool, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let key = DB::statement_key(sql, params);
    let arguments = DB::arguments(params)?;
    let mut fetched = sqlx::query_with(&key, arguments).fetch(&mut *conn);
    while let Some(row) = fetched.try_next().await.map_err(sql_error::<DB>)? {
        let mut values = Vec::new();
        DB::read_row(&row, &mut values)?;
        if rows.send(Ok(values)).await.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A bulk load as multi-row `INSERT ... VALUES (?, ...), (?, ...)`, as
/// many rows per statement as the placeholder limit and
/// [`INSERT_CHUNK_BYTES`] allow.
pub async fn insert_rows<DB: Backend>(
    conn: &mut DB::Connection,
    table: &str,
    columns: &[String],
    rows: &[Vec<SqlValue>],
) -> Result<u64, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    check_copy_shape(columns, rows)?;
    let rows_per_statement = (DB::MAX_PARAMETERS / columns.len()).max(1);
    let row_placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut loaded = 0;
    let mut start = 0;
    while start < rows.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < rows.len() && end - start < rows_per_statement && bytes < INSERT_CHUNK_BYTES {
            bytes += rows[end].iter().map(value_size).sum::<usize>();
            end += 1;
        }
        let chunk = &rows[start..end];
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            vec![row_placeholders.as_str(); chunk.len()].join(", ")
        );
        let params: Vec<SqlValue> = chunk.iter().flatten().cloned().collect();
        let arguments = DB::arguments(&params)?;
        // Only full chunks repeat; caching the last one would only push
        // statements worth keeping out of the cache.
        let persistent = chunk.len() == rows_per_statement;
        let result = sqlx::query_with(&sql, arguments)
            .persistent(persistent)
            .execute(&mut *conn)
            .await
            .map_err(sql_error::<DB>)
            .map_err(|e| {
                if chunk.len() == 1 {
                    e.for_row(start)
                } else {
                    e
                }
            })?;
        loaded += DB::rows_affected(&result);
        start = end;
    }
    Ok(loaded)
}

/// A bulk load needs columns, and every row one value per column.
pub fn check_copy_shape(columns: &[String], rows: &[Vec<SqlValue>]) -> Result<(), SqlError> {
    if columns.is_empty() {
        return Err(SqlError::new(
            ErrorKind::Statement,
            "copy-in needs at least one column",
        ));
    }
    match rows.iter().position(|row| row.len() != columns.len()) {
        None => Ok(()),
        Some(index) => Err(SqlError::new(
            ErrorKind::Data,
            format!(
                "row {index} has {} values for {} columns",
                rows[index].len(),
                columns.len()
            ),
        )
        .for_row(index)),
    }
}

/// About how many bytes a value takes on the wire.
fn value_size(value: &SqlValue) -> usize {
    match value {
        SqlValue::Numeric(s) | SqlValue::Text(s) => s.len() + 4,
        SqlValue::Bytes(b) => b.len() + 4,
        _ => 9,
    }
}
