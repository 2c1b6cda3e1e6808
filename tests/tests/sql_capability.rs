//! The sql capability's host implementation, called as a plugin calls it,
//! against the machine's real PostgreSQL (127.0.0.1:5432, database `test`)
//! and MariaDB (127.0.0.1:3306, database `test`), and a SQLite file: typed
//! parameters and results, transactions, a bulk load of 100,000 rows and
//! reading them back in batches, read-only grants, ungranted datasources
//! and the statement timeout. Each test works in tables of its own, so the
//! tests run in parallel; a database that is down fails them.

use std::time::{Duration, Instant};

use sluice::capability::sql::Access;
use sluice::capability::sql::bindings::sql::{
    Dialect, ErrorKind, HostConnection, SqlError, SqlValue, ValueKind,
};
use sluice_tests::Scratch;
use sluice_tests::sql::{Db, SqlPlugin as Plugin, conn, table, worker_config};

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm),
/// computed here independently of the host's conversion.
fn days(year: i64, month: i64, day: i64) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

fn micros(days: i32, hour: i64, minute: i64, second: i64, micro: i64) -> i64 {
    i64::from(days) * 86_400_000_000 + ((hour * 60 + minute) * 60 + second) * 1_000_000 + micro
}

fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.into())
}

fn numeric(s: &str) -> SqlValue {
    SqlValue::Numeric(s.into())
}

const UNICODE: &str = "Grüße, 世界! 🚀 — ñ\u{0}x";

/// One row of every kind, the columns that hold it, and what each column
/// gives back: the value itself, except where the database keeps less.
struct TypedRow {
    create: String,
    columns: Vec<&'static str>,
    values: Vec<SqlValue>,
    expected_back: Vec<SqlValue>,
    expected_kinds: Vec<Option<ValueKind>>,
}

