//! file-source -> Kafka -> file-sink through a real broker and a real
//! worker process: ordering, restarts, crashes, tailing.

use std::time::Duration;

use sluice_tests::*;

const LONG: Duration = Duration::from_secs(240);

/// A worker with one file-source (`/inbox/input.txt` -> `topic`) and one
/// file-sink (`topic` -> `/outbox/output.txt`).
fn pipeline(scratch: &Scratch, broker: &Broker, topic: &str) -> WorkerSetup {
    pipeline_with(scratch, broker, topic, &[])
}

fn pipeline_with(
    scratch: &Scratch,
    broker: &Broker,
    topic: &str,
    worker: &[(&str, String)],
) -> WorkerSetup {
    let mut setup = WorkerSetup::new(scratch, broker, worker);
    setup.connector(
        scratch,
        &format!("{topic}-source"),
        &[
            ("connector.class", "file-source"),
            ("file", "/inbox/input.txt"),
            ("topic", topic),
            ("grant.files", "inbox:ro"),
        ],
    );
    setup.connector(
        scratch,
        &format!("{topic}-sink"),
        &[
            (
                "connector.class",
                "org.apache.kafka.connect.file.FileStreamSinkConnector",
            ),
            ("file", "/outbox/output.txt"),
            ("topics", topic),
            ("grant.files", "outbox:rw"),
        ],
    );
    setup
}

#[test]
fn moves_100k_lines_in_order() {
    let broker = Broker::start();
    let scratch = Scratch::new("100k");
    let input = numbered_lines(0, 100_000, 60);
    append_lines(&scratch.dir("inbox").join("input.txt"), &input);
    let worker = pipeline(&scratch, &broker, "lines-100k").spawn();
    let output = wait_for_lines(&scratch.dir("outbox").join("output.txt"), input.len(), LONG);
    assert_eq!(output.len(), input.len(), "extra lines in the output");
    assert!(output == input, "the output differs from the input");
    worker.stop();
}

#[test]
fn restart_after_clean_stop_rereads_nothing() {
    let broker = Broker::start();
    let scratch = Scratch::new("restart");
    let topic = "lines-restart";
    let input_path = scratch.dir("inbox").join("input.txt");
    let output_path = scratch.dir("outbox").join("output.txt");
    let first = numbered_lines(0, 20_000, 40);
    append_lines(&input_path, &first);
    let setup = pipeline(&scratch, &broker, topic);

    let worker = setup.spawn();
    wait_for_lines(&output_path, first.len(), LONG);
    assert!(worker.stop().success(), "a clean stop exits with success");
    // Assignment changes reached the sink plugin: open at start, close at stop.
    let log = std::fs::read_to_string(&setup.log).unwrap();
    let opened = log.find("writing lines-restart-0 to \"/outbox/output.txt\"");
    let closed = log.find("no longer writing lines-restart-0");
    assert!(
        opened.is_some() && closed > opened,
        "open/close not seen in the log: {log}"
    );

    let worker = setup.spawn();
    worker.wait_ready();
    // Give the restarted tasks time to (wrongly) re-read before appending.
    std::thread::sleep(Duration::from_secs(3));
    let second = numbered_lines(20_000, 5_000, 40);
    append_lines(&input_path, &second);
    let expected: Vec<String> = first.iter().chain(&second).cloned().collect();
    let output = wait_for_lines(&output_path, expected.len(), LONG);
    std::thread::sleep(Duration::from_secs(2));
    let output_after = read_lines(&output_path);
    assert_eq!(
        output_after.len(),
        expected.len(),
        "lines were delivered twice"
    );
    assert!(output == expected, "the output differs from the input");
    // The topic holds each line once: the source resumed where it stopped.
    let in_topic = broker.read_values(topic, expected.len(), Duration::from_secs(60));
    assert_eq!(in_topic.len(), expected.len(), "the source re-read lines");
    worker.stop();
}

