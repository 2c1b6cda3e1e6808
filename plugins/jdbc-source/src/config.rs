//! The connector's configuration: Confluent's JDBC source keys, parsed and
//! checked once, so the connector's `validate` and a task's `start` agree.

use sluice_sdk::prelude::*;

pub const DATASOURCE: &str = "datasource";
pub const MODE: &str = "mode";
pub const INCREMENTING_COLUMN: &str = "incrementing.column.name";
pub const TIMESTAMP_COLUMNS: &str = "timestamp.column.name";
pub const TABLE_WHITELIST: &str = "table.whitelist";
pub const TABLE_BLACKLIST: &str = "table.blacklist";
pub const QUERY: &str = "query";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub const TIMESTAMP_DELAY_MS: &str = "timestamp.delay.interval.ms";
/// The tables of one task, written by the connector's `task_configs`.
pub const TASK_TABLES: &str = "tables";

pub const DEFAULT_POLL_INTERVAL_MS: u64 = 5000;
pub const DEFAULT_BATCH_MAX_ROWS: u32 = 100;

/// How a table is read on each poll, as Confluent's `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The whole table every `poll.interval.ms`.
    Bulk,
    /// Rows whose strictly increasing column is above the last one seen.
    Incrementing,
    /// Rows whose timestamp is after the last one seen.
    Timestamp,
    /// Rows after the last (timestamp, incrementing) pair seen: new and
    /// updated rows, each exactly once.
    TimestampIncrementing,
}

impl Mode {
    fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "bulk" => Mode::Bulk,
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            _ => return None,
        })
    }

    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// What the connector reads: tables (listed or discovered) or one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    Tables {
        whitelist: Vec<String>,
        blacklist: Vec<String>,
    },
    Query(String),
}

/// A parsed configuration.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub datasource: String,
    pub mode: Mode,
    pub incrementing_column: Option<String>,
    pub timestamp_columns: Vec<String>,
    pub selection: Selection,
    pub topic_prefix: String,
    pub poll_interval_ms: u64,
    pub batch_max_rows: u32,
    pub timestamp_delay_ms: u64,
}

impl SourceConfig {
    /// Parses `config`, reporting every problem with the key it is about.
    pub fn parse(config: &Config) -> std::result::Result<SourceConfig, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut issue = |key: &str, message: String| {
            issues.push(ConfigIssue {
                key: key.into(),
                message,
            })
        };
        let text = |key: &str| config.get(key).map(str::trim).filter(|v| !v.is_empty());

