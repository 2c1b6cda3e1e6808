//! Faults of the database under the JDBC connectors: the worker reaches
//! the machine's PostgreSQL through a proxy the test owns, which is cut
//! for 30 s while records keep coming (produced to the sink's topic,
//! inserted into the source's table), then restored. Every record must
//! arrive, the tasks must recover by themselves (no REST restart), and
//! their status must show the outage while it lasts. Each test prints one
//! line of figures:
//!
//! `FAULT <name>: sent=N received=N lost=N duplicated=N recovered_in=Xs`
//!
//! `received` counts every copy, `duplicated` the copies beyond the first,
//! `recovered_in` the time from the restore to the first record delivered
//! after it. The figures are printed before anything is asserted, so a
//! failing run still shows them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde_json::{Value, json};
use sluice::capability::sql::Access;
use sluice::capability::sql::bindings::sql::SqlValue;
use sluice_tests::proxy::{Outage, Proxy};
use sluice_tests::sql::{Conn, Db, SqlPlugin, table};
use sluice_tests::*;

const OUTAGE: Duration = Duration::from_secs(30);
/// How long records keep coming after the restore.
const AFTERWARDS: Duration = Duration::from_secs(5);
/// The longest the tests wait for a recovery or for the last records.
const LONG: Duration = Duration::from_secs(180);
/// Records come at about this rate, before, during and after the outage.
const RECORDS_PER_SECOND: u64 = 100;
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// A connection of the test's own to PostgreSQL, not through the proxy.
fn admin() -> (SqlPlugin, Conn) {
    let mut admin = SqlPlugin::new(Db::Postgres, &[("db", Access::ReadWrite)], None);
    let conn = admin.open("db").expect("opening PostgreSQL");
    (admin, conn)
}

/// A worker whose datasource `pg` is PostgreSQL through `proxy`.
fn worker(scratch: &Scratch, broker: &Broker, proxy: &Proxy) -> WorkerSetup {
    WorkerSetup::with_plugin_dir(
        scratch,
        broker,
        Path::new(PLUGIN_DIR),
        &[(
            "sql.datasource.pg.url",
            format!("postgres://root@127.0.0.1:{}/test", proxy.port),
        )],
    )
}

/// What a test saw of its connector's status while the database was
/// unreachable: each distinct (connector state, task state, task trace's
/// first line), in the order first seen.
#[derive(Default)]
struct StatusDuringOutage {
    seen: Vec<String>,
    /// Some status showed something other than a healthy, silent RUNNING.
    shown: bool,
}

impl StatusDuringOutage {
    fn observe(&mut self, worker: &WorkerProcess, connector: &str) {
        let Some((200, body)) = worker.get(&format!("/connectors/{connector}/status")) else {
            self.note("no status".into(), false);
            return;
        };
        let connector_state = body["connector"]["state"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let connector_trace = body["connector"]["trace"].as_str().unwrap_or_default();
        let task = &body["tasks"][0];
        let task_state = task["state"].as_str().unwrap_or("?").to_string();
        let task_trace = task["trace"].as_str().unwrap_or_default();
        let first_line = |t: &str| t.lines().next().unwrap_or_default().to_string();
        // Shown: a state other than RUNNING, or a trace, that says the
        // database is the trouble.
        let names_database = |t: &str| {
            let t = t.to_lowercase();
            t.contains("database") || t.contains("connect")
        };
        let shown = (connector_state != "RUNNING" || task_state != "RUNNING")
            || names_database(connector_trace)
            || names_database(task_trace);
        self.note(
            format!(
                "connector {connector_state}{} / task {task_state}{}",
                if connector_trace.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", first_line(connector_trace))
                },
                if task_trace.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", first_line(task_trace))
                },
            ),
            shown,
        );
    }

    /// The first and the last thing seen, and how many in all.
    fn summary(&self) -> String {
        match (self.seen.first(), self.seen.last()) {
            (Some(first), Some(last)) if self.seen.len() > 1 => format!(
                "{} distinct, from \"{first}\" to \"{last}\"",
                self.seen.len()
            ),
            (Some(only), _) => format!("only \"{only}\""),
            _ => "nothing".into(),
        }
    }

    fn note(&mut self, what: String, shown: bool) {
        self.shown |= shown;
        if !self.seen.contains(&what) {
            self.seen.push(what);
        }
    }

    /// Watches the status for `outage`, a few times a second.
    fn watch(worker: &WorkerProcess, connector: &str, outage: Duration) -> StatusDuringOutage {
        let mut status = StatusDuringOutage::default();
        let end = Instant::now() + outage;
        while Instant::now() < end {
            status.observe(worker, connector);
            std::thread::sleep(Duration::from_millis(300));
        }
        status
    }
}