#[test]
fn sigkill_mid_stream_loses_nothing() {
    let broker = Broker::start();
    let scratch = Scratch::new("sigkill");
    let input_path = scratch.dir("inbox").join("input.txt");
    let output_path = scratch.dir("outbox").join("output.txt");
    let input = numbered_lines(0, 300_000, 60);
    append_lines(&input_path, &input);
    // Offsets committed after every batch: the tightest bound on what a
    // crash may repeat.
    let setup = pipeline_with(
        &scratch,
        &broker,
        "lines-sigkill",
        &[("offset.flush.interval.ms", "0".to_string())],
    );

    let worker = setup.spawn();
    let seen = wait_for("the pipeline to be mid-stream", LONG, || {
        let n = read_lines(&output_path).len();
        (n >= 20_000).then_some(n)
    });
    worker.kill();
    let at_kill = read_lines(&output_path).len();
    assert!(
        at_kill < input.len(),
        "the kill came too late to be mid-stream"
    );

    let worker = setup.spawn();
    wait_for("every line after the restart", LONG, || {
        let lines = read_lines(&output_path);
        let counts = line_counts(&lines);
        input
            .iter()
            .all(|l| counts.contains_key(l.as_str()))
            .then_some(())
    });
    // Let anything still in flight land before counting duplicates.
    std::thread::sleep(Duration::from_secs(2));
    let output = read_lines(&output_path);
    let counts = line_counts(&output);
    let missing = input
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .count();
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    println!(
        "SIGKILL after {seen} lines were written ({at_kill} at the kill): \
         {} lines out, {missing} missing, {duplicates} duplicated",
        output.len()
    );
    assert_eq!(missing, 0, "lines were lost");
    // Only unacknowledged source batches (4 x batch.size 2000) and the two
    // sink batches that may be flushed but not yet committed (up to 5000
    // records each) may repeat.
    let bound = sluice::worker::source_task::MAX_BATCHES_IN_FLIGHT * 2000
        + 2 * sluice::worker::sink_task::MAX_BATCH_RECORDS;
    assert!(
        duplicates <= bound,
        "{duplicates} duplicates, more than the {bound} in flight"
    );
    // After the duplicates, lines come in input order per first occurrence.
    let mut firsts: Vec<&str> = Vec::new();
    let mut seen_set = std::collections::HashSet::new();
    for line in &output {
        if seen_set.insert(line.as_str()) {
            firsts.push(line);
        }
    }
    assert!(
        firsts.iter().zip(&input).all(|(a, b)| *a == b),
        "lines out of order"
    );
    worker.stop();
}

#[test]
fn lines_appended_after_start_arrive() {
    let broker = Broker::start();
    let scratch = Scratch::new("tail");
    let input_path = scratch.dir("inbox").join("input.txt");
    let output_path = scratch.dir("outbox").join("output.txt");
    let mut expected = numbered_lines(0, 10, 30);
    append_lines(&input_path, &expected);
    let worker = pipeline(&scratch, &broker, "lines-tail").spawn();
    wait_for_lines(&output_path, expected.len(), LONG);
    for round in 0..5 {
        let more = numbered_lines(10 + round * 100, 100, 30);
        append_lines(&input_path, &more);
        expected.extend(more);
        std::thread::sleep(Duration::from_millis(200));
    }
    // A line without its newline yet is not a line: it waits.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&input_path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"partial"))
        .unwrap();
    let output = wait_for_lines(&output_path, expected.len(), LONG);
    assert!(output == expected, "the output differs from the input");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        read_lines(&output_path).len(),
        expected.len(),
        "a partial line was sent"
    );
    append_lines(&input_path, &[" completed".to_string()]);
    // Kafka first, then the file: a failure here says which side stalled.
    wait_for("the completed line in Kafka", LONG, || {
        (broker.high_watermark("lines-tail") > expected.len() as i64).then_some(())
    });
    let output = wait_for_lines(&output_path, expected.len() + 1, LONG);
    assert_eq!(output.last().unwrap(), "partial completed");
    worker.stop();
}
