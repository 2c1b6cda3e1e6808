//! The REST API, endpoint by endpoint, with Kafka Connect's paths, JSON
//! shapes, status codes and error bodies. Each scenario runs twice: against
//! the router in process and against a running `sluice standalone`.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_tests::rest::{InProcess, RestClient};
use sluice_tests::*;

/// Asserts the status code, printing the body when it differs.
#[track_caller]
fn expect(response: &HttpResponse, status: u16) -> Value {
    assert_eq!(
        response.status, status,
        "expected {status}, got {}: {}",
        response.status, response.body
    );
    response.json()
}

/// Asserts an error in Kafka Connect's shape and returns its message.
#[track_caller]
fn expect_error(response: &HttpResponse, status: u16) -> String {
    let body = expect(response, status);
    assert_eq!(body["error_code"], status, "{body}");
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
        .to_string()
}

fn wait_state(client: &dyn RestClient, name: &str, connector: &str, tasks: &[&str]) -> Value {
    wait_for(
        &format!("{name} to be {connector} with tasks {tasks:?}"),
        Duration::from_secs(30),
        || {
            let status = client.get(&format!("/connectors/{name}/status")).json();
            let states: Vec<&str> = status["tasks"]
                .as_array()?
                .iter()
                .filter_map(|t| t["state"].as_str())
                .collect();
            (status["connector"]["state"] == connector && states == tasks).then_some(status.clone())
        },
    )
}

fn source_config(topic: &str) -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "file": "/inbox/in.txt",
        "topic": topic,
        "grant.files": "inbox:ro",
    })
}

fn sink_config(topic: &str) -> Value {
    json!({
        "connector.class": "file-sink",
        "file": "/outbox/out.txt",
        "topics": topic,
        "grant.files": "outbox:rw",
    })
}

/// Where the lifecycle runs: a standalone worker, or a cluster's follower.
#[derive(Clone, Copy)]
enum Mode {
    Standalone,
    Cluster,
}

