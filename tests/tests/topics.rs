//! Which topics connectors read and create: a sink's `topics.regex`, and a
//! source's topics created as its `topic.creation.*` keys say (Kafka
//! Connect's KIP-158), on a real broker and a real worker.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_tests::*;

const LONG: Duration = Duration::from_secs(120);

fn lines(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}-{i}")).collect()
}

#[test]
fn a_sink_reads_every_topic_its_pattern_matches_and_no_other() {
    let broker = Broker::start();
    let scratch = Scratch::new("topics-regex");
    // Written first, so a sink that read them would have them before the
    // ones it must read.
    broker.produce("orders_x", lines("underscore", 5));
    broker.produce("audit-orders-eu", lines("prefixed", 5));
    broker.produce("orders-eu", lines("eu", 10));
    broker.produce("orders-us", lines("us", 10));
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    setup.connector(
        &scratch,
        "orders",
        &[
            ("connector.class", "file-sink"),
            ("file", "/outbox/orders.txt"),
            ("topics.regex", "orders-.*"),
            ("grant.files", "outbox:rw"),
        ],
    );
    let worker = setup.spawn();
    wait_for_lines(&scratch.dir("outbox").join("orders.txt"), 20, LONG);
    // The offsets endpoint lists the partitions of every matching topic.
    let offsets = wait_for("the sink's committed offsets", LONG, || {
        let (_, body) = worker.get("/connectors/orders/offsets")?;
        let mut listed: Vec<(String, i64)> = body["offsets"]
            .as_array()?
            .iter()
            .map(|o| {
                (
                    o["partition"]["kafka_topic"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    o["offset"]["kafka_offset"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        listed.sort();
        (listed.len() == 2 && listed.iter().all(|(_, o)| *o == 10)).then_some(listed)
    });
    assert_eq!(
        offsets,
        [("orders-eu".to_string(), 10), ("orders-us".to_string(), 10)]
    );
    let mut output = read_lines(&scratch.dir("outbox").join("orders.txt"));
    assert_eq!(
        output.len(),
        20,
        "lines of other topics arrived: {output:?}"
    );
    output.sort();
    let mut expected = [lines("eu", 10), lines("us", 10)].concat();
    expected.sort();
    assert_eq!(output, expected);
    assert_eq!(
        worker.get("/connectors/orders/topics").unwrap().1,
        json!({"orders": {"topics": ["orders-eu", "orders-us"]}})
    );
    // A topic created later is read from its start once the pattern is
    // matched again (every 30 s).
    broker.produce("orders-asia", lines("asia", 5));
    let output = wait_for_lines(&scratch.dir("outbox").join("orders.txt"), 25, LONG);
    assert_eq!(output[20..], lines("asia", 5)[..]);
    worker.stop();
}

#[test]
fn a_sink_refuses_both_topics_and_a_pattern_and_a_dead_letter_queue_it_reads() {
    let broker = Broker::start();
    let scratch = Scratch::new("topics-regex-refused");
    let worker = WorkerSetup::new(&scratch, &broker, &[]).spawn();
    worker.wait_ready();
    let validate = |config: Value| -> Value {
        let body = config.to_string();
        let response = http_request(
            worker.rest_port,
            "PUT",
            "/connector-plugins/file-sink/config/validate",
            &[],
            Some(&body),
        )
        .expect("an answer");
        assert_eq!(response.status, 200, "{}", response.body);
        response.json()
    };
    let errors_of = |report: &Value, key: &str| -> String {
        report["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| c["value"]["errors"].to_string())
            .unwrap_or_default()
    };
    let base = json!({"name": "x", "connector.class": "file-sink", "file": "/outbox/x.txt",
                      "grant.files": "outbox:rw"});
    let mut both = base.clone();
    both["topics"] = json!("a");
    both["topics.regex"] = json!("a.*");
    let report = validate(both);
    assert!(
        errors_of(&report, "topics").contains("mutually exclusive"),
        "{report}"
    );
    let mut dlq = base.clone();
    dlq["topics.regex"] = json!("events.*");
    dlq["errors.tolerance"] = json!("all");
    dlq["errors.deadletterqueue.topic.name"] = json!("events-dlq");
    let report = validate(dlq);
    assert!(
        errors_of(&report, "topics.regex").contains("The DLQ topic 'events-dlq'"),
        "{report}"
    );
    worker.stop();
}

/// A source connector's `topic.creation.*` configuration (a default group
/// and a `compacted` group) over a file source writing to `topic`.
fn creating_source(name: &str, file: &str, topic: &str) -> Vec<(&'static str, String)> {
    vec![
        ("connector.class", "file-source".into()),
        ("file", format!("/inbox/{file}")),
        ("topic", topic.into()),
        ("grant.files", "inbox:ro".into()),
        ("topic.creation.default.replication.factor", "1".into()),
        ("topic.creation.default.partitions", "3".into()),
        ("topic.creation.groups", "compacted".into()),
        (
            "topic.creation.compacted.include",
            "state-.*, settings".into(),
        ),
        ("topic.creation.compacted.partitions", "2".into()),
        ("topic.creation.compacted.cleanup.policy", "compact".into()),
        ("name", name.into()),
    ]
}

#[test]
fn a_source_creates_its_topics_as_topic_creation_says() {
    let broker = Broker::start();
    let scratch = Scratch::new("topics-creation");
    for file in ["a.txt", "b.txt", "c.txt"] {
        append_lines(&scratch.dir("inbox").join(file), &lines(file, 3));
    }
    let worker = WorkerSetup::new(&scratch, &broker, &[]).spawn();
    worker.wait_ready();
    let create = |pairs: Vec<(&str, String)>| {
        let config: serde_json::Map<String, Value> = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let body = json!({"name": config["name"].clone(), "config": config}).to_string();
        let response = http_request(worker.rest_port, "POST", "/connectors", &[], Some(&body))
            .expect("an answer");
        assert_eq!(response.status, 201, "{}", response.body);
    };
    create(creating_source("wide", "a.txt", "wide-lines"));
    create(creating_source("state", "b.txt", "state-users"));
    // No topic.creation key: one partition, as a broker creates a topic
    // on first use.
    create(vec![
        ("name", "plain".into()),
        ("connector.class", "file-source".into()),
        ("file", "/inbox/c.txt".into()),
        ("topic", "plain-lines".into()),
        ("grant.files", "inbox:ro".into()),
    ]);
    let shape = |topic: &str| {
        wait_for(&format!("topic {topic} to be created"), LONG, || {
            broker.topic_shape(topic)
        })
    };
    let (partitions, _) = shape("wide-lines");
    assert_eq!(partitions, 3, "the default group's partitions");
    assert_eq!(
        shape("state-users"),
        (2, Some("compact".to_string())),
        "the compacted group's partitions and cleanup.policy"
    );
    assert_eq!(shape("plain-lines").0, 1);
    // Every line arrived, over the 3 partitions.
    wait_for("the 3 lines in wide-lines", LONG, || {
        let total: i64 = (0..3)
            .map(|p| broker.partition_high_watermark("wide-lines", p))
            .sum();
        (total == 3).then_some(())
    });
    worker.stop();
}

#[test]
fn a_source_without_the_default_groups_counts_is_refused_by_name() {
    let broker = Broker::start();
    let scratch = Scratch::new("topics-creation-refused");
    let worker = WorkerSetup::new(&scratch, &broker, &[]).spawn();
    worker.wait_ready();
    let body = json!({"name": "half", "config": {
        "connector.class": "file-source", "file": "/inbox/a.txt", "topic": "t",
        "grant.files": "inbox:ro", "topic.creation.default.partitions": "3",
        "topic.creation.fast.partitions": "6",
    }})
    .to_string();
    let response =
        http_request(worker.rest_port, "POST", "/connectors", &[], Some(&body)).expect("an answer");
    assert_eq!(response.status, 400, "{}", response.body);
    let message = response.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(
            "missing required configuration \"topic.creation.default.replication.factor\""
        ),
        "{message}"
    );
    assert!(
        message.contains("\"topic.creation.fast.partitions\"")
            && message.contains("name it in topic.creation.groups"),
        "{message}"
    );
    assert!(broker.topic_shape("t").is_none(), "nothing was created");
    worker.stop();
}
