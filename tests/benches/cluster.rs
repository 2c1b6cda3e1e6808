//! Benchmark of distributed mode: the throughput of a 3-worker cluster
//! against one worker on the same broker in the same run (three file-source
//! connectors of 300,000 lines each), the workers' peak RSS under that
//! load, and the time from SIGKILL of a worker to all of its tasks running
//! on the others, with Kafka Connect's default group timings
//! (`session.timeout.ms` 10 s, `heartbeat.interval.ms` 3 s) and
//! `scheduled.rebalance.max.delay.ms=0` (the default, 5 minutes, waits for
//! the worker to come back on purpose).
//!
//! `cargo bench -p sluice-tests --bench cluster` prints a markdown table of
//! medians over `SLUICE_BENCH_RUNS` runs (default 3).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::bench::{alternate, end_to_end_runs, median, peak_rss, write_lines};
use sluice_tests::*;

const CONNECTORS: usize = 3;
const LINES: usize = 300_000;
const LINE_BYTES: usize = 100;
const LONG: Duration = Duration::from_secs(300);

fn main() {
    let runs = end_to_end_runs();
    let (mut one, mut three, mut rss, mut failover) = (vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        let (single, cluster) = alternate(run, || throughput(run, 1), || throughput(run, 3));
        one.push(single.0);
        three.push(cluster.0);
        rss.push(cluster.1 as f64);
        failover.push(failover_seconds(run));
        eprintln!(
            "run {run}: 1 worker {:.0} records/s, 3 workers {:.0} records/s (peak RSS {} MiB), \
             failover {:.1} s",
            single.0,
            cluster.0,
            cluster.1 >> 20,
            failover.last().unwrap()
        );
    }
    let (one, three) = (median(&mut one), median(&mut three));
    println!(
        "\n{CONNECTORS} file-source connectors of {LINES} lines of {LINE_BYTES} bytes, median of {runs} runs:\n"
    );
    println!("| figure | value |");
    println!("|---|---:|");
    println!("| 1 worker, records/s | {one:.0} |");
    println!("| 3 workers, records/s | {three:.0} |");
    println!("| 3 workers against 1 | {:.2}x |", three / one);
    println!(
        "| largest worker peak RSS of the 3 (MiB) | {:.0} |",
        median(&mut rss) / 1048576.0
    );
    println!(
        "| SIGKILL to all tasks running elsewhere (s) | {:.1} |",
        median(&mut failover)
    );
}

/// Worker `index` of `group`, with `extra` keys.
fn worker(
    scratch: &Scratch,
    broker: &Broker,
    group: &str,
    index: usize,
    extra: &[(&str, String)],
) -> WorkerProcess {
    let w = WorkerSetup::distributed(scratch, broker, group, index, extra).spawn();
    w.wait_ready();
    w
}

/// Creates `name` through `worker`, retrying while the group rebalances.
fn create(worker: &WorkerProcess, name: &str, config: Value) {
    let body = json!({"name": name, "config": config}).to_string();
    wait_for(&format!("creating {name}"), LONG, || {
        let answer = http_request(
            worker.rest_port,
            "POST",
            "/connectors",
            &[("Content-Type", "application/json")],
            Some(&body),
        )?;
        match answer.status {
            201 => Some(()),
            409 => None,
            other => panic!("creating {name}: {other} {:?}", answer.json()),
        }
    })
}

/// Records/s of `workers` workers moving every line into Kafka, and the
/// largest peak RSS among them.
fn throughput(run: usize, workers: usize) -> (f64, u64) {
    let broker = Broker::start();
    let scratch = Scratch::new(&format!("bench-cluster-{run}-{workers}"));
    let group = format!("tp{workers}");
    for c in 0..CONNECTORS {
        write_lines(
            &scratch.dir("inbox").join(format!("in-{c}.txt")),
            LINES,
            LINE_BYTES,
        );
        broker.create_topic(&format!("lines-{c}"));
    }
    let procs: Vec<WorkerProcess> = (0..workers)
        .map(|i| worker(&scratch, &broker, &group, i, &[]))
        .collect();
    let started = Instant::now();
    for c in 0..CONNECTORS {
        let config = json!({"connector.class": "file-source", "file": format!("/inbox/in-{c}.txt"),
                            "topic": format!("lines-{c}"), "grant.files": "inbox:ro"});
        create(&procs[c % workers], &format!("in-{c}"), config);
    }
    let total = (CONNECTORS * LINES) as i64;
    wait_for("every line in Kafka", LONG, || {
        let sum: i64 = (0..CONNECTORS)
            .map(|c| broker.high_watermark(&format!("lines-{c}")))
            .sum();
        (sum >= total).then_some(())
    });
    let seconds = started.elapsed().as_secs_f64();
    let rss = procs.iter().map(|w| peak_rss(w.pid())).max().unwrap_or(0);
    (total as f64 / seconds, rss)
}

/// Seconds from SIGKILL of the worker running the most tasks to all of
/// them running on the other two.
fn failover_seconds(run: usize) -> f64 {
    let broker = Broker::start();
    let scratch = Scratch::new(&format!("bench-failover-{run}"));
    let keys = [("scheduled.rebalance.max.delay.ms", "0".to_string())];
    let mut procs: Vec<WorkerProcess> = (0..3)
        .map(|i| worker(&scratch, &broker, "fo", i, &keys))
        .collect();
    let names: Vec<String> = (0..6).map(|c| format!("idle-{c}")).collect();
    for (c, name) in names.iter().enumerate() {
        let file = format!("idle-{c}.txt");
        std::fs::write(scratch.dir("inbox").join(&file), "").unwrap();
        broker.create_topic(name);
        let config = json!({"connector.class": "file-source", "file": format!("/inbox/{file}"),
                            "topic": name, "grant.files": "inbox:ro"});
        create(&procs[c % 3], name, config);
    }
    let owner = |w: &WorkerProcess, name: &str| -> Option<String> {
        let (code, status) = w.get(&format!("/connectors/{name}/status"))?;
        let task = &status["tasks"][0];
        (code == 200 && task["state"] == "RUNNING")
            .then(|| task["worker_id"].as_str().unwrap_or_default().to_string())
    };
    let owners: Vec<String> = wait_for("every task running", LONG, || {
        names
            .iter()
            .map(|n| owner(&procs[0], n))
            .collect::<Option<Vec<_>>>()
    });
    let id = |w: &WorkerProcess| format!("127.0.0.1:{}", w.rest_port);
    let victim = (0..3)
        .max_by_key(|&i| owners.iter().filter(|o| **o == id(&procs[i])).count())
        .unwrap();
    let victim_id = id(&procs[victim]);
    let killed = Instant::now();
    procs.remove(victim).kill();
    wait_for("the killed worker's tasks to run elsewhere", LONG, || {
        names
            .iter()
            .all(|n| owner(&procs[0], n).is_some_and(|o| o != victim_id))
            .then_some(())
    });
    killed.elapsed().as_secs_f64()
}
