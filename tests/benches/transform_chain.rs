//! Benchmark: what converters and transforms cost (issue 4).
//!
//! 1. The per-record cost of one plugin call (a transform, and the
//!    JsonConverter writing) on batches of 1, 100 and 1,000 records, in
//!    process: the WebAssembly boundary is crossed once per batch, so its
//!    fixed cost spreads over the batch.
//! 2. A source pipeline's chain in process, on batches of 1,000: the
//!    JsonConverter alone against HoistField -> InsertField -> ReplaceField
//!    -> JsonConverter. The difference is what the three transforms cost.
//! 3. End to end: file -> file-source -> (3 transforms) -> JsonConverter ->
//!    Kafka, against the same pipeline with no transforms, in the same run
//!    on the same broker, the order alternating between runs.
//!
//! `cargo bench -p sluice-tests --bench transform_chain` prints markdown
//! tables of medians; `SLUICE_BENCH_RUNS` (default 3) sets the end-to-end
//! runs (0 skips them).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use sluice::config::pipeline::PipelineSpec;
use sluice::plugin::{TransformInstance, bare_state};
use sluice::runtime::bindings::types::{ConnectRecord, Data};
use sluice::worker::pipeline::Pipeline;
use sluice_tests::components::{components, record, text};
use sluice_tests::*;

/// Bytes of each record's value.
const VALUE_BYTES: usize = 100;
/// Records per measurement in process: enough that a timer's resolution
/// and one-off costs do not show.
const RECORDS_PER_SAMPLE: usize = 200_000;
/// Samples per in-process figure; the median is reported.
const SAMPLES: usize = 7;
/// Lines moved end to end per run.
const LINES: usize = 300_000;

/// The three transforms of the chain, as a connector configures them.
const CHAIN: &[(&str, &str)] = &[
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
const JSON_VALUE: &[(&str, &str)] = &[
    (
        "value.converter",
        "org.apache.kafka.connect.json.JsonConverter",
    ),
    ("value.converter.schemas.enable", "false"),
];

fn main() {
    let calls = one_plugin_call();
    let chain = chain_in_process();
    let end_to_end = end_to_end();
    println!("{calls}\n{chain}\n{end_to_end}");
}

/// `count` source records whose values are 100-byte strings.
fn records(count: usize) -> Vec<ConnectRecord> {
    numbered_lines(0, count, VALUE_BYTES)
        .iter()
        .map(|line| record("bench", None, Some(text(line))))
        .collect()
}

/// The median over `SAMPLES` of the nanoseconds per record that `calls`
/// calls of `call`, each on a batch of `batch` records, took. `call`
/// returns whether every record of its batch came through.
fn ns_per_record(calls: usize, batch: usize, mut call: impl FnMut() -> bool) -> f64 {
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                assert!(call(), "a record of the batch failed");
            }
            start.elapsed().as_secs_f64() * 1e9 / (calls * batch) as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

/// Part 1: one call's cost per record at each batch size.
fn one_plugin_call() -> String {
    let c = components();
    let mut out = String::from(
        "| plugin call | batch of 1 (ns/record) | batch of 100 | batch of 1,000 | 1,000 vs 1 |\n\
         |---|---:|---:|---:|---:|\n",
    );
    let mut transform: TransformInstance = c.transform("HoistField$Value", &[("field", "line")]);
    // Leaves the value alone: what crossing the boundary costs a record.
    let mut untouched: TransformInstance = c.transform("DropHeaders", &[("headers", "absent")]);
    let mut converter = c.converter(JSON_VALUE[0].1, &[("schemas.enable", "false")], false);
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("HoistField$Value apply", Vec::new()),
        ("DropHeaders apply (value untouched)", Vec::new()),
        ("JsonConverter from-data", Vec::new()),
    ];
    for batch in [1usize, 100, 1000] {
        let input = records(batch);
        let values: Vec<Option<Data>> = input.iter().map(|r| r.value.clone()).collect();
        let calls = (RECORDS_PER_SAMPLE / batch).max(1);
        let all_through = |results: Vec<Result<Option<_>, String>>| {
            results.iter().all(|r| matches!(r, Ok(Some(_))))
        };
        rows[0].1.push(ns_per_record(calls, batch, || {
            all_through(transform.apply(&input).expect("no trap"))
        }));
        rows[1].1.push(ns_per_record(calls, batch, || {
            all_through(untouched.apply(&input).expect("no trap"))
        }));
        rows[2].1.push(ns_per_record(calls, batch, || {
            let results = converter.from_data("bench", &values).expect("no trap");
            results.iter().all(|r| matches!(r, Ok(Some(_))))
        }));
        eprintln!("batch {batch}: {rows:?}");
    }
    for (name, ns) in rows {
        out.push_str(&format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.3} |\n",
            ns[0],
            ns[1],
            ns[2],
            ns[2] / ns[0]
        ));
    }
    out
}

/// A pipeline of the plugins `keys` configure.
fn pipeline(keys: &[(&str, &str)]) -> Pipeline {
    let c = components();
    let raw: BTreeMap<String, String> = keys
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut errors = Vec::new();
    let spec = PipelineSpec::check(&raw, &BTreeMap::new(), &c.registry, &mut errors);
    assert!(errors.is_empty(), "the bench's configuration: {errors:?}");
    Pipeline::new(&c.runtime, &spec, || bare_state("bench")).expect("creating the pipeline")
}