/// Every connector endpoint and its errors, in the order an operator meets
/// them: create, inspect, reconfigure, pause, resume, restart, topics,
/// offsets, stop, delete.
fn connector_lifecycle(client: &dyn RestClient, scratch: &Scratch, mode: Mode) {
    let input = scratch.dir("inbox").join("in.txt");
    let output = scratch.dir("outbox").join("out.txt");
    append_lines(&input, &numbered_lines(0, 100, 20));

    let root = expect(&client.get("/"), 200);
    assert!(
        root["version"].is_string() && root["commit"].is_string(),
        "{root}"
    );
    assert!(
        root["kafka_cluster_id"].is_string(),
        "tansu tells its cluster id: {root}"
    );
    assert_eq!(expect(&client.get("/health"), 200)["status"], "healthy");
    assert_eq!(expect(&client.get("/connectors"), 200), json!([]));

    // Bad requests: not JSON, no config, unknown keys (every one listed).
    let not_json = client.send("POST", "/connectors", &[], Some("{oops"));
    assert!(expect_error(&not_json, 400).contains("not valid JSON"));
    let no_config = client.call("POST", "/connectors", Some(json!({"name": "x"})));
    assert!(expect_error(&no_config, 400).contains("\"config\""));
    let mut bad = source_config("lines");
    bad["bacth.size"] = json!("10");
    bad["tasks.max"] = json!("zero");
    let invalid = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": bad})),
    );
    let message = expect_error(&invalid, 400);
    assert!(
        message.contains("contains the following 2 error(s)")
            && message
                .contains("unknown configuration key \"bacth.size\", did you mean \"batch.size\"?")
            && message.contains("\"tasks.max\""),
        "{message}"
    );
    let bad_state = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": source_config("lines"), "initial_state": "SLEEPING"})),
    );
    assert!(expect_error(&bad_state, 400).contains("initial_state"));
    let unknown_plugin = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": {"connector.class": "NoSuchConnector"}})),
    );
    assert!(expect_error(&unknown_plugin, 400).contains("NoSuchConnector"));

    // Create: 201 with Location; a second time: 409.
    let created = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": source_config("lines")})),
    );
    let info = expect(&created, 201);
    assert_eq!(created.header("location"), Some("/connectors/src"));
    assert_eq!(info["name"], "src");
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], "src");
    // A cluster answers before the connector's worker has split it into
    // tasks, as Kafka Connect's distributed herder does.
    let tasks = match mode {
        Mode::Standalone => json!([{"connector": "src", "task": 0}]),
        Mode::Cluster => json!([]),
    };
    assert_eq!(info["tasks"], tasks);
    let duplicate = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "src", "config": source_config("lines")})),
    );
    assert_eq!(
        expect_error(&duplicate, 409),
        "Connector src already exists"
    );

    // PUT config creates (201) the sink, then replaces (200).
    let put = client.call("PUT", "/connectors/dst/config", Some(sink_config("lines")));
    expect(&put, 201);
    assert_eq!(put.header("location"), Some("/connectors/dst"));
    let mismatch = client.call(
        "PUT",
        "/connectors/dst/config",
        Some(json!({"name": "other", "connector.class": "file-sink"})),
    );
    assert!(expect_error(&mismatch, 400).contains("doesn't match connector name in the URL"));
    let lines = wait_for_lines(&output, 100, Duration::from_secs(60));
    assert_eq!(lines, numbered_lines(0, 100, 20));
    let mut replaced = sink_config("lines");
    replaced["tasks.max"] = json!(1);
    let put = client.call("PUT", "/connectors/dst/config", Some(replaced));
    assert_eq!(expect(&put, 200)["config"]["tasks.max"], "1");

    // Reading: info, config, tasks, status, task status, expand.
    assert_eq!(expect(&client.get("/connectors/src"), 200)["name"], "src");
    assert_eq!(
        expect(&client.get("/connectors/src/config"), 200)["topic"],
        "lines"
    );
    let tasks = expect(&client.get("/connectors/src/tasks"), 200);
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    assert_eq!(tasks[0]["config"]["file"], "/inbox/in.txt");
    let tasks_config = expect(&client.get("/connectors/src/tasks-config"), 200);
    assert_eq!(tasks_config["src-0"]["file"], "/inbox/in.txt");
    let status = wait_state(client, "src", "RUNNING", &["RUNNING"]);
    assert_eq!(status["name"], "src");
    assert_eq!(status["type"], "source");
    assert!(status["connector"]["worker_id"].is_string());
    let task = expect(&client.get("/connectors/src/tasks/0/status"), 200);
    assert_eq!(
        (task["id"].clone(), task["state"].clone()),
        (json!(0), json!("RUNNING"))
    );
    assert_eq!(
        expect_error(&client.get("/connectors/src/tasks/7/status"), 404),
        "Task src-7 not found"
    );
    assert_eq!(
        expect_error(&client.get("/connectors/src/tasks/x/status"), 404),
        "Task src-x not found"
    );
    for path in [
        "/connectors/nope",
        "/connectors/nope/config",
        "/connectors/nope/status",
        "/connectors/nope/tasks",
        "/connectors/nope/topics",
        "/connectors/nope/offsets",
    ] {
        assert_eq!(
            expect_error(&client.get(path), 404),
            "Connector nope not found",
            "{path}"
        );
    }
    assert_eq!(
        expect(&client.get("/connectors"), 200),
        json!(["dst", "src"])
    );
    let expanded = expect(&client.get("/connectors?expand=status&expand=info"), 200);
    assert_eq!(expanded["src"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["dst"]["info"]["type"], "sink");
    let only_info = expect(&client.get("/connectors?expand=info"), 200);
    assert!(only_info["src"].get("status").is_none(), "{only_info}");
    expect_error(&client.get("/connectors?expand=everything"), 400);

    // PATCH merges, a null removes a key; unknown connector: 404.
    let patched = client.call(
        "PATCH",
        "/connectors/src/config",
        Some(json!({"batch.size": 50, "tasks.max": null})),
    );
    let config = expect(&patched, 200)["config"].clone();
    assert_eq!(config["batch.size"], "50");
    assert!(config.get("tasks.max").is_none(), "{config}");
    assert_eq!(config["file"], "/inbox/in.txt");
    let bad_patch = client.call(
        "PATCH",
        "/connectors/src/config",
        Some(json!({"batch.size": "many"})),
    );
    assert!(expect_error(&bad_patch, 400).contains("\"batch.size\""));
    expect_error(
        &client.call("PATCH", "/connectors/nope/config", Some(json!({}))),
        404,
    );

    // Pause: 202, PAUSED, nothing moves; resume: 202, RUNNING, it moves.
    wait_state(client, "src", "RUNNING", &["RUNNING"]);
    assert_eq!(
        client.call("PUT", "/connectors/src/pause", None).status,
        202
    );
    wait_state(client, "src", "PAUSED", &["PAUSED"]);
    append_lines(&input, &numbered_lines(100, 50, 20));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(read_lines(&output).len(), 100, "a paused source produced");
    assert_eq!(
        client.call("PUT", "/connectors/src/resume", None).status,
        202
    );
    wait_state(client, "src", "RUNNING", &["RUNNING"]);
    wait_for_lines(&output, 150, Duration::from_secs(60));
    expect_error(&client.call("PUT", "/connectors/nope/pause", None), 404);
    expect_error(&client.call("PUT", "/connectors/nope/resume", None), 404);

    // Restart: connector alone 204; with tasks 202 and the status body.
    assert_eq!(
        client.call("POST", "/connectors/src/restart", None).status,
        204
    );
    let restarting = client.call("POST", "/connectors/src/restart?includeTasks=true", None);
    let body = expect(&restarting, 202);
    assert_eq!(body["connector"]["state"], "RESTARTING");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING");
    let only_failed = client.call(
        "POST",
        "/connectors/src/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    let body = expect(&only_failed, 202);
    assert_eq!(
        body["connector"]["state"], "RUNNING",
        "nothing failed: {body}"
    );
    expect_error(
        &client.call("POST", "/connectors/src/restart?includeTasks=maybe", None),
        400,
    );
    expect_error(&client.call("POST", "/connectors/nope/restart", None), 404);
    assert_eq!(
        client
            .call("POST", "/connectors/src/tasks/0/restart", None)
            .status,
        204
    );
    expect_error(
        &client.call("POST", "/connectors/src/tasks/3/restart", None),
        404,
    );
    wait_state(client, "src", "RUNNING", &["RUNNING"]);
    append_lines(&input, &numbered_lines(150, 10, 20));
    assert_eq!(
        wait_for_lines(&output, 160, Duration::from_secs(60)),
        numbered_lines(0, 160, 20),
        "restarts lose and repeat nothing after a clean stop"
    );

    // Active topics, and their reset.
    assert_eq!(
        expect(&client.get("/connectors/src/topics"), 200),
        json!({"src": {"topics": ["lines"]}})
    );
    assert_eq!(
        expect(&client.get("/connectors/dst/topics"), 200),
        json!({"dst": {"topics": ["lines"]}})
    );
    assert_eq!(
        client
            .call("PUT", "/connectors/src/topics/reset", None)
            .status,
        202
    );
    assert_eq!(
        expect(&client.get("/connectors/src/topics"), 200),
        json!({"src": {"topics": []}})
    );

    // Offsets: readable while running, changeable only when STOPPED.
    let offsets = wait_for("the source offsets", Duration::from_secs(30), || {
        let body = client.get("/connectors/src/offsets").json();
        let list = body["offsets"].as_array()?.clone();
        list.iter()
            .any(|o| o["offset"]["position"].as_u64() == Some(160 * 21))
            .then_some(list)
    });
    assert_eq!(
        offsets[0]["partition"],
        json!({"filename": "/inbox/in.txt"})
    );
    let rewind = json!({"offsets": [{"partition": {"filename": "/inbox/in.txt"}, "offset": {"position": 0}}]});
    let refused = client.call("PATCH", "/connectors/src/offsets", Some(rewind.clone()));
    assert_eq!(
        expect_error(&refused, 400),
        "Connectors must be in the STOPPED state before their offsets can be modified. This can \
         be done for the specified connector by issuing a 'PUT' request to the \
         '/connectors/src/stop' endpoint"
    );
    expect_error(&client.call("DELETE", "/connectors/src/offsets", None), 400);
    assert_eq!(client.call("PUT", "/connectors/src/stop", None).status, 204);
    let stopped = wait_state(client, "src", "STOPPED", &[]);
    assert_eq!(stopped["tasks"], json!([]));
    assert_eq!(expect(&client.get("/connectors/src/tasks"), 200), json!([]));
    let malformed = client.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(json!({"offsets": [{"partition": "in.txt", "offset": {"position": 0}}]})),
    );
    assert!(expect_error(&malformed, 400).contains("Source partitions must be JSON objects"));
    let altered = client.call("PATCH", "/connectors/src/offsets", Some(rewind));
    assert!(
        expect(&altered, 200)["message"]
            .as_str()
            .unwrap()
            .contains("have been altered successfully")
    );
    let offsets = expect(&client.get("/connectors/src/offsets"), 200);
    assert_eq!(offsets["offsets"][0]["offset"], json!({"position": 0}));
    // Resumed from position 0, the source reads the file again.
    assert_eq!(
        client.call("PUT", "/connectors/src/resume", None).status,
        202
    );
    wait_state(client, "src", "RUNNING", &["RUNNING"]);
    let again = wait_for_lines(&output, 320, Duration::from_secs(60));
    assert_eq!(&again[160..], numbered_lines(0, 160, 20).as_slice());

    // Sink offsets are the consumer group's.
    let sink_offsets = wait_for("the sink offsets", Duration::from_secs(30), || {
        let body = client.get("/connectors/dst/offsets").json();
        (body["offsets"][0]["offset"]["kafka_offset"].as_i64() == Some(320)).then_some(body)
    });
    assert_eq!(
        sink_offsets["offsets"][0]["partition"],
        json!({"kafka_topic": "lines", "kafka_partition": 0})
    );
    assert_eq!(client.call("PUT", "/connectors/dst/stop", None).status, 204);
    wait_state(client, "dst", "STOPPED", &[]);
    let bad_sink = client.call(
        "PATCH",
        "/connectors/dst/offsets",
        Some(json!({"offsets": [{"partition": {"kafka_topic": "lines"}, "offset": {"kafka_offset": 1}}]})),
    );
    assert!(expect_error(&bad_sink, 400).contains("kafka_partition"));
    let to_300 = json!({"offsets": [{"partition": {"kafka_topic": "lines", "kafka_partition": 0}, "offset": {"kafka_offset": 300}}]});
    assert_eq!(
        expect(
            &client.call("PATCH", "/connectors/dst/offsets", Some(to_300)),
            200
        )["message"],
        "The offsets for this connector have been altered successfully"
    );
    assert_eq!(
        expect(&client.get("/connectors/dst/offsets"), 200)["offsets"][0]["offset"],
        json!({"kafka_offset": 300})
    );
    // From offset 300 the sink writes the last 20 records once more.
    assert_eq!(
        client.call("PUT", "/connectors/dst/resume", None).status,
        202
    );
    let replayed = wait_for_lines(&output, 340, Duration::from_secs(60));
    assert_eq!(&replayed[320..], &numbered_lines(140, 20, 20)[..]);
    assert_eq!(client.call("PUT", "/connectors/dst/stop", None).status, 204);
    wait_state(client, "dst", "STOPPED", &[]);
    let reset = client.call("DELETE", "/connectors/dst/offsets", None);
    assert_eq!(
        expect(&reset, 200)["message"],
        "The offsets for this connector have been reset successfully"
    );
    let after = expect(&client.get("/connectors/dst/offsets"), 200);
    assert!(
        after["offsets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["offset"]["kafka_offset"] == 0),
        "reset offsets restart from the beginning: {after}"
    );

    // Delete: 204, then 404.
    assert_eq!(client.call("DELETE", "/connectors/src", None).status, 204);
    expect_error(&client.get("/connectors/src"), 404);
    expect_error(&client.call("DELETE", "/connectors/src", None), 404);
    expect_error(&client.call("PUT", "/connectors/nope/stop", None), 404);
    expect_error(
        &client.call("POST", "/connectors/nope/tasks/0/restart", None),
        404,
    );
    expect_error(
        &client.call("PUT", "/connectors/nope/topics/reset", None),
        404,
    );
    expect_error(
        &client.call("DELETE", "/connectors/nope/offsets", None),
        404,
    );
    assert_eq!(expect(&client.get("/connectors"), 200), json!(["dst"]));
}

/// Plugins, validation, loggers, unknown paths and wrong methods.
fn plugins_loggers_and_errors(client: &dyn RestClient) {
    let plugins = expect(&client.get("/connector-plugins"), 200);
    let mut classes: Vec<(&str, &str)> = plugins
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["class"].as_str().unwrap(), p["type"].as_str().unwrap()))
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        [
            ("file-sink", "sink"),
            ("file-source", "source"),
            ("jdbc-sink", "sink"),
            ("jdbc-source", "source")
        ]
    );
    assert!(plugins[0]["version"].is_string());
    let all = expect(&client.get("/connector-plugins?connectorsOnly=false"), 200);
    assert!(all.as_array().unwrap().len() >= 2);
    expect_error(
        &client.get("/connector-plugins?connectorsOnly=perhaps"),
        400,
    );

    let keys = expect(
        &client.get("/connector-plugins/FileStreamSource/config"),
        200,
    );
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    for name in [
        "name",
        "connector.class",
        "tasks.max",
        "grant.files",
        "file",
        "topic",
        "batch.size",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let file = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "file")
        .unwrap();
    assert_eq!(file["type"], "STRING");
    assert!(file["documentation"].as_str().unwrap().len() > 5);
    expect_error(&client.get("/connector-plugins/NoSuch/config"), 404);

    let report = client.call(
        "PUT",
        "/connector-plugins/file-source/config/validate",
        Some(json!({"name": "v", "topic": "t", "batch.size": "lots", "bogus": "1"})),
    );
    let report = expect(&report, 200);
    assert_eq!(report["name"], "file-source");
    assert!(report["error_count"].as_i64().unwrap() >= 3, "{report}");
    assert!(
        report["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("Common"))
    );
    let entry = |key: &str| {
        report["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["definition"]["name"] == key)
            .unwrap_or_else(|| panic!("{key} not in {report}"))
            .clone()
    };
    assert!(
        entry("file")["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("missing required")
    );
    assert_eq!(entry("batch.size")["value"]["value"], "lots");
    assert!(
        !entry("batch.size")["value"]["errors"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        entry("bogus")["value"]["errors"][0]
            .as_str()
            .unwrap()
            .contains("unknown configuration key")
    );
    assert_eq!(entry("topic")["value"]["errors"], json!([]));
    let clean = client.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(json!({"name": "v", "connector.class": "FileStreamSource", "file": "/inbox/x", "topic": "t", "grant.files": "inbox:ro"})),
    );
    assert_eq!(expect(&clean, 200)["error_count"], 0);
    let other = client.call(
        "PUT",
        "/connector-plugins/file-source/config/validate",
        Some(json!({"connector.class": "file-sink"})),
    );
    assert!(expect_error(&other, 400).contains("does not match request type"));
    expect_error(
        &client.call(
            "PUT",
            "/connector-plugins/NoSuch/config/validate",
            Some(json!({})),
        ),
        404,
    );
    expect_error(
        &client.call(
            "PUT",
            "/connector-plugins/file-source/config/validate",
            Some(json!([1])),
        ),
        400,
    );

    let loggers = expect(&client.get("/admin/loggers"), 200);
    assert_eq!(loggers["root"]["level"], "INFO");
    let changed = client.call(
        "PUT",
        "/admin/loggers/sluice::worker",
        Some(json!({"level": "debug"})),
    );
    assert_eq!(expect(&changed, 200), json!(["sluice::worker"]));
    let level = expect(&client.get("/admin/loggers/sluice::worker::sink_task"), 200);
    assert_eq!(level["level"], "DEBUG");
    assert!(expect(&client.get("/admin/loggers"), 200)["sluice::worker"]["last_modified"].is_u64());
    let cluster = client.call(
        "PUT",
        "/admin/loggers/sluice::rest?scope=cluster",
        Some(json!({"level": "WARN"})),
    );
    assert_eq!(cluster.status, 204);
    assert!(
        expect_error(
            &client.call(
                "PUT",
                "/admin/loggers/sluice",
                Some(json!({"level": "LOUD"}))
            ),
            400
        )
        .contains("Invalid log level 'LOUD'")
    );
    expect_error(
        &client.call("PUT", "/admin/loggers/sluice", Some(json!({}))),
        400,
    );
    expect_error(&client.get("/admin/loggers/a%20b"), 400);
    let reset = client.call("PUT", "/admin/loggers/root", Some(json!({"level": "INFO"})));
    assert_eq!(expect(&reset, 200)[0], "root");

    assert_eq!(
        expect_error(&client.get("/no/such/path"), 404),
        "HTTP 404 Not Found"
    );
    expect_error(&client.call("DELETE", "/connector-plugins", None), 405);
    expect_error(&client.call("POST", "/connectors/x/status", None), 405);
    let wrong_type = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "w", "config": {"file": ["a"]}})),
    );
    assert!(expect_error(&wrong_type, 400).contains("must be a string"));
    let empty = client.send("PUT", "/connectors/e/config", &[], None);
    expect_error(&empty, 400);

    let document = expect(&client.get("/openapi.json"), 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for path in KAFKA_CONNECT_PATHS {
        assert!(
            paths.contains_key(*path),
            "{path} is not in the OpenAPI document"
        );
    }
}