fn typed_row(db: Db, table: &str) -> TypedRow {
    let date = days(2024, 2, 29);
    let before_epoch = days(1969, 7, 20);
    let time = micros(0, 23, 59, 58, 123_456);
    let timestamp = micros(before_epoch, 20, 17, 40, 654_321);
    let instant = micros(date, 12, 0, 0, 1);
    // PostgreSQL refuses NUL in text; the others keep it.
    let unicode = if db == Db::Postgres {
        UNICODE.replace('\u{0}', "")
    } else {
        UNICODE.to_string()
    };
    let bytes = SqlValue::Bytes(vec![0, 1, 2, 127, 128, 255, 0]);
    use ValueKind as K;
    match db {
        Db::Postgres => TypedRow {
            create: format!(
                "CREATE TABLE {table} (i2 SMALLINT, i4 INTEGER, i8 BIGINT, n NUMERIC(40, 12), \
                 f8 DOUBLE PRECISION, f4 REAL, t TEXT, b BYTEA, d DATE, tm TIME, ts TIMESTAMP, \
                 tz TIMESTAMPTZ, bo BOOLEAN)"
            ),
            columns: vec![
                "i2", "i4", "i8", "n", "f8", "f4", "t", "b", "d", "tm", "ts", "tz", "bo",
            ],
            values: vec![
                SqlValue::Int(i16::MIN.into()),
                SqlValue::Int(i32::MAX.into()),
                SqlValue::Int(i64::MIN),
                numeric("-1234567890123456789012345678.000000000001"),
                SqlValue::Float(-1.234_567_890_123_456_7e-300),
                SqlValue::Float(0.5),
                text(&unicode),
                bytes.clone(),
                SqlValue::Date(date),
                SqlValue::Time(time),
                SqlValue::Timestamp(timestamp),
                SqlValue::Timestamptz(instant),
                SqlValue::Boolean(true),
            ],
            expected_back: vec![],
            expected_kinds: vec![
                Some(K::Int),
                Some(K::Int),
                Some(K::Int),
                Some(K::Numeric),
                Some(K::Float),
                Some(K::Float),
                Some(K::Text),
                Some(K::Bytes),
                Some(K::Date),
                Some(K::Time),
                Some(K::Timestamp),
                Some(K::Timestamptz),
                Some(K::Boolean),
            ],
        },
        Db::MariaDb => TypedRow {
            create: format!(
                "CREATE TABLE {table} (ti TINYINT, si SMALLINT, i INT, bi BIGINT, \
                 ubi BIGINT UNSIGNED, n DECIMAL(40, 12), f DOUBLE, fl FLOAT, \
                 t VARCHAR(100) CHARACTER SET utf8mb4, b BLOB, d DATE, tm TIME(6), \
                 dur TIME(6), dt DATETIME(6), ts TIMESTAMP(6) NULL, bo BOOLEAN)"
            ),
            columns: vec![
                "ti", "si", "i", "bi", "ubi", "n", "f", "fl", "t", "b", "d", "tm", "dur", "dt",
                "ts", "bo",
            ],
            values: vec![
                SqlValue::Int(i8::MIN.into()),
                SqlValue::Int(i16::MAX.into()),
                SqlValue::Int(i32::MIN.into()),
                SqlValue::Int(i64::MAX),
                // Above i64::MAX: only a numeric holds it.
                numeric("18446744073709551615"),
                numeric("-1234567890123456789012345678.000000000001"),
                SqlValue::Float(-1.234_567_890_123_456_7e-300),
                SqlValue::Float(0.5),
                text(&unicode),
                bytes.clone(),
                SqlValue::Date(date),
                SqlValue::Time(time),
                // A MySQL TIME is a duration: negative, over a day.
                SqlValue::Time(-micros(1, 2, 3, 4, 5)),
                SqlValue::Timestamp(timestamp),
                SqlValue::Timestamptz(instant),
                SqlValue::Boolean(true),
            ],
            expected_back: vec![],
            expected_kinds: vec![
                Some(K::Int),
                Some(K::Int),
                Some(K::Int),
                Some(K::Int),
                Some(K::Int),
                Some(K::Numeric),
                Some(K::Float),
                Some(K::Float),
                Some(K::Text),
                Some(K::Bytes),
                Some(K::Date),
                Some(K::Time),
                Some(K::Time),
                Some(K::Timestamp),
                Some(K::Timestamptz),
                Some(K::Boolean),
            ],
        },
        Db::Sqlite => TypedRow {
            create: format!(
                "CREATE TABLE {table} (i INTEGER, r REAL, n NUMERIC, t TEXT, b BLOB, d DATE, \
                 tm TIME, dt DATETIME, tz DATETIME, bo BOOLEAN)"
            ),
            columns: vec!["i", "r", "n", "t", "b", "d", "tm", "dt", "tz", "bo"],
            values: vec![
                SqlValue::Int(i64::MIN),
                SqlValue::Float(-1.234_567_890_123_456_7e-300),
                numeric("12345.5"),
                text(&unicode),
                bytes.clone(),
                SqlValue::Date(date),
                SqlValue::Time(time),
                SqlValue::Timestamp(timestamp),
                SqlValue::Timestamptz(instant),
                SqlValue::Boolean(true),
            ],
            // SQLite has no decimals: a NUMERIC column keeps what fits an
            // integer or a real as one.
            expected_back: vec![
                SqlValue::Int(i64::MIN),
                SqlValue::Float(-1.234_567_890_123_456_7e-300),
                SqlValue::Float(12345.5),
                text(&unicode),
                bytes,
                SqlValue::Date(date),
                SqlValue::Time(time),
                SqlValue::Timestamp(timestamp),
                SqlValue::Timestamptz(instant),
                SqlValue::Boolean(true),
            ],
            expected_kinds: vec![
                Some(K::Int),
                Some(K::Float),
                None,
                Some(K::Text),
                Some(K::Bytes),
                Some(K::Date),
                Some(K::Time),
                Some(K::Timestamp),
                Some(K::Timestamp),
                Some(K::Boolean),
            ],
        },
    }
}

