//! The `connection` and `rows` resources: a database session from a
//! connector's pool, the transaction it may have open, the host-side
//! statement deadline, and the read-only rules a grant puts on it. Plugin
//! calls are synchronous; each runs its statements on the worker's tokio
//! runtime and waits.
//!
//! It is one piece because the connection, its session slot and the row
//! reader share the session's private state (the pooled connection, the
//! open transaction, the read-ahead channel), which no other file reaches.
//! What statements a plugin may send is decided in `statement`.

use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Executor, IntoArguments};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc};
use tokio_util::sync::CancellationToken;

use super::bindings::sql::{Column, Dialect, ErrorKind, SqlError, SqlValue};
use super::pool::{AnyPool, SharedPool};
use super::session::{self, Backend, breaks_connection, run_plain, sql_error};
use super::statement::{SESSION_KEYWORDS, TRANSACTION_KEYWORDS, leading_keyword};

/// How long past the statement timeout the host waits for the database to
/// cancel a statement itself before it gives up on the connection. The
/// database's cancellation leaves the session usable; the host's does not.
const HOST_GRACE: Duration = Duration::from_secs(1);

/// How many rows a query's reader fetches ahead of the plugin.
const READ_AHEAD_ROWS: usize = 4096;

/// The savepoint that makes a batch all or nothing inside a transaction.
const BATCH_SAVEPOINT: &str = "sluice_batch";

/// A database session.
pub struct SqlConnection {
    /// Keeps the pool open while the connection lives.
    pool: Arc<SharedPool>,
    session: AnySession,
    timeout: Duration,
    runtime: tokio::runtime::Handle,
    /// A transaction begun with `begin` and not yet ended.
    in_transaction: bool,
    /// Alive while a `rows` of this connection is.
    open_rows: Weak<()>,
}

impl std::fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnection")
            .field("datasource", &self.pool.datasource)
            .field("dialect", &self.dialect())
            .field("read_only", &self.read_only())
            .field("in_transaction", &self.in_transaction)
            .finish()
    }
}

enum AnySession {
    Postgres(Session<sqlx::Postgres>),
    MySql(Session<sqlx::MySql>),
    Sqlite(Session<sqlx::Sqlite>),
}

/// Runs `$body` with `$session` bound to the backend's typed session.
macro_rules! on_session {
    ($any:expr, $session:ident => $body:expr) => {
        match $any {
            AnySession::Postgres($session) => $body,
            AnySession::MySql($session) => $body,
            AnySession::Sqlite($session) => $body,
        }
    };
}

/// A statement-level operation of a connection.
enum Operation<'a> {
    Execute {
        sql: &'a str,
        params: &'a [SqlValue],
    },
    ExecuteEach {
        sql: &'a str,
        rows: &'a [Vec<SqlValue>],
    },
    CopyIn {
        table: &'a str,
        columns: &'a [String],
        rows: &'a [Vec<SqlValue>],
    },
    Begin {
        read_only: bool,
    },
    Commit,
    Rollback,
}

/// What an operation is wrapped in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrap {
    Nothing,
    /// A transaction of its own: a statement of a read-only grant outside
    /// a transaction, or a batch that must be all or nothing.
    Transaction {
        read_only: bool,
    },
    /// A savepoint: a batch inside the plugin's transaction.
    Savepoint,
}

/// The physical connection, `None` once it was given up on (lost, timed
/// out, abandoned mid-result); the next statement acquires another from
/// the pool unless a transaction was open on it. A row stream's reader
/// holds the lock until the result has been read or abandoned.
type Slot<DB> = Arc<Mutex<PooledSlot<DB>>>;

/// A pooled connection that goes back to its pool on the runtime, since
/// sqlx returns it with a task: the last holder of a slot may be a store
/// dropped on any thread.
struct PooledSlot<DB: Database> {
    conn: Option<PoolConnection<DB>>,
    runtime: tokio::runtime::Handle,
}

