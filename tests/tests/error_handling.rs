//! The error policy end to end, through a real broker and worker: a topic
//! of 100,000 JSON records of which 1% are malformed, read by a file sink
//! with the JsonConverter. With `errors.tolerance=all` every good record
//! arrives and every bad one is in the dead-letter topic with Kafka
//! Connect's context headers; with `none` the task fails naming the first
//! bad record and commits nothing after it. Also: a transform that traps
//! on some records is bisected around them, and a source connector's
//! failed records reach a dead-letter topic too; a sink connector that
//! traps in `put`, rejects records, or fails retriably past
//! `errors.retry.timeout` loses only the records it failed on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use sluice_tests::*;

const LONG: Duration = Duration::from_secs(300);
const RECORDS: usize = 100_000;

/// Record `i` is malformed when `i % 100 == 7`: 1,000 of 100,000.
fn is_bad(i: usize) -> bool {
    i % 100 == 7
}

fn value(i: usize) -> String {
    if is_bad(i) {
        format!("{{\"id\":{i},\"name\":")
    } else {
        format!("{{\"id\":{i},\"name\":\"n-{i}\"}}")
    }
}

/// Creates `topic` with one partition and writes the 100,000 records.
fn produce_orders(broker: &Broker, topic: &str) {
    broker.produce(topic, (0..RECORDS).map(value));
}

/// Every record of `topic` partition 0: its offset, value and headers.
fn read_records(
    broker: &Broker,
    topic: &str,
    expected: usize,
) -> Vec<(i64, Vec<u8>, BTreeMap<String, String>)> {
    broker
        .read_records(topic, expected, LONG)
        .into_iter()
        .map(|r| (r.offset, r.value, r.headers))
        .collect()
}

/// The offset the sink connector's group committed for partition 0.
fn committed(broker: &Broker, connector: &str, topic: &str) -> Option<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("group.id", format!("connect-{connector}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("creating a test consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("reading committed offsets");
    match committed.find_partition(topic, 0).map(|e| e.offset()) {
        Some(Offset::Offset(offset)) => Some(offset),
        _ => None,
    }
}

fn json_sink(topic: &str, errors: &[(&'static str, &'static str)]) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("connector.class", "file-sink".to_string()),
        ("file", "/outbox/out.txt".into()),
        ("topics", topic.into()),
        ("grant.files", "outbox:rw".into()),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter".into(),
        ),
        ("value.converter.schemas.enable", "false".into()),
    ];
    pairs.extend(errors.iter().map(|(k, v)| (*k, v.to_string())));
    pairs
}