/// Every path of Kafka Connect 3.9's REST API.
const KAFKA_CONNECT_PATHS: &[&str] = &[
    "/",
    "/health",
    "/admin/loggers",
    "/admin/loggers/{logger}",
    "/connector-plugins",
    "/connector-plugins/{plugin}/config",
    "/connector-plugins/{plugin}/config/validate",
    "/connectors",
    "/connectors/{connector}",
    "/connectors/{connector}/config",
    "/connectors/{connector}/offsets",
    "/connectors/{connector}/pause",
    "/connectors/{connector}/restart",
    "/connectors/{connector}/resume",
    "/connectors/{connector}/status",
    "/connectors/{connector}/stop",
    "/connectors/{connector}/tasks",
    "/connectors/{connector}/tasks-config",
    "/connectors/{connector}/tasks/{task}/restart",
    "/connectors/{connector}/tasks/{task}/status",
    "/connectors/{connector}/topics",
    "/connectors/{connector}/topics/reset",
];

#[test]
fn every_endpoint_in_process() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-in-process");
    let setup = WorkerSetup::new(&scratch, &broker, &[]);
    let client = InProcess::start(&setup.worker_file);
    plugins_loggers_and_errors(&client);
    connector_lifecycle(&client, &scratch, Mode::Standalone);
}

