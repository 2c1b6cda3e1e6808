//! A datasource the worker defines (`sql.datasource.<name>.url`, `.user`,
//! `.password`, `.pool.max.size`): where the database is and how to log
//! in, as sqlx takes it. Problems name the key and never show a password.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::bindings::sql::Dialect;
use crate::capability::lifecycle::valid_name;
use crate::configdef::ConfigError;

/// The worker key prefix that names a datasource.
pub const DATASOURCE_PREFIX: &str = "sql.datasource.";
pub(super) const DEFAULT_POOL_MAX_SIZE: u32 = 4;

/// A database the worker can connect to.
pub struct Datasource {
    pub name: String,
    pub(super) target: Target,
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
pub(super) enum Target {
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

impl Datasource {
    pub(super) fn from_settings(
        name: &str,
        settings: &BTreeMap<&str, &str>,
    ) -> Result<Self, ConfigError> {
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
