//! Distributed mode end to end: real worker processes (`sluice
//! distributed`) forming a group on a real broker, with file and JDBC
//! connectors on the machine's PostgreSQL. Connectors created through any
//! worker land on the leader, their 8 tasks spread over the workers, and
//! every worker answers the same status.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use sluice::capability::sql::Access;
use sluice_tests::sql::{Db, POSTGRES_URL, SqlPlugin, table};
use sluice_tests::*;

const LONG: Duration = Duration::from_secs(120);
const JSON: &str = "org.apache.kafka.connect.json.JsonConverter";

/// Worker `index` of group `group`, with the `pg` datasource and quick
/// group timings (Kafka Connect's defaults are for production).
fn member(
    scratch: &Scratch,
    broker: &Broker,
    group: &str,
    index: usize,
    extra: &[(&str, String)],
) -> WorkerSetup {
    let mut keys = vec![
        ("sql.datasource.pg.url", POSTGRES_URL.to_string()),
        ("offset.flush.interval.ms", "500".to_string()),
    ];
    keys.extend(extra.iter().cloned());
    WorkerSetup::distributed(scratch, broker, group, index, &keys)
}

/// `method path` with a JSON body on `worker`: status and JSON answer.
fn call(worker: &WorkerProcess, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let text = body.map(Value::to_string);
    let response = http_request(
        worker.rest_port,
        method,
        path,
        &[("Content-Type", "application/json")],
        text.as_deref(),
    )
    .unwrap_or_else(|| panic!("{method} {path}: no answer"));
    (response.status, response.json())
}