#[test]
fn every_endpoint_against_a_running_worker() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-process");
    let setup = WorkerSetup::new(&scratch, &broker, &[]);
    let worker = setup.spawn();
    worker.wait_ready();
    plugins_loggers_and_errors(&worker);
    connector_lifecycle(&worker, &scratch, Mode::Standalone);
    assert!(worker.stop().success());
}

/// The worker keys that declare the env and file config providers (no
/// provider exists unless the worker file declares it).
fn providers() -> Vec<(&'static str, String)> {
    vec![
        ("config.providers", "env,file".into()),
        (
            "config.providers.env.class",
            "org.apache.kafka.common.config.provider.EnvVarConfigProvider".into(),
        ),
        ("config.providers.file.class", "FileConfigProvider".into()),
        ("plugin.path", format!("{PLUGIN_DIR},{FIXTURE_DIR}")),
    ]
}

/// Secrets: a reference resolves only in a key the plugin declares as a
/// password (the `poison` fixture's `secret`); anywhere else, InsertField's
/// `static.value` above all, it is refused by name at validation and at
/// creation. The configuration and task configurations show references,
/// the plugin gets the value, and a failure trace and the worker's log
/// never show it. `log` reads the worker's log; the in-process worker logs
/// nowhere a test can read, so it passes `None` and its run checks
/// everything but the log.
fn secrets(
    client: &dyn RestClient,
    scratch: &Scratch,
    env_var: &str,
    log: Option<&dyn Fn() -> String>,
) {
    let secrets_file = scratch.file("secrets.properties");
    std::fs::write(&secrets_file, "token=tok-secret-7f3a\n").unwrap();
    let file_reference = format!("${{file:{}:token}}", secrets_file.display());
    let env_reference = format!("${{env:{env_var}}}");

    // Outside a password key, a reference is refused by name: when
    // validated, and when created.
    let mut exfiltrate = source_config("t");
    exfiltrate["transforms"] = json!("tag");
    exfiltrate["transforms.tag.type"] =
        json!("org.apache.kafka.connect.transforms.InsertField$Value");
    exfiltrate["transforms.tag.static.field"] = json!("stolen");
    exfiltrate["transforms.tag.static.value"] = json!(file_reference);
    exfiltrate["topic"] = json!(env_reference);
    let validated = expect(
        &client.call(
            "PUT",
            "/connector-plugins/file-source/config/validate",
            Some(exfiltrate.clone()),
        ),
        200,
    );
    assert_eq!(validated["error_count"], 2, "{validated}");
    for key in ["transforms.tag.static.value", "topic"] {
        let entry = validated["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .unwrap_or_else(|| panic!("no entry for {key}: {validated}"));
        let errors = entry["value"]["errors"].to_string();
        assert!(errors.contains("type PASSWORD"), "{key}: {errors}");
    }
    let refused = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "stolen", "config": exfiltrate})),
    );
    let message = expect_error(&refused, 400);
    assert!(
        message.contains("\"transforms.tag.static.value\"")
            && message.contains("type PASSWORD")
            && !message.contains("tok-secret-7f3a"),
        "{message}"
    );
    assert_eq!(client.get("/connectors/stolen").status, 404);

    // In the plugin's password key it resolves, for the tasks only.
    append_lines(
        &scratch.dir("inbox").join("s.txt"),
        &["fine".to_string(), "reveal it".to_string()],
    );
    let mut config = source_config("sec-topic");
    config["file"] = json!("/inbox/s.txt");
    config["transforms"] = json!("p");
    config["transforms.p.type"] = json!("poison");
    config["transforms.p.secret"] = json!(file_reference);
    let created = client.call(
        "POST",
        "/connectors",
        Some(json!({"name": "sec", "config": config.clone()})),
    );
    let info = expect(&created, 201);
    assert_eq!(
        info["config"]["transforms.p.secret"],
        config["transforms.p.secret"]
    );
    // A cluster lists the tasks once the connector's worker has split it.
    let tasks = wait_for("the connector's tasks", Duration::from_secs(60), || {
        let tasks = expect(&client.get("/connectors/sec/tasks"), 200);
        tasks
            .as_array()
            .is_some_and(|t| !t.is_empty())
            .then_some(tasks)
    });
    assert_eq!(
        tasks[0]["config"]["transforms.p.secret"], config["transforms.p.secret"],
        "{tasks}"
    );
    // The plugin had the value: its error message held it, and the trace
    // shows it masked.
    let failed = wait_state(client, "sec", "RUNNING", &["FAILED"]);
    let trace = failed["tasks"][0]["trace"].as_str().unwrap();
    assert!(
        trace.contains("revealing the secret [hidden]") && !trace.contains("tok-secret-7f3a"),
        "{trace}"
    );
    let everything = format!(
        "{}{}{}{}",
        client.get("/connectors/sec").body,
        client.get("/connectors/sec/config").body,
        client.get("/connectors/sec/tasks-config").body,
        client.get("/connectors/sec/status").body,
    );
    assert!(!everything.contains("tok-secret-7f3a"), "{everything}");
    if let Some(log) = log {
        let log = log();
        assert!(log.contains("task failed"), "the failure is logged: {log}");
        assert!(!log.contains("tok-secret-7f3a"), "the log shows a secret");
    }
    // Restarting only what failed: the task, not the running connector.
    let restart = client.call(
        "POST",
        "/connectors/sec/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    let body = expect(&restart, 202);
    assert_eq!(body["connector"]["state"], "RUNNING", "{body}");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING", "{body}");
    // It fails again the same way (the line is still there).
    wait_state(client, "sec", "RUNNING", &["FAILED"]);
    assert_eq!(
        client
            .call("POST", "/connectors/sec/tasks/0/restart", None)
            .status,
        204
    );
    wait_state(client, "sec", "RUNNING", &["FAILED"]);

    // An unresolvable reference, and a provider the worker does not
    // declare, are 400s naming the key and the reference.
    let mut unresolvable = config.clone();
    unresolvable["transforms.p.secret"] = json!("${env:SLUICE_TEST_NOT_SET_ANYWHERE}");
    let message = expect_error(
        &client.call(
            "POST",
            "/connectors",
            Some(json!({"name": "sec3", "config": unresolvable})),
        ),
        400,
    );
    assert!(
        message.contains("\"transforms.p.secret\"")
            && message.contains("SLUICE_TEST_NOT_SET_ANYWHERE is not set"),
        "{message}"
    );
    let mut undeclared = config.clone();
    undeclared["transforms.p.secret"] = json!("${directory:/run/secrets:token}");
    let message = expect_error(
        &client.call(
            "POST",
            "/connectors",
            Some(json!({"name": "sec4", "config": undeclared})),
        ),
        400,
    );
    assert!(
        message.contains("no config provider \"directory\" is declared"),
        "{message}"
    );
}

