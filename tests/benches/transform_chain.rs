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

use std::time::Instant;

use sluice::plugin::TransformInstance;
use sluice::runtime::bindings::types::{BatchData, ConnectRecord};
use sluice::worker::pipeline::Pipeline;
use sluice_tests::bench::{
    CHAIN, JSON_VALUE, end_to_end_runs, file_to_kafka, median, pipeline, source_batch,
    source_records,
};
use sluice_tests::components::components;
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

fn main() {
    let calls = one_plugin_call();
    let chain = chain_in_process();
    let end_to_end = end_to_end();
    println!("{calls}\n{chain}\n{end_to_end}");
}

/// `count` source records whose values are 100-byte strings.
fn records(count: usize) -> Vec<ConnectRecord> {
    source_records(count, VALUE_BYTES)
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
    median(&mut samples)
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
        // The values as a source hands them over: their schema listed once.
        let (schemas, batch_records) = source_batch(&input);
        let values: Vec<Option<BatchData>> = batch_records.into_iter().map(|r| r.value).collect();
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
            let results = converter
                .from_batch("bench", &schemas, &values)
                .expect("no trap");
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

/// Part 2: the chain in process on batches of 1,000.
fn chain_in_process() -> String {
    const BATCH: usize = 1000;
    let batches = RECORDS_PER_SAMPLE / BATCH;
    let input = records(BATCH);
    let mut converter_only = pipeline(components(), JSON_VALUE);
    let chain_keys: Vec<(&str, &str)> = JSON_VALUE.iter().chain(CHAIN).copied().collect();
    let mut with_chain = pipeline(components(), &chain_keys);

    // The chain really runs: a line comes out as the JSON object it makes.
    let (schemas, mut one) = source_batch(&input[..1]);
    let first = with_chain.source_records(&schemas, &mut one).unwrap();
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

    // The pipeline lends the records back as they were: one batch serves
    // every call.
    let (schemas, mut batch) = source_batch(&input);
    let mut measure = |pipeline: &mut Pipeline| {
        let start = Instant::now();
        for _ in 0..batches {
            let outcomes = pipeline
                .source_records(&schemas, &mut batch)
                .expect("no trap");
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
    let runs = end_to_end_runs();
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
    let mut keys: Vec<(&str, &str)> = JSON_VALUE.to_vec();
    if chain {
        keys.extend(CHAIN);
    }
    let (rate, last) = file_to_kafka(broker, &name, (LINES, VALUE_BYTES), &keys, &[]);
    // The last record is what the pipeline made of the last line.
    assert_eq!(
        last.starts_with("{\"text\":"),
        chain,
        "the topic holds what the pipeline made: {last}"
    );
    rate
}
