//! The sql capability end to end: a worker with a real broker runs the
//! `sql-probe` fixture, a source connector built with the SDK, against the
//! machine's PostgreSQL and MariaDB through datasources the worker
//! defines. The rows of its query reach Kafka; a write through a read-only
//! grant and an open of a datasource the connector was not granted fail
//! its task with errors that say so and change nothing; a grant of a
//! datasource the worker does not define fails validation, naming it.
//! And a plugin that does not use SQL (any but the JDBC connectors) does
//! not even import it.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use sluice::capability::sql::Access;
use sluice::capability::sql::bindings::sql::SqlValue;
use sluice_tests::rest::RestClient;
use sluice_tests::sql::{Conn, Db, MARIADB_URL, POSTGRES_URL, SqlPlugin, table};
use sluice_tests::*;

const LONG: Duration = Duration::from_secs(120);
const ROWS: i64 = 2_500;

fn name(i: i64) -> String {
    format!("row {i}: ünïcödé ✓")
}

fn amount(i: i64) -> String {
    format!("{}.{:02}", i * 3, i % 100)
}

/// A table of `ROWS` rows in `db`, loaded through the capability itself.
fn rows_table(db: Db) -> (SqlPlugin, Conn, String) {
    let mut admin = SqlPlugin::new(db, &[("db", Access::ReadWrite)], None);
    let c = admin.open("db").expect("opening the database");
    let t = table("e2e");
    admin
        .execute(
            c,
            &format!(
                "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(64), amount DECIMAL(12, 2))"
            ),
            vec![],
        )
        .expect("creating the table");
    let rows = (1..=ROWS)
        .map(|i| {
            vec![
                SqlValue::Int(i),
                SqlValue::Text(name(i)),
                SqlValue::Numeric(amount(i)),
            ]
        })
        .collect();
    admin
        .copy_in(c, &t, &["id", "name", "amount"], rows)
        .expect("loading the table");
    (admin, c, t)
}

/// A worker with the plugins, the fixtures and datasources `pg` and
/// `maria`.
fn worker(scratch: &Scratch, broker: &Broker) -> WorkerSetup {
    let dirs = format!("{PLUGIN_DIR},{FIXTURE_DIR}");
    WorkerSetup::with_plugin_dir(
        scratch,
        broker,
        Path::new(&dirs),
        &[
            ("sql.datasource.pg.url", POSTGRES_URL.to_string()),
            ("sql.datasource.maria.url", MARIADB_URL.to_string()),
            ("sql.datasource.maria.pool.max.size", "2".to_string()),
        ],
    )
}

