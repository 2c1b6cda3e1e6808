//! The connector's configuration: Confluent's JDBC sink keys (with the
//! `datasource` grant in place of `connection.url`), their descriptions, and
//! one parser that both `validate` and the task use, so they never disagree.

use sluice_sdk::prelude::*;

pub const DATASOURCE: &str = "datasource";
pub const INSERT_MODE: &str = "insert.mode";
pub const PK_MODE: &str = "pk.mode";
pub const PK_FIELDS: &str = "pk.fields";
pub const FIELDS_WHITELIST: &str = "fields.whitelist";
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
pub const AUTO_CREATE: &str = "auto.create";
pub const AUTO_EVOLVE: &str = "auto.evolve";
pub const DELETE_ENABLED: &str = "delete.enabled";
pub const BATCH_SIZE: &str = "batch.size";

/// The host's key that grants datasources to the connector.
const GRANT_SQL: &str = "grant.sql";

/// The placeholder of `table.name.format`.
const TOPIC_PLACEHOLDER: &str = "${topic}";

/// Confluent's names of the Kafka coordinates in `pk.mode=kafka`.
const KAFKA_PK_DEFAULTS: [&str; 3] = ["__connect_topic", "__connect_partition", "__connect_offset"];

const DEFAULT_BATCH_SIZE: usize = 3000;

/// How a record with a value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertMode {
    /// `INSERT` (a bulk load): a duplicate key is an error.
    Insert,
    /// Insert, or update the row with the same key.
    Upsert,
    /// Update the row with the same key; nothing happens when there is none.
    Update,
}

impl InsertMode {
    /// The name as `insert.mode` writes it.
    pub fn name(self) -> &'static str {
        match self {
            InsertMode::Insert => "insert",
            InsertMode::Upsert => "upsert",
            InsertMode::Update => "update",
        }
    }
}

/// Where the primary key of a row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkMode {
    None,
    /// The record's topic, partition and offset.
    Kafka,
    /// The record's key: a primitive or fields of a struct.
    RecordKey,
    /// Fields of the record's value.
    RecordValue,
}

impl PkMode {
    /// The name as `pk.mode` writes it.
    pub fn name(self) -> &'static str {
        match self {
            PkMode::None => "none",
            PkMode::Kafka => "kafka",
            PkMode::RecordKey => "record_key",
            PkMode::RecordValue => "record_value",
        }
    }
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkConfig {
    pub datasource: String,
    pub insert_mode: InsertMode,
    pub pk_mode: PkMode,
    /// For `kafka`, always the three coordinate column names.
    pub pk_fields: Vec<String>,
    pub fields_whitelist: Vec<String>,
    pub table_name_format: String,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub delete_enabled: bool,
    pub batch_size: usize,
}

/// The keys as the REST API lists them, grouped as Confluent groups them.
pub fn config_keys() -> Vec<ConfigKey> {
    use ConfigType as T;
    use Importance as I;
    vec![
        ConfigKey::new(
            DATASOURCE,
            T::String,
            I::High,
            "The SQL datasource to write to: a name the worker defines \
             (sql.datasource.<name>.url) and the connector is granted read-write \
             (grant.sql=<name>:rw). It replaces Confluent's connection.url, \
             connection.user and connection.password, which stay with the worker.",
        )
        .required()
        .group("Connection"),
        ConfigKey::new(
            INSERT_MODE,
            T::String,
            I::High,
            "How a record is written: insert (a plain INSERT, loaded in bulk), upsert \
             (insert, or update the row with the same primary key) or update (update \
             the row with the same primary key).",
        )
        .default_value("insert")
        .group("Writes"),
        ConfigKey::new(
            BATCH_SIZE,
            T::Int,
            I::Medium,
            "The most rows written by one SQL statement. Every put is written in one \
             transaction, whatever its size.",
        )
        .default_value(DEFAULT_BATCH_SIZE)
        .group("Writes"),
        ConfigKey::new(
            DELETE_ENABLED,
            T::Boolean,
            I::Medium,
            "Whether a tombstone (a record with a null value) deletes the row with the \
             record's key. Needs pk.mode=record_key. When false, a tombstone is an error.",
        )
        .default_value("false")
        .group("Writes"),
        ConfigKey::new(
            TABLE_NAME_FORMAT,
            T::String,
            I::Medium,
            "The table a record goes to; ${topic} stands for the record's topic. A dot \
             separates the schema (or MySQL database) from the table: everything before \
             the first dot is the schema.",
        )
        .default_value(TOPIC_PLACEHOLDER)
        .group("Data Mapping"),
        ConfigKey::new(
            PK_MODE,
            T::String,
            I::High,
            "Where the primary key comes from: none, kafka (the record's topic, partition \
             and offset), record_key (the record's key) or record_value (fields of the \
             value).",
        )
        .default_value("none")
        .group("Data Mapping"),
        ConfigKey::new(
            PK_FIELDS,
            T::List,
            I::Medium,
            "The primary key's columns. kafka: three names for topic, partition and \
             offset (default __connect_topic,__connect_partition,__connect_offset). \
             record_key: one name for a primitive key; fields of a struct key (all when \
             empty). record_value: fields of the value (all when empty).",
        )
        .default_value("")
        .group("Data Mapping"),
        ConfigKey::new(
            FIELDS_WHITELIST,
            T::List,
            I::Medium,
            "The value fields to write, comma-separated; empty writes them all. Primary \
             key fields are written whatever this says.",
        )
        .default_value("")
        .group("Data Mapping"),
        ConfigKey::new(
            AUTO_CREATE,
            T::Boolean,
            I::Medium,
            "Whether to CREATE TABLE from the record's schema when the table is missing, \
             with the primary key of pk.mode.",
        )
        .default_value("false")
        .group("DDL Support"),
        ConfigKey::new(
            AUTO_EVOLVE,
            T::Boolean,
            I::Medium,
            "Whether to ALTER TABLE ... ADD COLUMN for value fields the table lacks. A \
             field that is not optional and has no default cannot be added.",
        )
        .default_value("false")
        .group("DDL Support"),
    ]
}

