//! Benchmark: what the sandbox's limits cost (issue 5). The same work with
//! the limits on (plugins compiled with epoch checks, every store under a
//! memory limiter, a call hook timing each call) and off
//! (`task.limits.enabled=false`), in the same run, alternating:
//!
//! 1. in process: the source pipeline HoistField -> InsertField ->
//!    ReplaceField -> JsonConverter on batches of 1 and of 1,000 records
//!    (per-call costs show at 1, per-record costs at 1,000);
//! 2. end to end: file -> file-source -> the same chain -> Kafka, records/s.
//!
//! `cargo bench -p sluice-tests --bench sandbox_limits` prints markdown
//! tables of medians; `SLUICE_BENCH_RUNS` (default 3) sets the end-to-end
//! runs (0 skips them).

use std::time::Instant;

use sluice::worker::pipeline::Pipeline;
use sluice_tests::bench::{
    CHAIN, JSON_VALUE, end_to_end_runs, file_to_kafka, median, pipeline, source_batch,
    source_records,
};
use sluice_tests::components::Components;
use sluice_tests::*;

/// Bytes of each record's value.
const VALUE_BYTES: usize = 100;
/// Records per in-process sample.
const RECORDS_PER_SAMPLE: usize = 200_000;
/// In-process samples per figure.
const SAMPLES: usize = 7;
/// Lines moved end to end per run.
const LINES: usize = 300_000;

/// The pipeline measured: the chain, then the JsonConverter.
fn pipeline_keys() -> Vec<(&'static str, &'static str)> {
    JSON_VALUE.iter().chain(CHAIN).copied().collect()
}

fn main() {
    let in_process = in_process();
    let end_to_end = end_to_end();
    println!("{in_process}\n{end_to_end}");
}

/// Part 1: ns/record of the pipeline in process, limits off and on.
fn in_process() -> String {
    let off = Components::load(false);
    let on = Components::load(true);
    let mut out = String::from(
        "| in process, 3 transforms + JsonConverter | limits off (ns/record) | limits on | on vs. off |\n\
         |---|---:|---:|---:|\n",
    );
    for batch in [1usize, 1000] {
        let input = source_records(batch, VALUE_BYTES);
        let batches = RECORDS_PER_SAMPLE / batch;
        let mut unlimited = pipeline(&off, &pipeline_keys());
        let mut limited = pipeline(&on, &pipeline_keys());
        // Lent to the pipeline and given back as they were: one copy serves
        // every call.
        let (schemas, mut records) = source_batch(&input);
        let mut measure = |pipeline: &mut Pipeline| {
            let start = Instant::now();
            for _ in 0..batches {
                let outcomes = pipeline
                    .source_records(&schemas, &mut records)
                    .expect("no trap");
                assert!(outcomes.iter().all(|o| matches!(o, Ok(Some(_)))));
            }
            start.elapsed().as_secs_f64() * 1e9 / (batches * batch) as f64
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..SAMPLES {
            a.push(measure(&mut unlimited));
            b.push(measure(&mut limited));
        }
        let (a, b) = (median(&mut a), median(&mut b));
        eprintln!("batch {batch}: off {a:.0} ns/record, on {b:.0}");
        out.push_str(&format!(
            "| batches of {batch} | {a:.0} | {b:.0} | {:.3} |\n",
            b / a
        ));
    }
    out
}

/// Part 2: records/s file -> Kafka through a worker, limits off and on.
fn end_to_end() -> String {
    let runs = end_to_end_runs();
    if runs == 0 {
        return "(end to end skipped: SLUICE_BENCH_RUNS=0)\n".into();
    }
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let broker = Broker::start();
        let measure = |limits: bool| {
            let name = format!("limits-{run}-{limits}");
            let worker = [("task.limits.enabled", limits.to_string())];
            let (rate, last) = file_to_kafka(
                &broker,
                &name,
                (LINES, VALUE_BYTES),
                &pipeline_keys(),
                &worker,
            );
            assert!(last.starts_with("{\"text\":"), "the chain ran: {last}");
            rate
        };
        let (a, b) = if run.is_multiple_of(2) {
            let a = measure(false);
            (a, measure(true))
        } else {
            let b = measure(true);
            (measure(false), b)
        };
        eprintln!("run {run}: limits off {a:.0} records/s, on {b:.0}");
        off.push(a);
        on.push(b);
    }
    let (off, on) = (median(&mut off), median(&mut on));
    format!(
        "| file -> 3 transforms -> JsonConverter -> Kafka, {LINES} lines, median of {runs} | records/s | vs. limits off |\n\
         |---|---:|---:|\n\
         | limits off (`task.limits.enabled=false`) | {off:.0} | 1.00 |\n\
         | limits on (defaults: 256 MiB, 60 s calls) | {on:.0} | {:.3} |\n",
        on / off
    )
}
