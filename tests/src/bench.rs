//! What the benchmarks share: medians, the number of end-to-end runs, the
//! input they feed, an in-process pipeline, and a file -> Kafka run through
//! a real worker.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice::config::pipeline::PipelineSpec;
use sluice::plugin::bare_state;
use sluice::runtime::bindings::shared;
use sluice::runtime::bindings::types::{BatchSchema, ConnectRecord, Data, SourceRecord};
use sluice::worker::pipeline::Pipeline;

use crate::components::{Components, record, text};
use crate::{Broker, Scratch, WorkerProcess, WorkerSetup, free_port, numbered_lines, wait_for};

/// The benchmarks' chain of three transforms, as a connector configures
/// them: HoistField -> InsertField -> ReplaceField.
pub const CHAIN: &[(&str, &str)] = &[
    ("transforms", "hoist,insert,rename"),
    ("transforms.hoist.type", "HoistField$Value"),
    ("transforms.hoist.field", "line"),
    ("transforms.insert.type", "InsertField$Value"),
    ("transforms.insert.static.field", "origin"),
    ("transforms.insert.static.value", "bench"),
    ("transforms.rename.type", "ReplaceField$Value"),
    ("transforms.rename.renames", "line:text"),
];

/// JsonConverter without schemas, for the value.
pub const JSON_VALUE: &[(&str, &str)] = &[
    (
        "value.converter",
        "org.apache.kafka.connect.json.JsonConverter",
    ),
    ("value.converter.schemas.enable", "false"),
];

/// The median of `samples` (which it sorts).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// End-to-end runs per figure: `SLUICE_BENCH_RUNS`, default 3.
pub fn end_to_end_runs() -> usize {
    std::env::var("SLUICE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// `count` source records whose values are strings of `bytes` bytes.
pub fn source_records(count: usize, bytes: usize) -> Vec<ConnectRecord> {
    numbered_lines(0, count, bytes)
        .iter()
        .map(|line| record("bench", None, Some(text(line))))
        .collect()
}

/// `records` as a source connector returns them: equal schemas listed
/// once for the batch, no source positions.
pub fn source_batch(records: &[ConnectRecord]) -> (Vec<BatchSchema>, Vec<SourceRecord>) {
    let mut schemas = Vec::new();
    let mut share = |data: &Option<Data>| {
        data.clone()
            .map(|d| shared::share(d, &mut schemas).expect("well-formed data"))
    };
    let records = records
        .iter()
        .map(|r| SourceRecord {
            topic: r.topic.clone(),
            partition: r.partition,
            key: share(&r.key),
            value: share(&r.value),
            headers: r.headers.clone(),
            timestamp: r.timestamp,
            position: None,
        })
        .collect();
    (schemas, records)
}

/// A pipeline of the plugins `keys` configure, from `components`.
pub fn pipeline(components: &Components, keys: &[(&str, &str)]) -> Pipeline {
    let raw: BTreeMap<String, String> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut errors = Vec::new();
    let spec = PipelineSpec::check(&raw, &BTreeMap::new(), &components.registry, &mut errors);
    assert!(errors.is_empty(), "the bench's configuration: {errors:?}");
    Pipeline::new(&components.runtime, &spec, || bare_state("bench"))
        .expect("creating the pipeline")
}

/// Writes `count` numbered lines of `bytes` bytes to `path`.
pub fn write_lines(path: &Path, count: usize, bytes: usize) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    for line in numbered_lines(0, count, bytes) {
        out.write_all(line.as_bytes()).unwrap();
        out.write_all(b"\n").unwrap();
    }
}

/// One worker moving `lines` lines of `bytes` bytes from a file into the
/// fresh topic `name` with file-source and `connector_keys` (worker keys
/// `worker_keys`): records/s from the worker's start to the last record in
/// Kafka, and the value of that record.
pub fn file_to_kafka(
    broker: &Broker,
    name: &str,
    (lines, bytes): (usize, usize),
    connector_keys: &[(&str, &str)],
    worker_keys: &[(&str, String)],
) -> (f64, String) {
    let scratch = Scratch::new(name);
    let input = scratch.dir("inbox").join("input.txt");
    write_lines(&input, lines, bytes);
    broker.create_topic(name);
    let mut setup = WorkerSetup::new(&scratch, broker, worker_keys);
    let mut keys: Vec<(&str, &str)> = vec![
        ("connector.class", "file-source"),
        ("file", "/inbox/input.txt"),
        ("topic", name),
        ("grant.files", "inbox:ro"),
    ];
    keys.extend_from_slice(connector_keys);
    setup.connector(&scratch, name, &keys);
    let start = Instant::now();
    let worker = setup.spawn();
    wait_for(
        "the source to produce every line",
        Duration::from_secs(600),
        || (broker.high_watermark(name) >= lines as i64).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    assert!(worker.stop().success(), "the worker did not stop cleanly");
    fs::remove_file(&input).ok();
    (
        lines as f64 / seconds,
        value_at(broker, name, lines as i64 - 1),
    )
}

/// The value of the record at `offset` of `topic` partition 0.
pub fn value_at(broker: &Broker, topic: &str, offset: i64) -> String {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", format!("bench-reader-{}", free_port()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .expect("partition");
    consumer.assign(&tpl).expect("assigning");
    let message = wait_for("the record", Duration::from_secs(60), || {
        consumer
            .poll(Duration::from_millis(500))
            .and_then(Result::ok)
    });
    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned()
}

/// The worker's peak RSS so far, then a clean stop.
pub fn stop_with_rusage(worker: WorkerProcess) -> u64 {
    let rss = peak_rss(worker.pid());
    assert!(worker.stop().success(), "the worker did not stop cleanly");
    rss
}

/// VmHWM of a running process, in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc status");
    kib * 1024
}

/// Runs `plain` then `sluice` on even runs, the other way round on odd
/// ones, so that neither side always goes first on a warm or cold machine.
pub fn alternate<T>(run: usize, plain: impl FnOnce() -> T, sluice: impl FnOnce() -> T) -> (T, T) {
    if run.is_multiple_of(2) {
        let p = plain();
        (p, sluice())
    } else {
        let s = sluice();
        (plain(), s)
    }
}