impl SinkConfig {
    /// Reads and checks `config`; every problem is reported, each naming
    /// its key.
    pub fn parse(config: &Config) -> Result<SinkConfig, Vec<ConfigIssue>> {
        let mut issues = Vec::new();
        let mut issue = |key: &str, message: String| {
            issues.push(ConfigIssue {
                key: key.to_string(),
                message,
            })
        };

        let datasource = config.get(DATASOURCE).unwrap_or("").trim().to_string();
        if datasource.is_empty() {
            issue(
                DATASOURCE,
                "Missing required configuration \"datasource\": name the SQL datasource \
                 to write to and grant it with grant.sql=<name>:rw"
                    .into(),
            );
        }
        for key in ["connection.url", "connection.user", "connection.password"] {
            if config.get(key).is_some() {
                issue(
                    key,
                    format!(
                        "{key} is not used: Sluice keeps database URLs and credentials in the \
                         worker (sql.datasource.<name>.url); set datasource=<name> and \
                         grant.sql=<name>:rw instead"
                    ),
                );
            }
        }

        let insert_mode = choice(
            config,
            INSERT_MODE,
            &[InsertMode::Insert, InsertMode::Upsert, InsertMode::Update],
            InsertMode::name,
        );
        let insert_mode = insert_mode
            .map_err(|problem| issue(INSERT_MODE, problem))
            .ok();
        let pk_mode = choice(
            config,
            PK_MODE,
            &[
                PkMode::None,
                PkMode::Kafka,
                PkMode::RecordKey,
                PkMode::RecordValue,
            ],
            PkMode::name,
        );
        let pk_mode = pk_mode.map_err(|problem| issue(PK_MODE, problem)).ok();

        let mut pk_fields = config.list(PK_FIELDS);
        if let Some(duplicate) = first_duplicate(&pk_fields) {
            issue(PK_FIELDS, format!("pk.fields names \"{duplicate}\" twice"));
        }
        if pk_mode == Some(PkMode::Kafka) {
            if pk_fields.is_empty() {
                pk_fields = KAFKA_PK_DEFAULTS.iter().map(|s| s.to_string()).collect();
            } else if pk_fields.len() != 3 {
                issue(
                    PK_FIELDS,
                    format!(
                        "pk.mode=kafka needs exactly three pk.fields (for the topic, partition \
                         and offset columns), not {}: {}",
                        pk_fields.len(),
                        pk_fields.join(",")
                    ),
                );
            }
        }
        let fields_whitelist = config.list(FIELDS_WHITELIST);

        let table_name_format = config
            .get(TABLE_NAME_FORMAT)
            .unwrap_or(TOPIC_PLACEHOLDER)
            .trim()
            .to_string();
        if let Err(problem) = check_table_name_format(&table_name_format) {
            issue(TABLE_NAME_FORMAT, problem);
        }

        let mut flag = |key: &str| match config.get(key).map(str::trim) {
            None | Some("") => false,
            Some(raw) if raw.eq_ignore_ascii_case("true") => true,
            Some(raw) if raw.eq_ignore_ascii_case("false") => false,
            Some(raw) => {
                issue(
                    key,
                    format!("Invalid value {raw} for configuration {key}: must be true or false"),
                );
                false
            }
        };
        let auto_create = flag(AUTO_CREATE);
        let auto_evolve = flag(AUTO_EVOLVE);
        let delete_enabled = flag(DELETE_ENABLED);

        let batch_size = match config.get(BATCH_SIZE).map(str::trim) {
            None | Some("") => DEFAULT_BATCH_SIZE,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if n >= 1 && n <= i32::MAX as usize => n,
                _ => {
                    issue(
                        BATCH_SIZE,
                        format!(
                            "Invalid value {raw} for configuration batch.size: must be a whole \
                             number of at least 1"
                        ),
                    );
                    DEFAULT_BATCH_SIZE
                }
            },
        };

