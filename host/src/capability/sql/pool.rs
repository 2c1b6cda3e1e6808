//! The connection pools: one per connector and datasource on this worker
//! (and per session setup: read-only, statement timeout), held weakly so a
//! pool closes when the last instance of its connector that used it is
//! gone. Sessions are set up here, in each database's own words.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::mysql::{MySql, MySqlPoolOptions};
use sqlx::postgres::{PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqlitePoolOptions};
use sqlx::{Executor, Pool};

use super::datasource::{Datasource, Target};

/// What a pool's sessions are set up with: pools are shared only by
/// instances that would set their sessions up alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub connector: Arc<str>,
    pub datasource: String,
    pub read_only: bool,
    pub statement_timeout: Duration,
}

/// The pools of every connector of the worker. It holds them weakly: a
/// pool closes when the last instance of its connector that used it is
/// gone.
#[derive(Debug, Default)]
pub struct PoolRegistry {
    pools: Mutex<HashMap<PoolKey, Weak<SharedPool>>>,
}

impl PoolRegistry {
    pub fn get_or_create(
        &self,
        key: PoolKey,
        datasource: &Datasource,
        runtime: &tokio::runtime::Handle,
    ) -> Arc<SharedPool> {
        let mut pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pool) = pools.get(&key).and_then(Weak::upgrade) {
            return pool;
        }
        pools.retain(|_, pool| pool.strong_count() > 0);
        let pool = Arc::new(SharedPool::new(&key, datasource, runtime));
        pools.insert(key, Arc::downgrade(&pool));
        pool
    }
}

/// One connector's pool for one datasource.
pub struct SharedPool {
    pub datasource: Arc<str>,
    pub read_only: bool,
    pub pool: AnyPool,
    pub runtime: tokio::runtime::Handle,
}

impl fmt::Debug for SharedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedPool({})", self.datasource)
    }
}

#[derive(Clone)]
pub enum AnyPool {
    Postgres(Pool<Postgres>),
    MySql(Pool<MySql>),
    Sqlite(Pool<Sqlite>),
}

impl SharedPool {
    /// A pool that connects on first use. Sessions of a read-only grant
    /// are read-only in the database itself; statements are cut off by the
    /// database at the statement timeout where it can do so.
    fn new(key: &PoolKey, datasource: &Datasource, runtime: &tokio::runtime::Handle) -> Self {
        // sqlx's pools start their maintenance task on the runtime.
        let _runtime = runtime.enter();
        let timeout = key.statement_timeout;
        let max = datasource.pool_max_size;
        let read_only = key.read_only;
        let pool = match &datasource.target {
            Target::Postgres(options) => {
                // UTC, as MySQL sessions are: a zone-less timestamp bound to
                // a TIMESTAMPTZ column (or COPY text of one) is read in the
                // session's zone, which must not depend on the server's.
                let mut settings = vec![
                    ("statement_timeout", timeout.as_millis().to_string()),
                    ("TimeZone", "UTC".to_string()),
                ];
                if read_only {
                    settings.push(("default_transaction_read_only", "on".to_string()));
                }
                let options = options
                    .clone()
                    .application_name(&format!("sluice {}", key.connector))
                    .options(settings);
                AnyPool::Postgres(
                    PgPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
            Target::MySql(options) => {
                let options = options
                    .clone()
                    .timezone(Some("+00:00".to_string()))
                    .pipes_as_concat(false);
                AnyPool::MySql(
                    MySqlPoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                // MariaDB's timeout covers every statement,
                                // in seconds; MySQL's only SELECTs.
                                let seconds = timeout.as_secs_f64();
                                let mariadb = format!("SET SESSION max_statement_time = {seconds}");
                                if conn.execute(mariadb.as_str()).await.is_err() {
                                    let mysql = format!(
                                        "SET SESSION max_execution_time = {}",
                                        timeout.as_millis()
                                    );
                                    conn.execute(mysql.as_str()).await?;
                                }
                                if read_only {
                                    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                                }
                                Ok(())
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
            Target::Sqlite(options) => {
                let options = options.clone().read_only(read_only).busy_timeout(timeout);
                AnyPool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(max)
                        .acquire_timeout(timeout)
                        .connect_lazy_with(options),
                )
            }
        };
        SharedPool {
            datasource: key.datasource.as_str().into(),
            read_only,
            pool,
            runtime: runtime.clone(),
        }
    }
}

impl Drop for SharedPool {
    fn drop(&mut self) {
        // Closing waits for connections to come back; nobody needs to wait
        // for that.
        let pool = self.pool.clone();
        self.runtime.spawn(async move {
            match pool {
                AnyPool::Postgres(pool) => pool.close().await,
                AnyPool::MySql(pool) => pool.close().await,
                AnyPool::Sqlite(pool) => pool.close().await,
            }
        });
    }
}
