//! Benchmark: 1,000,000 rows PostgreSQL -> Kafka through `jdbc-source` and
//! Kafka -> PostgreSQL through `jdbc-sink` (JsonConverter with schemas),
//! beside `psql \copy` of the same rows out of and into the same database
//! in the same run: the ceiling for moving rows on this machine.
//!
//! `cargo bench -p sluice-tests --bench jdbc_pipeline` prints a markdown
//! table with medians over `SLUICE_BENCH_RUNS` runs (default 3).
//! `SLUICE_BENCH_ROWS` changes the row count and `SLUICE_BENCH_JDBC_BATCH`
//! the source's `batch.max.rows` (default 1000), `SLUICE_BENCH_FETCH_BYTES`
//! the sink's `max.partition.fetch.bytes` (default 1 MiB, librdkafka's).
//! Each side runs as its own process; peak RSS is the worker's VmHWM.

use std::process::Command;
use std::time::{Duration, Instant};

use sluice::capability::sql::Access;
use sluice::runtime::bindings::sql::SqlValue;
use sluice_tests::bench::{alternate, end_to_end_runs, median, stop_with_rusage};
use sluice_tests::sql::{Conn, Db, POSTGRES_URL, SqlPlugin};
use sluice_tests::*;

const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";
const COLUMNS: &str = "id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, \
                       amount NUMERIC(12, 2) NOT NULL, created TIMESTAMP(3) NOT NULL, flag BOOLEAN";

/// One measurement: seconds and peak RSS in bytes (0 for psql, whose
/// memory is not the comparison).
#[derive(Clone, Copy)]
struct Sample {
    seconds: f64,
    peak_rss: u64,
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rows: i64 = env_or("SLUICE_BENCH_ROWS", 1_000_000);
    let batch: u32 = env_or("SLUICE_BENCH_JDBC_BATCH", 1000);
    let runs = end_to_end_runs().max(1);
    let mut admin = SqlPlugin::new(Db::Postgres, &[("db", Access::ReadWrite)], None);
    let c = admin.open("db").expect("opening PostgreSQL");
    let source = format!("bench_jdbc_src_{}", std::process::id());
    admin
        .execute(c, &format!("CREATE TABLE {source} ({COLUMNS})"), vec![])
        .expect("creating the source table");
    admin
        .execute(
            c,
            &format!(
                "INSERT INTO {source} SELECT g, 'customer ' || g || ' ünïcödé', \
                 (g % 100000) * 1.25, TIMESTAMP '2026-01-01' + g * INTERVAL '1 millisecond', \
                 g % 2 = 0 FROM generate_series(1, {rows}) AS g"
            ),
            vec![],
        )
        .expect("filling the source table");
    admin
        .execute(c, &format!("VACUUM ANALYZE {source}"), vec![])
        .expect("vacuuming the source table");
    let scratch = Scratch::new("bench-jdbc");
    let dump = scratch.file("rows.tsv");

    // psql \copy out, Sluice source, psql \copy in, Sluice sink.
    let mut results: [Vec<Sample>; 4] = Default::default();
    for run in 0..runs {
        let broker = Broker::start();
        // jdbc-source writes a table to its topic prefix and name.
        let prefix = format!("run{run}_");
        let topic = format!("{prefix}{source}");
        let psql_out = || psql(&format!("\\copy {source} TO '{}'", dump.display()));
        let sluice_out = || sluice_source(&broker, run, &source, &prefix, rows, batch);
        let (p, s) = alternate(run, psql_out, sluice_out);
        results[0].push(p);
        results[1].push(s);

        let psql_table = format!("bench_jdbc_psql_{}_{run}", std::process::id());
        let sluice_table = format!("bench_jdbc_dst_{}_{run}", std::process::id());
        for t in [&psql_table, &sluice_table] {
            admin
                .execute(c, &format!("CREATE TABLE {t} ({COLUMNS})"), vec![])
                .expect("creating a destination table");
        }
        let psql_in = || psql(&format!("\\copy {psql_table} FROM '{}'", dump.display()));
        let sluice_in = || sluice_sink(&mut admin, c, &broker, run, &topic, &sluice_table, rows);
        let (p, s) = alternate(run, psql_in, sluice_in);
        results[2].push(p);
        results[3].push(s);
        for t in [&psql_table, &sluice_table] {
            admin
                .execute(c, &format!("DROP TABLE {t}"), vec![])
                .expect("dropping a destination table");
        }
        for (name, samples) in NAMES.iter().zip(&results) {
            let s = samples.last().expect("a sample of this run");
            eprintln!(
                "run {run}: {name}: {:.2} s, {:.0} rows/s, peak RSS {} MiB",
                s.seconds,
                rows as f64 / s.seconds,
                s.peak_rss >> 20
            );
        }
    }
    admin
        .execute(c, &format!("DROP TABLE {source}"), vec![])
        .expect("dropping the source table");
    print_table(&results, rows, runs, batch);
}

