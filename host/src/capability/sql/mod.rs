//! SQL: the worker names datasources with their URLs and credentials
//! (`sql.datasource.<name>.url=...`); a connector grants some of them, each
//! read-only or read-write (`grant.sql=<name>:ro,<other>:rw`). The host owns
//! the connection pools (one per connector and datasource, bounded by
//! `sql.datasource.<name>.pool.max.size`) and the statement timeout; the
//! plugin names a datasource and never sees its URL, user or password.

mod connection;
mod host;
mod mysql;
mod postgres;
mod session;
mod sqlite;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Result;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Executor, Pool};
use wasmtime::component::{HasData, Linker, ResourceTable};

pub use super::Access;
use crate::config::{ConfigError, suggest};
use crate::runtime::PluginState;
pub use crate::runtime::bindings::sql::{
    Column, Dialect, ErrorKind, SqlError, SqlValue, ValueKind,
};
pub use connection::{SqlConnection, SqlRows};

/// The worker key prefix that names a datasource.
pub const DATASOURCE_PREFIX: &str = "sql.datasource.";
/// The key of the statement timeout: a worker default a connector may
/// override.
pub const STATEMENT_TIMEOUT_KEY: &str = "sql.statement.timeout.ms";
/// The connector key that grants datasources.
pub const GRANT_KEY: &str = "grant.sql";

const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_POOL_MAX_SIZE: u32 = 4;
/// The keys a datasource takes after `sql.datasource.<name>.`.
const DATASOURCE_KEYS: &[&str] = &["url", "user", "password", "pool.max.size"];

/// The datasources the worker offers, by name, and the default statement
/// timeout. Clones share the pools of every connector.
#[derive(Clone, Debug)]
pub struct SqlConfig {
    pub datasources: BTreeMap<String, Arc<Datasource>>,
    pub statement_timeout: Duration,
    pools: Arc<PoolRegistry>,
}

impl Default for SqlConfig {
    fn default() -> Self {
        SqlConfig {
            datasources: BTreeMap::new(),
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            pools: Arc::default(),
        }
    }
}

/// A database the worker can connect to.
pub struct Datasource {
    pub name: String,
    target: Target,
    pub pool_max_size: u32,
}

impl fmt::Debug for Datasource {
    // The connect options hold the password: show what is safe.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Datasource")
            .field("name", &self.name)
            .field("dialect", &self.dialect())
            .field("pool_max_size", &self.pool_max_size)
            .finish()
    }
}

/// Where a datasource is and how to log in, as sqlx takes it.
#[derive(Clone)]
enum Target {
    Postgres(PgConnectOptions),
    MySql(MySqlConnectOptions),
    Sqlite(SqliteConnectOptions),
}

impl Datasource {
    pub fn dialect(&self) -> Dialect {
        match self.target {
            Target::Postgres(_) => Dialect::Postgresql,
            Target::MySql(_) => Dialect::Mysql,
            Target::Sqlite(_) => Dialect::Sqlite,
        }
    }
}