fn add(setup: &mut WorkerSetup, scratch: &Scratch, name: &str, pairs: &[(&'static str, String)]) {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    setup.connector(scratch, name, &borrowed);
}

#[test]
fn tolerated_malformed_records_go_to_the_dead_letter_topic_with_context() {
    let broker = Broker::start();
    let scratch = Scratch::new("dlq-all");
    produce_orders(&broker, "orders");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    add(
        &mut setup,
        &scratch,
        "orders-sink",
        &json_sink(
            "orders",
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "orders-dlq"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        ),
    );
    let worker = setup.spawn();

    let good: Vec<usize> = (0..RECORDS).filter(|&i| !is_bad(i)).collect();
    let bad: Vec<usize> = (0..RECORDS).filter(|&i| is_bad(i)).collect();
    let output = wait_for_lines(&scratch.dir("outbox").join("out.txt"), good.len(), LONG);
    let expected: Vec<String> = good
        .iter()
        .map(|i| format!("{{\"id\":{i},\"name\":\"n-{i}\"}}"))
        .collect();
    assert_eq!(output.len(), good.len(), "extra lines in the output");
    assert!(
        output == expected,
        "the good records did not all arrive, in order, once"
    );

    let letters = read_records(&broker, "orders-dlq", bad.len());
    assert_eq!(letters.len(), bad.len(), "one dead letter per bad record");
    for ((_, payload, headers), &i) in letters.iter().zip(&bad) {
        assert_eq!(
            payload,
            value(i).as_bytes(),
            "the dead letter is the original record"
        );
        let header = |k: &str| headers.get(k).map(String::as_str);
        assert_eq!(header("__connect.errors.topic"), Some("orders"));
        assert_eq!(header("__connect.errors.partition"), Some("0"));
        assert_eq!(
            header("__connect.errors.offset"),
            Some(i.to_string().as_str())
        );
        assert_eq!(
            header("__connect.errors.connector.name"),
            Some("orders-sink")
        );
        assert_eq!(header("__connect.errors.task.id"), Some("0"));
        assert_eq!(header("__connect.errors.stage"), Some("VALUE_CONVERTER"));
        assert_eq!(
            header("__connect.errors.class.name"),
            Some("org.apache.kafka.connect.json.JsonConverter")
        );
        assert_eq!(
            header("__connect.errors.exception.class.name"),
            Some("org.apache.kafka.connect.errors.DataException")
        );
        let message = header("__connect.errors.exception.message").unwrap_or_default();
        assert!(!message.is_empty(), "the dead letter says what went wrong");
        assert!(header("__connect.errors.exception.stacktrace").is_some());
    }
    assert_eq!(
        output.len() + letters.len(),
        RECORDS,
        "every record is either delivered or dead-lettered"
    );
    wait_for("the sink to commit every record", LONG, || {
        (committed(&broker, "orders-sink", "orders") == Some(RECORDS as i64)).then_some(())
    });
    worker.stop();
}

#[test]
fn untolerated_malformed_record_fails_the_task_and_commits_nothing_after_it() {
    let broker = Broker::start();
    let scratch = Scratch::new("dlq-none");
    produce_orders(&broker, "orders");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    add(
        &mut setup,
        &scratch,
        "strict-sink",
        &json_sink("orders", &[("errors.tolerance", "none")]),
    );
    let worker = setup.spawn();
    let trace = worker.failure_trace("strict-sink", LONG);
    assert!(
        trace.contains("topic \"orders\", partition 0, offset 7"),
        "the trace names the first bad record: {trace}"
    );
    assert!(trace.contains("VALUE_CONVERTER"), "{trace}");
    if let Some(offset) = committed(&broker, "strict-sink", "orders") {
        assert!(offset <= 7, "committed past the bad record: {offset}");
    }
    let output = read_lines(&scratch.dir("outbox").join("out.txt"));
    assert!(
        output.len() <= 7,
        "records after the bad one were written: {} lines",
        output.len()
    );
    worker.stop();
}

/// A worker that also loads the test fixtures.
fn with_fixtures(scratch: &Scratch, broker: &Broker) -> WorkerSetup {
    let dirs = format!("{PLUGIN_DIR},{FIXTURE_DIR}");
    WorkerSetup::with_plugin_dir(scratch, broker, Path::new(&dirs), &[])
}

/// A worker with the fixtures running `name`: file-source reading `lines`
/// through the `poison` transform into `topic`, tolerating errors into the
/// dead-letter topic `dlq`, with `extra` keys.
fn poisoned_source(
    scratch: &Scratch,
    broker: &Broker,
    name: &str,
    lines: &[String],
    (topic, dlq): (&str, &str),
    extra: &[(&'static str, String)],
) -> WorkerSetup {
    append_lines(&scratch.dir("inbox").join("in.txt"), lines);
    broker.create_topic(topic);
    let mut setup = with_fixtures(scratch, broker);
    let mut pairs = vec![
        ("connector.class", "file-source".to_string()),
        ("file", "/inbox/in.txt".into()),
        ("topic", topic.into()),
        ("grant.files", "inbox:ro".into()),
        ("transforms", "poison".into()),
        ("transforms.poison.type", "poison".into()),
        ("errors.tolerance", "all".into()),
        ("errors.deadletterqueue.topic.name", dlq.into()),
    ];
    pairs.extend_from_slice(extra);
    add(&mut setup, scratch, name, &pairs);
    setup
}

#[test]
fn a_trapping_transform_is_bisected_and_only_its_records_are_dead_lettered() {
    let broker = Broker::start();
    let scratch = Scratch::new("bisect");
    // 20,000 lines; every 1,000th poisons the transform, and one more is
    // rejected by it with an error.
    let lines: Vec<String> = (0..20_000)
        .map(|i| match i {
            _ if i % 1000 == 500 => format!("line {i} poison"),
            12_345 => format!("line {i} reject"),
            _ => format!("line {i}"),
        })
        .collect();
    let setup = poisoned_source(
        &scratch,
        &broker,
        "poisoned-source",
        &lines,
        ("bisected", "source-dlq"),
        &[
            ("errors.log.enable", "true".into()),
            (
                "errors.deadletterqueue.context.headers.enable",
                "true".into(),
            ),
        ],
    );
    let worker = setup.spawn();
    let failing: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("poison") || l.contains("reject"))
        .collect();
    let good: Vec<&String> = lines
        .iter()
        .filter(|l| !l.contains("poison") && !l.contains("reject"))
        .collect();
    let delivered = broker.read_values("bisected", good.len(), LONG);
    let delivered: Vec<String> = delivered
        .into_iter()
        .map(|v| String::from_utf8(v).unwrap())
        .collect();
    assert_eq!(delivered.len(), good.len());
    assert!(
        delivered.iter().zip(&good).all(|(a, b)| a == *b),
        "every other record arrives, in order"
    );
    let letters = read_records(&broker, "source-dlq", failing.len());
    assert_eq!(letters.len(), failing.len());
    for ((_, payload, headers), line) in letters.iter().zip(&failing) {
        assert_eq!(payload, line.as_bytes());
        assert_eq!(
            headers.get("__connect.errors.stage").map(String::as_str),
            Some("TRANSFORMATION")
        );
        assert_eq!(
            headers
                .get("__connect.errors.class.name")
                .map(String::as_str),
            Some("poison")
        );
        let expected_class = if line.contains("poison") {
            "sluice.errors.PluginTrap"
        } else {
            "org.apache.kafka.connect.errors.DataException"
        };
        assert_eq!(
            headers
                .get("__connect.errors.exception.class.name")
                .map(String::as_str),
            Some(expected_class),
            "{line}"
        );
        assert!(
            headers.contains_key("__connect.errors.source.offset"),
            "a source dead letter names its source offset"
        );
    }
    // Still running: a trap fails neither the task nor the worker.
    assert_eq!(
        worker
            .task_state("poisoned-source", 0)
            .map(|(s, _)| s)
            .as_deref(),
        Some("RUNNING")
    );
    worker.stop();
}

#[test]
fn a_transform_over_its_time_limit_fails_the_task_and_blames_no_record() {
    let broker = Broker::start();
    let scratch = Scratch::new("spin");
    let lines: Vec<String> = (0..2_000)
        .map(|i| match i {
            1_500 => format!("line {i} spin"),
            _ => format!("line {i}"),
        })
        .collect();
    let setup = poisoned_source(
        &scratch,
        &broker,
        "spinning-source",
        &lines,
        ("spun", "spin-dlq"),
        &[
            ("task.call.timeout.ms", "1000".into()),
            ("task.restart.enabled", "false".into()),
        ],
    );
    let worker = setup.spawn();
    let trace = worker.failure_trace("spinning-source", LONG);
    assert!(
        trace.starts_with("exceeded the call time limit")
            && trace.contains("task.call.timeout.ms=1000"),
        "{trace}"
    );
    // No record was blamed: the dead-letter topic is empty, and of the
    // batch that held the spinning record, nothing was delivered.
    assert_eq!(broker.high_watermark("spin-dlq"), 0);
    let delivered = broker.high_watermark("spun");
    assert!(delivered < 1_500, "{delivered} records delivered");
    worker.stop();
}

/// The values for the `poison-sink` fixture: record `i` is `v{i}`, with
/// words that make the sink trap, reject, or fail retriably on it.
fn sink_values(count: usize, special: impl Fn(usize) -> Option<&'static str>) -> Vec<String> {
    (0..count)
        .map(|i| match special(i) {
            Some(word) => format!("v{i} {word}"),
            None => format!("v{i}"),
        })
        .collect()
}

fn poison_sink(
    topic: &str,
    errors: &[(&'static str, &'static str)],
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("connector.class", "poison-sink".to_string()),
        ("file", "/outbox/out.txt".into()),
        ("topics", topic.into()),
        ("grant.files", "outbox:rw".into()),
        // Short, so that a record that never stops failing retriably is
        // given up on within the test.
        ("errors.retry.timeout", "1500".into()),
        ("errors.retry.delay.max.ms", "400".into()),
    ];
    pairs.extend(errors.iter().map(|(k, v)| (*k, v.to_string())));
    pairs
}

#[test]
fn a_sink_that_traps_or_rejects_in_put_loses_only_those_records() {
    let broker = Broker::start();
    let scratch = Scratch::new("put-bisect");
    // Six records trap the sink, one is rejected by it, one fails
    // retriably twice and then goes through, one fails retriably until
    // errors.retry.timeout gives up on it.
    let values = sink_values(3_000, |i| match i {
        _ if i % 500 == 250 => Some("poison"),
        1_234 => Some("reject"),
        2_100 => Some("flaky"),
        2_700 => Some("stuck"),
        _ => None,
    });
    broker.produce("deliveries", values.clone());
    let mut setup = with_fixtures(&scratch, &broker);
    add(
        &mut setup,
        &scratch,
        "fragile-sink",
        &poison_sink(
            "deliveries",
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "deliveries-dlq"),
                ("errors.deadletterqueue.context.headers.enable", "true"),
            ],
        ),
    );
    let worker = setup.spawn();

    let failing: Vec<(usize, &String)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.contains("poison") || v.contains("reject") || v.contains("stuck"))
        .collect();
    let good: Vec<&String> = values
        .iter()
        .filter(|v| !v.contains("poison") && !v.contains("reject") && !v.contains("stuck"))
        .collect();
    assert_eq!((failing.len(), good.len()), (8, 2_992));
    let letters = read_records(&broker, "deliveries-dlq", failing.len());
    let output = wait_for_lines(&scratch.dir("outbox").join("out.txt"), good.len(), LONG);
    assert_eq!(output.len(), good.len(), "extra lines in the output");
    assert!(
        output.iter().zip(&good).all(|(a, b)| a == *b),
        "every other record, the flaky one included, arrives once and in order"
    );

    assert_eq!(
        letters.len(),
        failing.len(),
        "one dead letter per failed record"
    );
    for ((_, payload, headers), (offset, value)) in letters.iter().zip(&failing) {
        assert_eq!(
            payload,
            value.as_bytes(),
            "the dead letter is the original record"
        );
        let header = |k: &str| headers.get(k).map(String::as_str).unwrap_or_default();
        assert_eq!(header("__connect.errors.offset"), offset.to_string());
        assert_eq!(header("__connect.errors.stage"), "TASK_PUT");
        assert_eq!(header("__connect.errors.class.name"), "poison-sink");
        let (class, says) = if value.contains("poison") {
            ("sluice.errors.PluginTrap", "trapped")
        } else if value.contains("reject") {
            ("org.apache.kafka.connect.errors.DataException", "rejected")
        } else {
            (
                "org.apache.kafka.connect.errors.DataException",
                "errors.retry.timeout",
            )
        };
        assert_eq!(
            header("__connect.errors.exception.class.name"),
            class,
            "{value}"
        );
        let message = header("__connect.errors.exception.message");
        assert!(message.contains(says), "{value}: {message}");
    }
    wait_for("the sink to commit every record", LONG, || {
        (committed(&broker, "fragile-sink", "deliveries") == Some(values.len() as i64))
            .then_some(())
    });
    assert_eq!(
        worker
            .task_state("fragile-sink", 0)
            .map(|(s, _)| s)
            .as_deref(),
        Some("RUNNING"),
        "a sink that traps is restarted, not failed"
    );
    worker.stop();
}