fn typed_values_round_trip(db: Db) {
    let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], None);
    let c = plugin.open("db").expect("opening");
    let t = table("typed");
    let row = typed_row(db, &t);
    plugin
        .execute(c, &row.create, vec![])
        .expect("creating the table");
    let insert = format!(
        "INSERT INTO {t} ({}) VALUES ({})",
        row.columns.join(", "),
        db.placeholders(row.columns.len())
    );
    assert_eq!(plugin.execute(c, &insert, row.values.clone()), Ok(1));
    let nulls = vec![SqlValue::Null; row.columns.len()];
    assert_eq!(plugin.execute(c, &insert, nulls.clone()), Ok(1));
    // The same text with an int where a null was: PostgreSQL prepares it
    // again with the other types.
    assert_eq!(plugin.execute(c, &insert, row.values.clone()), Ok(1));

    let r = plugin
        .query(
            c,
            &format!("SELECT {} FROM {t}", row.columns.join(", ")),
            vec![],
        )
        .expect("selecting");
    let columns = plugin.columns(r);
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, row.columns);
    let kinds: Vec<Option<ValueKind>> = columns.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, row.expected_kinds, "column kinds of {columns:?}");
    let values = plugin.next_batch(r, 100).expect("reading");
    assert_eq!(plugin.next_batch(r, 100), Ok(vec![]), "three rows, no more");
    plugin.close_rows(r);
    let back: Vec<&[SqlValue]> = values.chunks(row.columns.len()).collect();
    let expected = if row.expected_back.is_empty() {
        &row.values
    } else {
        &row.expected_back
    };
    assert_eq!(back.len(), 3);
    for (i, name) in row.columns.iter().enumerate() {
        assert_eq!(back[0][i], expected[i], "column {name}");
        assert_eq!(back[1][i], SqlValue::Null, "column {name} of the null row");
        assert_eq!(back[2][i], expected[i], "column {name} after the nulls");
    }

    // The database reads the dates and times as the values meant them.
    let as_text = match db {
        Db::Postgres => format!(
            "SELECT to_char(d, 'YYYY-MM-DD'), to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US'), \
             extract(epoch from tz)::text FROM {t} WHERE bo LIMIT 1"
        ),
        Db::MariaDb => format!(
            "SELECT DATE_FORMAT(d, '%Y-%m-%d'), DATE_FORMAT(dt, '%Y-%m-%d %H:%i:%s.%f'), \
             CAST(UNIX_TIMESTAMP(ts) AS CHAR), CAST(dur AS CHAR) FROM {t} WHERE bo LIMIT 1"
        ),
        Db::Sqlite => format!(
            "SELECT date(d), strftime('%Y-%m-%d %H:%M:%f', dt), \
             CAST(unixepoch(tz, 'subsec') AS TEXT) FROM {t} WHERE bo LIMIT 1"
        ),
    };
    let seen = plugin.select(c, &as_text, vec![], 10).expect("formatting");
    assert_eq!(seen[0][0], text("2024-02-29"));
    // SQLite's strftime shows milliseconds.
    let timestamp = match db {
        Db::Sqlite => "1969-07-20 20:17:40.654",
        _ => "1969-07-20 20:17:40.654321",
    };
    assert_eq!(seen[0][1], text(timestamp));
    let epoch_seconds = match &seen[0][2] {
        SqlValue::Text(s) => s.parse::<f64>().expect("epoch seconds"),
        other => panic!("epoch seconds as {other:?}"),
    };
    let instant = micros(days(2024, 2, 29), 12, 0, 0, 1) as f64 / 1e6;
    assert!(
        (epoch_seconds - instant).abs() < 1e-3,
        "{epoch_seconds} vs {instant}"
    );
    if db == Db::MariaDb {
        assert_eq!(seen[0][3], text("-26:03:04.000005"));
    }

    // Parameters come back as they went, with no table in between.
    let echo = match db {
        Db::Postgres => {
            "SELECT $1::int8, $2::text, $3::bytea, $4::numeric, $5::timestamptz, $6::bool"
        }
        _ => "SELECT ?, ?, ?, ?, ?, ?",
    };
    let params = vec![
        SqlValue::Int(42),
        text(&UNICODE.replace('\u{0}', "")),
        SqlValue::Bytes(vec![9, 8, 7]),
        numeric("0.10"),
        SqlValue::Timestamptz(instant as i64 * 1_000_000),
        SqlValue::Boolean(false),
    ];
    let echoed = plugin.select(c, echo, params.clone(), 1).expect("echoing");
    assert_eq!(echoed[0][0], SqlValue::Int(42));
    assert_eq!(echoed[0][1], params[1]);
    assert_eq!(echoed[0][2], params[2]);
    if db == Db::Postgres {
        assert_eq!(echoed[0][3..], params[3..]);
    }
    plugin
        .execute(c, &format!("DROP TABLE {t}"), vec![])
        .expect("dropping");
}

