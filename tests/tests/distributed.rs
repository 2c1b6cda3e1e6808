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
    // Lines of their own, told apart from in.txt's in the shared topic.
    append_lines(&inbox.join("held.txt"), &numbered_lines(1_000, 10, 20));

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
    // New workers (on new ports): the sink's consumer takes over its
    // group's static member, which is the task, not the worker.
    let workers = start(2);
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
    // And the sink resumed after the records it had written: every line
    // once in the file.
    wait_for_lines(&out, total as usize, LONG);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        broker.high_watermark("restart-lines"),
        total,
        "lines were sent twice"
    );
    let written = read_lines(&out);
    assert_eq!(
        written.len(),
        total as usize,
        "the sink wrote records twice"
    );
    let counts = line_counts(&written);
    for line in first.iter().chain(&second) {
        assert_eq!(counts.get(line.as_str()), Some(&1), "{line}");
    }
}

#[test]
fn workers_take_over_kafka_connect_topics_and_resume_from_their_offsets() {
    let broker = Broker::start();
    broker.create_topic("takeover-lines");
    // The internal topics a stopped Kafka Connect cluster left, with its
    // records as its JsonConverter (schemas off) writes them.
    broker.create_topic_with("takeover-configs", 1, "compact");
    broker.create_topic_with("takeover-offsets", 5, "compact");
    broker.create_topic_with("takeover-status", 3, "compact");
    let connector = json!({
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "name": "legacy", "tasks.max": "1", "file": "/inbox/in.txt",
        "topic": "takeover-lines", "grant.files": "inbox:ro",
    });
    let mut task = connector.clone();
    task["task.class"] = json!("org.apache.kafka.connect.file.FileStreamSourceTask");
    let records = |pairs: &[(&str, Value)]| -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect()
    };
    broker.produce_keyed(
        "takeover-configs",
        &records(&[
            ("connector-legacy", json!({"properties": connector})),
            ("task-legacy-0", json!({"properties": task})),
            ("commit-legacy", json!({"tasks": 1})),
            (
                "target-state-legacy",
                json!({"state": "STARTED", "state.v2": "STARTED"}),
            ),
        ]),
    );
    let scratch = Scratch::new("distributed-takeover");
    let lines = numbered_lines(0, 100, 20);
    append_lines(&scratch.dir("inbox").join("in.txt"), &lines);
    // Kafka Connect had sent the first 60 lines (21 bytes each).
    let sent = 60;
    broker.produce_keyed(
        "takeover-offsets",
        &records(&[(
            r#"["legacy",{"filename":"/inbox/in.txt"}]"#,
            json!({"position": sent * 21}),
        )]),
    );

    let workers: Vec<WorkerProcess> = (0..2)
        .map(|i| member(&scratch, &broker, "takeover", i, &[]).spawn())
        .collect();
    for w in &workers {
        w.wait_ready();
    }
    for w in &workers {
        running_status(w, "legacy", 1);
    }
    let rest = lines.len() - sent;
    let values = broker.read_values("takeover-lines", rest, LONG);
    assert_eq!(
        values.len(),
        rest,
        "the source did not resume where Kafka Connect stopped"
    );
    let first = String::from_utf8_lossy(&values[0]).into_owned();
    assert!(first.contains(&lines[sent]), "{first} is not line {sent}");
}

/// How many lines `path` holds, counted without keeping them.
fn line_count(path: &std::path::Path) -> usize {
    std::fs::read(path).map_or(0, |bytes| bytes.iter().filter(|&&b| b == b'\n').count())
}