impl SqlConfig {
    /// Reads `sql.datasource.<name>.*` and `sql.statement.timeout.ms` from
    /// a worker configuration (its secrets already resolved); every problem
    /// goes to `errors`, naming its key and never showing a password.
    pub fn from_worker_config(
        map: &BTreeMap<String, String>,
        errors: &mut Vec<ConfigError>,
    ) -> Self {
        let mut config = SqlConfig::default();
        if let Some(value) = map.get(STATEMENT_TIMEOUT_KEY) {
            match parse_timeout(value) {
                Ok(timeout) => config.statement_timeout = timeout,
                Err(reason) => {
                    errors.push(ConfigError::invalid(STATEMENT_TIMEOUT_KEY, value, reason))
                }
            }
        }
        let mut by_name: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for (key, value) in map.range(DATASOURCE_PREFIX.to_string()..) {
            let Some(rest) = key.strip_prefix(DATASOURCE_PREFIX) else {
                break;
            };
            let known = DATASOURCE_KEYS.iter().find_map(|k| {
                rest.strip_suffix(k)
                    .and_then(|n| n.strip_suffix('.'))
                    .map(|n| (n, *k))
            });
            match known {
                Some((name, setting)) if !name.is_empty() => {
                    by_name.entry(name).or_default().insert(setting, value);
                }
                _ => {
                    let known: Vec<String> = DATASOURCE_KEYS
                        .iter()
                        .map(|k| format!("{DATASOURCE_PREFIX}<name>.{k}"))
                        .collect();
                    let guess = rest.rsplit_once('.').map(|(name, _)| name).unwrap_or(rest);
                    let candidates: Vec<String> = DATASOURCE_KEYS
                        .iter()
                        .map(|k| format!("{DATASOURCE_PREFIX}{guess}.{k}"))
                        .collect();
                    let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
                    let hint = match suggest(key, &candidates) {
                        hint if !hint.is_empty() => hint,
                        _ => format!(" (a datasource takes {})", known.join(", ")),
                    };
                    errors.push(ConfigError::UnknownKey {
                        key: key.clone(),
                        hint,
                    });
                }
            }
        }
        for (name, settings) in by_name {
            match Datasource::from_settings(name, &settings) {
                Ok(datasource) => {
                    config
                        .datasources
                        .insert(name.to_string(), Arc::new(datasource));
                }
                Err(error) => errors.push(error),
            }
        }
        config
    }
}

fn parse_timeout(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err("expected a whole number of milliseconds, at least 1".into()),
    }
}

impl Datasource {
    fn from_settings(name: &str, settings: &BTreeMap<&str, &str>) -> Result<Self, ConfigError> {
        let key = |setting: &str| format!("{DATASOURCE_PREFIX}{name}.{setting}");
        if !valid_name(name) {
            let (setting, value) = settings.iter().next().expect("a datasource has a key");
            return Err(ConfigError::invalid(
                &key(setting),
                &redact_url(value),
                format!("datasource name \"{name}\" must be letters, digits, '-' or '_'"),
            ));
        }
        let url = match settings.get("url").map(|u| u.trim()) {
            Some(url) if !url.is_empty() => url,
            _ => return Err(ConfigError::Missing(key("url"))),
        };
        let invalid = |reason: String| ConfigError::invalid(&key("url"), &redact_url(url), reason);
        let user = settings.get("user").map(|u| u.trim());
        let password = settings.get("password").copied();
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let target = match scheme {
            "postgres" | "postgresql" => {
                let mut options =
                    PgConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?;
                if let Some(user) = user {
                    options = options.username(user);
                }
                if let Some(password) = password {
                    options = options.password(password);
                }
                Target::Postgres(options)
            }
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                let mut options =
                    MySqlConnectOptions::from_str(&url).map_err(|e| invalid(e.to_string()))?;
                if let Some(user) = user {
                    options = options.username(user);
                }
                if let Some(password) = password {
                    options = options.password(password);
                }
                Target::MySql(options)
            }
            "sqlite" => {
                if user.is_some() || password.is_some() {
                    return Err(ConfigError::invalid(
                        &key(if user.is_some() { "user" } else { "password" }),
                        "",
                        "SQLite has no users or passwords",
                    ));
                }
                Target::Sqlite(
                    SqliteConnectOptions::from_str(url).map_err(|e| invalid(e.to_string()))?,
                )
            }
            _ => {
                return Err(invalid(
                    "expected a postgres://, mysql://, mariadb:// or sqlite: URL".into(),
                ));
            }
        };
        let pool_max_size = match settings.get("pool.max.size") {
            None => DEFAULT_POOL_MAX_SIZE,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ConfigError::invalid(
                        &key("pool.max.size"),
                        value,
                        "expected a whole number of at least 1",
                    ));
                }
            },
        };
        Ok(Datasource {
            name: name.to_string(),
            target,
            pool_max_size,
        })
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A URL with the password of its user info, if any, masked.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:****@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// One datasource granted to a connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasourceGrant {
    pub datasource: String,
    pub access: Access,
}