#[test]
fn secrets_resolve_only_in_password_keys_and_only_for_tasks() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-secrets");
    // SAFETY: set before any thread of this test reads the environment;
    // the name is unique to this test.
    unsafe { std::env::set_var("SLUICE_TEST_SECRET_TOPIC_A", "secret-topic") };
    let setup = WorkerSetup::new(&scratch, &broker, &providers());
    let client = InProcess::start(&setup.worker_file);
    secrets(&client, &scratch, "SLUICE_TEST_SECRET_TOPIC_A", None);
    drop(client);

    let broker = Broker::start();
    let scratch = Scratch::new("rest-secrets-process");
    let mut setup = WorkerSetup::new(&scratch, &broker, &providers());
    setup
        .env
        .push(("SLUICE_TEST_SECRET_TOPIC_B".into(), "secret-topic".into()));
    let worker = setup.spawn();
    worker.wait_ready();
    secrets(
        &worker,
        &scratch,
        "SLUICE_TEST_SECRET_TOPIC_B",
        Some(&|| worker.log()),
    );
}

/// A two-worker cluster of group `group` with `keys`, and which of the two
/// follows: (leader, follower), once each worker's last rebalance says so.
fn two_worker_cluster(
    scratch: &Scratch,
    broker: &Broker,
    group: &str,
    keys: &[(&str, String)],
    env: &[(&str, &str)],
) -> (WorkerProcess, WorkerProcess) {
    let spawn = |index| {
        let mut setup = WorkerSetup::distributed(scratch, broker, group, index, keys);
        setup
            .env
            .extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        setup.spawn()
    };
    let workers = [spawn(0), spawn(1)];
    let leader = wait_for(
        "one leader and one follower",
        Duration::from_secs(120),
        || match (leads(&workers[0]), leads(&workers[1])) {
            (Some(true), Some(false)) => Some(0),
            (Some(false), Some(true)) => Some(1),
            _ => None,
        },
    );
    let [a, b] = workers;
    for worker in [&a, &b] {
        worker.wait_ready();
    }
    if leader == 0 { (a, b) } else { (b, a) }
}