#[test]
fn a_source_emits_the_rows_of_a_query_and_is_refused_what_it_was_not_granted() {
    let (mut pg, pg_conn, pg_table) = rows_table(Db::Postgres);
    let (mut maria, maria_conn, maria_table) = rows_table(Db::MariaDb);
    let broker = Broker::start();
    let scratch = Scratch::new("sql-source");
    let mut setup = worker(&scratch, &broker);
    let query = |t: &str| format!("SELECT id, name, amount FROM {t} ORDER BY id");
    let pg_query = query(&pg_table);
    let maria_query = query(&maria_table);
    setup.connector(
        &scratch,
        "pg-rows",
        &[
            ("connector.class", "sql-probe"),
            ("datasource", "pg"),
            ("grant.sql", "pg:ro"),
            ("query", &pg_query),
            ("topic", "pg-rows"),
            ("batch.rows", "300"),
        ],
    );
    setup.connector(
        &scratch,
        "maria-rows",
        &[
            ("connector.class", "sql-probe"),
            ("datasource", "maria"),
            ("grant.sql", "maria:ro"),
            ("query", &maria_query),
            ("topic", "maria-rows"),
        ],
    );
    let write = format!("INSERT INTO {pg_table} (id, name, amount) VALUES (-1, 'written', 0)");
    setup.connector(
        &scratch,
        "pg-write",
        &[
            ("connector.class", "sql-probe"),
            ("mode", "write"),
            ("datasource", "pg"),
            ("grant.sql", "pg:ro"),
            ("statement", &write),
            ("topic", "pg-write"),
        ],
    );
    setup.connector(
        &scratch,
        "open-ungranted",
        &[
            ("connector.class", "sql-probe"),
            ("mode", "open"),
            ("datasource", "maria"),
            ("grant.sql", "pg:ro"),
            ("topic", "open-ungranted"),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();

    for (topic, expected) in [("pg-rows", ROWS), ("maria-rows", ROWS)] {
        let values = broker.read_values(topic, expected as usize, LONG);
        assert_eq!(values.len(), expected as usize, "{topic}: {}", worker.log());
        for (i, value) in (1..).zip(&values) {
            let row: Value = serde_json::from_slice(value).expect("a JSON row");
            assert_eq!(
                row,
                json!({ "id": i, "name": name(i), "amount": amount(i) }),
                "{topic} row {i}"
            );
        }
    }

    let trace = worker.failure_trace("pg-write", LONG);
    assert!(
        trace.contains("ReadOnly") && trace.contains("read-only transaction"),
        "{trace}"
    );
    let trace = worker.failure_trace("open-ungranted", LONG);
    assert!(
        trace.contains("NotGranted")
            && trace.contains("datasource \\\"maria\\\" is not granted")
            && trace.contains("granted: pg"),
        "{trace}"
    );
    for topic in ["pg-write", "open-ungranted"] {
        assert_eq!(
            broker.high_watermark(topic),
            0,
            "{topic} reported a success"
        );
    }
    assert_eq!(
        pg.count(pg_conn, &pg_table),
        ROWS,
        "the read-only grant wrote"
    );

    // A grant of a datasource the worker does not define is refused when
    // the connector is configured, naming it and the defined ones.
    let report = worker.call(
        "PUT",
        "/connector-plugins/sql-probe/config/validate",
        Some(json!({
            "name": "undefined-datasource",
            "connector.class": "sql-probe",
            "datasource": "ledger",
            "topic": "t",
            "query": "SELECT 1",
            "grant.sql": "pg:ro,ledger:rw",
        })),
    );
    assert_eq!(report.status, 200, "{}", report.body);
    let report = report.json();
    assert_eq!(report["error_count"], 1, "{report}");
    let grant = report["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "grant.sql")
        .unwrap_or_else(|| panic!("grant.sql not in {report}"));
    let error = grant["value"]["errors"][0].as_str().unwrap_or_default();
    assert!(
        error.contains("\"ledger\" is not a datasource of this worker")
            && error.contains("defined: maria, pg"),
        "{error}"
    );

    worker.stop();
    for (admin, c, t) in [
        (&mut pg, pg_conn, &pg_table),
        (&mut maria, maria_conn, &maria_table),
    ] {
        admin
            .execute(c, &format!("DROP TABLE {t}"), vec![])
            .expect("dropping the table");
    }
}

/// The interfaces a component imports.
fn imports(runtime: &sluice::plugin::Runtime, path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("reading a component");
    let (component, _) = runtime.load_component(&bytes).expect("loading a component");
    component
        .component_type()
        .imports(runtime.engine())
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn only_plugins_that_use_sql_import_it() {
    const SQL: &str = "sluice:connect/sql@0.1.0";
    let runtime = sluice::plugin::Runtime::new(&shared_cache_dir(), true).expect("a runtime");
    let probe = Path::new(FIXTURE_DIR).join("sql_probe.wasm");
    assert!(imports(&runtime, &probe).iter().any(|i| i == SQL));
    let mut plugins = 0;
    let mut jdbc = 0;
    for entry in std::fs::read_dir(PLUGIN_DIR).expect("the plugin directory") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "wasm") {
            plugins += 1;
            let imported = imports(&runtime, &path);
            let is_jdbc = path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().starts_with("jdbc_"));
            jdbc += usize::from(is_jdbc);
            assert_eq!(
                imported.iter().any(|i| i == SQL),
                is_jdbc,
                "{} and {SQL}: it imports {imported:?}",
                path.display()
            );
        }
    }
    assert!(plugins > 0, "no plugins in {PLUGIN_DIR}");
    assert_eq!(jdbc, 2, "jdbc-source and jdbc-sink in {PLUGIN_DIR}");
}
