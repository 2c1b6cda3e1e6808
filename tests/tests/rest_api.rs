//! The read-only REST API of a running worker answers with Kafka Connect's
//! paths, JSON shapes and error bodies.

use std::time::Duration;

use serde_json::json;
use sluice_tests::*;

#[test]
fn read_only_endpoints_answer_in_kafka_connect_shapes() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest");
    append_lines(
        &scratch.dir("inbox").join("in.txt"),
        &numbered_lines(0, 10, 20),
    );
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    setup.connector(
        &scratch,
        "rest-source",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", "/inbox/in.txt"),
            ("topic", "rest-lines"),
            ("grant.files", "inbox:ro"),
        ],
    );
    setup.connector(
        &scratch,
        "rest-sink",
        &[
            ("connector.class", "file-sink"),
            ("file", "/outbox/out.txt"),
            ("topics", "rest-lines"),
            ("grant.files", "outbox:rw"),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let get = |path: &str| {
        worker
            .get(path)
            .unwrap_or_else(|| panic!("GET {path} failed"))
    };

    let (code, root) = get("/");
    assert_eq!(code, 200);
    assert!(
        root["version"].is_string() && root.get("commit").is_some(),
        "{root}"
    );
    assert_eq!(
        get("/health"),
        (
            200,
            json!({
                "status": "healthy",
                "message": "Worker has completed startup and is ready to handle requests.",
            })
        )
    );

    assert_eq!(
        get("/connectors"),
        (200, json!(["rest-sink", "rest-source"]))
    );
    let (code, info) = get("/connectors/rest-source");
    assert_eq!(code, 200);
    assert_eq!(info["name"], "rest-source");
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["file"], "/inbox/in.txt");
    assert_eq!(
        info["tasks"],
        json!([{ "connector": "rest-source", "task": 0 }])
    );
    let (code, config) = get("/connectors/rest-sink/config");
    assert_eq!(code, 200);
    assert_eq!(config["connector.class"], "file-sink");
    assert_eq!(config["topics"], "rest-lines");
    let (code, tasks) = get("/connectors/rest-source/tasks");
    assert_eq!(code, 200);
    assert_eq!(
        tasks[0]["id"],
        json!({ "connector": "rest-source", "task": 0 })
    );
    assert_eq!(tasks[0]["config"]["topic"], "rest-lines");

    let (code, expanded) = get("/connectors?expand=status&expand=info");
    assert_eq!(code, 200);
    assert_eq!(expanded["rest-sink"]["info"]["type"], "sink");
    assert_eq!(
        expanded["rest-source"]["status"]["connector"]["state"],
        "RUNNING"
    );
    let (_, only_status) = get("/connectors?expand=status");
    assert!(
        only_status["rest-sink"].get("info").is_none(),
        "{only_status}"
    );

    let task = wait_for("the source task to run", Duration::from_secs(60), || {
        let (code, task) = get("/connectors/rest-source/tasks/0/status");
        (code == 200 && task["state"] == "RUNNING").then_some(task)
    });
    assert_eq!(task["id"], 0);
    assert!(
        task["worker_id"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let (code, plugins) = get("/connector-plugins");
    assert_eq!(code, 200);
    assert!(
        plugins
            .as_array()
            .unwrap()
            .contains(&json!({ "class": "file-source", "type": "source", "version": "0.1.0" })),
        "{plugins}"
    );

    // Errors come in Kafka Connect's body.
    assert_eq!(
        get("/connectors/missing"),
        (
            404,
            json!({
                "error_code": 404,
                "message": "Connector missing not found",
            })
        )
    );
    assert_eq!(get("/connectors/missing/status").0, 404);
    let (code, body) = get("/connectors/rest-source/tasks/7/status");
    assert_eq!((code, body["error_code"].clone()), (404, json!(404)));
    let (code, body) = get("/no/such/path");
    assert_eq!((code, body["error_code"].clone()), (404, json!(404)));
    worker.stop();
}