/// The outcome of one fault, as the figures line gives it.
struct Figures {
    name: String,
    sent: usize,
    /// How many times each id arrived.
    arrived: BTreeMap<i64, usize>,
    recovered_in: Option<Duration>,
}

impl Figures {
    fn received(&self) -> usize {
        self.arrived.values().sum()
    }

    fn lost(&self) -> Vec<i64> {
        (1..=self.sent as i64)
            .filter(|id| !self.arrived.contains_key(id))
            .collect()
    }

    fn duplicated(&self) -> usize {
        self.arrived.values().map(|n| n - 1).sum()
    }

    fn print(&self) {
        let recovered = match self.recovered_in {
            Some(d) => format!("{:.1}s", d.as_secs_f64()),
            None => "never".into(),
        };
        println!(
            "FAULT {}: sent={} received={} lost={} duplicated={} recovered_in={recovered}",
            self.name,
            self.sent,
            self.received(),
            self.lost().len(),
            self.duplicated(),
        );
    }
}

/// What one outage test saw, for the assertions both kinds share.
struct Outcome<'a> {
    connector: &'a str,
    /// What the test fed in, for messages ("rows inserted").
    what: &'a str,
    sent_during: usize,
    figures: &'a Figures,
    /// When every id had arrived, if it did.
    all_there: Option<Duration>,
    final_state: Option<(String, String)>,
    status: &'a StatusDuringOutage,
}

/// Records were fed during the outage, none was lost, delivery resumed by
/// itself, the task is RUNNING without trouble at the end, and its status
/// said something while the database was away.
fn assert_recovered(outcome: &Outcome<'_>, worker: &WorkerProcess) {
    let Outcome {
        connector,
        what,
        sent_during,
        figures,
        all_there,
        status,
        ..
    } = outcome;
    let name = &figures.name;
    assert!(
        *sent_during >= 1000,
        "only {sent_during} {what} during the outage"
    );
    let lost = figures.lost();
    assert!(
        lost.is_empty(),
        "{name}: lost {} ({:?}...); all there: {all_there:?}\n{}",
        lost.len(),
        &lost[..lost.len().min(20)],
        worker.log()
    );
    assert!(
        figures.recovered_in.is_some(),
        "{name}: nothing was delivered in {LONG:?} after the restore"
    );
    let (final_state, final_trace) = outcome.final_state.clone().unwrap_or_default();
    assert_eq!(
        final_state, "RUNNING",
        "{name}: the task did not recover by itself"
    );
    assert_eq!(
        final_trace, "",
        "{name}: the status still shows trouble after the recovery"
    );
    assert!(
        status.shown,
        "{name}: for {OUTAGE:?} with PostgreSQL unreachable, GET /connectors/{connector}/status \
         showed only {:?}: nothing said it could not reach the database",
        status.seen
    );
}

