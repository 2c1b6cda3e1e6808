//! The JDBC connectors end to end, on the machine's PostgreSQL and MariaDB
//! and a real broker: a table of every supported type goes through
//! `jdbc-source`, Kafka (the JsonConverter with schemas) and `jdbc-sink`
//! into a table the sink creates, and the two tables are equal; rows
//! inserted and updated while the source runs arrive once each, also across
//! a SIGKILL of the worker, and an upserting sink converges on the source.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use sluice::capability::sql::Access;
use sluice::capability::sql::bindings::sql::SqlValue;
use sluice_tests::sql::{Conn, Db, MARIADB_URL, POSTGRES_URL, SqlPlugin, table};
use sluice_tests::*;

const LONG: Duration = Duration::from_secs(120);
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A connection of the test's own to `db`, read-write.
fn admin(db: Db) -> (SqlPlugin, Conn) {
    let mut admin = SqlPlugin::new(db, &[("db", Access::ReadWrite)], None);
    let conn = admin.open("db").expect("opening the database");
    (admin, conn)
}

/// The datasource name a worker gives `db`.
fn datasource(db: Db) -> &'static str {
    match db {
        Db::Postgres => "pg",
        _ => "maria",
    }
}

/// A worker with the first-party plugins and datasources `pg` and `maria`.
fn worker(scratch: &Scratch, broker: &Broker) -> WorkerSetup {
    WorkerSetup::with_plugin_dir(
        scratch,
        broker,
        Path::new(PLUGIN_DIR),
        &[
            ("sql.datasource.pg.url", POSTGRES_URL.to_string()),
            ("sql.datasource.maria.url", MARIADB_URL.to_string()),
        ],
    )
}

/// The payload of a JsonConverter record with schemas.
fn payload(bytes: &[u8]) -> Value {
    let record: Value = serde_json::from_slice(bytes).expect("a JSON record");
    assert!(
        record.get("schema").is_some(),
        "no schema in {record}: the source's records are typed"
    );
    record["payload"].clone()
}

/// A value as both tables must hold it: a timestamp is compared as its
/// instant, whether the column has a zone or not (Kafka Connect's
/// Timestamp has none, so the sink creates TIMESTAMP/DATETIME columns).
fn comparable(value: &SqlValue) -> String {
    match value {
        SqlValue::Timestamptz(t) => format!("{:?}", SqlValue::Timestamp(*t)),
        other => format!("{other:?}"),
    }
}

/// Every row of `table` ordered by `id`, as comparable strings.
fn rows_of(admin: &mut SqlPlugin, c: Conn, table: &str) -> Vec<Vec<String>> {
    admin
        .select(
            c,
            &format!("SELECT * FROM {table} ORDER BY id"),
            vec![],
            500,
        )
        .unwrap_or_else(|e| panic!("reading {table}: {e:?}"))
        .iter()
        .map(|row| row.iter().map(comparable).collect())
        .collect()
}

/// The column names of `table`, in order.
fn column_names(admin: &mut SqlPlugin, c: Conn, table: &str) -> Vec<String> {
    let rows = admin
        .query(c, &format!("SELECT * FROM {table} WHERE 1 = 0"), vec![])
        .expect("describing the table");
    let names = admin.columns(rows).into_iter().map(|c| c.name).collect();
    admin.close_rows(rows);
    names
}

const TYPED_COLUMNS: [&str; 16] = [
    "id",
    "tiny",
    "small",
    "regular",
    "big",
    "real_value",
    "double_value",
    "amount",
    "flag",
    "name",
    "note",
    "payload",
    "day",
    "moment",
    "at",
    "instant",
];