#[test]
fn postgres_typed_values_round_trip() {
    typed_values_round_trip(Db::Postgres);
}

#[test]
fn mariadb_typed_values_round_trip() {
    typed_values_round_trip(Db::MariaDb);
}

#[test]
fn sqlite_typed_values_round_trip() {
    typed_values_round_trip(Db::Sqlite);
}

fn transactions_roll_back_and_commit(db: Db) {
    let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], None);
    let c = plugin.open("db").expect("opening");
    let t = table("tx");
    plugin
        .execute(
            c,
            &format!("CREATE TABLE {t} (id INTEGER PRIMARY KEY, name VARCHAR(20))"),
            vec![],
        )
        .expect("creating");
    let insert = format!("INSERT INTO {t} (id, name) VALUES ({})", db.placeholders(2));

    plugin.begin(c).expect("begin");
    for id in 1..=3 {
        plugin
            .execute(c, &insert, vec![SqlValue::Int(id), text("rolled back")])
            .expect("inserting");
    }
    assert_eq!(plugin.count(c, &t), 3, "the transaction sees its rows");
    plugin.rollback(c).expect("rollback");
    assert_eq!(
        plugin.count(c, &t),
        0,
        "a rolled back transaction leaves nothing"
    );

    plugin.begin(c).expect("begin");
    plugin
        .execute(c, &insert, vec![SqlValue::Int(1), text("kept")])
        .expect("inserting");
    plugin.commit(c).expect("commit");
    assert_eq!(plugin.count(c, &t), 1);

    // A batch is all or nothing, and names the row that failed: row 2
    // repeats the key of row 0.
    let batch: Vec<Vec<SqlValue>> = [10, 11, 10, 12]
        .into_iter()
        .map(|id| vec![SqlValue::Int(id), text("batch")])
        .collect();
    let err = plugin.execute_batch(c, &insert, batch.clone()).unwrap_err();
    assert_eq!(
        (err.kind, err.row),
        (ErrorKind::Constraint, Some(2)),
        "{err:?}"
    );
    assert_eq!(plugin.count(c, &t), 1, "nothing of the failed batch stays");

    // Inside a transaction a failed batch undoes only itself.
    plugin.begin(c).expect("begin");
    plugin
        .execute(c, &insert, vec![SqlValue::Int(2), text("before")])
        .expect("inserting");
    let err = plugin.execute_batch(c, &insert, batch).unwrap_err();
    assert_eq!(err.row, Some(2));
    plugin
        .execute(c, &insert, vec![SqlValue::Int(3), text("after")])
        .expect("inserting after");
    plugin.commit(c).expect("commit");
    assert_eq!(plugin.count(c, &t), 3);

    // A transaction left open when the connection goes is rolled back.
    plugin.begin(c).expect("begin");
    plugin
        .execute(c, &insert, vec![SqlValue::Int(4), text("abandoned")])
        .expect("inserting");
    plugin.close(c);
    let c = plugin.open("db").expect("opening again");
    let deadline = Instant::now() + Duration::from_secs(10);
    while plugin.count(c, &t) != 3 {
        assert!(
            Instant::now() < deadline,
            "the abandoned transaction stayed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Transactions are the interface's, never SQL's.
    for statement in ["COMMIT", "  begin", "/* x */ ROLLBACK", "START TRANSACTION"] {
        let err = plugin.execute(c, statement, vec![]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidUse, "{statement}: {err:?}");
    }
    assert_eq!(plugin.commit(c).unwrap_err().kind, ErrorKind::InvalidUse);
    plugin
        .execute(c, &format!("DROP TABLE {t}"), vec![])
        .expect("dropping");
}

#[test]
fn postgres_transactions_roll_back_and_commit() {
    transactions_roll_back_and_commit(Db::Postgres);
}

#[test]
fn mariadb_transactions_roll_back_and_commit() {
    transactions_roll_back_and_commit(Db::MariaDb);
}

#[test]
fn sqlite_transactions_roll_back_and_commit() {
    transactions_roll_back_and_commit(Db::Sqlite);
}

const BULK_ROWS: i64 = 100_000;

/// Row `i` of the bulk load.
fn bulk_row(i: i64) -> Vec<SqlValue> {
    vec![
        SqlValue::Int(i),
        text(&format!("name-{i}-é\t\\\n")),
        numeric(&format!("{}.{:02}", i / 7, i % 100)),
        if i % 10 == 0 {
            SqlValue::Null
        } else {
            SqlValue::Bytes(i.to_le_bytes().to_vec())
        },
    ]
}

fn bulk_load_and_read_back(db: Db) {
    let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], None);
    let c = plugin.open("db").expect("opening");
    let t = table("bulk");
    let (bytes, decimal) = match db {
        Db::Postgres => ("BYTEA", "NUMERIC(20, 2)"),
        Db::MariaDb => ("BLOB", "DECIMAL(20, 2)"),
        // TEXT keeps the decimals' text as it is.
        Db::Sqlite => ("BLOB", "TEXT"),
    };
    plugin
        .execute(
            c,
            &format!(
                "CREATE TABLE {t} (id BIGINT PRIMARY KEY, name VARCHAR(64), amount {decimal}, \
                 payload {bytes})"
            ),
            vec![],
        )
        .expect("creating");
    let rows: Vec<Vec<SqlValue>> = (0..BULK_ROWS).map(bulk_row).collect();
    let started = Instant::now();
    let loaded = plugin
        .copy_in(c, &t, &["id", "name", "amount", "payload"], rows)
        .expect("loading");
    let load_time = started.elapsed();
    assert_eq!(loaded, BULK_ROWS as u64);

    // Count and checksums, computed by the database.
    let sums = plugin
        .select(
            c,
            &format!("SELECT COUNT(*), SUM(id), SUM(LENGTH(payload)), COUNT(payload) FROM {t}"),
            vec![],
            1,
        )
        .expect("summing");
    let as_int = |v: &SqlValue| match v {
        SqlValue::Int(n) => *n,
        SqlValue::Numeric(s) => s.parse().expect("an integral sum"),
        other => panic!("a sum of {other:?}"),
    };
    let with_payload = (0..BULK_ROWS).filter(|i| i % 10 != 0).count() as i64;
    assert_eq!(as_int(&sums[0][0]), BULK_ROWS);
    assert_eq!(as_int(&sums[0][1]), (0..BULK_ROWS).sum::<i64>());
    assert_eq!(as_int(&sums[0][2]), with_payload * 8);
    assert_eq!(as_int(&sums[0][3]), with_payload);

    // Every row back, in batches of 1,000, as it went in.
    let started = Instant::now();
    let r = plugin
        .query(
            c,
            &format!("SELECT id, name, amount, payload FROM {t} ORDER BY id"),
            vec![],
        )
        .expect("querying");
    let mut next = 0;
    loop {
        let values = plugin.next_batch(r, 1000).expect("reading");
        if values.is_empty() {
            break;
        }
        assert!(values.len() <= 4000);
        for row in values.chunks(4) {
            let mut expected = bulk_row(next);
            if db == Db::Sqlite {
                // Declared TEXT: the decimal's text comes back as text.
                if let SqlValue::Numeric(s) = &expected[2] {
                    expected[2] = text(s);
                }
            }
            assert_eq!(row, expected.as_slice(), "row {next}");
            next += 1;
        }
    }
    plugin.close_rows(r);
    assert_eq!(next, BULK_ROWS, "every row read back");
    println!(
        "{db:?}: loaded {BULK_ROWS} rows in {load_time:?}, read them back in {:?}",
        started.elapsed()
    );
    plugin
        .execute(c, &format!("DROP TABLE {t}"), vec![])
        .expect("dropping");
}