impl<DB: Database> std::ops::Deref for PooledSlot<DB> {
    type Target = Option<PoolConnection<DB>>;

    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> std::ops::DerefMut for PooledSlot<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl<DB: Database> Drop for PooledSlot<DB> {
    fn drop(&mut self) {
        let _runtime = self.runtime.enter();
        drop(self.conn.take());
    }
}

struct Session<DB: Database> {
    pool: sqlx::Pool<DB>,
    slot: Slot<DB>,
}

impl<DB: Database> Session<DB> {
    fn new(pool: sqlx::Pool<DB>, runtime: &tokio::runtime::Handle) -> Self {
        Session {
            pool,
            slot: Arc::new(Mutex::new(PooledSlot {
                conn: None,
                runtime: runtime.clone(),
            })),
        }
    }

    /// Drops the physical connection after the host stopped waiting for
    /// it mid-statement: its state is unknown.
    fn discard(&self) {
        if let Ok(mut slot) = self.slot.try_lock() {
            discard(&mut slot);
        }
    }

    fn is_busy(&self) -> bool {
        self.slot.try_lock().is_err()
    }
}

fn discard<DB: Database>(slot: &mut Option<PoolConnection<DB>>) {
    if let Some(conn) = slot.take() {
        // Detached, it no longer counts against the pool, which may open
        // another.
        drop(conn.detach());
    }
}

fn lost_transaction() -> SqlError {
    SqlError::new(
        ErrorKind::InvalidUse,
        "the transaction was lost with its connection (a timeout or a connection failure); \
         roll it back",
    )
}

impl<DB: Backend> Session<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    /// Locks the physical connection, acquiring one if there is none and
    /// no transaction was open on the last, and arms the database's
    /// deadline where it needs arming.
    async fn lock(
        &self,
        in_transaction: bool,
        deadline: Instant,
    ) -> Result<OwnedMutexGuard<PooledSlot<DB>>, SqlError> {
        let mut slot = Arc::clone(&self.slot).lock_owned().await;
        if slot.is_none() {
            if in_transaction {
                return Err(lost_transaction());
            }
            slot.conn = Some(self.pool.acquire().await.map_err(sql_error::<DB>)?);
        }
        let conn = slot.as_mut().expect("acquired above");
        if let Err(error) = DB::arm_deadline(conn, deadline).await {
            discard(&mut slot);
            return Err(error);
        }
        Ok(slot)
    }

    /// Rolls back the transaction left open on the connection before it
    /// goes back to the pool, on the runtime: a drop cannot wait.
    fn roll_back_later(&self, runtime: &tokio::runtime::Handle) {
        let slot = Arc::clone(&self.slot);
        runtime.spawn(async move {
            let mut slot = slot.lock().await;
            if let Some(conn) = slot.as_mut()
                && run_plain::<DB>(&mut **conn, "ROLLBACK").await.is_err()
            {
                discard(&mut slot);
            }
        });
    }

    async fn run(
        &self,
        operation: Operation<'_>,
        wrap: Wrap,
        in_transaction: bool,
        deadline: Instant,
    ) -> Result<u64, SqlError> {
        if matches!(operation, Operation::Rollback) && self.slot.lock().await.is_none() {
            // The connection, and its transaction with it, is gone already.
            return Ok(0);
        }
        let mut slot = self.lock(in_transaction, deadline).await?;
        let conn = slot.as_mut().expect("locked with a connection");
        let result = wrapped::<DB>(conn, operation, wrap).await;
        if result.as_ref().is_err_and(breaks_connection) {
            discard(&mut slot);
        }
        result
    }
}

async fn wrapped<DB: Backend>(
    conn: &mut DB::Connection,
    operation: Operation<'_>,
    wrap: Wrap,
) -> Result<u64, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let (start, done, undo) = match wrap {
        Wrap::Nothing => return perform::<DB>(conn, operation).await,
        Wrap::Transaction { read_only } => (
            DB::begin_statement(read_only).to_string(),
            "COMMIT".to_string(),
            "ROLLBACK".to_string(),
        ),
        Wrap::Savepoint => (
            format!("SAVEPOINT {BATCH_SAVEPOINT}"),
            format!("RELEASE SAVEPOINT {BATCH_SAVEPOINT}"),
            format!("ROLLBACK TO SAVEPOINT {BATCH_SAVEPOINT}"),
        ),
    };
    run_plain::<DB>(conn, &start).await?;
    match perform::<DB>(conn, operation).await {
        Ok(value) => {
            run_plain::<DB>(conn, &done).await?;
            Ok(value)
        }
        Err(error) => {
            // A broken connection cannot undo anything; the database
            // rolls back what it loses anyway.
            if !breaks_connection(&error) {
                run_plain::<DB>(conn, &undo).await?;
                if wrap == Wrap::Savepoint {
                    run_plain::<DB>(conn, &done).await?;
                }
            }
            Err(error)
        }
    }
}