/// A table with a column of every type the connectors map.
fn typed_table_ddl(db: Db, table: &str) -> String {
    match db {
        Db::Postgres => format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, tiny SMALLINT, small SMALLINT, \
             regular INTEGER NOT NULL, big BIGINT, real_value REAL, double_value DOUBLE PRECISION, \
             amount NUMERIC(20, 4), flag BOOLEAN, name VARCHAR(100) NOT NULL, note TEXT, \
             payload BYTEA, day DATE, moment TIME(3), at TIMESTAMP(3), instant TIMESTAMPTZ(3))"
        ),
        _ => format!(
            "CREATE TABLE {table} (id BIGINT PRIMARY KEY, tiny TINYINT, small SMALLINT, \
             regular INT NOT NULL, big BIGINT, real_value FLOAT, double_value DOUBLE, \
             amount DECIMAL(20, 4), flag BOOLEAN, name VARCHAR(100) NOT NULL, note TEXT, \
             payload BLOB, day DATE, moment TIME(3), at DATETIME(3), instant TIMESTAMP(3) NULL)"
        ),
    }
}

/// Row `i` of the typed table: extremes, nulls in every nullable column,
/// unicode and characters COPY and JSON escape, decimals of both signs,
/// dates and times before and after 1970 (within MySQL TIMESTAMP's range
/// for the instant). Times and timestamps are whole milliseconds: Kafka
/// Connect's Time and Timestamp hold no finer.
fn typed_row(i: i64) -> Vec<SqlValue> {
    let null_every = |n: i64, value: SqlValue| if i % n == 0 { SqlValue::Null } else { value };
    let millis = |ms: i64| ms * 1000;
    let big = match i {
        1 => i64::MAX,
        2 => i64::MIN,
        _ => i * 1_000_000_000_007,
    };
    vec![
        SqlValue::Int(i),
        null_every(17, SqlValue::Int(i % 256 - 128)),
        null_every(7, SqlValue::Int((i * 331) % 65_536 - 32_768)),
        SqlValue::Int(i * 1000 - 150_000),
        null_every(5, SqlValue::Int(big)),
        null_every(9, SqlValue::Float(f64::from(i as f32 / 4.0 - 20.0))),
        null_every(10, SqlValue::Float(i as f64 * 0.1 - 7.3)),
        null_every(
            6,
            SqlValue::Numeric(match i {
                3 => "9999999999999999.9999".into(),
                4 => "-0.0001".into(),
                _ => format!("{}.{:04}", i * 37 - 5000, (i * 7919) % 10_000),
            }),
        ),
        null_every(11, SqlValue::Boolean(i % 2 == 0)),
        SqlValue::Text(format!(
            "row {i}: ünïcödé ✓ 🚀 O'Brien \"quoted\" back\\slash\ttab\nline"
        )),
        null_every(
            3,
            SqlValue::Text("a longer note ".repeat((i % 40) as usize)),
        ),
        null_every(
            13,
            SqlValue::Bytes((0..(i % 50)).map(|b| (b * i % 256) as u8).collect()),
        ),
        null_every(8, SqlValue::Date((i * 97 - 12_000) as i32)),
        null_every(4, SqlValue::Time(millis((i * 1_234_567) % 86_400_000))),
        null_every(
            12,
            SqlValue::Timestamp(millis(i * 98_765_432_101 - 5_000_000_000_000)),
        ),
        null_every(
            14,
            SqlValue::Timestamptz(millis(1_600_000_000_000 + i * 3_600_123)),
        ),
    ]
}