/// Every endpoint, and secrets, through the follower of a two-worker
/// cluster: it forwards writes to the leader and answers reads from the
/// internal topics, and every answer is the one a standalone worker gives.
#[test]
fn every_endpoint_and_secrets_through_a_follower_of_a_cluster() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-cluster");
    let env = [("SLUICE_TEST_SECRET_TOPIC_C", "secret-topic")];
    let (leader, follower) = two_worker_cluster(&scratch, &broker, "rest", &providers(), &env);
    connector_lifecycle(&follower, &scratch, Mode::Cluster);
    secrets(
        &follower,
        &scratch,
        "SLUICE_TEST_SECRET_TOPIC_C",
        Some(&|| leader.log() + &follower.log()),
    );
    // The leader answers as the follower it served does.
    for path in [
        "/connectors?expand=status",
        "/connectors/dst/offsets",
        "/connectors/dst/topics",
    ] {
        wait_for(
            &format!("both workers to answer {path} alike"),
            Duration::from_secs(30),
            || {
                let on_leader = expect(&RestClient::get(&leader, path), 200);
                (on_leader == expect(&RestClient::get(&follower, path), 200)).then_some(())
            },
        );
    }
}

/// REST authentication on a follower: it refuses what it should itself,
/// and forwards the caller's credentials to the leader with a write.
#[test]
fn a_follower_checks_credentials_and_forwards_them_to_the_leader() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-cluster-auth");
    let auth = [
        ("config.providers", "env".to_string()),
        ("config.providers.env.class", "env".to_string()),
        ("rest.auth.basic.username", "admin".to_string()),
        (
            "rest.auth.basic.password",
            "${env:SLUICE_TEST_REST_PASSWORD}".to_string(),
        ),
        ("rest.auth.bearer.token", "tok-42".to_string()),
    ];
    let env = [("SLUICE_TEST_REST_PASSWORD", "s3cret")];
    let (leader, follower) = two_worker_cluster(&scratch, &broker, "auth", &auth, &env);
    authentication(&follower);
    let create = json!({"name": "guarded", "config": source_config("guarded")}).to_string();
    let body = Some(create.as_str());
    let wrong = [("Authorization", "Bearer tok-43")];
    expect_error(&follower.send("POST", "/connectors", &wrong, body), 401);
    let bearer = [("Authorization", "Bearer tok-42")];
    let created = follower.send("POST", "/connectors", &bearer, body);
    assert_eq!(expect(&created, 201)["name"], "guarded");
    assert_eq!(
        expect(&leader.send("GET", "/connectors", &bearer, None), 200),
        json!(["guarded"])
    );
}