#[test]
fn a_put_over_its_time_limit_fails_the_task_and_blames_no_record() {
    let broker = Broker::start();
    let scratch = Scratch::new("put-spin");
    let values = sink_values(300, |i| (i == 150).then_some("spin"));
    broker.produce("spins", values);
    let mut setup = with_fixtures(&scratch, &broker);
    add(
        &mut setup,
        &scratch,
        "spinning-sink",
        &poison_sink(
            "spins",
            &[
                ("errors.tolerance", "all"),
                ("errors.deadletterqueue.topic.name", "put-spin-dlq"),
                ("task.call.timeout.ms", "1000"),
                ("task.restart.enabled", "false"),
            ],
        ),
    );
    let worker = setup.spawn();
    let trace = worker.failure_trace("spinning-sink", LONG);
    assert!(
        trace.contains("exceeded the call time limit")
            && trace.contains("task.call.timeout.ms=1000"),
        "{trace}"
    );
    // Not bisected onto a record: nothing in the dead-letter topic, and
    // nothing committed past the record that spins.
    assert_eq!(broker.high_watermark("put-spin-dlq"), 0);
    if let Some(offset) = committed(&broker, "spinning-sink", "spins") {
        assert!(
            offset <= 150,
            "committed past the spinning record: {offset}"
        );
    }
    worker.stop();
}

