//! Benchmark: 1,000,000 lines of 100 bytes file -> Kafka and Kafka -> file
//! through Sluice (file-source, file-sink), beside a plain rdkafka producer
//! and consumer moving the same lines through the same broker in the same
//! run: the ceiling without WebAssembly or a framework.
//!
//! `cargo bench -p sluice-tests --bench file_pipeline` prints a markdown
//! table with medians over `SLUICE_BENCH_RUNS` runs (default 3). Each side
//! runs as its own process, so its peak RSS (VmHWM) is its own.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use sluice_tests::bench::{alternate, peak_rss, stop_with_rusage};
use sluice_tests::*;

const LINES: usize = 1_000_000;
const LINE_BYTES: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("baseline-produce") => baseline_produce(&args[2], &args[3], &args[4]),
        Some("baseline-consume") => baseline_consume(&args[2], &args[3], &args[4]),
        _ => return bench(),
    }
    // Tell the parent this process's peak RSS.
    println!("{}", peak_rss(std::process::id()));
}

/// One measurement: seconds and peak RSS in bytes.
#[derive(Clone, Copy)]
struct Sample {
    seconds: f64,
    peak_rss: u64,
}

fn bench() {
    let runs: usize = std::env::var("SLUICE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let scratch = Scratch::new("bench");
    let input = scratch.dir("inbox").join("input.txt");
    {
        let mut out = BufWriter::new(File::create(&input).unwrap());
        for line in numbered_lines(0, LINES, LINE_BYTES) {
            out.write_all(line.as_bytes()).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    let mut results: [Vec<Sample>; 4] = Default::default();
    for run in 0..runs {
        // A fresh broker per run (tansu with SQLite storage, as in the
        // tests), so no run reads a store that earlier runs filled, and the
        // order of the two sides alternates between runs, so neither always
        // goes first.
        let broker = Broker::start();
        let base_topic = format!("baseline-{run}");
        let sluice_topic = format!("sluice-{run}");
        broker.create_topic(&base_topic);
        let plain_producer = || {
            baseline(&broker, "baseline-produce", &input, &base_topic, |_| {
                broker.high_watermark(&base_topic) >= LINES as i64
            })
        };
        let sluice_producer = || sluice_source(&broker, &scratch, run, &sluice_topic);
        let (plain, sluice) = alternate(run, plain_producer, sluice_producer);
        results[0].push(plain);
        results[1].push(sluice);
        // Both consumers read the topic the plain producer wrote.
        let base_out = scratch.dir("outbox").join(format!("baseline-{run}.txt"));
        let plain_consumer = || {
            baseline(&broker, "baseline-consume", &base_out, &base_topic, |_| {
                true
            })
        };
        let sluice_consumer = || sluice_sink(&broker, run, &base_topic);
        let (plain, sluice) = alternate(run, plain_consumer, sluice_consumer);
        results[2].push(plain);
        results[3].push(sluice);
        for (name, samples) in [
            "rdkafka producer",
            "sluice file-source",
            "rdkafka consumer",
            "sluice file-sink",
        ]
        .iter()
        .zip(&results)
        {
            let s = samples.last().unwrap();
            eprintln!(
                "run {run}: {name}: {:.2} s, peak RSS {} MiB",
                s.seconds,
                s.peak_rss >> 20
            );
        }
    }
    print_table(&results, runs);
}

fn print_table(results: &[Vec<Sample>; 4], runs: usize) {
    let median = |samples: &[Sample], f: fn(&Sample) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let mb = (LINES * LINE_BYTES) as f64 / 1e6;
    println!("\n{LINES} lines of {LINE_BYTES} bytes, median of {runs} runs:\n");
    println!("| path | records/s | MB/s | peak RSS (MiB) | vs. plain rdkafka |");
    println!("|---|---:|---:|---:|---:|");
    for (i, name) in [
        "plain rdkafka producer (file -> Kafka)",
        "Sluice file-source (file -> Kafka)",
        "plain rdkafka consumer (Kafka -> file)",
        "Sluice file-sink (Kafka -> file)",
    ]
    .iter()
    .enumerate()
    {
        let secs = median(&results[i], |s| s.seconds);
        let rss = median(&results[i], |s| s.peak_rss as f64) / (1u64 << 20) as f64;
        let baseline = median(&results[i & !1], |s| s.seconds);
        println!(
            "| {name} | {:.0} | {:.1} | {rss:.0} | {:.2} |",
            LINES as f64 / secs,
            mb / secs,
            baseline / secs
        );
    }
}

/// Runs a baseline in a child process of this binary; the child reports its
/// own peak RSS (a parent's `wait4` would report the parent's, which Linux
/// carries into a child across fork and exec).
fn baseline(
    broker: &Broker,
    mode: &str,
    file: &Path,
    topic: &str,
    done: impl Fn(()) -> bool,
) -> Sample {
    let start = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([mode, &broker.bootstrap(), file.to_str().unwrap(), topic])
        .output()
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(output.status.success(), "{mode} failed");
    assert!(done(()), "{mode} did not finish its work");
    let peak_rss = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the baseline reports its peak RSS");
    Sample { seconds, peak_rss }
}

/// Worker keys for the Sluice sides: `SLUICE_BENCH_OFFSET_FLUSH_MS` sets
/// `offset.flush.interval.ms` (default: the worker's default).
fn worker_keys() -> Vec<(&'static str, String)> {
    std::env::var("SLUICE_BENCH_OFFSET_FLUSH_MS")
        .map(|ms| vec![("offset.flush.interval.ms", ms)])
        .unwrap_or_default()
}

fn sluice_source(broker: &Broker, scratch: &Scratch, run: usize, topic: &str) -> Sample {
    let sub = Scratch::new(&format!("bench-src-{run}"));
    let mut setup = WorkerSetup::new(&sub, broker, &worker_keys());
    fs::rename(
        scratch.dir("inbox").join("input.txt"),
        sub.dir("inbox").join("input.txt"),
    )
    .unwrap();
    setup.connector(
        &sub,
        "bench-source",
        &[
            ("connector.class", "file-source"),
            ("file", "/inbox/input.txt"),
            ("topic", topic),
            ("grant.files", "inbox:ro"),
        ],
    );
    let start = Instant::now();
    let worker = setup.spawn();
    wait_for(
        "the source to produce every line",
        Duration::from_secs(600),
        || (broker.high_watermark(topic) >= LINES as i64).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = stop_with_rusage(worker);
    fs::rename(
        sub.dir("inbox").join("input.txt"),
        scratch.dir("inbox").join("input.txt"),
    )
    .unwrap();
    Sample { seconds, peak_rss }
}

fn sluice_sink(broker: &Broker, run: usize, topic: &str) -> Sample {
    let sub = Scratch::new(&format!("bench-sink-{run}"));
    let mut setup = WorkerSetup::new(&sub, broker, &worker_keys());
    setup.connector(
        &sub,
        &format!("bench-sink-{run}"),
        &[
            ("connector.class", "file-sink"),
            ("file", "/outbox/output.txt"),
            ("topics", topic),
            ("grant.files", "outbox:rw"),
        ],
    );
    let output = sub.dir("outbox").join("output.txt");
    let expected = (LINES * (LINE_BYTES + 1)) as u64;
    let start = Instant::now();
    let worker = setup.spawn();
    wait_for(
        "the sink to write every line",
        Duration::from_secs(600),
        || (fs::metadata(&output).map(|m| m.len()).unwrap_or(0) >= expected).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    let peak_rss = stop_with_rusage(worker);
    Sample { seconds, peak_rss }
}

/// The ceiling for file -> Kafka: read lines, produce them with the same
/// producer settings Sluice uses, wait for every acknowledgement.
fn baseline_produce(bootstrap: &str, file: &str, topic: &str) {
    let producer: ThreadedProducer<DefaultProducerContext> =
        sluice::kafka::client_config(bootstrap, sluice::kafka::PRODUCER_DEFAULTS, [])
            .create()
            .unwrap();
    let reader = BufReader::with_capacity(256 * 1024, File::open(file).unwrap());
    for line in reader.split(b'\n') {
        let line = line.unwrap();
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(&line[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
}

/// The ceiling for Kafka -> file: consume with the same consumer settings
/// Sluice uses, write each value as a line, commit once at the end.
fn baseline_consume(bootstrap: &str, file: &str, topic: &str) {
    let consumer: BaseConsumer = sluice::kafka::client_config(
        bootstrap,
        &[
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", "earliest"),
            ("group.id", &format!("baseline-consumer-{topic}")),
        ],
        [],
    )
    .create()
    .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let mut out = BufWriter::with_capacity(1 << 20, File::create(file).unwrap());
    let mut count = 0;
    while count < LINES {
        if let Some(message) = consumer.poll(Duration::from_secs(1)) {
            let message = message.unwrap();
            out.write_all(message.payload().unwrap_or_default())
                .unwrap();
            out.write_all(b"\n").unwrap();
            count += 1;
        }
    }
    out.flush().unwrap();
    consumer
        .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
        .unwrap();
}