#[test]
fn postgres_bulk_load_of_100000_rows() {
    bulk_load_and_read_back(Db::Postgres);
}

#[test]
fn mariadb_bulk_load_of_100000_rows() {
    bulk_load_and_read_back(Db::MariaDb);
}

#[test]
fn sqlite_bulk_load_of_100000_rows() {
    bulk_load_and_read_back(Db::Sqlite);
}

fn read_only_grants_refuse_writes(db: Db) {
    let scratch = (db == Db::Sqlite).then(|| Scratch::new("sql-ro"));
    let config = worker_config(db, scratch.as_ref());
    let t = table("ro");
    let mut writer = Plugin::with_config(&config, &[("db", Access::ReadWrite)], None, None);
    let w = writer.open("db").expect("opening read-write");
    writer
        .execute(
            w,
            &format!("CREATE TABLE {t} (id INTEGER, name VARCHAR(20))"),
            vec![],
        )
        .expect("creating");
    let insert = format!("INSERT INTO {t} (id, name) VALUES ({})", db.placeholders(2));
    writer
        .execute(w, &insert, vec![SqlValue::Int(1), text("one")])
        .expect("inserting");

    let mut reader = Plugin::with_config(&config, &[("db", Access::ReadOnly)], None, scratch);
    let r = reader.open("db").expect("opening read-only");
    assert_eq!(reader.count(r, &t), 1, "a read-only grant reads");
    let row = vec![SqlValue::Int(2), text("two")];
    let refused = |result: Result<u64, SqlError>, what: &str| {
        let err = result.expect_err(what);
        assert_eq!(err.kind, ErrorKind::ReadOnly, "{what}: {err:?}");
    };
    refused(reader.execute(r, &insert, row.clone()), "an insert");
    refused(
        reader.execute(r, &format!("DELETE FROM {t}"), vec![]),
        "a delete",
    );
    refused(
        reader.execute(r, &format!("CREATE TABLE {t}_x (id INTEGER)"), vec![]),
        "DDL",
    );
    refused(
        reader.execute_batch(r, &insert, vec![row.clone()]),
        "a batch",
    );
    refused(
        reader.copy_in(r, &t, &["id", "name"], vec![row.clone()]),
        "a bulk load",
    );
    // Turning read-only off from inside is refused too (SQLite opened the
    // file read-only: nothing said over the connection changes that).
    let escape = match db {
        Db::Postgres => Some("SET default_transaction_read_only = off"),
        Db::MariaDb => Some("SET SESSION TRANSACTION READ WRITE"),
        Db::Sqlite => None,
    };
    if let Some(escape) = escape {
        refused(reader.execute(r, escape, vec![]), escape);
    }
    if db == Db::Postgres {
        // A function that changes the session default does not help: each
        // statement runs in a read-only transaction of its own.
        reader
            .select(
                r,
                "SELECT set_config('default_transaction_read_only', 'off', false)",
                vec![],
                1,
            )
            .expect("set_config is a read");
    }
    refused(
        reader.execute(r, &insert, row.clone()),
        "an insert after trying to escape",
    );
    reader.begin(r).expect("a read-only transaction");
    refused(
        reader.execute(r, &insert, row),
        "an insert in a transaction",
    );
    reader.rollback(r).expect("rollback");
    assert_eq!(writer.count(w, &t), 1, "nothing was written");
    writer
        .execute(w, &format!("DROP TABLE {t}"), vec![])
        .expect("dropping");
}