#[test]
fn connectors_changed_over_rest_survive_a_restart() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-persist");
    append_lines(
        &scratch.dir("inbox").join("in.txt"),
        &numbered_lines(0, 10, 20),
    );
    let setup = WorkerSetup::new(&scratch, &broker, &[]);
    let worker = setup.spawn();
    worker.wait_ready();
    let create = |name: &str, config: Value| {
        expect(
            &worker.call(
                "POST",
                "/connectors",
                Some(json!({"name": name, "config": config})),
            ),
            201,
        );
    };
    create("kept", source_config("a"));
    create("paused", source_config("b"));
    create("gone", source_config("c"));
    let stopped = worker.call(
        "POST",
        "/connectors",
        Some(json!({"name": "stopped", "config": source_config("d"), "initial_state": "STOPPED"})),
    );
    expect(&stopped, 201);
    wait_state(&worker, "stopped", "STOPPED", &[]);
    expect(
        &worker.call(
            "PATCH",
            "/connectors/kept/config",
            Some(json!({"batch.size": "7"})),
        ),
        200,
    );
    assert_eq!(
        worker.call("PUT", "/connectors/paused/pause", None).status,
        202
    );
    assert_eq!(worker.call("DELETE", "/connectors/gone", None).status, 204);
    wait_state(&worker, "paused", "PAUSED", &["PAUSED"]);
    assert!(worker.stop().success());

    let worker = setup.spawn();
    worker.wait_ready();
    assert_eq!(
        expect(&RestClient::get(&worker, "/connectors"), 200),
        json!(["kept", "paused", "stopped"])
    );
    assert_eq!(
        expect(&RestClient::get(&worker, "/connectors/kept/config"), 200)["batch.size"],
        "7"
    );
    wait_state(&worker, "kept", "RUNNING", &["RUNNING"]);
    wait_state(&worker, "paused", "PAUSED", &["PAUSED"]);
    wait_state(&worker, "stopped", "STOPPED", &[]);
}

fn authentication(client: &dyn RestClient) {
    let open = client.get("/connectors");
    assert_eq!(
        expect_error(&open, 401),
        "This endpoint requires authentication: send an Authorization header"
    );
    assert_eq!(
        open.header("www-authenticate"),
        Some("Basic realm=\"sluice\"")
    );
    for path in [
        "/",
        "/connector-plugins",
        "/admin/loggers",
        "/openapi.json",
        "/connectors/x/status",
    ] {
        expect_error(&client.get(path), 401);
    }
    expect_error(&client.call("POST", "/connectors", Some(json!({}))), 401);
    assert_eq!(client.get("/health").status, 200);
    // admin:s3cret
    let basic = [("Authorization", "Basic YWRtaW46czNjcmV0")];
    assert_eq!(
        expect(&client.send("GET", "/connectors", &basic, None), 200),
        json!([])
    );
    let bearer = [("Authorization", "Bearer tok-42")];
    assert_eq!(
        client
            .send("GET", "/connector-plugins", &bearer, None)
            .status,
        200
    );
    let wrong = [("Authorization", "Bearer tok-43")];
    assert_eq!(
        expect_error(&client.send("GET", "/connectors", &wrong, None), 401),
        "The credentials in the Authorization header are not valid"
    );
}

#[test]
fn authentication_guards_every_endpoint_but_health() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-auth");
    // SAFETY: read only by workers of this test.
    unsafe { std::env::set_var("SLUICE_TEST_REST_PASSWORD", "s3cret") };
    let auth = [
        ("config.providers", "env".to_string()),
        ("config.providers.env.class", "env".to_string()),
        ("rest.auth.basic.username", "admin".to_string()),
        (
            "rest.auth.basic.password",
            "${env:SLUICE_TEST_REST_PASSWORD}".to_string(),
        ),
        ("rest.auth.bearer.token", "tok-42".to_string()),
    ];
    let mut setup = WorkerSetup::new(&scratch, &broker, &auth);
    authentication(&InProcess::start(&setup.worker_file));
    setup
        .env
        .push(("SLUICE_TEST_REST_PASSWORD".into(), "s3cret".into()));
    let worker = setup.spawn();
    wait_for("the worker to be healthy", Duration::from_secs(60), || {
        worker.get("/health").filter(|(code, _)| *code == 200)
    });
    authentication(&worker);
}

#[test]
fn health_is_503_until_the_worker_has_started() {
    let starting = InProcess::starting();
    let health = starting.get("/health");
    assert_eq!(expect(&health, 503)["status"], "starting");
    assert!(expect_error(&starting.get("/connectors"), 503).contains("still starting"));

    // A worker whose broker does not answer spends seconds asking it for
    // the cluster id; its REST API answers 503 meanwhile.
    let scratch = Scratch::new("rest-starting");
    let dead = free_port();
    let setup = WorkerSetup::new(&scratch, &Broker::unstarted(dead), &[]);
    let worker = setup.spawn();
    let first = wait_for("the REST API to answer", Duration::from_secs(30), || {
        worker.get("/health")
    });
    assert_eq!(first.0, 503, "{first:?}");
    assert_eq!(first.1["status"], "starting");
    worker.wait_ready();
}