fn round_trip(db: Db) {
    const ROWS: i64 = 300;
    let (mut admin, c) = admin(db);
    let source_table = table("jdbc_rt");
    admin
        .execute(c, &typed_table_ddl(db, &source_table), vec![])
        .expect("creating the table");
    admin
        .copy_in(
            c,
            &source_table,
            &TYPED_COLUMNS,
            (1..=ROWS).map(typed_row).collect(),
        )
        .expect("loading the table");
    let topic = format!("copy_{source_table}");

    let broker = Broker::start();
    let scratch = Scratch::new("jdbc-round-trip");
    let mut setup = worker(&scratch, &broker);
    let ds = datasource(db);
    setup.connector(
        &scratch,
        "typed-source",
        &[
            (
                "connector.class",
                "io.confluent.connect.jdbc.JdbcSourceConnector",
            ),
            ("datasource", ds),
            ("grant.sql", &format!("{ds}:ro")),
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("table.whitelist", &source_table),
            ("topic.prefix", "copy_"),
            ("batch.max.rows", "70"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    );
    setup.connector(
        &scratch,
        "typed-sink",
        &[
            (
                "connector.class",
                "io.confluent.connect.jdbc.JdbcSinkConnector",
            ),
            ("datasource", ds),
            ("grant.sql", &format!("{ds}:rw")),
            ("topics", &topic),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_value"),
            ("pk.fields", "id"),
            ("auto.create", "true"),
            ("value.converter", JSON),
            ("value.converter.schemas.enable", "true"),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();

    // The records are typed: a struct named after the table, optional
    // fields for nullable columns, Kafka Connect's logical types.
    let records = broker.read_values(&topic, ROWS as usize, LONG);
    assert_eq!(records.len(), ROWS as usize, "{}", worker.log());
    let first: Value = serde_json::from_slice(&records[0]).expect("a JSON record");
    let schema = &first["schema"];
    assert_eq!(schema["type"], "struct", "{schema}");
    assert_eq!(schema["name"], source_table.as_str(), "{schema}");
    let field = |name: &str| {
        schema["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["field"] == name)
            .unwrap_or_else(|| panic!("no field {name} in {schema}"))
            .clone()
    };
    assert_eq!(field("id")["type"], "int64");
    assert_eq!(field("id")["optional"], false);
    assert_eq!(field("regular")["type"], "int32");
    assert_eq!(field("small")["type"], "int16");
    assert_eq!(field("small")["optional"], true);
    assert_eq!(field("real_value")["type"], "float");
    assert_eq!(
        field("amount")["name"],
        "org.apache.kafka.connect.data.Decimal"
    );
    assert_eq!(field("amount")["parameters"]["scale"], "4");
    assert_eq!(field("payload")["type"], "bytes");
    assert_eq!(field("day")["name"], "org.apache.kafka.connect.data.Date");
    assert_eq!(
        field("moment")["name"],
        "org.apache.kafka.connect.data.Time"
    );
    assert_eq!(
        field("at")["name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    assert_eq!(
        field("instant")["name"],
        "org.apache.kafka.connect.data.Timestamp"
    );
    assert_eq!(field("name")["optional"], false);
    let ids: Vec<i64> = records
        .iter()
        .map(|r| payload(r)["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(ids, (1..=ROWS).collect::<Vec<_>>());

    let expected = rows_of(&mut admin, c, &source_table);
    wait_for("the sink to write every row", LONG, || {
        let n = admin
            .select(c, &format!("SELECT COUNT(*) FROM {topic}"), vec![], 1)
            .ok()
            .and_then(|rows| match rows[0][0] {
                SqlValue::Int(n) => Some(n),
                _ => None,
            })?;
        (n >= ROWS).then_some(())
    });
    assert_eq!(
        column_names(&mut admin, c, &topic),
        TYPED_COLUMNS,
        "the sink's table has the source's columns"
    );
    let actual = rows_of(&mut admin, c, &topic);
    assert_eq!(actual.len(), expected.len());
    for (want, got) in expected.iter().zip(&actual) {
        assert_eq!(got, want, "row {}", want[0]);
    }

    worker.stop();
    for t in [&source_table, &topic] {
        admin
            .execute(c, &format!("DROP TABLE {t}"), vec![])
            .expect("dropping a table");
    }
}

#[test]
fn every_type_round_trips_postgres_to_postgres() {
    round_trip(Db::Postgres);
}

#[test]
fn every_type_round_trips_mariadb_to_mariadb() {
    round_trip(Db::MariaDb);
}

/// The current time as the database writes it into a millisecond column.
fn now_ms(db: Db) -> &'static str {
    match db {
        Db::Postgres => "LOCALTIMESTAMP(3)",
        _ => "UTC_TIMESTAMP(3)",
    }
}

/// Inserts rows `ids` with the database's current time.
fn insert_rows(
    admin: &mut SqlPlugin,
    c: Conn,
    db: Db,
    table: &str,
    ids: std::ops::RangeInclusive<i64>,
) {
    let statement = format!(
        "INSERT INTO {table} (id, name, updated_at) VALUES ({}, {}, {})",
        db.p(1),
        db.p(2),
        now_ms(db)
    );
    let rows: Vec<Vec<SqlValue>> = ids
        .map(|i| vec![SqlValue::Int(i), SqlValue::Text(format!("row {i}"))])
        .collect();
    admin
        .execute_batch(c, &statement, rows)
        .expect("inserting rows");
}

/// The ids of a topic's records and how many times each came.
fn id_counts(broker: &Broker, topic: &str, at_least: usize) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for record in broker.read_values(topic, at_least, LONG) {
        *counts
            .entry(payload(&record)["id"].as_i64().expect("an id"))
            .or_insert(0) += 1;
    }
    counts
}

fn incremental_capture(db: Db) {
    let (mut admin, c) = admin(db);
    let source_table = table("jdbc_inc");
    let timestamp_type = match db {
        Db::Postgres => "TIMESTAMP(3)",
        _ => "DATETIME(3)",
    };
    admin
        .execute(
            c,
            &format!(
                "CREATE TABLE {source_table} (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
                 updated_at {timestamp_type} NOT NULL)"
            ),
            vec![],
        )
        .expect("creating the table");
    insert_rows(&mut admin, c, db, &source_table, 1..=1000);
    let inc_topic = format!("inc_{source_table}");
    let upd_topic = format!("upd_{source_table}");

    let broker = Broker::start();
    let scratch = Scratch::new("jdbc-incremental");
    let mut setup = worker(&scratch, &broker);
    let ds = datasource(db);
    let grant = format!("{ds}:ro");
    let common = [
        ("connector.class", "jdbc-source"),
        ("datasource", ds),
        ("grant.sql", grant.as_str()),
        ("table.whitelist", source_table.as_str()),
        ("poll.interval.ms", "200"),
        ("batch.max.rows", "300"),
        ("value.converter", JSON),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = common.to_vec();
        all.extend_from_slice(extra);
        all
    };
    setup.connector(
        &scratch,
        "new-rows",
        &with(&[
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("topic.prefix", "inc_"),
        ]),
    );
    setup.connector(
        &scratch,
        "changed-rows",
        &with(&[
            ("mode", "timestamp+incrementing"),
            ("incrementing.column.name", "id"),
            ("timestamp.column.name", "updated_at"),
            ("topic.prefix", "upd_"),
        ]),
    );
    let destination = format!("dest_{source_table}");
    let sink_grant = format!("{ds}:rw");
    setup.connector(
        &scratch,
        "converge",
        &[
            ("connector.class", "jdbc-sink"),
            ("datasource", ds),
            ("grant.sql", &sink_grant),
            ("topics", &upd_topic),
            ("table.name.format", &destination),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_value"),
            ("pk.fields", "id"),
            ("auto.create", "true"),
            ("value.converter", JSON),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();
    assert_eq!(
        id_counts(&broker, &inc_topic, 1000).len(),
        1000,
        "{}",
        worker.log()
    );
    assert_eq!(id_counts(&broker, &upd_topic, 1000).len(), 1000);

    // New rows arrive once each in both modes; updated rows arrive again in
    // timestamp+incrementing mode, with their new values.
    insert_rows(&mut admin, c, db, &source_table, 1001..=1500);
    admin
        .execute(
            c,
            &format!(
                "UPDATE {source_table} SET name = CONCAT('updated ', name), updated_at = {} \
                 WHERE id <= 100",
                now_ms(db)
            ),
            vec![],
        )
        .expect("updating rows");
    let inc = id_counts(&broker, &inc_topic, 1500);
    assert_eq!(inc.len(), 1500, "{}", worker.log());
    assert!(inc.values().all(|&n| n == 1), "a row came twice: {inc:?}");
    let changed = broker.read_values(&upd_topic, 1600, LONG);
    assert_eq!(changed.len(), 1600, "{}", worker.log());
    let updated: Vec<Value> = changed[1000..]
        .iter()
        .map(|r| payload(r))
        .filter(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("updated "))
        })
        .collect();
    assert_eq!(updated.len(), 100, "the updated rows came again");

    // SIGKILL: nothing flushed, nothing committed on the way out. Rows
    // written while the worker is down are read after the restart, and
    // nothing before them is missing.
    worker.kill();
    insert_rows(&mut admin, c, db, &source_table, 1501..=2000);
    admin
        .execute(
            c,
            &format!(
                "UPDATE {source_table} SET name = CONCAT('again ', name), updated_at = {} \
                 WHERE id > 1900 OR id <= 50",
                now_ms(db)
            ),
            vec![],
        )
        .expect("updating rows");
    let worker = setup.spawn();
    worker.wait_ready();
    let inc = id_counts(&broker, &inc_topic, 2000);
    assert_eq!(
        inc.keys().copied().collect::<Vec<_>>(),
        (1..=2000).collect::<Vec<_>>(),
        "{}",
        worker.log()
    );
    // Offsets are committed every second, so a kill may repeat what was
    // produced since the last commit, but only that.
    assert!(
        inc.values().all(|&n| n <= 2),
        "a row came more than twice: {inc:?}"
    );

    // With upsert, the destination converges on the source.
    let expected = rows_of(&mut admin, c, &source_table);
    wait_for("the destination to equal the source", LONG, || {
        let actual = admin
            .select(
                c,
                &format!("SELECT * FROM {destination} ORDER BY id"),
                vec![],
                1000,
            )
            .ok()?;
        let actual: Vec<Vec<String>> = actual
            .iter()
            .map(|row| row.iter().map(comparable).collect())
            .collect();
        (actual == expected).then_some(())
    });

    worker.stop();
    for t in [&source_table, &destination] {
        admin
            .execute(c, &format!("DROP TABLE {t}"), vec![])
            .expect("dropping a table");
    }
}

#[test]
fn incremental_capture_survives_sigkill_on_postgres() {
    incremental_capture(Db::Postgres);
}

#[test]
fn incremental_capture_survives_sigkill_on_mariadb() {
    incremental_capture(Db::MariaDb);
}

/// A JsonConverter record with schemas: an order whose `amount` has the
/// schema type `amount_type`.
fn order(id: Option<i64>, amount: Value, amount_type: &str, name: &str) -> String {
    serde_json::json!({
        "schema": {
            "type": "struct",
            "name": "order",
            "optional": false,
            "fields": [
                {"field": "id", "type": "int64", "optional": true},
                {"field": "amount", "type": amount_type, "optional": false},
                {"field": "name", "type": "string", "optional": false},
            ],
        },
        "payload": {"id": id, "amount": amount, "name": name},
    })
    .to_string()
}

/// Record `i` (offset `i - 1`) of the bad-input topic. Three do not fit
/// the table: 60 has a string amount, 150 no id (the key), 240 a name
/// longer than its column; the database finds two, the sink one.
fn order_record(i: i64) -> String {
    match i {
        60 => order(Some(i), Value::from("a lot"), "string", "bad amount"),
        150 => order(None, Value::from(1.5), "double", "no key"),
        240 => order(Some(i), Value::from(2.5), "double", &"x".repeat(30)),
        _ => order(
            Some(i),
            Value::from(i as f64 / 4.0),
            "double",
            &format!("order {i}"),
        ),
    }
}

fn bad_input(db: Db) {
    const RECORDS: i64 = 300;
    let (mut admin, c) = admin(db);
    let tolerant_table = table("jdbc_tolerant");
    let strict_table = table("jdbc_strict");
    for t in [&tolerant_table, &strict_table] {
        admin
            .execute(
                c,
                &format!(
                    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, amount NUMERIC(10, 2) NOT NULL, \
                     name VARCHAR(20) NOT NULL)"
                ),
                vec![],
            )
            .expect("creating a table");
    }
    let topic = format!("orders_{tolerant_table}");
    let dlq = format!("dlq_{tolerant_table}");
    let broker = Broker::start();
    broker.produce(&topic, (1..=RECORDS).map(order_record));

    let scratch = Scratch::new("jdbc-bad-input");
    let mut setup = worker(&scratch, &broker);
    let ds = datasource(db);
    let grant = format!("{ds}:rw");
    let common = [
        ("connector.class", "jdbc-sink"),
        ("datasource", ds),
        ("grant.sql", grant.as_str()),
        ("topics", topic.as_str()),
        ("pk.mode", "record_value"),
        ("pk.fields", "id"),
        ("value.converter", JSON),
        ("task.restart.enabled", "false"),
    ];
    let mut tolerant = common.to_vec();
    tolerant.extend_from_slice(&[
        ("table.name.format", tolerant_table.as_str()),
        ("insert.mode", "insert"),
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ]);
    setup.connector(&scratch, "tolerant", &tolerant);
    let mut strict = common.to_vec();
    strict.extend_from_slice(&[
        ("table.name.format", strict_table.as_str()),
        ("insert.mode", "upsert"),
    ]);
    setup.connector(&scratch, "strict", &strict);
    let worker = setup.spawn();
    worker.wait_ready();

    // Tolerated: each bad record is a dead letter saying what is wrong with
    // it; every other record is in the table.
    let letters = broker.read_records(&dlq, 3, LONG);
    assert_eq!(letters.len(), 3, "{}", worker.log());
    let bad_offsets: Vec<String> = letters
        .iter()
        .map(|l| l.headers["__connect.errors.offset"].clone())
        .collect();
    assert_eq!(bad_offsets, ["59", "149", "239"]);
    // Each names what is wrong: the value the database could not read,
    // the missing key field, the column the value is too long for.
    for (letter, what) in letters.iter().zip(["a lot", "id", "name"]) {
        assert_eq!(
            letter
                .headers
                .get("__connect.errors.stage")
                .map(String::as_str),
            Some("TASK_PUT")
        );
        let message = &letter.headers["__connect.errors.exception.message"];
        assert!(message.contains(what), "{message}");
    }
    let expected_ids: Vec<i64> = (1..=RECORDS)
        .filter(|i| ![60, 150, 240].contains(i))
        .collect();
    let ids_of = |admin: &mut SqlPlugin, t: &str| -> Vec<i64> {
        admin
            .select(c, &format!("SELECT id FROM {t} ORDER BY id"), vec![], 1000)
            .expect("reading ids")
            .iter()
            .map(|row| match row[0] {
                SqlValue::Int(id) => id,
                ref other => panic!("an id of {other:?}"),
            })
            .collect()
    };
    wait_for("the tolerant sink to write every good record", LONG, || {
        (ids_of(&mut admin, &tolerant_table) == expected_ids).then_some(())
    });
    let amounts = admin
        .select(
            c,
            &format!("SELECT amount FROM {tolerant_table} WHERE id = 241"),
            vec![],
            1,
        )
        .expect("reading an amount");
    assert_eq!(amounts, [[SqlValue::Numeric("60.25".into())]]);

    // Not tolerated: the task fails with a trace naming the record, and
    // the table holds exactly the records before it: nothing of the failed
    // batch after it.
    let trace = worker.failure_trace("strict", LONG);
    assert!(
        trace.contains(&format!("{topic}-0@59")) && trace.contains("a lot"),
        "{trace}"
    );
    assert_eq!(
        ids_of(&mut admin, &strict_table),
        (1..60).collect::<Vec<_>>()
    );

    worker.stop();
    for t in [&tolerant_table, &strict_table] {
        admin
            .execute(c, &format!("DROP TABLE {t}"), vec![])
            .expect("dropping a table");
    }
}

#[test]
fn records_that_do_not_fit_follow_the_error_policy_on_postgres() {
    bad_input(Db::Postgres);
}

#[test]
fn records_that_do_not_fit_follow_the_error_policy_on_mariadb() {
    bad_input(Db::MariaDb);
}
