//! SQL: the worker names datasources with their URLs and credentials
//! (`sql.datasource.<name>.url=...`); a connector grants some of them, each
//! read-only or read-write (`grant.sql=<name>:ro,<other>:rw`). The host owns
//! the connection pools (one per connector and datasource, bounded by
//! `sql.datasource.<name>.pool.max.size`) and the statement timeout; the
//! plugin names a datasource and never sees its URL, user or password.

pub mod bindings;
mod connection;
mod datasource;
mod host;
mod mysql;
mod pool;
mod postgres;
mod session;
mod sqlite;
mod statement;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

pub use super::lifecycle::Access;
use super::lifecycle::{Capability, CapabilityHost, InstanceContext, View, grant_key, read_grant};
use crate::configdef::{ConfigError, KeyDefinition, suggest};
pub use bindings::sql::{Column, Dialect, ErrorKind, SqlError, SqlValue, ValueKind};
pub use connection::{SqlConnection, SqlRows};
pub use datasource::Datasource;
pub use pool::SharedPool;
use pool::{PoolKey, PoolRegistry};

pub use datasource::DATASOURCE_PREFIX;
/// The key of the statement timeout: a worker default a connector may
/// override.
pub const STATEMENT_TIMEOUT_KEY: &str = "sql.statement.timeout.ms";
/// The connector key that grants datasources.
pub const GRANT_KEY: &str = "grant.sql";

const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
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
        let datasources = read_grant(raw, GRANT_KEY, errors, |value| parse_grants(value, sql));
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
    let grants = super::lifecycle::parse_access_grants(
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
pub type SqlView<'a> = View<'a, SqlContext>;

struct HasSql;

impl HasData for HasSql {
    type Data<'a> = SqlView<'a>;
}

/// The sql capability: datasources behind host-side pools.
pub struct Sql;

impl Capability for Sql {
    type Definitions = SqlConfig;
    type Grant = Grant;
    type InstanceState = SqlContext;

    const WORKER_KEYS: &'static [&'static str] = &[STATEMENT_TIMEOUT_KEY];
    const WORKER_PREFIXES: &'static [&'static str] = &[DATASOURCE_PREFIX];
    const IMPORTS: &'static [&'static str] = &["sluice:connect/sql"];

    fn connector_keys() -> &'static [KeyDefinition] {
        const KEYS: &[KeyDefinition] = &[
            grant_key(
                GRANT_KEY,
                "The datasources this connector may use, each <name>:ro or <name>:rw; the \
                 worker defines them with sql.datasource.<name>.url. The plugin never sees \
                 their URLs or credentials.",
            ),
            KeyDefinition {
                name: STATEMENT_TIMEOUT_KEY,
                type_: "LONG",
                default: None,
                required: false,
                importance: "MEDIUM",
                group: super::lifecycle::GRANTS_GROUP,
                documentation: "How long one SQL statement may run, in ms, before the database \
                     cancels it. Defaults to the worker's setting (30000 unless set).",
            },
        ];
        KEYS
    }

    fn define(
        worker: &BTreeMap<String, String>,
        _base: &Path,
        errors: &mut Vec<ConfigError>,
    ) -> SqlConfig {
        SqlConfig::from_worker_config(worker, errors)
    }

    fn grant(
        connector: &BTreeMap<String, String>,
        config: &SqlConfig,
        errors: &mut Vec<ConfigError>,
    ) -> Grant {
        Grant::from_connector_config(connector, config, errors)
    }

    fn add_to_linker<S: CapabilityHost>(
        linker: &mut Linker<S>,
        get: fn(&mut S) -> SqlView<'_>,
    ) -> Result<()> {
        bindings::sql::add_to_linker::<S, HasSql>(linker, get)?;
        Ok(())
    }

    fn instance_state(
        config: &SqlConfig,
        grant: &Grant,
        instance: &mut InstanceContext<'_>,
    ) -> Result<SqlContext> {
        Ok(SqlContext::new(config, grant, instance.connector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::sql::datasource::DEFAULT_POOL_MAX_SIZE;
    use crate::configdef::map;

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