        let datasource = text(DATASOURCE).unwrap_or_default().to_string();
        if datasource.is_empty() {
            issue(
                DATASOURCE,
                "names the SQL datasource to read, which the connector must be granted \
                 (grant.sql=<name>)"
                    .into(),
            );
        }
        let mode = match text(MODE) {
            Some(m) => Mode::parse(m).unwrap_or_else(|| {
                issue(
                    MODE,
                    format!(
                        "Invalid value {m} for configuration mode: must be one of bulk, \
                         incrementing, timestamp, timestamp+incrementing"
                    ),
                );
                Mode::Bulk
            }),
            None => {
                issue(
                    MODE,
                    "is required: bulk, incrementing, timestamp or timestamp+incrementing".into(),
                );
                Mode::Bulk
            }
        };
        let incrementing_column = text(INCREMENTING_COLUMN).map(str::to_string);
        let timestamp_columns = config.list(TIMESTAMP_COLUMNS);
        if mode.uses_incrementing() && incrementing_column.is_none() {
            issue(
                INCREMENTING_COLUMN,
                format!("is required in mode {}", text(MODE).unwrap_or_default()),
            );
        }
        if mode.uses_timestamp() && timestamp_columns.is_empty() {
            issue(
                TIMESTAMP_COLUMNS,
                format!("is required in mode {}", text(MODE).unwrap_or_default()),
            );
        }
        let whitelist = config.list(TABLE_WHITELIST);
        let blacklist = config.list(TABLE_BLACKLIST);
        if !whitelist.is_empty() && !blacklist.is_empty() {
            issue(
                TABLE_BLACKLIST,
                format!("cannot be set together with {TABLE_WHITELIST}"),
            );
        }
        let selection = match text(QUERY) {
            Some(query) => {
                for key in [TABLE_WHITELIST, TABLE_BLACKLIST] {
                    if config.get(key).is_some_and(|v| !v.trim().is_empty()) {
                        issue(key, format!("cannot be set together with {QUERY}"));
                    }
                }
                Selection::Query(query.to_string())
            }
            None => Selection::Tables {
                whitelist,
                blacklist,
            },
        };
        let topic_prefix = config.get(TOPIC_PREFIX).unwrap_or_default().to_string();
        if topic_prefix.is_empty() {
            issue(
                TOPIC_PREFIX,
                "is required: a table's topic is the prefix and the table's name, a query's \
                 topic the prefix alone"
                    .into(),
            );
        }
        let mut number = |key: &str, default: u64, min: u64| match config.parse_or(key, default) {
            Ok(n) if n >= min => n,
            Ok(_) => {
                issue(key, format!("must be at least {min}"));
                default
            }
            Err(e) => {
                issue(key, e.message);
                default
            }
        };
        let poll_interval_ms = number(POLL_INTERVAL_MS, DEFAULT_POLL_INTERVAL_MS, 0);
        let batch_max_rows = number(BATCH_MAX_ROWS, DEFAULT_BATCH_MAX_ROWS.into(), 1);
        let timestamp_delay_ms = number(TIMESTAMP_DELAY_MS, 0, 0);
        let batch_max_rows = u32::try_from(batch_max_rows).unwrap_or_else(|_| {
            issue(BATCH_MAX_ROWS, format!("must be at most {}", u32::MAX));
            DEFAULT_BATCH_MAX_ROWS
        });
        if !issues.is_empty() {
            return Err(issues);
        }
        Ok(SourceConfig {
            datasource,
            mode,
            incrementing_column,
            timestamp_columns,
            selection,
            topic_prefix,
            poll_interval_ms,
            batch_max_rows,
            timestamp_delay_ms,
        })
    }

    /// Parses `config` in a task, where a problem is fatal.
    pub fn parse_for_task(config: &Config) -> Result<SourceConfig> {
        SourceConfig::parse(config).map_err(|issues| {
            let all: Vec<String> = issues
                .iter()
                .map(|i| format!("{}: {}", i.key, i.message))
                .collect();
            ConnectError::fatal(format!("invalid configuration: {}", all.join("; ")))
        })
    }
}