#[test]
fn postgres_read_only_grants_refuse_writes() {
    read_only_grants_refuse_writes(Db::Postgres);
}

#[test]
fn mariadb_read_only_grants_refuse_writes() {
    read_only_grants_refuse_writes(Db::MariaDb);
}

#[test]
fn sqlite_read_only_grants_refuse_writes() {
    read_only_grants_refuse_writes(Db::Sqlite);
}

#[test]
fn an_ungranted_datasource_is_refused_by_name() {
    for db in [Db::Postgres, Db::MariaDb] {
        let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], None);
        for name in ["other", "nowhere"] {
            let err = plugin.open(name).unwrap_err();
            assert_eq!(err.kind, ErrorKind::NotGranted, "{err:?}");
            assert!(
                err.message.contains(&format!("\"{name}\"")) && err.message.contains("granted: db"),
                "{}",
                err.message
            );
        }
        let c = plugin.open("db").expect("the granted one opens");
        assert_eq!(
            plugin
                .call(|v| HostConnection::dialect(v, conn(c)))
                .unwrap(),
            if db == Db::Postgres {
                Dialect::Postgresql
            } else {
                Dialect::Mysql
            }
        );
    }
}

fn statement_timeout_fires(db: Db) {
    let timeout = Duration::from_millis(500);
    let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], Some(timeout));
    let c = plugin.open("db").expect("opening");
    let slow = match db {
        Db::Postgres => "SELECT pg_sleep(5)",
        Db::MariaDb => "SELECT SLEEP(5)",
        // A billion rows of a recursive CTE take far longer than 500 ms.
        Db::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000) \
             SELECT COUNT(*) FROM n"
        }
    };
    for use_query in [true, false] {
        let started = Instant::now();
        let err = if use_query {
            plugin.select(c, slow, vec![], 10).unwrap_err()
        } else {
            plugin.execute(c, slow, vec![]).unwrap_err()
        };
        let elapsed = started.elapsed();
        assert_eq!(err.kind, ErrorKind::Timeout, "{err:?}");
        assert!(
            elapsed >= timeout && elapsed < Duration::from_secs(3),
            "the statement stopped after {elapsed:?}"
        );
        // The database stopped it, so the connection goes on.
        let one = plugin
            .select(c, "SELECT 1", vec![], 1)
            .expect("the next statement");
        assert_eq!(one, [[SqlValue::Int(1)]]);
    }
}