/// Which worker runs each task of `connector`, by worker id.
fn task_workers(worker: &WorkerProcess, connector: &str) -> Vec<String> {
    let (_, status) = worker
        .get(&format!("/connectors/{connector}/status"))
        .expect("a status");
    status["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .map(|t| t["worker_id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_killed_workers_tasks_move_while_the_others_keep_running() {
    const TOTAL: usize = 1_000_000;
    const CHUNK: usize = 100_000;
    let max_delay = Duration::from_secs(5);
    let broker = Broker::start();
    for topic in ["fo-lines", "fo-a", "fo-b"] {
        broker.create_topic(topic);
    }
    let scratch = Scratch::new("distributed-failover");
    let inbox = scratch.dir("inbox");
    // Quick group timings. A moved sink task takes over its consumer's
    // static member, so the dead worker's consumer holds nothing up.
    let quick = [
        (
            "scheduled.rebalance.max.delay.ms",
            max_delay.as_millis().to_string(),
        ),
        ("heartbeat.interval.ms", "2000".to_string()),
    ];
    let mut workers: Vec<WorkerProcess> = (0..3)
        .map(|i| member(&scratch, &broker, "failover", i, &quick).spawn())
        .collect();
    for w in &workers {
        w.wait_ready();
    }
    append_lines(&inbox.join("a.txt"), &numbered_lines(0, 10, 20));
    append_lines(&inbox.join("b.txt"), &numbered_lines(0, 10, 20));
    std::fs::write(inbox.join("big.txt"), "").unwrap();
    let source = |file: &str, topic: &str| {
        json!({"connector.class": "file-source", "file": format!("/inbox/{file}"),
               "topic": topic, "grant.files": "inbox:ro"})
    };
    let sink = |file: &str, topic: &str| {
        json!({"connector.class": "file-sink", "file": format!("/outbox/{file}"),
               "topics": topic, "grant.files": "outbox:rw"})
    };
    let connectors = [
        ("big-in", source("big.txt", "fo-lines")),
        ("big-out", sink("big.txt", "fo-lines")),
        ("a-in", source("a.txt", "fo-a")),
        ("a-out", sink("a.txt", "fo-a")),
        ("b-in", source("b.txt", "fo-b")),
        ("b-out", sink("b.txt", "fo-b")),
    ];
    for (i, (name, config)) in connectors.iter().enumerate() {
        let body = json!({"name": name, "config": config});
        let (code, answer) = write(&workers[i % 3], "POST", "/connectors", &body);
        assert_eq!(code, 201, "creating {name}: {answer}");
    }
    for (name, _) in &connectors {
        running_status(&workers[0], name, 1);
    }
    let outbox = scratch.dir("outbox");
    wait_for_lines(&outbox.join("a.txt"), 10, LONG);
    wait_for_lines(&outbox.join("b.txt"), 10, LONG);

    // The victim: the worker running the big source's task.
    let ids: Vec<String> = workers
        .iter()
        .map(|w| format!("127.0.0.1:{}", w.rest_port))
        .collect();
    let victim_id = task_workers(&workers[0], "big-in")[0].clone();
    let victim = ids
        .iter()
        .position(|id| *id == victim_id)
        .expect("the source's worker");
    // What the others run, before.
    let survivors: Vec<usize> = (0..3).filter(|&i| i != victim).collect();
    let held_before: BTreeMap<String, String> = connectors
        .iter()
        .map(|(name, _)| (name.to_string(), task_workers(&workers[0], name)[0].clone()))
        .collect();

    let big_out = outbox.join("big.txt");
    let mut next = 0;
    while next < 3 * CHUNK {
        append_lines(&inbox.join("big.txt"), &numbered_lines(next, CHUNK, 20));
        next += CHUNK;
    }
    wait_for("records flowing", LONG, || {
        (line_count(&big_out) > CHUNK).then_some(())
    });
    let log_lengths: Vec<usize> = survivors.iter().map(|&i| workers[i].log().len()).collect();
    let killed_at = std::time::Instant::now();
    workers.remove(victim).kill();
    let survivors: Vec<WorkerProcess> = workers;
    while next < TOTAL {
        append_lines(&inbox.join("big.txt"), &numbered_lines(next, CHUNK, 20));
        next += CHUNK;
        std::thread::sleep(Duration::from_millis(200));
    }
    // The killed worker's tasks run elsewhere within the session timeout
    // (Kafka Connect's default, 10 s), the delay and 10 s.
    let moved = wait_for("the killed worker's tasks to run elsewhere", LONG, || {
        let everywhere = held_before
            .iter()
            .filter(|(_, id)| **id == victim_id)
            .all(|(name, _)| {
                let status = survivors[0].get(&format!("/connectors/{name}/status"));
                status.is_some_and(|(code, status)| {
                    let task = &status["tasks"][0];
                    code == 200
                        && task["state"] == "RUNNING"
                        && task["worker_id"] != victim_id.as_str()
                })
            });
        everywhere.then(|| killed_at.elapsed())
    });
    println!("the killed worker's tasks ran elsewhere {moved:?} after SIGKILL");
    assert!(
        moved <= max_delay + Duration::from_secs(20),
        "took {moved:?}"
    );

    // Every record arrived at least once; duplicates are counted.
    wait_for("every line at the sink", Duration::from_secs(300), || {
        (line_count(&big_out) >= TOTAL).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let out = read_lines(&big_out);
    let counts = line_counts(&out);
    let expected = numbered_lines(0, TOTAL, 20);
    let missing = expected
        .iter()
        .filter(|l| !counts.contains_key(l.as_str()))
        .count();
    assert_eq!(missing, 0, "{missing} lines never arrived");
    let duplicates = out.len() - counts.len();
    println!(
        "{TOTAL} lines sent, {} written, {duplicates} duplicates",
        out.len()
    );

    // The survivors never stopped a task they held.
    for (w, before) in survivors.iter().zip(log_lengths) {
        let log = w.log();
        let after = &log[before.min(log.len())..];
        for (name, id) in &held_before {
            if *id == format!("127.0.0.1:{}", w.rest_port) {
                let stopped = format!("{name}-0: stopped");
                assert!(
                    !after.contains(&stopped),
                    "{name} was stopped on a survivor:\n{after}"
                );
            }
        }
    }

    // A fourth worker joins: tasks move to it, and only those stop.
    let log_lengths: Vec<usize> = survivors.iter().map(|w| w.log().len()).collect();
    let fourth = member(&scratch, &broker, "failover", 3, &quick).spawn();
    fourth.wait_ready();
    let fourth_id = format!("127.0.0.1:{}", fourth.rest_port);
    let on_fourth = || -> Vec<&str> {
        (connectors.iter())
            .filter(|(name, _)| task_workers(&survivors[0], name).first() == Some(&fourth_id))
            .map(|(name, _)| *name)
            .collect()
    };
    // Six tasks over four workers: the two survivors, with three each, hand
    // one each to the newcomer.
    let gained = wait_for("two tasks on the new worker", LONG, || {
        let gained = on_fourth();
        (gained.len() == 2).then_some(gained)
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(on_fourth(), gained, "tasks went on moving");
    for (w, before) in survivors.iter().zip(log_lengths) {
        let log = w.log();
        let after = &log[before.min(log.len())..];
        for (name, _) in &connectors {
            let stopped = format!("{name}-0: stopped");
            if after.contains(&stopped) {
                assert!(gained.contains(name), "{name} stopped but stayed:\n{after}");
            }
        }
    }
}

/// A cluster on a broker that requires SASL (tansu's `--authentication`,
/// which offers SCRAM): the worker file's Kafka keys (`security.protocol`,
/// `sasl.mechanism`, `sasl.jaas.config`) reach the group membership, the
/// internal topics' clients and the connectors' clients alike, and lines
/// flow from a file through the broker to a file.
#[test]
fn a_cluster_works_on_a_broker_that_requires_sasl_scram() {
    let mut broker = Broker::start();
    broker.create_scram_user("connect", "connect-secret", "scram512");
    broker.restart_with_options(&["--authentication"]);
    let scratch = Scratch::new("distributed-sasl");
    let sasl = [
        ("security.protocol", "SASL_PLAINTEXT".to_string()),
        ("sasl.mechanism", "SCRAM-SHA-512".to_string()),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"connect\" password=\"connect-secret\";"
                .to_string(),
        ),
    ];
    let workers: Vec<WorkerProcess> = (0..2)
        .map(|i| member(&scratch, &broker, "sasl", i, &sasl).spawn())
        .collect();
    for w in &workers {
        w.wait_ready();
    }
    let lines = numbered_lines(0, 200, 20);
    append_lines(&scratch.dir("inbox").join("in.txt"), &lines);
    for (i, (name, config)) in [
        (
            "sasl-in",
            json!({"connector.class": "file-source", "file": "/inbox/in.txt",
                   "topic": "sasl-lines", "grant.files": "inbox:ro"}),
        ),
        (
            "sasl-out",
            json!({"connector.class": "file-sink", "file": "/outbox/out.txt",
                   "topics": "sasl-lines", "grant.files": "outbox:rw"}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({"name": name, "config": config});
        let (code, answer) = write(&workers[i], "POST", "/connectors", &body);
        assert_eq!(code, 201, "creating {name}: {answer}");
    }
    let out = wait_for_lines(&scratch.dir("outbox").join("out.txt"), lines.len(), LONG);
    assert_eq!(out, lines);
    for w in &workers {
        running_status(w, "sasl-in", 1);
        running_status(w, "sasl-out", 1);
    }
}