#[test]
fn a_retriable_put_error_past_the_retry_timeout_fails_the_task_without_tolerance() {
    let broker = Broker::start();
    let scratch = Scratch::new("put-timeout");
    let values = sink_values(300, |i| (i == 150).then_some("stuck"));
    broker.produce("deliveries", values.clone());
    let mut setup = with_fixtures(&scratch, &broker);
    add(
        &mut setup,
        &scratch,
        "impatient-sink",
        &poison_sink("deliveries", &[("errors.tolerance", "none")]),
    );
    let worker = setup.spawn();
    let trace = worker.failure_trace("impatient-sink", LONG);
    assert!(
        trace.contains("topic \"deliveries\", partition 0, offset 150"),
        "the trace names the record: {trace}"
    );
    assert!(trace.contains("TASK_PUT"), "{trace}");
    assert!(trace.contains("errors.retry.timeout"), "{trace}");
    // The records before it were put again on their own and flushed;
    // nothing after it was.
    let output = read_lines(&scratch.dir("outbox").join("out.txt"));
    assert_eq!(
        output,
        values[..150],
        "exactly the records before it arrive"
    );
    if let Some(offset) = committed(&broker, "impatient-sink", "deliveries") {
        assert!(offset <= 150, "committed past the failed record: {offset}");
    }
    worker.stop();
}