async fn perform<DB: Backend>(
    conn: &mut DB::Connection,
    operation: Operation<'_>,
) -> Result<u64, SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    match operation {
        Operation::Execute { sql, params } => session::execute::<DB>(conn, sql, params).await,
        Operation::ExecuteEach { sql, rows } => session::execute_each::<DB>(conn, sql, rows).await,
        Operation::CopyIn {
            table,
            columns,
            rows,
        } => DB::copy_in(conn, table, columns, rows).await,
        Operation::Begin { read_only } => run_plain::<DB>(conn, DB::begin_statement(read_only))
            .await
            .map(|()| 0),
        Operation::Commit => run_plain::<DB>(conn, "COMMIT").await.map(|()| 0),
        Operation::Rollback => run_plain::<DB>(conn, "ROLLBACK").await.map(|()| 0),
    }
}

/// Runs `future` to completion from the synchronous side of a plugin
/// call, on a task thread, a blocking thread or a runtime worker thread.
fn block_on<F: Future>(runtime: &tokio::runtime::Handle, future: F) -> F::Output {
    tokio::task::block_in_place(|| runtime.block_on(future))
}

fn timed_out(timeout: Duration) -> SqlError {
    SqlError::new(
        ErrorKind::Timeout,
        format!(
            "the statement ran past the statement timeout ({} ms, sql.statement.timeout.ms) and \
             the database did not stop it; its connection was closed",
            timeout.as_millis()
        ),
    )
}