        if delete_enabled && pk_mode.is_some_and(|m| m != PkMode::RecordKey) {
            issue(
                DELETE_ENABLED,
                "delete.enabled=true needs pk.mode=record_key: a tombstone has only its key to \
                 say which row to delete"
                    .into(),
            );
        }
        if let (Some(mode @ (InsertMode::Upsert | InsertMode::Update)), Some(PkMode::None)) =
            (insert_mode, pk_mode)
        {
            let name = if mode == InsertMode::Upsert {
                "upsert"
            } else {
                "update"
            };
            issue(
                INSERT_MODE,
                format!(
                    "insert.mode={name} needs a primary key to find the row by: set pk.mode to \
                     kafka, record_key or record_value"
                ),
            );
        }

        match (insert_mode, pk_mode) {
            (Some(insert_mode), Some(pk_mode)) if issues.is_empty() => Ok(SinkConfig {
                datasource,
                insert_mode,
                pk_mode,
                pk_fields,
                fields_whitelist,
                table_name_format,
                auto_create,
                auto_evolve,
                delete_enabled,
                batch_size,
            }),
            _ => Err(issues),
        }
    }

    /// The table name for `topic`, before it is split at its first dot.
    pub fn table_name(&self, topic: &str) -> String {
        self.table_name_format.replace(TOPIC_PLACEHOLDER, topic)
    }
}

/// Everything `validate` reports: the configuration's problems, and a
/// datasource that `grant.sql` does not grant read-write (checked here so
/// that the operator hears it when configuring, not when the task starts).
pub fn validate(config: &Config) -> Vec<ConfigIssue> {
    let sink = match SinkConfig::parse(config) {
        Ok(sink) => sink,
        Err(issues) => return issues,
    };
    let grants = config.list(GRANT_SQL);
    let access = grants.iter().find_map(|grant| {
        let (name, access) = grant.split_once(':').unwrap_or((grant.as_str(), "ro"));
        (name.trim() == sink.datasource).then(|| access.trim())
    });
    let problem = match access {
        Some("rw") => return Vec::new(),
        Some(_) => "is granted read-only",
        None => "is not granted to the connector",
    };
    vec![ConfigIssue {
        key: DATASOURCE.into(),
        message: format!(
            "datasource \"{}\" {problem}: the sink writes, so grant it with grant.sql={}:rw",
            sink.datasource, sink.datasource
        ),
    }]
}