#[test]
fn postgres_statement_timeout_fires() {
    statement_timeout_fires(Db::Postgres);
}

#[test]
fn mariadb_statement_timeout_fires() {
    statement_timeout_fires(Db::MariaDb);
}

#[test]
fn sqlite_statement_timeout_fires() {
    statement_timeout_fires(Db::Sqlite);
}

fn a_row_stream_holds_its_connection(db: Db) {
    let mut plugin = Plugin::new(db, &[("db", Access::ReadWrite)], None);
    let c = plugin.open("db").expect("opening");
    let numbers = match db {
        Db::Postgres => "SELECT g FROM generate_series(1, 50000) g",
        Db::MariaDb => "SELECT seq FROM seq_1_to_50000",
        Db::Sqlite => {
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000) \
             SELECT i FROM n"
        }
    };
    let r = plugin.query(c, numbers, vec![]).expect("querying");
    assert_eq!(
        plugin.next_batch(r, 3),
        Ok(vec![SqlValue::Int(1), SqlValue::Int(2), SqlValue::Int(3)])
    );
    let err = plugin.execute(c, "SELECT 1", vec![]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidUse, "{err:?}");
    assert_eq!(
        plugin.next_batch(r, 0).unwrap_err().kind,
        ErrorKind::InvalidUse
    );
    // Dropped half read, the stream gives the connection back.
    plugin.close_rows(r);
    let one = plugin
        .select(c, "SELECT 1", vec![], 1)
        .expect("the next statement");
    assert_eq!(one, [[SqlValue::Int(1)]]);
    // A wrong statement fails the query itself, not its first batch.
    let err = plugin.query(c, "SELEC 1", vec![]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Statement, "{err:?}");
}

#[test]
fn postgres_a_row_stream_holds_its_connection() {
    a_row_stream_holds_its_connection(Db::Postgres);
}

#[test]
fn mariadb_a_row_stream_holds_its_connection() {
    a_row_stream_holds_its_connection(Db::MariaDb);
}

#[test]
fn sqlite_a_row_stream_holds_its_connection() {
    a_row_stream_holds_its_connection(Db::Sqlite);
}
