//! Bad input gets a clear error naming the problem, and the worker keeps
//! running where Kafka Connect would: unknown and missing keys, files that
//! are not plugins, source files that are missing or outside the grant.

use std::time::Duration;

use sluice_tests::*;

const LONG: Duration = Duration::from_secs(120);

fn source(file: &str, topic: &str) -> Vec<(&'static str, String)> {
    vec![
        ("connector.class", "file-source".into()),
        ("file", file.into()),
        ("topic", topic.into()),
        ("grant.files", "inbox:ro".into()),
    ]
}

fn add(setup: &mut WorkerSetup, scratch: &Scratch, name: &str, pairs: &[(&'static str, String)]) {
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    setup.connector(scratch, name, &borrowed);
}

#[test]
fn unknown_connector_key_is_named() {
    let broker = Broker::start();
    let scratch = Scratch::new("unknown-key");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    let mut pairs = source("/inbox/in.txt", "t");
    pairs.push(("bacth.size", "10".into()));
    add(&mut setup, &scratch, "typo", &pairs);
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    assert!(
        log.contains("unknown configuration key \"bacth.size\", did you mean \"batch.size\"?"),
        "{log}"
    );
}

#[test]
fn missing_required_key_is_named() {
    let broker = Broker::start();
    let scratch = Scratch::new("missing-key");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    let pairs: Vec<(&'static str, String)> = source("/inbox/in.txt", "t")
        .into_iter()
        .filter(|(k, _)| *k != "file")
        .collect();
    add(&mut setup, &scratch, "nofile", &pairs);
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    assert!(
        log.contains("missing required configuration \"file\""),
        "{log}"
    );
}

#[test]
fn unknown_worker_key_and_undefined_grant_are_named() {
    let broker = Broker::start();
    let scratch = Scratch::new("worker-key");
    let setup = WorkerSetup::new(
        &scratch,
        &broker,
        &[("offset.flush.intervall.ms", "10".into())],
    );
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    assert!(
        log.contains("unknown configuration key \"offset.flush.intervall.ms\""),
        "{log}"
    );

    let scratch = Scratch::new("undefined-grant");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    let mut pairs = source("/secrets/in.txt", "t");
    pairs.retain(|(k, _)| *k != "grant.files");
    pairs.push(("grant.files", "secrets:ro".into()));
    add(&mut setup, &scratch, "greedy", &pairs);
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    assert!(
        log.contains("\"secrets\" is not a file root of this worker"),
        "{log}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_skipped() {
    let broker = Broker::start();
    let scratch = Scratch::new("bad-plugin");
    let plugins = scratch.dir("plugins");
    for name in ["file_source.wasm", "file_sink.wasm"] {
        std::fs::copy(
            std::path::Path::new(PLUGIN_DIR).join(name),
            plugins.join(name),
        )
        .unwrap();
    }
    std::fs::write(plugins.join("garbage.wasm"), b"this is not WebAssembly").unwrap();
    // A valid core module, but not a component.
    std::fs::write(plugins.join("core-module.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let mut setup = WorkerSetup::with_plugin_dir(&scratch, &broker, &plugins, &[]);
    append_lines(
        &scratch.dir("inbox").join("in.txt"),
        &numbered_lines(0, 100, 20),
    );
    add(
        &mut setup,
        &scratch,
        "good",
        &source("/inbox/in.txt", "bad-plugin-lines"),
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let log = worker.log();
    assert!(
        log.contains("skipping plugin file") && log.contains("garbage.wasm"),
        "{log}"
    );
    assert!(log.contains("core-module.wasm"), "{log}");
    assert!(log.contains("not a valid WebAssembly component"), "{log}");
    // The valid plugins loaded and work.
    let values = broker.read_values("bad-plugin-lines", 100, LONG);
    assert_eq!(values.len(), 100);
    worker.stop();
}

#[test]
fn missing_or_ungranted_source_files_fail_the_task_not_the_worker() {
    let broker = Broker::start();
    let scratch = Scratch::new("bad-file");
    std::fs::write(scratch.dir("outbox").join("secret.txt"), "do not read\n").unwrap();
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    add(
        &mut setup,
        &scratch,
        "missing",
        &source("/inbox/does-not-exist.txt", "t1"),
    );
    // outbox exists as a root, but this connector was granted only inbox.
    add(
        &mut setup,
        &scratch,
        "ungranted",
        &source("/outbox/secret.txt", "t2"),
    );
    add(
        &mut setup,
        &scratch,
        "escape",
        &source("/inbox/../outbox/secret.txt", "t3"),
    );
    add(
        &mut setup,
        &scratch,
        "absolute",
        &source("/etc/passwd", "t4"),
    );
    append_lines(
        &scratch.dir("inbox").join("good.txt"),
        &numbered_lines(0, 1000, 20),
    );
    add(
        &mut setup,
        &scratch,
        "good",
        &source("/inbox/good.txt", "good-lines"),
    );
    let worker = setup.spawn();
    worker.wait_ready();
    for (name, path) in [
        ("missing", "/inbox/does-not-exist.txt"),
        ("ungranted", "/outbox/secret.txt"),
        ("escape", "/inbox/../outbox/secret.txt"),
        ("absolute", "/etc/passwd"),
    ] {
        let (state, trace) = wait_for(&format!("{name} to fail"), LONG, || {
            worker
                .task_state(name, 0)
                .filter(|(state, _)| state == "FAILED")
        });
        assert_eq!(state, "FAILED");
        assert!(
            trace.contains(&format!("cannot open file \"{path}\"")),
            "{name}: the trace does not name the file: {trace}"
        );
        assert!(
            trace.contains("start failed in plugin file-source"),
            "{trace}"
        );
    }
    // The worker is still running and the good connector delivers.
    let values = broker.read_values("good-lines", 1000, LONG);
    assert_eq!(values.len(), 1000);
    let (state, _) = worker.task_state("good", 0).unwrap();
    assert_eq!(state, "RUNNING");
    worker.stop();
}

#[test]
fn unknown_converter_transform_and_predicate_are_named() {
    let broker = Broker::start();
    let scratch = Scratch::new("bad-converter");
    let setup = WorkerSetup::new(&scratch, &broker, &[("value.converter", "Jsonn".into())]);
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    assert!(
        log.contains("\"value.converter\": no converter plugin named \"Jsonn\""),
        "{log}"
    );

    let scratch = Scratch::new("bad-chain");
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    let mut pairs = source("/inbox/in.txt", "t");
    pairs.extend([
        ("transforms", "route, drop".into()),
        ("transforms.route.type", "RegexRouterr".into()),
        (
            "transforms.drop.type",
            "org.apache.kafka.connect.transforms.Filter".into(),
        ),
        ("transforms.drop.predicate", "missing".into()),
        ("transforms.cast.type", "Cast$Value".into()),
    ]);
    add(&mut setup, &scratch, "chain", &pairs);
    let (status, log) = setup.run_expecting_exit(LONG);
    assert!(!status.success());
    for expected in [
        "\"transforms.route.type\": no transform plugin named \"RegexRouterr\"",
        "\"transforms.drop.predicate\": no such predicate is listed in \"predicates\"",
        "\"transforms.cast.type\": \"cast\" is not listed in \"transforms\"",
    ] {
        assert!(log.contains(expected), "{expected} in {log}");
    }
}