/// The value of an enumerated key, in any case as Confluent accepts it;
/// the first of `values` when the key is not set.
fn choice<T: Copy>(
    config: &Config,
    key: &str,
    values: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, String> {
    let raw = match config.get(key).map(str::trim) {
        None | Some("") => return Ok(values[0]),
        Some(raw) => raw,
    };
    values
        .iter()
        .copied()
        .find(|v| raw.eq_ignore_ascii_case(name(*v)))
        .ok_or_else(|| {
            let names: Vec<&str> = values.iter().map(|v| name(*v)).collect();
            format!(
                "Invalid value {raw} for configuration {key}: must be one of {}",
                names.join(", ")
            )
        })
}

fn first_duplicate(names: &[String]) -> Option<&str> {
    names
        .iter()
        .enumerate()
        .find(|(i, name)| names[..*i].contains(name))
        .map(|(_, name)| name.as_str())
}

/// A format must give a table name for any topic: no placeholder but
/// `${topic}`, and no empty schema or table part.
fn check_table_name_format(format: &str) -> Result<(), String> {
    if format.is_empty() {
        return Err("table.name.format is empty: it must name a table, as ${topic} does".into());
    }
    let without = format.replace(TOPIC_PLACEHOLDER, "");
    if let Some(at) = without.find("${") {
        let rest = &without[at..];
        let placeholder = &rest[..rest.find('}').map_or(rest.len(), |end| end + 1)];
        return Err(format!(
            "table.name.format has the placeholder {placeholder}; only ${{topic}} is known"
        ));
    }
    let sample = format.replace(TOPIC_PLACEHOLDER, "t");
    if let Some((schema, table)) = sample.split_once('.')
        && (schema.is_empty() || table.is_empty())
    {
        return Err(format!(
            "table.name.format \"{format}\" gives an empty schema or table name around its dot"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut all: Vec<(&str, &str)> = vec![("datasource", "db"), ("grant.sql", "db:rw")];
        all.extend_from_slice(pairs);
        all.into_iter().collect()
    }

    fn issues(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        validate(&config(pairs))
            .into_iter()
            .map(|i| (i.key, i.message))
            .collect()
    }

    #[test]
    fn defaults_are_confluents() {
        let c = SinkConfig::parse(&config(&[])).unwrap();
        assert_eq!(c.insert_mode, InsertMode::Insert);
        assert_eq!(c.pk_mode, PkMode::None);
        assert!(c.pk_fields.is_empty() && c.fields_whitelist.is_empty());
        assert_eq!(c.table_name_format, "${topic}");
        assert!(!c.auto_create && !c.auto_evolve && !c.delete_enabled);
        assert_eq!(c.batch_size, 3000);
        assert_eq!(c.table_name("orders"), "orders");
        assert!(issues(&[]).is_empty());
    }

    #[test]
    fn kafka_mode_defaults_its_three_columns() {
        let c = SinkConfig::parse(&config(&[("pk.mode", "kafka")])).unwrap();
        assert_eq!(
            c.pk_fields,
            ["__connect_topic", "__connect_partition", "__connect_offset"]
        );
        let bad = issues(&[("pk.mode", "kafka"), ("pk.fields", "a,b")]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, "pk.fields");
        assert!(bad[0].1.contains("exactly three"), "{}", bad[0].1);
    }

    #[test]
    fn bad_values_name_their_keys() {
        let bad = issues(&[
            ("insert.mode", "merge"),
            ("pk.mode", "value"),
            ("auto.create", "yes"),
            ("batch.size", "0"),
            ("table.name.format", "${topic}_${partition}"),
            ("connection.url", "jdbc:postgresql://x/y"),
        ]);
        let keys: Vec<&str> = bad.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "connection.url",
                "insert.mode",
                "pk.mode",
                "table.name.format",
                "auto.create",
                "batch.size"
            ]
        );
        assert!(bad[1].1.contains("merge"), "{}", bad[1].1);
        assert!(bad[3].1.contains("${partition}"), "{}", bad[3].1);
    }

    #[test]
    fn modes_that_need_a_key_say_so() {
        let bad = issues(&[("insert.mode", "upsert")]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, "insert.mode");
        assert!(bad[0].1.contains("pk.mode"), "{}", bad[0].1);
        let bad = issues(&[("insert.mode", "update")]);
        assert_eq!(bad[0].0, "insert.mode");
        let bad = issues(&[("delete.enabled", "true"), ("pk.mode", "record_value")]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, "delete.enabled");
        assert!(bad[0].1.contains("record_key"), "{}", bad[0].1);
        assert!(
            issues(&[
                ("delete.enabled", "TRUE"),
                ("pk.mode", "RECORD_KEY"),
                ("insert.mode", "Upsert")
            ])
            .is_empty()
        );
    }

    #[test]
    fn the_datasource_must_be_granted_read_write() {
        let no_grant: Config = [("datasource", "db")].into_iter().collect();
        let bad = validate(&no_grant);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].key, "datasource");
        assert!(
            bad[0].message.contains("grant.sql=db:rw"),
            "{}",
            bad[0].message
        );
        let read_only = issues(&[("grant.sql", "other:rw, db:ro")]);
        assert!(read_only[0].1.contains("read-only"), "{}", read_only[0].1);
        let bare = issues(&[("grant.sql", "db")]);
        assert!(bare[0].1.contains("read-only"), "{}", bare[0].1);
        assert!(issues(&[("grant.sql", "other:ro,db:rw")]).is_empty());
        let missing: Config = [("grant.sql", "db:rw")].into_iter().collect();
        assert_eq!(validate(&missing)[0].key, "datasource");
    }

    #[test]
    fn table_name_formats_are_checked() {
        assert!(check_table_name_format("archive.${topic}").is_ok());
        assert!(check_table_name_format("kafka_${topic}_v2").is_ok());
        assert!(check_table_name_format(".${topic}").is_err());
        assert!(check_table_name_format("${topic}.").is_err());
        assert!(check_table_name_format("").is_err());
        let c = SinkConfig::parse(&config(&[("table.name.format", "archive.${topic}")])).unwrap();
        assert_eq!(c.table_name("a.b"), "archive.a.b");
    }

    #[test]
    fn duplicate_pk_fields_are_refused() {
        let bad = issues(&[("pk.mode", "record_value"), ("pk.fields", "id, id")]);
        assert_eq!(bad[0].0, "pk.fields");
    }
}
