//! Apache Kafka's own sample worker files (config/connect-standalone.properties
//! and config/connect-distributed.properties of Kafka 4.x: their keys and
//! values, not their comments) start Sluice. A test changes only what it
//! must: `bootstrap.servers` (the test's broker rather than
//! localhost:9092), `plugin.path` (commented out in the samples) and
//! `listeners` (a free port rather than the default 8083). The connector
//! run on each is Kafka's sample connect-file-source.properties, with the
//! file grant Sluice's sandbox asks for.

use std::time::Duration;

use serde_json::json;
use sluice_tests::*;

const STANDALONE: &str = "bootstrap.servers=localhost:9092
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=/tmp/connect.offsets
offset.flush.interval.ms=10000
";

const DISTRIBUTED: &str = "bootstrap.servers=localhost:9092
group.id=connect-cluster
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.topic=connect-offsets
offset.storage.replication.factor=1
config.storage.topic=connect-configs
config.storage.replication.factor=1
status.storage.topic=connect-status
status.storage.replication.factor=1
offset.flush.interval.ms=10000
";

/// The sample file with the test's broker, plugins, port and the files
/// root the connector is granted.
fn worker_file(scratch: &Scratch, broker: &Broker, sample: &str, port: u16) -> std::path::PathBuf {
    let mut text = sample.replace("localhost:9092", &broker.bootstrap());
    // Kept apart from other tests' offsets.
    text = text.replace(
        "/tmp/connect.offsets",
        &scratch.file("connect.offsets").display().to_string(),
    );
    text.push_str(&format!(
        "plugin.path={PLUGIN_DIR}\nlisteners=http://127.0.0.1:{port}\nfiles.root.inbox={}\n",
        scratch.dir("inbox").display()
    ));
    let path = scratch.file("worker.properties");
    std::fs::write(&path, text).unwrap();
    path
}

/// Kafka's connect-file-source.properties through the REST API, reading
/// `test.txt` from the granted root into `connect-test`, and its records
/// as the sample's JsonConverter with schemas writes them.
fn file_source_runs(broker: &Broker, scratch: &Scratch, port: u16) {
    append_lines(
        &scratch.dir("inbox").join("test.txt"),
        &["hello".to_string(), "world".to_string()],
    );
    let body = json!({"name": "local-file-source", "config": {
        "connector.class": "FileStreamSource",
        "tasks.max": "1",
        "file": "/inbox/test.txt",
        "topic": "connect-test",
        "grant.files": "inbox:ro",
    }})
    .to_string();
    let created = wait_for(
        "the connector to be created",
        Duration::from_secs(120),
        || {
            let response = http_request(port, "POST", "/connectors", &[], Some(&body))?;
            // 409 while a new cluster settles its first rebalance.
            (response.status != 409).then_some(response)
        },
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let values = broker.read_values("connect-test", 2, Duration::from_secs(60));
    let values: Vec<serde_json::Value> = values
        .iter()
        .map(|v| serde_json::from_slice(v).unwrap())
        .collect();
    assert_eq!(
        values,
        [
            json!({"schema": {"type": "string", "optional": false}, "payload": "hello"}),
            json!({"schema": {"type": "string", "optional": false}, "payload": "world"}),
        ]
    );
}

#[test]
fn kafkas_stock_standalone_file_starts_a_worker() {
    let broker = Broker::start();
    let scratch = Scratch::new("stock-standalone");
    let port = free_port();
    let file = worker_file(&scratch, &broker, STANDALONE, port);
    let worker = WorkerSetup::from_file(&scratch, "standalone", &file, port).spawn();
    worker.wait_ready();
    file_source_runs(&broker, &scratch, port);
    assert!(worker.stop().success());
}

#[test]
fn kafkas_stock_distributed_file_starts_a_cluster_worker() {
    let broker = Broker::start();
    let scratch = Scratch::new("stock-distributed");
    let port = free_port();
    let file = worker_file(&scratch, &broker, DISTRIBUTED, port);
    let worker = WorkerSetup::from_file(&scratch, "distributed", &file, port).spawn();
    worker.wait_ready();
    // The internal topics, with Kafka Connect's default shapes.
    for (topic, partitions) in [
        ("connect-configs", 1),
        ("connect-offsets", 25),
        ("connect-status", 5),
    ] {
        assert_eq!(
            broker.topic_shape(topic),
            Some((partitions, Some("compact".to_string()))),
            "{topic}"
        );
    }
    file_source_runs(&broker, &scratch, port);
    let status = wait_for("the task to run", Duration::from_secs(60), || {
        let (_, status) = http_get(port, "/connectors/local-file-source/status")?;
        (status["tasks"][0]["state"] == "RUNNING").then_some(status)
    });
    assert_eq!(
        status["tasks"][0]["worker_id"],
        format!("127.0.0.1:{port}"),
        "{status}"
    );
    assert!(worker.stop().success());
}