/// `listeners=http://...,https://...` with Kafka's `listeners.https.ssl.*`
/// keys (a PEM key store): the REST API answers over TLS with the
/// configured certificate, and a client that does not trust it is refused.
#[test]
fn an_https_listener_serves_the_api_with_a_pem_certificate() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-https");
    let (ca, certificate, key) = certificate_authority(&scratch, "rest");
    let store = key_store(&scratch, &certificate, &key);

    let tls_port = free_port();
    let setup = WorkerSetup::new(&scratch, &broker, &[]);
    let pairs = [
        (
            "listeners",
            format!(
                "http://127.0.0.1:{},HTTPS://127.0.0.1:{tls_port}",
                setup.rest_port
            ),
        ),
        ("listeners.https.ssl.keystore.type", "PEM".to_string()),
        (
            "listeners.https.ssl.keystore.location",
            store.display().to_string(),
        ),
    ];
    let mut text = std::fs::read_to_string(&setup.worker_file).unwrap();
    for (key, value) in pairs {
        text.push_str(&format!("{key}={value}\n"));
    }
    std::fs::write(&setup.worker_file, text).unwrap();
    let worker = setup.spawn();
    worker.wait_ready();
    let curl = |extra: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
            .args(extra)
            .arg(format!("https://127.0.0.1:{tls_port}/connector-plugins"))
            .output()
            .expect("running curl")
    };
    let trusted = curl(&["--cacert", &ca.display().to_string()]);
    let body = String::from_utf8_lossy(&trusted.stdout);
    assert!(
        trusted.status.success(),
        "{body} {}",
        String::from_utf8_lossy(&trusted.stderr)
    );
    assert!(
        body.ends_with("\n200") && body.contains("file-source"),
        "{body}"
    );
    let untrusted = curl(&[]);
    assert!(
        !untrusted.status.success(),
        "a client that does not trust the certificate must be refused"
    );
    assert!(worker.stop().success());
}

/// A cluster whose workers listen on https only: a follower forwards a
/// write to the leader over TLS, trusting the CA that
/// `listeners.https.ssl.truststore.location` names, and checking the
/// leader's certificate.
#[test]
fn a_follower_forwards_to_an_https_leader() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-cluster-https");
    let (ca, certificate, key) = certificate_authority(&scratch, "workers");
    let store = key_store(&scratch, &certificate, &key);
    let curl = |port: u16, method: &str, path: &str, body: Option<&str>| -> (u16, Value) {
        let mut command = std::process::Command::new("curl");
        command
            .args([
                "-sS",
                "--max-time",
                "100",
                "-w",
                "\n%{http_code}",
                "-X",
                method,
            ])
            .arg("--cacert")
            .arg(&ca)
            .args(["-H", "Content-Type: application/json"]);
        if let Some(body) = body {
            command.args(["-d", body]);
        }
        let output = command
            .arg(format!("https://127.0.0.1:{port}{path}"))
            .output()
            .expect("running curl");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (
            code.trim().parse().unwrap_or(0),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    };
    let ports = [free_port(), free_port()];
    let workers: Vec<WorkerProcess> = ports
        .iter()
        .enumerate()
        .map(|(index, port)| {
            let keys = [
                ("listeners", format!("https://127.0.0.1:{port}")),
                ("listeners.https.ssl.keystore.type", "PEM".to_string()),
                (
                    "listeners.https.ssl.keystore.location",
                    store.display().to_string(),
                ),
                ("listeners.https.ssl.truststore.type", "PEM".to_string()),
                (
                    "listeners.https.ssl.truststore.location",
                    ca.display().to_string(),
                ),
            ];
            WorkerSetup::distributed(&scratch, &broker, "https", index, &keys).spawn()
        })
        .collect();
    let follower = wait_for(
        "one leader and one follower",
        Duration::from_secs(120),
        || match (leads(&workers[0]), leads(&workers[1])) {
            (Some(true), Some(false)) => Some(1),
            (Some(false), Some(true)) => Some(0),
            _ => None,
        },
    );
    let leader = 1 - follower;
    for port in ports {
        wait_for(
            "the worker to answer over https",
            Duration::from_secs(60),
            || (curl(port, "GET", "/health", None).0 == 200).then_some(()),
        );
    }
    let body = json!({"name": "over-tls", "config": source_config("tls-lines")}).to_string();
    let (code, answer) = curl(ports[follower], "POST", "/connectors", Some(&body));
    assert_eq!(code, 201, "{answer}");
    assert_eq!(answer["name"], "over-tls");
    assert_eq!(
        curl(ports[leader], "GET", "/connectors", None),
        (200, json!(["over-tls"]))
    );
}

/// Kafka's PEM key store: the certificate chain and the key in one file.
fn key_store(
    scratch: &Scratch,
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> std::path::PathBuf {
    let store = scratch.file("store.pem");
    let mut pem = std::fs::read(certificate).unwrap();
    pem.extend(std::fs::read(key).unwrap());
    std::fs::write(&store, pem).unwrap();
    store
}

/// Whether `worker`'s last rebalance made it the group's leader, as its
/// log says; `None` before it joined.
fn leads(worker: &WorkerProcess) -> Option<bool> {
    let log = worker.log();
    let last = log.lines().rev().find(|l| l.contains("joined group"))?;
    Some(last.contains("(leader)"))
}
