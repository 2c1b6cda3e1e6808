//! Benchmark: 1,000,000 rows PostgreSQL -> Kafka through `jdbc-source` and
//! Kafka -> PostgreSQL through `jdbc-sink` (JsonConverter with schemas),
//! beside `psql \copy` of the same rows out of and into the same database
//! in the same run: the ceiling for moving rows on this machine. The
//! source's records are also produced again by a plain rdkafka producer
//! with Sluice's producer settings, and the sink's topic is read by a plain
//! rdkafka consumer: what the broker allows each side on the same two cores.
//!
//! The broker is tansu with its memory storage unless `SLUICE_BENCH_BROKER`
//! says `sqlite` (the tests' storage). Memory storage keeps producer batches
//! whole, as Kafka's log does; SQLite runs a statement per record stored and
//! a query over the rest of the partition per fetch, which made the broker
//! the ceiling of both sides (docs/decisions.md, "Development broker"). Its
//! known fault, fetches from inside a batch, never happens in one pass from
//! the start, and every run checks that each row arrived exactly once.
//!
//! `cargo bench -p sluice-tests --bench jdbc_pipeline` prints a markdown
//! table with medians over `SLUICE_BENCH_RUNS` runs (default 3).
//! `SLUICE_BENCH_ROWS` changes the row count, `SLUICE_BENCH_JDBC_BATCH`
//! the source's `batch.max.rows` (default 1000), and `SLUICE_BENCH_WORKER`
//! adds worker keys (`producer.linger.ms=5,...`). Each side runs as its own
//! process; peak RSS is the worker's VmHWM.

use std::process::Command;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use std::time::{Duration, Instant};

use sluice::capability::sql::Access;
use sluice::capability::sql::bindings::sql::SqlValue;
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

/// The broker's storage, from `SLUICE_BENCH_BROKER`: `memory` (the
/// default) or `sqlite`, the tests' storage.
fn bench_broker_storage() -> String {
    match std::env::var("SLUICE_BENCH_BROKER").as_deref() {
        Ok("memory") | Err(_) => "memory://tansu/".into(),
        Ok("sqlite") => "sqlite://tansu.db".into(),
        Ok(other) => panic!("SLUICE_BENCH_BROKER is memory or sqlite, not {other:?}"),
    }
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
    let mut results: [Vec<Sample>; 6] = Default::default();
    let storage = bench_broker_storage();
    for run in 0..runs {
        let broker = Broker::start_with_storage(&storage);
        // jdbc-source writes a table to its topic prefix and name.
        let prefix = format!("run{run}_");
        let topic = format!("{prefix}{source}");
        let psql_out = || psql(&format!("\\copy {source} TO '{}'", dump.display()));
        let sluice_out = || sluice_source(&broker, run, &source, &prefix, rows, batch);
        let (p, s) = alternate(run, psql_out, sluice_out);
        results[0].push(p);
        results[1].push(s);
        // The broker's ceiling: the very records Sluice produced, produced
        // again by a plain rdkafka producer (read first, untimed).
        let produced = broker.read_values(&topic, rows as usize, Duration::from_secs(600));
        assert_eq!(
            produced.len(),
            rows as usize,
            "the source produced every row once"
        );
        results[4].push(plain_produce(&broker, &format!("{topic}_plain"), produced));

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
        results[5].push(plain_consume(&broker, &topic, rows as usize));
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
    print_table(&results, rows, runs, batch, &storage);
}

const NAMES: [&str; 6] = [
    "psql \\copy TO a file (PostgreSQL ->)",
    "Sluice jdbc-source (PostgreSQL -> Kafka)",
    "psql \\copy FROM a file (-> PostgreSQL)",
    "Sluice jdbc-sink (Kafka -> PostgreSQL)",
    "plain rdkafka producer of the source's records (-> Kafka)",
    "plain rdkafka consumer of the same topic (Kafka ->)",
];

fn print_table(results: &[Vec<Sample>; 6], rows: i64, runs: usize, batch: u32, storage: &str) {
    let med = |samples: &[Sample], f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        median(&mut v)
    };
    println!(
        "\n{rows} rows, median of {runs} runs (jdbc-source batch.max.rows={batch}, \
         tansu storage {storage}):\n"
    );
    println!("| path | rows/s | peak RSS (MiB) | vs. psql \\copy |");
    println!("|---|---:|---:|---:|");
    for (i, name) in NAMES.iter().enumerate() {
        let secs = med(&results[i], |s| s.seconds);
        let rss = med(&results[i], |s| s.peak_rss as f64) / (1u64 << 20) as f64;
        // Reading rows compares with psql's copy out, writing them with
        // psql's copy in.
        let ceiling = med(&results[(i % 4) & !1], |s| s.seconds);
        // Only the workers' memory is the comparison.
        let rss = if i == 1 || i == 3 {
            format!("{rss:.0}")
        } else {
            "-".to_string()
        };
        println!(
            "| {name} | {:.0} | {rss} | {:.2} |",
            rows as f64 / secs,
            ceiling / secs
        );
    }
    println!(
        "\njdbc-source vs. the plain producer of its records: {:.2}",
        med(&results[4], |s| s.seconds) / med(&results[1], |s| s.seconds)
    );
    println!(
        "jdbc-sink vs. the plain consumer of its topic: {:.2}",
        med(&results[5], |s| s.seconds) / med(&results[3], |s| s.seconds)
    );
}