impl SqlConnection {
    /// A session of `pool`, its connection acquired now so that a wrong
    /// password or an unreachable database shows at once.
    pub(super) fn open(
        pool: Arc<SharedPool>,
        timeout: Duration,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, SqlError> {
        let session = match &pool.pool {
            AnyPool::Postgres(p) => AnySession::Postgres(Session::new(p.clone(), &runtime)),
            AnyPool::MySql(p) => AnySession::MySql(Session::new(p.clone(), &runtime)),
            AnyPool::Sqlite(p) => AnySession::Sqlite(Session::new(p.clone(), &runtime)),
        };
        let connection = SqlConnection {
            pool,
            session,
            timeout,
            runtime,
            in_transaction: false,
            open_rows: Weak::new(),
        };
        let deadline = connection.deadline();
        let acquired = on_session!(&connection.session, s => block_on(
            &connection.runtime,
            tokio::time::timeout(connection.host_timeout(), async { s.lock(false, deadline).await.map(drop) }),
        ));
        match acquired {
            Ok(Ok(())) => Ok(connection),
            Ok(Err(error)) => Err(SqlError {
                message: format!(
                    "connecting to datasource \"{}\": {}",
                    connection.pool.datasource, error.message
                ),
                ..error
            }),
            Err(_) => Err(SqlError::new(
                ErrorKind::Connection,
                format!(
                    "datasource \"{}\" did not answer within {} ms",
                    connection.pool.datasource,
                    connection.host_timeout().as_millis()
                ),
            )),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.session {
            AnySession::Postgres(_) => Dialect::Postgresql,
            AnySession::MySql(_) => Dialect::Mysql,
            AnySession::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub fn read_only(&self) -> bool {
        self.pool.read_only
    }

    /// When the database is to cut a statement starting now off.
    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout
    }

    fn host_timeout(&self) -> Duration {
        self.timeout + HOST_GRACE
    }

    /// Refuses what may not run now: anything while a row stream holds the
    /// connection, SQL that controls transactions (the host must know
    /// whether one is open), and session settings through a read-only
    /// grant (they could turn read-only off).
    fn check_statement(&self, sql: Option<&str>) -> Result<(), SqlError> {
        let busy = on_session!(&self.session, s => s.is_busy());
        if busy && self.open_rows.upgrade().is_some() {
            return Err(SqlError::new(
                ErrorKind::InvalidUse,
                "a row stream of this connection is still open: read it to its end or drop it \
                 first",
            ));
        }
        let Some(keyword) = sql.and_then(leading_keyword) else {
            return Ok(());
        };
        if TRANSACTION_KEYWORDS.contains(&keyword.as_str()) {
            return Err(SqlError::new(
                ErrorKind::InvalidUse,
                format!(
                    "transactions are controlled with begin, commit and rollback, not with SQL \
                     ({keyword})"
                ),
            ));
        }
        if self.read_only() && SESSION_KEYWORDS.contains(&keyword.as_str()) {
            return Err(SqlError::new(
                ErrorKind::ReadOnly,
                format!(
                    "datasource \"{}\" is granted read-only: its session settings cannot be \
                     changed ({keyword})",
                    self.pool.datasource
                ),
            ));
        }
        Ok(())
    }

    /// The wrap of a single statement: read-only grants run each statement
    /// outside a transaction in a read-only transaction of its own, so
    /// that not even a function changing the session's default can make
    /// it write. SQLite's read-only grant opens the file read-only instead.
    fn statement_wrap(&self) -> Wrap {
        if self.read_only() && !self.in_transaction && self.dialect() != Dialect::Sqlite {
            Wrap::Transaction { read_only: true }
        } else {
            Wrap::Nothing
        }
    }

    fn batch_wrap(&self) -> Wrap {
        if self.in_transaction {
            Wrap::Savepoint
        } else {
            Wrap::Transaction {
                read_only: self.read_only(),
            }
        }
    }

    fn run(&mut self, operation: Operation<'_>, wrap: Wrap) -> Result<u64, SqlError> {
        let deadline = self.deadline();
        let in_transaction = self.in_transaction;
        let outcome = on_session!(&self.session, s => block_on(
            &self.runtime,
            tokio::time::timeout(self.host_timeout(), s.run(operation, wrap, in_transaction, deadline)),
        ));
        match outcome {
            Ok(result) => result,
            Err(_) => {
                on_session!(&self.session, s => s.discard());
                Err(timed_out(self.timeout))
            }
        }
    }

    pub fn execute(&mut self, sql: &str, params: &[SqlValue]) -> Result<u64, SqlError> {
        self.check_statement(Some(sql))?;
        let wrap = self.statement_wrap();
        self.run(Operation::Execute { sql, params }, wrap)
    }

    pub fn execute_batch(&mut self, sql: &str, rows: &[Vec<SqlValue>]) -> Result<u64, SqlError> {
        self.check_statement(Some(sql))?;
        if rows.is_empty() {
            return Ok(0);
        }
        let wrap = self.batch_wrap();
        self.run(Operation::ExecuteEach { sql, rows }, wrap)
    }

    pub fn copy_in(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<SqlValue>],
    ) -> Result<u64, SqlError> {
        self.check_statement(None)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let wrap = self.batch_wrap();
        self.run(
            Operation::CopyIn {
                table,
                columns,
                rows,
            },
            wrap,
        )
    }

    pub fn begin(&mut self) -> Result<(), SqlError> {
        self.check_statement(None)?;
        if self.in_transaction {
            return Err(SqlError::new(
                ErrorKind::InvalidUse,
                "a transaction is open already: commit or roll it back first",
            ));
        }
        let read_only = self.read_only();
        self.run(Operation::Begin { read_only }, Wrap::Nothing)?;
        self.in_transaction = true;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), SqlError> {
        self.end_transaction(Operation::Commit)
    }

    pub fn rollback(&mut self) -> Result<(), SqlError> {
        self.end_transaction(Operation::Rollback)
    }

    fn end_transaction(&mut self, operation: Operation<'_>) -> Result<(), SqlError> {
        self.check_statement(None)?;
        if !self.in_transaction {
            return Err(SqlError::new(
                ErrorKind::InvalidUse,
                "no transaction is open: begin one first",
            ));
        }
        let commit = matches!(operation, Operation::Commit);
        let result = self.run(operation, Wrap::Nothing);
        // Whether it worked or not, the transaction is over: committed,
        // rolled back, or rolled back by the database when its connection
        // went. Only a call refused before it reached the database leaves
        // it open.
        let ended = !result
            .as_ref()
            .is_err_and(|e| e.kind == ErrorKind::InvalidUse);
        if commit && result.is_err() && ended {
            // A failed COMMIT ends the transaction on PostgreSQL; make sure
            // no database keeps it open on a connection that goes on.
            let _ = self.run(Operation::Rollback, Wrap::Nothing);
        }
        if ended {
            self.in_transaction = false;
        }
        result.map(drop)
    }

    /// Runs a query and returns its rows as a stream, read ahead by a task
    /// that holds the connection until the result ends or the stream is
    /// dropped.
    pub fn query(&mut self, sql: &str, params: &[SqlValue]) -> Result<SqlRows, SqlError> {
        self.check_statement(Some(sql))?;
        let wrap = self.statement_wrap();
        let deadline = self.deadline();
        let host_timeout = self.host_timeout();
        let in_transaction = self.in_transaction;
        let started = on_session!(&self.session, s => {
            let outcome = block_on(
                &self.runtime,
                tokio::time::timeout(host_timeout, start_query(s, sql, params, wrap, in_transaction, deadline)),
            );
            match outcome {
                Ok(Ok((slot, columns))) => Ok((
                    columns,
                    spawn_reader(&self.runtime, slot, sql.to_string(), params.to_vec(), wrap, in_transaction),
                )),
                Ok(Err(error)) => Err(error),
                Err(_) => {
                    s.discard();
                    Err(timed_out(self.timeout))
                }
            }
        })?;
        let (columns, (receiver, cancel)) = started;
        let alive = Arc::new(());
        self.open_rows = Arc::downgrade(&alive);
        Ok(SqlRows {
            columns,
            receiver,
            cancel,
            alive: Some(alive),
            runtime: self.runtime.clone(),
            timeout: self.timeout,
            state: RowsState::Reading,
        })
    }
}

impl Drop for SqlConnection {
    fn drop(&mut self) {
        if self.in_transaction {
            on_session!(&self.session, s => s.roll_back_later(&self.runtime));
        }
    }
}

/// Locks the connection, begins the wrap, and describes the query's
/// columns: everything that can fail before the first row, so that a
/// wrong statement fails `query` itself.
async fn start_query<DB: Backend>(
    session: &Session<DB>,
    sql: &str,
    params: &[SqlValue],
    wrap: Wrap,
    in_transaction: bool,
    deadline: Instant,
) -> Result<(OwnedMutexGuard<PooledSlot<DB>>, Vec<Column>), SqlError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let mut slot = session.lock(in_transaction, deadline).await?;
    let conn = slot.as_mut().expect("locked with a connection");
    let described = async {
        if let Wrap::Transaction { read_only } = wrap {
            run_plain::<DB>(&mut **conn, DB::begin_statement(read_only)).await?;
        }
        match session::describe::<DB>(&mut **conn, sql, params).await {
            Ok(columns) => Ok(columns),
            Err(error) => {
                if wrap != Wrap::Nothing && !breaks_connection(&error) {
                    run_plain::<DB>(&mut **conn, "ROLLBACK").await?;
                }
                Err(error)
            }
        }
    }
    .await;
    match described {
        Ok(columns) => Ok((slot, columns)),
        Err(error) => {
            if breaks_connection(&error) {
                discard(&mut slot);
            }
            Err(error)
        }
    }
}

type RowMessage = Result<Vec<SqlValue>, SqlError>;

/// Starts the task that reads the query's rows into a channel, ahead of
/// the plugin. It ends the wrap when the result ends; when the reader is
/// gone first (the plugin dropped the stream), the result is abandoned
/// and, outside a transaction, its connection with it, cheaper than
/// reading the rest of a large result.
fn spawn_reader<DB: Backend>(
    runtime: &tokio::runtime::Handle,
    mut slot: OwnedMutexGuard<PooledSlot<DB>>,
    sql: String,
    params: Vec<SqlValue>,
    wrap: Wrap,
    in_transaction: bool,
) -> (mpsc::Receiver<RowMessage>, CancellationToken)
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
{
    let (sender, receiver) = mpsc::channel(READ_AHEAD_ROWS);
    let cancel = CancellationToken::new();
    let cancelled = cancel.clone();
    runtime.spawn(async move {
        let conn = slot.as_mut().expect("locked with a connection");
        let outcome = tokio::select! {
            biased;
            () = cancelled.cancelled() => Ok(false),
            read = session::stream_rows::<DB>(&mut **conn, &sql, &params, &sender) => read,
        };
        let ended = match outcome {
            Ok(true) => match wrap {
                Wrap::Transaction { .. } => run_plain::<DB>(&mut **conn, "COMMIT").await,
                _ => Ok(()),
            },
            Ok(false) => {
                if !in_transaction {
                    discard(&mut slot);
                }
                return;
            }
            Err(error) => {
                if wrap != Wrap::Nothing && !breaks_connection(&error) {
                    let _ = run_plain::<DB>(&mut **conn, "ROLLBACK").await;
                }
                Err(error)
            }
        };
        if ended.as_ref().is_err_and(breaks_connection) {
            discard(&mut slot);
        }
        // The connection is free before the reader learns that the result
        // has ended, so that its next statement finds it so.
        drop(slot);
        if let Err(error) = ended {
            let _ = sender.send(Err(error)).await;
        }
    });
    (receiver, cancel)
}

/// The rows of a query.
pub struct SqlRows {
    columns: Vec<Column>,
    receiver: mpsc::Receiver<RowMessage>,
    /// Stops the reader when the stream is dropped unfinished.
    cancel: CancellationToken,
    /// Tells the connection that this stream may still deliver rows.
    alive: Option<Arc<()>>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    state: RowsState,
}

enum RowsState {
    Reading,
    Ended,
    Failed(SqlError),
}

impl SqlRows {
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Up to `max_rows` rows, flat; empty once the result has ended.
    pub fn next_batch(&mut self, max_rows: u32) -> Result<Vec<SqlValue>, SqlError> {
        match &self.state {
            RowsState::Reading => {}
            RowsState::Ended => return Ok(Vec::new()),
            RowsState::Failed(error) => return Err(error.clone()),
        }
        if max_rows == 0 {
            return Err(SqlError::new(
                ErrorKind::InvalidUse,
                "next-batch needs max-rows of at least 1",
            ));
        }
        let wanted = max_rows as usize;
        let width = self.columns.len().max(1);
        let mut values = Vec::with_capacity(wanted.min(READ_AHEAD_ROWS) * width);
        let mut rows = 0;
        let receiver = &mut self.receiver;
        let read = block_on(
            &self.runtime,
            tokio::time::timeout(self.timeout + HOST_GRACE, async {
                let mut messages = Vec::with_capacity(wanted.min(READ_AHEAD_ROWS));
                while rows < wanted {
                    messages.clear();
                    let limit = (wanted - rows).min(READ_AHEAD_ROWS);
                    if receiver.recv_many(&mut messages, limit).await == 0 {
                        return Ok::<bool, SqlError>(true);
                    }
                    for message in messages.drain(..) {
                        values.extend(message?);
                        rows += 1;
                    }
                }
                Ok(false)
            }),
        );
        let result = match read {
            Ok(Ok(ended)) => {
                if ended {
                    self.state = RowsState::Ended;
                }
                Ok(values)
            }
            Ok(Err(error)) => {
                self.state = RowsState::Failed(error.clone());
                Err(error)
            }
            Err(_) => {
                self.cancel.cancel();
                let error = timed_out(self.timeout);
                self.state = RowsState::Failed(error.clone());
                Err(error)
            }
        };
        if !matches!(self.state, RowsState::Reading) {
            // Its reader is done or going: the connection is not busy.
            self.alive = None;
        }
        result
    }
}

impl Drop for SqlRows {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