const NAMES: [&str; 4] = [
    "psql \\copy TO a file (PostgreSQL ->)",
    "Sluice jdbc-source (PostgreSQL -> Kafka)",
    "psql \\copy FROM a file (-> PostgreSQL)",
    "Sluice jdbc-sink (Kafka -> PostgreSQL)",
];

fn print_table(results: &[Vec<Sample>; 4], rows: i64, runs: usize, batch: u32) {
    let med = |samples: &[Sample], f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        median(&mut v)
    };
    println!("\n{rows} rows, median of {runs} runs (jdbc-source batch.max.rows={batch}):\n");
    println!("| path | rows/s | peak RSS (MiB) | vs. psql \\copy |");
    println!("|---|---:|---:|---:|");
    for (i, name) in NAMES.iter().enumerate() {
        let secs = med(&results[i], |s| s.seconds);
        let rss = med(&results[i], |s| s.peak_rss as f64) / (1u64 << 20) as f64;
        let ceiling = med(&results[i & !1], |s| s.seconds);
        let rss = if i % 2 == 0 {
            "-".to_string()
        } else {
            format!("{rss:.0}")
        };
        println!(
            "| {name} | {:.0} | {rss} | {:.2} |",
            rows as f64 / secs,
            ceiling / secs
        );
    }
}

/// Times one `psql` meta-command against the test database.
fn psql(command: &str) -> Sample {
    let start = Instant::now();
    let output = Command::new("psql")
        .args([POSTGRES_URL, "-v", "ON_ERROR_STOP=1", "-c", command])
        .output()
        .expect("running psql (Debian's postgresql-client)");
    let seconds = start.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "psql {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Sample {
        seconds,
        peak_rss: 0,
    }
}

fn worker(scratch: &Scratch, broker: &Broker) -> WorkerSetup {
    WorkerSetup::new(
        scratch,
        broker,
        &[("sql.datasource.pg.url", POSTGRES_URL.to_string())],
    )
}

fn sluice_source(
    broker: &Broker,
    run: usize,
    table: &str,
    prefix: &str,
    rows: i64,
    batch: u32,
) -> Sample {
    let scratch = Scratch::new(&format!("bench-jdbc-src-{run}"));
    let mut setup = worker(&scratch, broker);
    let batch = batch.to_string();
    setup.connector(
        &scratch,
        "bench-jdbc-source",
        &[
            ("connector.class", "jdbc-source"),
            ("datasource", "pg"),
            ("grant.sql", "pg:ro"),
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("table.whitelist", table),
            ("topic.prefix", prefix),
            ("batch.max.rows", &batch),
            ("value.converter", JSON),
        ],
    );
    let produced = format!("{prefix}{table}");
    let start = Instant::now();
    let worker = setup.spawn();
    wait_for(
        "the source to produce every row",
        Duration::from_secs(1800),
        || (broker.high_watermark(&produced) >= rows).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = stop_with_rusage(worker);
    Sample { seconds, peak_rss }
}

fn sluice_sink(
    admin: &mut SqlPlugin,
    c: Conn,
    broker: &Broker,
    run: usize,
    topic: &str,
    table: &str,
    rows: i64,
) -> Sample {
    let scratch = Scratch::new(&format!("bench-jdbc-sink-{run}"));
    let mut setup = worker(&scratch, broker);
    setup.connector(
        &scratch,
        &format!("bench-jdbc-sink-{run}"),
        &[
            ("connector.class", "jdbc-sink"),
            ("datasource", "pg"),
            ("grant.sql", "pg:rw"),
            ("topics", topic),
            ("table.name.format", table),
            ("insert.mode", "insert"),
            ("value.converter", JSON),
            (
                "consumer.override.max.partition.fetch.bytes",
                &std::env::var("SLUICE_BENCH_FETCH_BYTES").unwrap_or("1048576".into()),
            ),
        ],
    );
    let start = Instant::now();
    let worker = setup.spawn();
    // One partition, one task, one transaction per batch in order: the
    // largest id is the last row written.
    let last = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    wait_for(
        "the sink to write every row",
        Duration::from_secs(1800),
        || {
            let found = admin.select(c, &last, vec![], 1).ok()?;
            matches!(found[0][0], SqlValue::Int(n) if n >= rows).then_some(())
        },
    );
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = stop_with_rusage(worker);
    Sample { seconds, peak_rss }
}