impl fmt::Display for DatasourceGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.datasource, self.access)
    }
}

/// What a connector may do with SQL: its datasources, and its statement
/// timeout when it overrides the worker's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    pub datasources: Vec<DatasourceGrant>,
    pub statement_timeout: Option<Duration>,
}

impl Grant {
    /// Reads `grant.sql` and `sql.statement.timeout.ms` of a connector
    /// configuration; every problem goes to `errors`.
    pub fn from_connector_config(
        raw: &BTreeMap<String, String>,
        sql: &SqlConfig,
        errors: &mut Vec<ConfigError>,
    ) -> Grant {
        let datasources = match raw.get(GRANT_KEY) {
            None => Vec::new(),
            Some(value) => parse_grants(value, sql).unwrap_or_else(|reason| {
                errors.push(ConfigError::invalid(GRANT_KEY, value, reason));
                Vec::new()
            }),
        };
        let statement_timeout = raw.get(STATEMENT_TIMEOUT_KEY).and_then(|value| {
            parse_timeout(value)
                .map_err(|reason| {
                    errors.push(ConfigError::invalid(STATEMENT_TIMEOUT_KEY, value, reason))
                })
                .ok()
        });
        Grant {
            datasources,
            statement_timeout,
        }
    }
}

/// Parses `grant.sql`: `<name>:ro` or `<name>:rw`, comma-separated; a
/// name without access is read-only, as a file root is. Each datasource
/// must be defined by the worker.
pub fn parse_grants(value: &str, sql: &SqlConfig) -> Result<Vec<DatasourceGrant>, String> {
    let grants = super::parse_access_grants(
        value,
        &sql.datasources,
        "a datasource",
        "sql.datasource.<name>.url",
    )?;
    Ok(grants
        .into_iter()
        .map(|(datasource, access)| DatasourceGrant { datasource, access })
        .collect())
}

/// A plugin instance's SQL: the datasources its connector was granted,
/// reached through pools shared by the connector's instances on this
/// worker. Empty for plugins granted nothing.
pub struct SqlContext {
    connector: Arc<str>,
    grants: BTreeMap<String, (Arc<Datasource>, Access)>,
    statement_timeout: Duration,
    registry: Arc<PoolRegistry>,
    /// The pools this instance used, kept open while it lives.
    pools: HashMap<String, Arc<SharedPool>>,
}

impl Default for SqlContext {
    fn default() -> Self {
        SqlContext {
            connector: "".into(),
            grants: BTreeMap::new(),
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            registry: Arc::default(),
            pools: HashMap::new(),
        }
    }
}

impl SqlContext {
    /// The SQL context of an instance of `connector`, granted `grant`.
    pub fn new(config: &SqlConfig, grant: &Grant, connector: &str) -> Self {
        let grants = grant
            .datasources
            .iter()
            .filter_map(|g| {
                let datasource = config.datasources.get(&g.datasource)?;
                Some((g.datasource.clone(), (Arc::clone(datasource), g.access)))
            })
            .collect();
        SqlContext {
            connector: connector.into(),
            grants,
            statement_timeout: grant.statement_timeout.unwrap_or(config.statement_timeout),
            registry: Arc::clone(&config.pools),
            pools: HashMap::new(),
        }
    }