/// A write through `worker`, repeated while the group has no leader
/// (409, as Kafka Connect answers during a rebalance): the answer after.
fn write(worker: &WorkerProcess, method: &str, path: &str, body: &Value) -> (u16, Value) {
    wait_for(
        &format!("{method} {path} outside a rebalance"),
        LONG,
        || {
            let (code, answer) = call(worker, method, path, Some(body));
            let rebalancing = code == 409
                && answer["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("rebalance"));
            (!rebalancing).then_some((code, answer))
        },
    )
}

/// The status of `connector` as `worker` answers it, once it names
/// `tasks` tasks that all run.
fn running_status(worker: &WorkerProcess, connector: &str, tasks: usize) -> Value {
    wait_for(
        &format!(
            "{connector} to run {tasks} task(s), seen from port {}",
            worker.rest_port
        ),
        LONG,
        || {
            let (code, status) = worker.get(&format!("/connectors/{connector}/status"))?;
            let all_running = code == 200
                && status["connector"]["state"] == "RUNNING"
                && status["tasks"]
                    .as_array()
                    .is_some_and(|t| t.len() == tasks && t.iter().all(|t| t["state"] == "RUNNING"));
            all_running.then_some(status)
        },
    )
}

#[test]
fn three_workers_spread_the_tasks_and_agree_on_every_status() {
    let (mut admin, c) = {
        let mut admin = SqlPlugin::new(Db::Postgres, &[("db", Access::ReadWrite)], None);
        let c = admin.open("db").expect("opening the database");
        (admin, c)
    };
    let tables = [table("dist_a"), table("dist_b"), table("dist_c")];
    for t in &tables {
        admin
            .execute(
                c,
                &format!("CREATE TABLE {t} (id BIGINT PRIMARY KEY, name TEXT)"),
                vec![],
            )
            .expect("creating a table");
        admin
            .execute(c, &format!("INSERT INTO {t} VALUES (1, 'one')"), vec![])
            .expect("inserting a row");
    }
    let broker = Broker::start();
    for topic in ["dist-lines", "dist-empty"] {
        broker.create_topic(topic);
    }
    let scratch = Scratch::new("distributed-spread");
    let workers: Vec<WorkerProcess> = (0..3)
        .map(|i| member(&scratch, &broker, "spread", i, &[]).spawn())
        .collect();
    for w in &workers {
        w.wait_ready();
    }
    let lines = numbered_lines(0, 200, 20);
    append_lines(&scratch.dir("inbox").join("in.txt"), &lines);

    let whitelist = tables.join(",");
    let connectors: Vec<(&str, Value, usize)> = vec![
        (
            "lines-in",
            json!({"connector.class": "file-source", "file": "/inbox/in.txt",
                   "topic": "dist-lines", "grant.files": "inbox:ro"}),
            1,
        ),
        (
            "lines-out",
            json!({"connector.class": "file-sink", "file": "/outbox/out.txt",
                   "topics": "dist-lines", "grant.files": "outbox:rw"}),
            1,
        ),
        (
            "rows-out",
            json!({"connector.class": "jdbc-sink", "datasource": "pg", "grant.sql": "pg:rw",
                   "topics": "dist-empty", "tasks.max": "3", "value.converter": JSON,
                   "pk.mode": "none", "insert.mode": "insert"}),
            3,
        ),
        (
            "rows-in",
            json!({"connector.class": "jdbc-source", "datasource": "pg", "grant.sql": "pg:ro",
                   "table.whitelist": whitelist, "mode": "incrementing",
                   "incrementing.column.name": "id", "topic.prefix": "dist_",
                   "tasks.max": "3", "poll.interval.ms": "200", "value.converter": JSON}),
            3,
        ),
    ];
    // Each connector is created through a different worker: followers
    // forward to the leader, whichever it is.
    for (i, (name, config, _)) in connectors.iter().enumerate() {
        let body = json!({"name": name, "config": config});
        let worker = &workers[i % workers.len()];
        let (code, answer) = write(worker, "POST", "/connectors", &body);
        assert_eq!(code, 201, "creating {name} through worker {i}: {answer}");
        assert_eq!(answer["name"], *name);
    }
    // The lines went through whichever workers run the two file tasks.
    let out = wait_for_lines(&scratch.dir("outbox").join("out.txt"), lines.len(), LONG);
    assert_eq!(out, lines);

    // Every worker answers the same status; the tasks are spread.
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    for (name, _, tasks) in &connectors {
        let first = running_status(&workers[0], name, *tasks);
        for w in &workers[1..] {
            let other = running_status(w, name, *tasks);
            assert_eq!(other, first, "{name}: workers disagree");
        }
        for t in first["tasks"].as_array().unwrap() {
            *per_worker
                .entry(t["worker_id"].as_str().unwrap().to_string())
                .or_default() += 1;
            total += 1;
        }
        let (_, list) = workers[2].get("/connectors").unwrap();
        assert!(list.as_array().unwrap().contains(&json!(name)), "{list}");
    }
    // The file connectors run one task each, as Kafka's do (one file).
    assert_eq!(total, 8);
    assert_eq!(
        per_worker.len(),
        3,
        "every worker runs a task: {per_worker:?}"
    );
    let most = per_worker.values().max().copied().unwrap_or_default();
    assert!(most <= total.div_ceil(3), "uneven spread: {per_worker:?}");

    // A duplicate create is refused wherever it is sent.
    let (code, _) = call(
        &workers[1],
        "POST",
        "/connectors",
        Some(&json!({"name": "lines-in", "config": connectors[0].1})),
    );
    assert_eq!(code, 409);
    for t in &tables {
        let _ = admin.execute(c, &format!("DROP TABLE {t}"), vec![]);
    }
}

/// The state `worker` reports for `connector` once it is `state`.
fn wait_state(worker: &WorkerProcess, connector: &str, state: &str) {
    wait_for(
        &format!("{connector} to be {state} on port {}", worker.rest_port),
        LONG,
        || {
            let (code, status) = worker.get(&format!("/connectors/{connector}/status"))?;
            (code == 200 && status["connector"]["state"] == state).then_some(())
        },
    )
}

#[test]
fn a_restarted_cluster_keeps_its_connectors_target_states_and_offsets() {
    let broker = Broker::start();
    broker.create_topic("restart-lines");
    let scratch = Scratch::new("distributed-restart");
    let start = |count: usize| -> Vec<WorkerProcess> {
        let workers: Vec<WorkerProcess> = (0..count)
            .map(|i| member(&scratch, &broker, "restart", i, &[]).spawn())
            .collect();
        for w in &workers {
            w.wait_ready();
        }
        workers
    };
    let inbox = scratch.dir("inbox");
    let first = numbered_lines(0, 300, 20);
    append_lines(&inbox.join("in.txt"), &first);
    append_lines(&inbox.join("held.txt"), &numbered_lines(0, 10, 20));

    let workers = start(2);
    let source = |file: &str| {
        json!({"connector.class": "file-source", "file": format!("/inbox/{file}"),
               "topic": "restart-lines", "grant.files": "inbox:ro"})
    };
    let connectors = [
        ("lines-in", source("in.txt")),
        (
            "lines-out",
            json!({"connector.class": "file-sink", "file": "/outbox/out.txt",
                   "topics": "restart-lines", "grant.files": "outbox:rw"}),
        ),
        ("held-paused", source("held.txt")),
        ("held-stopped", source("held.txt")),
    ];
    for (i, (name, config)) in connectors.iter().enumerate() {
        let body = json!({"name": name, "config": config});
        let (code, answer) = write(&workers[i % 2], "POST", "/connectors", &body);
        assert_eq!(code, 201, "creating {name}: {answer}");
    }
    let out = scratch.dir("outbox").join("out.txt");
    // The paused and stopped connectors' lines arrive before they pause.
    let expected = first.len() + 20;
    wait_for_lines(&out, expected, LONG);
    let (code, _) = write(
        &workers[1],
        "PUT",
        "/connectors/held-paused/pause",
        &json!({}),
    );
    assert_eq!(code, 202);
    let (code, _) = write(
        &workers[0],
        "PUT",
        "/connectors/held-stopped/stop",
        &json!({}),
    );
    assert_eq!(code, 204);
    for w in &workers {
        wait_state(w, "held-paused", "PAUSED");
        wait_state(w, "held-stopped", "STOPPED");
    }
    // The source offsets are flushed every 500 ms, and on a clean stop.
    for w in workers {
        assert!(w.stop().success(), "a worker stopped uncleanly");
    }

    let second = numbered_lines(300, 200, 20);
    append_lines(&inbox.join("in.txt"), &second);
    // One worker this time: with two, the second joins seconds after the
    // first took all the work, and a task that then moves has only just
    // started. The sink's output is not checked after the restart: its
    // consumer group does not get its partition back from tansu 0.6 within
    // minutes (see docs/cluster.md, known limits).
    let workers = start(1);
    for w in &workers {
        wait_state(w, "held-paused", "PAUSED");
        wait_state(w, "held-stopped", "STOPPED");
        wait_state(w, "lines-in", "RUNNING");
        let (_, list) = w.get("/connectors").unwrap();
        assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");
    }
    // The source resumed after the lines it had sent: every line once in
    // the topic (a source that started over would send the first 300
    // again).
    let total = (expected + second.len()) as i64;
    wait_for("every line in the topic", LONG, || {
        (broker.high_watermark("restart-lines") >= total).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        broker.high_watermark("restart-lines"),
        total,
        "lines were sent twice"
    );
}