/// Produces `values` to `topic` with a plain rdkafka producer and Sluice's
/// producer settings, timed until Kafka acknowledged every one.
fn plain_produce(broker: &Broker, topic: &str, values: Vec<Vec<u8>>) -> Sample {
    broker.create_topic(topic);
    let producer: ThreadedProducer<DefaultProducerContext> =
        sluice::kafka::client_config(&broker.bootstrap(), sluice::kafka::PRODUCER_DEFAULTS, [])
            .create()
            .expect("creating the plain producer");
    let start = Instant::now();
    for value in &values {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(&value[..]);
        while let Err((_, back)) = producer.send(record) {
            // The queue is full: wait for deliveries, as Sluice does.
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer
        .flush(Duration::from_secs(600))
        .expect("every record acknowledged");
    Sample {
        seconds: start.elapsed().as_secs_f64(),
        peak_rss: 0,
    }
}

/// Consumes `rows` records of `topic` with a plain rdkafka consumer in a
/// group of its own and Sluice's consumer settings, from the start: the
/// broker's ceiling for the sink. Timed from subscribing, as the sink's
/// time includes its group join.
fn plain_consume(broker: &Broker, topic: &str, rows: usize) -> Sample {
    let consumer: BaseConsumer =
        sluice::kafka::client_config(&broker.bootstrap(), sluice::kafka::CONSUMER_DEFAULTS, [])
            .set("group.id", format!("plain-{topic}"))
            .create()
            .expect("creating the plain consumer");
    let start = Instant::now();
    consumer.subscribe(&[topic]).expect("subscribing");
    let mut count = 0;
    let mut bytes = 0;
    while count < rows {
        if let Some(message) = consumer.poll(Duration::from_secs(1)) {
            bytes += message.expect("a record").payload_len();
            count += 1;
        }
    }
    assert!(bytes > 0, "the records have values");
    Sample {
        seconds: start.elapsed().as_secs_f64(),
        peak_rss: 0,
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

/// A worker with the datasource, `keys` and `SLUICE_BENCH_WORKER`'s keys.
fn worker(scratch: &Scratch, broker: &Broker, keys: &[(&'static str, &str)]) -> WorkerSetup {
    let extra = std::env::var("SLUICE_BENCH_WORKER").unwrap_or_default();
    let mut keys: Vec<(&str, String)> = keys.iter().map(|(k, v)| (*k, v.to_string())).collect();
    keys.push(("sql.datasource.pg.url", POSTGRES_URL.to_string()));
    for pair in extra.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .expect("SLUICE_BENCH_WORKER holds key=value pairs separated by commas");
        keys.push((key, value.to_string()));
    }
    WorkerSetup::new(scratch, broker, &keys)
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
    // Offsets written every 100 ms, so the end is seen within that.
    let mut setup = worker(&scratch, broker, &[("offset.flush.interval.ms", "100")]);
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
    let start = Instant::now();
    let worker = setup.spawn();
    // Done when the committed source offset covers the last row: the worker
    // commits a batch's offsets only once Kafka acknowledged all of it.
    // (Not the topic's high watermark: tansu's memory storage answers
    // ListOffsets with the base offset of the last batch.)
    let offsets = scratch.file("offsets.json");
    wait_for(
        "the source to produce every row",
        Duration::from_secs(1800),
        || (committed_incrementing(&offsets) >= rows).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = stop_with_rusage(worker);
    Sample { seconds, peak_rss }
}

/// The largest `incrementing` source offset in the worker's offset file
/// (0 before the first commit).
fn committed_incrementing(offsets: &std::path::Path) -> i64 {
    let Ok(text) = std::fs::read_to_string(offsets) else {
        return 0;
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return 0; // being rewritten
    };
    json["connectors"]
        .as_object()
        .into_iter()
        .flat_map(|connectors| connectors.values())
        .filter_map(|entries| entries.as_array())
        .flatten()
        .filter_map(|entry| entry["offset"]["incrementing"].as_i64())
        .max()
        .unwrap_or(0)
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
    let mut setup = worker(&scratch, broker, &[]);
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
    // Untimed: every row arrived exactly once, so the rate is of rows
    // written, not of the largest id reached.
    let count = format!("SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}");
    let found = admin
        .select(c, &count, vec![], 1)
        .expect("counting the rows");
    assert!(
        matches!(found[0][..], [SqlValue::Int(n), SqlValue::Int(d)] if n == rows && d == rows),
        "the sink wrote each of the {rows} rows once: {:?}",
        found[0]
    );
    Sample { seconds, peak_rss }
}