/// A source record larger than the producer's `message.max.bytes` is the
/// record's failure, not the task's: with `errors.tolerance=all` it is
/// dead-lettered (its value left out, since the dead letter would not fit
/// either, as its headers say) and every other record arrives.
#[test]
fn a_record_over_message_max_bytes_is_dead_lettered_and_the_task_goes_on() {
    let broker = Broker::start();
    let scratch = Scratch::new("oversized");
    // 300 lines; every 50th is 3,000 bytes, three times the limit below.
    let lines: Vec<String> = (0..300)
        .map(|i| {
            if i % 50 == 25 {
                format!("big-{i:04}-{}", "x".repeat(3000))
            } else {
                format!("line-{i:04}")
            }
        })
        .collect();
    append_lines(&scratch.dir("inbox").join("in.txt"), &lines);
    broker.create_topic("sized");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    add(
        &mut setup,
        &scratch,
        "oversized",
        &[
            ("connector.class", "file-source".into()),
            ("file", "/inbox/in.txt".into()),
            ("topic", "sized".into()),
            ("grant.files", "inbox:ro".into()),
            ("producer.override.message.max.bytes", "1000".into()),
            ("errors.tolerance", "all".into()),
            ("errors.deadletterqueue.topic.name", "sized-dlq".into()),
            (
                "errors.deadletterqueue.context.headers.enable",
                "true".into(),
            ),
        ],
    );
    let worker = setup.spawn();
    let small: Vec<&String> = lines.iter().filter(|l| l.len() < 1000).collect();
    let big: Vec<&String> = lines.iter().filter(|l| l.len() >= 1000).collect();
    let delivered: Vec<String> = broker
        .read_values("sized", small.len(), LONG)
        .into_iter()
        .map(|v| String::from_utf8(v).unwrap())
        .collect();
    assert_eq!(
        delivered.len(),
        small.len(),
        "every record that fits arrives"
    );
    assert!(delivered.iter().zip(&small).all(|(a, b)| a == *b));
    let letters = read_records(&broker, "sized-dlq", big.len());
    assert_eq!(
        letters.len(),
        big.len(),
        "one dead letter per oversized record"
    );
    for (_, payload, headers) in &letters {
        assert!(payload.is_empty(), "the value would not fit: left out");
        assert_eq!(
            headers.get("__connect.errors.stage").map(String::as_str),
            Some("KAFKA_PRODUCE")
        );
        let message = &headers["__connect.errors.exception.message"];
        assert!(
            message.contains("more than the producer's message.max.bytes (1000)"),
            "{message}"
        );
        assert!(headers.contains_key("__connect.errors.source.offset"));
    }
    assert_eq!(
        worker.task_state("oversized", 0).map(|(s, _)| s).as_deref(),
        Some("RUNNING")
    );
    worker.stop();
}

/// A consumer that cannot authenticate cannot mend by retrying: the sink
/// task fails with a trace naming the error, where it used to stay
/// RUNNING forever, consuming nothing.
#[test]
fn a_sink_whose_consumer_cannot_authenticate_fails_naming_it() {
    let broker = Broker::start();
    let scratch = Scratch::new("sink-auth");
    broker.create_topic("guarded");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    add(
        &mut setup,
        &scratch,
        "unauthenticated",
        &[
            ("connector.class", "file-sink".into()),
            ("file", "/outbox/out.txt".into()),
            ("topics", "guarded".into()),
            ("grant.files", "outbox:rw".into()),
            (
                "consumer.override.security.protocol",
                "SASL_PLAINTEXT".into(),
            ),
            ("consumer.override.sasl.mechanism", "PLAIN".into()),
            (
                "consumer.override.sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"nobody\" password=\"wrong-secret-77\";"
                    .into(),
            ),
        ],
    );
    let worker = setup.spawn();
    let trace = worker.failure_trace("unauthenticated", Duration::from_secs(60));
    assert!(trace.contains("retrying cannot mend"), "{trace}");
    assert!(!trace.contains("wrong-secret-77"), "{trace}");
    worker.stop();
}