    /// Opens a connection to the granted datasource `name`.
    pub fn open(&mut self, name: &str) -> Result<SqlConnection, SqlError> {
        let Some((datasource, access)) = self.grants.get(name) else {
            let granted: Vec<&str> = self.grants.keys().map(String::as_str).collect();
            return Err(SqlError::new(
                ErrorKind::NotGranted,
                format!(
                    "datasource \"{name}\" is not granted to this connector (granted: {})",
                    if granted.is_empty() {
                        "none".to_string()
                    } else {
                        granted.join(", ")
                    }
                ),
            ));
        };
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            SqlError::new(
                ErrorKind::Other,
                "SQL is not available here: the host calls this plugin outside its async runtime",
            )
        })?;
        let key = PoolKey {
            connector: Arc::clone(&self.connector),
            datasource: name.to_string(),
            read_only: *access == Access::ReadOnly,
            statement_timeout: self.statement_timeout,
        };
        let pool = match self.pools.get(name) {
            Some(pool) => Arc::clone(pool),
            None => {
                let pool = self.registry.get_or_create(key, datasource, &runtime);
                self.pools.insert(name.to_string(), Arc::clone(&pool));
                pool
            }
        };
        SqlConnection::open(pool, self.statement_timeout, runtime)
    }
}

/// What a pool's sessions are set up with: pools are shared only by
/// instances that would set their sessions up alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    connector: Arc<str>,
    datasource: String,
    read_only: bool,
    statement_timeout: Duration,
}

/// The pools of every connector of the worker. It holds them weakly: a
/// pool closes when the last instance of its connector that used it is
/// gone.
#[derive(Debug, Default)]
struct PoolRegistry {
    pools: Mutex<HashMap<PoolKey, Weak<SharedPool>>>,
}

impl PoolRegistry {
    fn get_or_create(
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
    datasource: Arc<str>,
    read_only: bool,
    pool: AnyPool,
    runtime: tokio::runtime::Handle,
}

impl fmt::Debug for SharedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedPool({})", self.datasource)
    }
}

#[derive(Clone)]
enum AnyPool {
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

impl SqlError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SqlError {
            kind,
            message: message.into(),
            sqlstate: None,
            row: None,
        }
    }

    /// Names the row of a batch the error is about.
    pub fn for_row(mut self, index: usize) -> Self {
        self.row = u32::try_from(index).ok();
        self
    }
}

/// A failed SQL call: an error the plugin gets to handle, or a trap (a
/// bad resource handle, a host bug).
#[derive(Debug)]
pub enum SqlFailure {
    Sql(SqlError),
    Trap(wasmtime::Error),
}

impl From<SqlError> for SqlFailure {
    fn from(error: SqlError) -> Self {
        SqlFailure::Sql(error)
    }
}

impl From<wasmtime::component::ResourceTableError> for SqlFailure {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        SqlFailure::Trap(error.into())
    }
}

/// What the `sql` host functions work with: the instance's SQL context and
/// the resource table its connections and row streams live in.
pub struct SqlView<'a> {
    pub ctx: &'a mut SqlContext,
    pub table: &'a mut ResourceTable,
}

impl<'a> SqlView<'a> {
    pub fn new(ctx: &'a mut SqlContext, table: &'a mut ResourceTable) -> Self {
        SqlView { ctx, table }
    }
}

struct HasSql;

impl HasData for HasSql {
    type Data<'a> = SqlView<'a>;
}