/// Runs `each` about `RECORDS_PER_SECOND` times a second on a thread of
/// its own with 1, 2, 3, ... until stopped, and counts how many it ran.
struct Feeder {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicI64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    /// `each` is given the ids of one tick (ten a tick) and must have
    /// delivered them when it returns.
    fn start(mut each: impl FnMut(std::ops::RangeInclusive<i64>) + Send + 'static) -> Feeder {
        const PER_TICK: i64 = 10;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicI64::new(0));
        let (stopping, counting) = (Arc::clone(&stop), Arc::clone(&sent));
        let tick = Duration::from_secs(1) * PER_TICK as u32 / RECORDS_PER_SECOND as u32;
        let thread = std::thread::spawn(move || {
            let mut next = 1;
            let mut due = Instant::now();
            while !stopping.load(Ordering::SeqCst) {
                each(next..=next + PER_TICK - 1);
                next += PER_TICK;
                counting.store(next - 1, Ordering::SeqCst);
                due += tick;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        });
        Feeder {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst) as usize
    }

    /// Stops and returns how many ids were delivered.
    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the feeder panicked");
        self.sent()
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A JsonConverter record with schemas: a row with `id` and `note`.
fn row_record(id: i64) -> String {
    json!({
        "schema": {
            "type": "struct",
            "name": "row",
            "optional": false,
            "fields": [
                {"field": "id", "type": "int64", "optional": false},
                {"field": "note", "type": "string", "optional": false},
            ],
        },
        "payload": {"id": id, "note": format!("row {id}")},
    })
    .to_string()
}

/// `SELECT COUNT(*)` of `table` through the test's own connection.
fn count(admin: &mut SqlPlugin, c: Conn, table: &str) -> i64 {
    admin.count(c, table)
}

/// Every id in `table`, with how many rows hold it.
fn table_ids(admin: &mut SqlPlugin, c: Conn, table: &str) -> BTreeMap<i64, usize> {
    let rows = admin
        .select(
            c,
            &format!("SELECT id, COUNT(*) FROM {table} GROUP BY id"),
            vec![],
            10_000,
        )
        .expect("reading the ids");
    rows.iter()
        .map(|row| match (&row[0], &row[1]) {
            (SqlValue::Int(id), SqlValue::Int(n)) => (*id, *n as usize),
            other => panic!("an id and a count of {other:?}"),
        })
        .collect()
}

/// Waits up to `timeout` for `check` to hold and returns how long it took.
fn time_until(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if check() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Kafka topic -> jdbc-sink -> table, PostgreSQL cut for `OUTAGE` while
/// records keep being produced.
fn sink_outage(name: &str, outage: Outage) {
    let (mut admin, c) = admin();
    let destination = table("fault_sink");
    admin
        .execute(
            c,
            // No key: a record written twice shows as two rows.
            &format!("CREATE TABLE {destination} (id BIGINT NOT NULL, note TEXT NOT NULL)"),
            vec![],
        )
        .expect("creating the table");
    let topic = format!("rows_{destination}");
    let broker = Broker::start();
    broker.create_topic(&topic);
    let proxy = Proxy::postgres();
    let scratch = Scratch::new("fault-sink");
    let mut setup = worker(&scratch, &broker, &proxy);
    setup.connector(
        &scratch,
        "rows-sink",
        &[
            ("connector.class", "jdbc-sink"),
            ("datasource", "pg"),
            ("grant.sql", "pg:rw"),
            ("topics", &topic),
            ("table.name.format", &destination),
            ("insert.mode", "insert"),
            ("pk.mode", "none"),
            ("value.converter", JSON),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("linger.ms", "5")
        .create()
        .expect("creating a producer");
    let feeder = {
        let topic = topic.clone();
        Feeder::start(move |ids| {
            for id in ids {
                let payload = row_record(id);
                let mut record = BaseRecord::<(), str>::to(&topic)
                    .payload(&payload)
                    .partition(0);
                while let Err((_, back)) = producer.send(record) {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
            producer
                .flush(Duration::from_secs(30))
                .expect("the broker acknowledged the records");
        })
    };

    // Records flow before the fault.
    wait_for("the sink to write rows before the outage", LONG, || {
        (count(&mut admin, c, &destination) >= 300).then_some(())
    });
    let sent_at_cut = feeder.sent();
    proxy.cut(outage);
    let cut_at = Instant::now();
    let status = StatusDuringOutage::watch(&worker, "rows-sink", OUTAGE);
    let written_during = count(&mut admin, c, &destination);
    let sent_during = feeder.sent() - sent_at_cut;
    proxy.restore();
    let at_restore = count(&mut admin, c, &destination);
    let recovered_in = time_until(LONG, || count(&mut admin, c, &destination) > at_restore);
    let outage_took = cut_at.elapsed();
    std::thread::sleep(AFTERWARDS.saturating_sub(recovered_in.unwrap_or_default()));
    let sent = feeder.finish();
    let all_there = time_until(LONG, || {
        let ids = table_ids(&mut admin, c, &destination);
        (1..=sent as i64).all(|id| ids.contains_key(&id))
    });
    let figures = Figures {
        name: name.to_string(),
        sent,
        arrived: table_ids(&mut admin, c, &destination),
        recovered_in,
    };
    figures.print();
    println!(
        "  {name}: {sent_during} records produced during the {OUTAGE:?} outage ({} rows written \
         at the cut, {at_restore} at the restore, {:?} from cut to recovery); status during the \
         outage: {}; proxy connections (accepted, refused or swallowed): {:?}",
        written_during,
        outage_took,
        status.summary(),
        proxy.counts()
    );
    let final_state = worker.task_state("rows-sink", 0);
    println!("  {name}: task state at the end: {final_state:?}");

    assert_recovered(
        &Outcome {
            connector: "rows-sink",
            what: "records produced",
            sent_during,
            figures: &figures,
            all_there,
            final_state,
            status: &status,
        },
        &worker,
    );
    worker.stop();
    admin
        .execute(c, &format!("DROP TABLE {destination}"), vec![])
        .expect("dropping the table");
}

/// Every record of `topic` partition 0 as it arrives, with when it did.
struct TopicWatcher {
    stop: Arc<AtomicBool>,
    arrivals: Arc<Mutex<Vec<(Instant, i64)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TopicWatcher {
    fn start(broker: &Broker, topic: &str) -> TopicWatcher {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", broker.bootstrap())
            .set("group.id", format!("fault-watcher-{}", free_port()))
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a consumer");
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(topic, 0, Offset::Beginning)
            .expect("a partition");
        consumer.assign(&partitions).expect("assigning");
        let stop = Arc::new(AtomicBool::new(false));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (stopping, arrived) = (Arc::clone(&stop), Arc::clone(&arrivals));
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
                    let record: Value =
                        serde_json::from_slice(message.payload().unwrap_or_default())
                            .expect("a JSON record");
                    let id = record["payload"]["id"].as_i64().expect("an id");
                    arrived.lock().unwrap().push((Instant::now(), id));
                }
            }
        });
        TopicWatcher {
            stop,
            arrivals,
            thread: Some(thread),
        }
    }

    fn count(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }

    /// The first arrival after `instant`.
    fn first_after(&self, instant: Instant) -> Option<Instant> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .map(|(at, _)| *at)
            .find(|at| *at > instant)
    }

    fn ids(&self) -> BTreeMap<i64, usize> {
        let mut ids = BTreeMap::new();
        for (_, id) in self.arrivals.lock().unwrap().iter() {
            *ids.entry(*id).or_insert(0) += 1;
        }
        ids
    }
}

impl Drop for TopicWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Table -> jdbc-source (incrementing) -> topic, PostgreSQL cut for
/// `OUTAGE` while rows keep being inserted.
fn source_outage(name: &str, outage: Outage) {
    let (mut admin, c) = admin();
    let source = table("fault_source");
    admin
        .execute(
            c,
            &format!("CREATE TABLE {source} (id BIGINT PRIMARY KEY, note TEXT NOT NULL)"),
            vec![],
        )
        .expect("creating the table");
    let topic = format!("copy_{source}");
    let broker = Broker::start();
    broker.create_topic(&topic);
    let proxy = Proxy::postgres();
    let scratch = Scratch::new("fault-source");
    let mut setup = worker(&scratch, &broker, &proxy);
    setup.connector(
        &scratch,
        "rows-source",
        &[
            ("connector.class", "jdbc-source"),
            ("datasource", "pg"),
            ("grant.sql", "pg:ro"),
            ("mode", "incrementing"),
            ("incrementing.column.name", "id"),
            ("table.whitelist", &source),
            ("topic.prefix", "copy_"),
            ("poll.interval.ms", "200"),
            ("value.converter", JSON),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let watcher = TopicWatcher::start(&broker, &topic);

    // One inserter, committing in id order, straight to PostgreSQL: the
    // outage is the worker's alone.
    let feeder = {
        let source = source.clone();
        let mut inserter = SqlPlugin::new(Db::Postgres, &[("db", Access::ReadWrite)], None);
        let ic = inserter.open("db").expect("opening PostgreSQL");
        let statement = format!("INSERT INTO {source} (id, note) VALUES ($1, $2)");
        Feeder::start(move |ids| {
            let rows = ids
                .map(|id| vec![SqlValue::Int(id), SqlValue::Text(format!("row {id}"))])
                .collect();
            inserter
                .execute_batch(ic, &statement, rows)
                .expect("inserting rows");
        })
    };

    wait_for("the source to deliver rows before the outage", LONG, || {
        (watcher.count() >= 300).then_some(())
    });
    let sent_at_cut = feeder.sent();
    let delivered_at_cut = watcher.count();
    proxy.cut(outage);
    let status = StatusDuringOutage::watch(&worker, "rows-source", OUTAGE);
    let sent_during = feeder.sent() - sent_at_cut;
    let delivered_during = watcher.count() - delivered_at_cut;
    proxy.restore();
    let restored_at = Instant::now();
    let recovered_in = time_until(LONG, || watcher.first_after(restored_at).is_some())
        .and_then(|_| watcher.first_after(restored_at))
        .map(|at| at - restored_at);
    std::thread::sleep(AFTERWARDS.saturating_sub(recovered_in.unwrap_or_default()));
    let sent = feeder.finish();
    let all_there = time_until(LONG, || {
        let ids = watcher.ids();
        (1..=sent as i64).all(|id| ids.contains_key(&id))
    });
    let figures = Figures {
        name: name.to_string(),
        sent,
        arrived: watcher.ids(),
        recovered_in,
    };
    figures.print();
    println!(
        "  {name}: {sent_during} rows inserted during the {OUTAGE:?} outage, {delivered_during} \
         records delivered meanwhile (read before the cut); status during the outage: {}; \
         proxy connections (accepted, refused or swallowed): {:?}",
        status.summary(),
        proxy.counts()
    );
    let final_state = worker.task_state("rows-source", 0);
    println!("  {name}: task state at the end: {final_state:?}");

    assert_recovered(
        &Outcome {
            connector: "rows-source",
            what: "rows inserted",
            sent_during,
            figures: &figures,
            all_there,
            final_state,
            status: &status,
        },
        &worker,
    );
    drop(watcher);
    worker.stop();
    admin
        .execute(c, &format!("DROP TABLE {source}"), vec![])
        .expect("dropping the table");
}

#[test]
fn postgres_down_30s_under_the_jdbc_sink_loses_nothing_and_recovers() {
    sink_outage("postgres-down-jdbc-sink", Outage::Refuse);
}

#[test]
fn postgres_partitioned_30s_under_the_jdbc_sink_loses_nothing_and_recovers() {
    sink_outage("postgres-partitioned-jdbc-sink", Outage::Blackhole);
}

#[test]
fn postgres_down_30s_under_the_jdbc_source_loses_nothing_and_recovers() {
    source_outage("postgres-down-jdbc-source", Outage::Refuse);
}

#[test]
fn postgres_partitioned_30s_under_the_jdbc_source_loses_nothing_and_recovers() {
    source_outage("postgres-partitioned-jdbc-source", Outage::Blackhole);
}