/// The keys, for the plugin's description and the REST validate endpoint.
pub fn keys() -> Vec<ConfigKey> {
    let group = "Database";
    vec![
        ConfigKey::new(
            DATASOURCE,
            ConfigType::String,
            Importance::High,
            "The SQL datasource to read: a name the worker defines (sql.datasource.<name>.url) and \
             the connector is granted (grant.sql=<name>). It replaces Confluent's connection.url, \
             connection.user and connection.password: the plugin never sees them.",
        )
        .required()
        .group(group),
        ConfigKey::new(
            TABLE_WHITELIST,
            ConfigType::List,
            Importance::Medium,
            "The tables to read (name or schema.name). Empty: every table of the datasource's \
             current schema or database, but the blacklisted ones.",
        )
        .default_value("")
        .group(group),
        ConfigKey::new(
            TABLE_BLACKLIST,
            ConfigType::List,
            Importance::Medium,
            "Tables not to read, when there is no whitelist.",
        )
        .default_value("")
        .group(group),
        ConfigKey::new(
            QUERY,
            ConfigType::String,
            Importance::Medium,
            "Read this query's rows instead of tables. The incremental modes filter and order it \
             as a subquery, so it may have its own WHERE clause.",
        )
        .default_value("")
        .group(group),
        ConfigKey::new(
            MODE,
            ConfigType::String,
            Importance::High,
            "How each poll reads: bulk (the whole table), incrementing (rows whose \
             incrementing.column.name is above the last seen), timestamp (rows whose \
             timestamp.column.name is after the last seen), timestamp+incrementing (new and \
             updated rows exactly once).",
        )
        .required()
        .group("Mode"),
        ConfigKey::new(
            INCREMENTING_COLUMN,
            ConfigType::String,
            Importance::Medium,
            "A strictly increasing integer column (an auto-increment id).",
        )
        .default_value("")
        .group("Mode"),
        ConfigKey::new(
            TIMESTAMP_COLUMNS,
            ConfigType::List,
            Importance::Medium,
            "The column(s) holding the time a row last changed; with several, the first that is \
             not null counts (COALESCE).",
        )
        .default_value("")
        .group("Mode"),
        ConfigKey::new(
            TIMESTAMP_DELAY_MS,
            ConfigType::Long,
            Importance::High,
            "How long after a timestamp rows with it are read, so that transactions still \
             writing earlier timestamps can commit first.",
        )
        .default_value(0)
        .group("Mode"),
        ConfigKey::new(
            TOPIC_PREFIX,
            ConfigType::String,
            Importance::High,
            "A table's rows go to the topic <prefix><table>; a query's to <prefix>.",
        )
        .required()
        .group("Connector"),
        ConfigKey::new(
            POLL_INTERVAL_MS,
            ConfigType::Int,
            Importance::High,
            "How long a table that has been read to its end waits before it is read again.",
        )
        .default_value(DEFAULT_POLL_INTERVAL_MS)
        .group("Connector"),
        ConfigKey::new(
            BATCH_MAX_ROWS,
            ConfigType::Int,
            Importance::Low,
            "The most rows one query reads, and one poll returns.",
        )
        .default_value(DEFAULT_BATCH_MAX_ROWS)
        .group("Connector"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into()
    }

    fn issue_keys(pairs: &[(&str, &str)]) -> Vec<String> {
        match SourceConfig::parse(&config(pairs)) {
            Ok(_) => Vec::new(),
            Err(issues) => issues.into_iter().map(|i| i.key).collect(),
        }
    }

    #[test]
    fn a_complete_configuration_parses() {
        let parsed = SourceConfig::parse(&config(&[
            ("datasource", "pg"),
            ("mode", "timestamp+incrementing"),
            ("incrementing.column.name", "id"),
            ("timestamp.column.name", "updated, created"),
            ("table.whitelist", "a, b"),
            ("topic.prefix", "db-"),
            ("batch.max.rows", "500"),
        ]))
        .unwrap();
        assert_eq!(parsed.mode, Mode::TimestampIncrementing);
        assert_eq!(parsed.timestamp_columns, ["updated", "created"]);
        assert_eq!(
            parsed.selection,
            Selection::Tables {
                whitelist: vec!["a".into(), "b".into()],
                blacklist: vec![]
            }
        );
        assert_eq!(parsed.batch_max_rows, 500);
        assert_eq!(parsed.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS);
    }

    #[test]
    fn each_problem_names_its_key() {
        assert_eq!(issue_keys(&[]), ["datasource", "mode", "topic.prefix"]);
        assert_eq!(
            issue_keys(&[
                ("datasource", "pg"),
                ("mode", "incremental"),
                ("topic.prefix", "x")
            ]),
            ["mode"]
        );
        assert_eq!(
            issue_keys(&[
                ("datasource", "pg"),
                ("mode", "timestamp+incrementing"),
                ("topic.prefix", "x")
            ]),
            ["incrementing.column.name", "timestamp.column.name"]
        );
        assert_eq!(
            issue_keys(&[
                ("datasource", "pg"),
                ("mode", "bulk"),
                ("topic.prefix", "x"),
                ("query", "SELECT 1"),
                ("table.whitelist", "t"),
                ("batch.max.rows", "0"),
            ]),
            ["table.whitelist", "batch.max.rows"]
        );
    }
}