/// Adds the `sql` interface to `linker`.
pub fn add_to_linker(linker: &mut Linker<PluginState>) -> Result<()> {
    crate::runtime::bindings::sql::add_to_linker::<PluginState, HasSql>(linker, |state| SqlView {
        ctx: &mut state.sql,
        table: &mut state.table,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::map;

    fn config(pairs: &[(&str, &str)]) -> (SqlConfig, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let config = SqlConfig::from_worker_config(&map(pairs), &mut errors);
        (config, errors)
    }

    fn two_datasources() -> SqlConfig {
        let (config, errors) = config(&[
            ("sql.datasource.warehouse.url", "postgres://db.example/wh"),
            ("sql.datasource.warehouse.user", "loader"),
            ("sql.datasource.warehouse.password", "s3cret"),
            ("sql.datasource.shop.url", "mariadb://root@127.0.0.1/shop"),
            ("sql.datasource.shop.pool.max.size", "2"),
        ]);
        assert_eq!(errors, []);
        config
    }

    #[test]
    fn datasources_are_read_from_the_worker_config() {
        let config = two_datasources();
        assert_eq!(
            config.datasources["warehouse"].dialect(),
            Dialect::Postgresql
        );
        assert_eq!(
            config.datasources["warehouse"].pool_max_size,
            DEFAULT_POOL_MAX_SIZE
        );
        assert_eq!(config.datasources["shop"].dialect(), Dialect::Mysql);
        assert_eq!(config.datasources["shop"].pool_max_size, 2);
        assert_eq!(config.statement_timeout, DEFAULT_STATEMENT_TIMEOUT);
        // Debug output is for logs: no password in it.
        assert!(!format!("{config:?}").contains("s3cret"));
    }

    #[test]
    fn bad_datasources_are_named_without_their_password() {
        let (_, errors) = config(&[
            ("sql.datasource.a.url", "oracle://scott:tiger@db/orcl"),
            ("sql.datasource.b.user", "x"),
            ("sql.datasource.c.url", "sqlite:/tmp/c.db"),
            ("sql.datasource.c.pasword", "x"),
            ("sql.datasource.d.url", "postgres://db/d"),
            ("sql.datasource.d.pool.max.size", "0"),
            ("sql.statement.timeout.ms", "soon"),
        ]);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let text = text.join("\n");
        assert!(!text.contains("tiger"), "{text}");
        assert!(
            text.contains("\"sql.datasource.a.url\"") && text.contains("scott:****@"),
            "{text}"
        );
        assert!(
            text.contains("missing required configuration \"sql.datasource.b.url\""),
            "{text}"
        );
        assert!(
            text.contains(
                "\"sql.datasource.c.pasword\", did you mean \"sql.datasource.c.password\""
            ),
            "{text}"
        );
        assert!(
            text.contains("\"sql.datasource.d.pool.max.size\""),
            "{text}"
        );
        assert!(text.contains("\"sql.statement.timeout.ms\""), "{text}");
    }

    #[test]
    fn grants_name_an_undefined_datasource_and_the_defined_ones() {
        let config = two_datasources();
        let grants = parse_grants("warehouse:rw, shop", &config).unwrap();
        assert_eq!(grants[0].to_string(), "warehouse:rw");
        assert_eq!(grants[1].to_string(), "shop:ro");
        let err = parse_grants("shop:ro,ledger:rw", &config).unwrap_err();
        assert!(
            err.contains("\"ledger\"") && err.contains("shop, warehouse"),
            "{err}"
        );
        assert!(
            parse_grants("shop:wr", &config)
                .unwrap_err()
                .contains("ro or rw")
        );
        assert!(
            parse_grants("shop,shop:rw", &config)
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn a_connector_may_override_the_statement_timeout() {
        let config = two_datasources();
        let mut errors = Vec::new();
        let grant = Grant::from_connector_config(
            &map(&[
                ("grant.sql", "shop:rw"),
                ("sql.statement.timeout.ms", "500"),
            ]),
            &config,
            &mut errors,
        );
        assert_eq!(errors, []);
        assert_eq!(grant.statement_timeout, Some(Duration::from_millis(500)));
        let ctx = SqlContext::new(&config, &grant, "orders");
        assert_eq!(ctx.statement_timeout, Duration::from_millis(500));
    }

    #[test]
    fn an_ungranted_datasource_is_refused_by_name() {
        let config = two_datasources();
        let grant = Grant {
            datasources: parse_grants("shop", &config).unwrap(),
            statement_timeout: None,
        };
        let err = SqlContext::new(&config, &grant, "orders")
            .open("warehouse")
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotGranted);
        assert!(err.message.contains("\"warehouse\"") && err.message.contains("granted: shop"));
    }
}