/// Part 2: the chain in process on batches of 1,000.
fn chain_in_process() -> String {
    const BATCH: usize = 1000;
    let batches = RECORDS_PER_SAMPLE / BATCH;
    let input = records(BATCH);
    let mut converter_only = pipeline(JSON_VALUE);
    let chain_keys: Vec<(&str, &str)> = JSON_VALUE.iter().chain(CHAIN).copied().collect();
    let mut with_chain = pipeline(&chain_keys);

    // The chain really runs: a line comes out as the JSON object it makes.
    let first = with_chain.source_records(input[..1].to_vec()).unwrap();
    let Ok(Some(serialized)) = &first[0] else {
        panic!("the chain failed: {first:?}")
    };
    let expected = format!(
        "{{\"text\":\"{}\",\"origin\":\"bench\"}}",
        numbered_lines(0, 1, VALUE_BYTES)[0]
    );
    assert_eq!(
        String::from_utf8_lossy(serialized.value.as_deref().unwrap()),
        expected
    );

    let measure = |pipeline: &mut Pipeline| {
        // Copies made before the clock starts: the pipeline consumes them.
        let copies: Vec<Vec<ConnectRecord>> = (0..batches).map(|_| input.clone()).collect();
        let start = Instant::now();
        for batch in copies {
            let outcomes = pipeline.source_records(batch).expect("no trap");
            assert!(outcomes.iter().all(|o| matches!(o, Ok(Some(_)))));
        }
        start.elapsed().as_secs_f64()
    };
    // Alternating, so that neither always runs on a warmer machine.
    let mut alone = Vec::new();
    let mut chained = Vec::new();
    for _ in 0..SAMPLES {
        alone.push(measure(&mut converter_only) * 1e9 / (batches * BATCH) as f64);
        chained.push(measure(&mut with_chain) * 1e9 / (batches * BATCH) as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (alone, chained) = (median(&mut alone), median(&mut chained));
    format!(
        "| source pipeline, batches of 1,000 | ns/record | vs. converter alone |\n\
         |---|---:|---:|\n\
         | JsonConverter alone | {alone:.0} | 1.00 |\n\
         | HoistField -> InsertField -> ReplaceField -> JsonConverter | {chained:.0} | {:.2} |\n\
         | the three transforms (difference) | {:.0} | |\n",
        chained / alone,
        chained - alone
    )
}

/// Part 3: file -> Kafka with and without the chain, in records/s.
fn end_to_end() -> String {
    let runs: usize = std::env::var("SLUICE_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    if runs == 0 {
        return "(end to end skipped: SLUICE_BENCH_RUNS=0)\n".into();
    }
    let mut without = Vec::new();
    let mut with = Vec::new();
    for run in 0..runs {
        let broker = Broker::start();
        let plain = || source_run(&broker, run, false);
        let chained = || source_run(&broker, run, true);
        let (a, b) = if run.is_multiple_of(2) {
            let a = plain();
            (a, chained())
        } else {
            let b = chained();
            (plain(), b)
        };
        eprintln!("run {run}: without transforms {a:.0} records/s, with {b:.0}");
        without.push(a);
        with.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (without, with) = (median(&mut without), median(&mut with));
    format!(
        "| file -> Kafka, {LINES} lines of {VALUE_BYTES} bytes, median of {runs} | records/s | vs. no transforms |\n\
         |---|---:|---:|\n\
         | file-source -> JsonConverter -> Kafka | {without:.0} | 1.00 |\n\
         | file-source -> 3 transforms -> JsonConverter -> Kafka | {with:.0} | {:.2} |\n",
        with / without
    )
}

/// One worker moving the lines into a fresh topic: records/s from start
/// to the last acknowledged record.
fn source_run(broker: &Broker, run: usize, chain: bool) -> f64 {
    let name = format!("chain-{run}-{chain}");
    let scratch = Scratch::new(&name);
    let input = scratch.dir("inbox").join("input.txt");
    {
        let mut out = BufWriter::new(File::create(&input).unwrap());
        for line in numbered_lines(0, LINES, VALUE_BYTES) {
            out.write_all(line.as_bytes()).unwrap();
            out.write_all(b"\n").unwrap();
        }
    }
    let topic = name.clone();
    broker.create_topic(&topic);
    let mut setup = WorkerSetup::new(&scratch, broker, &[]);
    let mut keys: Vec<(&str, &str)> = vec![
        ("connector.class", "file-source"),
        ("file", "/inbox/input.txt"),
        ("topic", topic.as_str()),
        ("grant.files", "inbox:ro"),
    ];
    keys.extend(JSON_VALUE);
    if chain {
        keys.extend(CHAIN);
    }
    setup.connector(&scratch, &name, &keys);
    let start = Instant::now();
    let worker = setup.spawn();
    wait_for(
        "the source to produce every line",
        Duration::from_secs(600),
        || (broker.high_watermark(&topic) >= LINES as i64).then_some(()),
    );
    let seconds = start.elapsed().as_secs_f64();
    assert!(worker.stop().success(), "the worker did not stop cleanly");
    // The last record is what the pipeline made of the last line.
    let sample = last_value(broker, &topic);
    assert_eq!(
        sample.starts_with("{\"text\":"),
        chain,
        "the topic holds what the pipeline made: {sample}"
    );
    fs::remove_file(&input).ok();
    LINES as f64 / seconds
}

/// The value of the last record of `topic` partition 0.
fn last_value(broker: &Broker, topic: &str) -> String {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", format!("bench-reader-{}", free_port()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(LINES as i64 - 1))
        .expect("partition");
    consumer.assign(&tpl).expect("assigning");
    let message = wait_for("the last record", Duration::from_secs(60), || {
        consumer
            .poll(Duration::from_millis(500))
            .and_then(Result::ok)
    });
    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned()
}
