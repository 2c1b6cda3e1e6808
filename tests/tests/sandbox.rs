//! The sandbox end to end: hostile plugins (the `sandbox-probe` fixture)
//! run on one worker beside a well-behaved connector. Each escape through
//! the files, the network or the limits is refused or stopped with a trace
//! that says what stopped it, and the well-behaved connector keeps
//! delivering all along. Then: automatic restarts with backoff, metrics,
//! and grants of undefined resources refused at configuration time.

use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_tests::sql::POSTGRES_URL;
use sluice_tests::{
    Broker, FIXTURE_DIR, PLUGIN_DIR, Scratch, WorkerProcess, WorkerSetup, http_request, wait_for,
};

const LONG: Duration = Duration::from_secs(120);

fn worker_with_fixtures(
    scratch: &Scratch,
    broker: &Broker,
    extra: &[(&str, String)],
) -> WorkerSetup {
    WorkerSetup::with_plugin_dir(
        scratch,
        broker,
        Path::new(&format!("{PLUGIN_DIR},{FIXTURE_DIR}")),
        extra,
    )
}

/// A probe connector writing to `topic`, granted `grants`, with `extra` keys.
fn probe<'a>(
    probe: &'a str,
    topic: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("connector.class", "sandbox-probe"),
        ("probe", probe),
        ("topic", topic),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

/// An HTTP server on 127.0.0.1 (tiny_http) that answers every request with
/// `hello over http` and records each request's target, so a test can tell
/// which requests reached it; closed on drop.
struct HttpServer {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
}

impl HttpServer {
    fn start() -> HttpServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&targets);
        let serving = Arc::clone(&server);
        std::thread::spawn(move || {
            for request in serving.incoming_requests() {
                seen.lock().unwrap().push(request.url().to_string());
                let _ = request.respond(tiny_http::Response::from_string("hello over http"));
            }
        });
        HttpServer {
            port,
            targets,
            server,
        }
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What one hostile connector tries, and what its trace must say.
struct Attack {
    name: &'static str,
    probe: String,
    extra: Vec<(&'static str, String)>,
    expect: Vec<String>,
}

impl Attack {
    fn new(name: &'static str, probe: impl Into<String>, expect: &[&str]) -> Attack {
        Attack {
            name,
            probe: probe.into(),
            extra: vec![("grant.files", "inbox:ro".into())],
            expect: expect.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn with(mut self, key: &'static str, value: impl Into<String>) -> Attack {
        self.extra.retain(|(k, _)| *k != key);
        self.extra.push((key, value.into()));
        self
    }
}

#[test]
fn hostile_plugins_are_denied_or_stopped_while_a_neighbour_keeps_delivering() {
    let broker = Broker::start();
    let scratch = Scratch::new("hostile");
    let inbox = scratch.dir("inbox");
    let secrets = scratch.dir("secrets");
    let secret = secrets.join("secret.txt");
    std::fs::write(&secret, "TOP SECRET").unwrap();
    std::fs::write(inbox.join("hello.txt"), "hello from the inbox").unwrap();
    std::os::unix::fs::symlink(&secret, inbox.join("absolute-link.txt")).unwrap();
    std::os::unix::fs::symlink("../secrets/secret.txt", inbox.join("relative-link.txt")).unwrap();

    // A granted endpoint with a listener, one the probes are not granted,
    // and a granted name on a port whose listener sits on an address that
    // name does not resolve to.
    let granted = TcpListener::bind("127.0.0.1:0").unwrap();
    let ungranted = TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere = TcpListener::bind("127.0.0.2:0").unwrap();
    // Accepts connections (the kernel's backlog does) and never sends.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    for listener in [&granted, &ungranted, &elsewhere] {
        listener.set_nonblocking(true).unwrap();
    }
    let port = |l: &TcpListener| l.local_addr().unwrap().port();
    let api = HttpServer::start();

    let worker_keys = [
        ("sql.datasource.pg.url", POSTGRES_URL.to_string()),
        ("files.root.secrets", secrets.display().to_string()),
        ("net.endpoint.web", format!("localhost:{}", port(&granted))),
        (
            "net.endpoint.other",
            format!("localhost:{}", port(&elsewhere)),
        ),
        ("net.endpoint.api", format!("localhost:{}", api.port)),
        (
            "net.endpoint.silent",
            format!("localhost:{}", port(&silent)),
        ),
    ];
    let mut setup = worker_with_fixtures(&scratch, &broker, &worker_keys);
    setup.connector(&scratch, "steady", &probe("steady", "steady", &[]));

    let attacks = vec![
        Attack::new(
            "traversal",
            "read:/inbox/../secrets/secret.txt",
            &["denied: reading /inbox/../secrets/secret.txt"],
        ),
        Attack::new(
            "absolute",
            format!("read:{}", secret.display()),
            &["denied: reading"],
        ),
        Attack::new(
            "absolute-link",
            "read:/inbox/absolute-link.txt",
            &["denied: reading /inbox/absolute-link.txt"],
        ),
        Attack::new(
            "relative-link",
            "read:/inbox/relative-link.txt",
            &["denied: reading /inbox/relative-link.txt"],
        ),
        Attack::new(
            "ungranted-root",
            "read:/secrets/secret.txt",
            &["denied: reading /secrets/secret.txt"],
        ),
        Attack::new(
            "read-only",
            "write:/inbox/planted.txt",
            &["denied: writing /inbox/planted.txt"],
        ),
        Attack::new(
            "ungranted-host",
            format!("tcp:127.0.0.1:{}", port(&ungranted)),
            &["denied: connecting to"],
        )
        .with("grant.net", "web"),
        Attack::new(
            "resolves-elsewhere",
            format!("tcp:127.0.0.2:{}", port(&elsewhere)),
            &["denied: connecting to"],
        )
        .with("grant.net", "other"),
        Attack::new(
            "no-network",
            format!("tcp:127.0.0.1:{}", port(&granted)),
            &["denied: connecting to"],
        ),
        Attack::new(
            "http-ungranted-host",
            format!("http:http://127.0.0.1:{}/ungranted", port(&ungranted)),
            &["denied: HTTP GET", "HttpRequestDenied"],
        )
        .with("grant.net", "api"),
        Attack::new(
            "http-resolves-elsewhere",
            format!("http:http://127.0.0.2:{}/elsewhere", port(&elsewhere)),
            &["denied: HTTP GET", "HttpRequestDenied"],
        )
        .with("grant.net", "other"),
        Attack::new(
            "http-no-network",
            format!("http:http://localhost:{}/no-network", api.port),
            &["denied: HTTP GET", "HttpRequestDenied"],
        ),
        Attack::new(
            "blocked-read",
            format!("tcp-read:localhost:{}", port(&silent)),
            &[
                "exceeded the call time limit",
                "blocked in the host call wasi:io/",
                "task.call.timeout.ms=2000",
            ],
        )
        .with("grant.net", "silent")
        .with("task.call.timeout.ms", "2000"),
        Attack::new(
            "loop",
            "loop",
            &["exceeded the call time limit", "task.call.timeout.ms=2000"],
        )
        .with("task.call.timeout.ms", "2000"),
        Attack::new(
            "alloc",
            "alloc",
            &[
                "exceeded the memory limit",
                "task.memory.max.bytes=67108864",
            ],
        )
        .with("task.memory.max.bytes", "67108864"),
        Attack::new(
            "panic",
            "panic",
            &["the plugin panicked", "sandbox-probe panics on purpose"],
        ),
        Attack::new("recurse", "recurse", &["exceeded the stack limit"]),
    ];
    for attack in &attacks {
        let mut pairs: Vec<(&str, &str)> = probe(&attack.probe, "loot", &[]);
        pairs.push(("task.restart.enabled", "false"));
        pairs.extend(attack.extra.iter().map(|(k, v)| (*k, v.as_str())));
        setup.connector(&scratch, attack.name, &pairs);
    }
    // The SQL ones: a table created through a read-only grant, and a
    // datasource the connector was not granted.
    let create = format!(
        "CREATE TABLE sluice_hostile_{} (id int)",
        std::process::id()
    );
    setup.connector(
        &scratch,
        "sql-read-only",
        &[
            ("connector.class", "sql-probe"),
            ("mode", "write"),
            ("datasource", "pg"),
            ("grant.sql", "pg:ro"),
            ("statement", &create),
            ("topic", "loot"),
            ("task.restart.enabled", "false"),
        ],
    );
    setup.connector(
        &scratch,
        "sql-ungranted",
        &[
            ("connector.class", "sql-probe"),
            ("mode", "open"),
            ("datasource", "pg"),
            ("topic", "loot"),
            ("task.restart.enabled", "false"),
        ],
    );
    // What the hostile ones try, allowed: the denials above are the
    // sandbox's, not broken probes.
    setup.connector(
        &scratch,
        "allowed-read",
        &probe(
            "read:/inbox/hello.txt",
            "allowed",
            &[("grant.files", "inbox:ro")],
        ),
    );
    let allowed_tcp = format!("tcp:localhost:{}", port(&granted));
    setup.connector(
        &scratch,
        "allowed-tcp",
        &probe(&allowed_tcp, "allowed", &[("grant.net", "web")]),
    );

    let allowed_http = format!("http:http://localhost:{}/hello", api.port);
    setup.connector(
        &scratch,
        "allowed-http",
        &probe(&allowed_http, "allowed", &[("grant.net", "api")]),
    );

    let worker = setup.spawn();
    worker.wait_ready();
    let delivered = || broker.high_watermark("steady");
    wait_for("the steady connector to deliver", LONG, || {
        (delivered() > 0).then_some(())
    });
    let before = delivered();
    let started = Instant::now();

    for attack in &attacks {
        let trace = worker.failure_trace(attack.name, LONG);
        eprintln!(
            "{}: {}",
            attack.name,
            trace.lines().next().unwrap_or_default()
        );
        for expected in &attack.expect {
            assert!(
                trace.contains(expected.as_str()),
                "{}: the trace lacks \"{expected}\":\n{trace}",
                attack.name
            );
        }
        assert!(!trace.contains("TOP SECRET"), "{}: {trace}", attack.name);
    }
    for (name, expected) in [
        ("sql-read-only", "read-only transaction"),
        ("sql-ungranted", "datasource \\\"pg\\\" is not granted"),
    ] {
        let trace = worker.failure_trace(name, LONG);
        eprintln!("{name}: {}", trace.lines().next().unwrap_or_default());
        assert!(
            trace.contains(expected),
            "{name}: the trace lacks {expected:?}:\n{trace}"
        );
    }
    let during = delivered();
    assert!(
        during > before,
        "the steady connector delivered nothing in the {:?} the hostile ones ran",
        started.elapsed()
    );
    // Still going once they have all failed, and never failed itself.
    wait_for("the steady connector to keep delivering", LONG, || {
        (delivered() > during + 1000).then_some(())
    });
    assert_eq!(worker.task_state("steady", 0).unwrap().0, "RUNNING");

    let allowed = broker.read_values("allowed", 3, LONG);
    let allowed: Vec<String> = allowed
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        allowed.iter().any(|v| v.contains("hello from the inbox")),
        "{allowed:?}"
    );
    assert!(
        allowed.iter().any(|v| v.contains("connected to localhost")),
        "{allowed:?}"
    );
    assert!(
        allowed
            .iter()
            .any(|v| v.contains("HTTP 200: hello over http")),
        "{allowed:?}"
    );
    // Only the granted request reached the server: the one without a
    // grant, to the same server, did not.
    assert_eq!(api.targets(), ["/hello"]);
    assert_eq!(
        broker.high_watermark("loot"),
        0,
        "a hostile probe produced a record"
    );
    assert!(!inbox.join("planted.txt").exists());
    for (name, listener) in [("ungranted", &ungranted), ("elsewhere", &elsewhere)] {
        assert!(
            listener.accept().is_err(),
            "the {name} listener was reached"
        );
    }
    let log = worker.log();
    assert!(
        log.contains("network access denied"),
        "the worker log names the denials"
    );
    worker.stop();
}

#[test]
fn plugin_output_reaches_the_log_labelled_and_within_its_budget() {
    let broker = Broker::start();
    let scratch = Scratch::new("output");
    let mut setup = worker_with_fixtures(&scratch, &broker, &[]);
    setup.connector(
        &scratch,
        "printer",
        &probe("print:hello-7c1e", "printed", &[]),
    );
    // Eight times the task's budget of output per window.
    setup.connector(&scratch, "flooder", &probe("flood:8388608", "flooded", &[]));
    let worker = setup.spawn();
    worker.wait_ready();
    wait_for("both probes to report", LONG, || {
        (broker.high_watermark("printed") >= 1 && broker.high_watermark("flooded") >= 1)
            .then_some(())
    });
    let log = worker.log();
    for stream in ["stdout", "stderr"] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("hello-7c1e on {stream}")))
            .unwrap_or_else(|| panic!("the plugin's {stream} is not in the worker log"));
        assert!(line.contains("printer-0"), "unlabelled: {line}");
    }
    assert!(
        log.contains("the rest of this window's output is dropped"),
        "the flood's cap is not reported"
    );
    let flooded = log.lines().filter(|l| l.contains("xxxxxxxxxx")).count();
    assert!(
        flooded > 0 && flooded <= (1 << 20) / 100 + 1,
        "{flooded} lines of the flood reached the log"
    );
    worker.stop();
}

#[test]
fn a_failed_task_restarts_with_backoff_and_a_rest_restart_works_any_time() {
    let broker = Broker::start();
    let scratch = Scratch::new("restart");
    let mut setup = worker_with_fixtures(&scratch, &broker, &[]);
    setup.connector(
        &scratch,
        "crashy",
        &probe(
            "panic",
            "crashy",
            &[
                ("task.restart.backoff.initial.ms", "300"),
                ("task.restart.backoff.max.ms", "1200"),
            ],
        ),
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let restarts = || metric(&worker, "sluice_task_restarts_total", "crashy");
    // 300 + 600 + 1200 + 1200 ms of waiting before the fourth restart:
    // doubling, capped at the maximum.
    let started = Instant::now();
    wait_for("four automatic restarts", LONG, || {
        (restarts() >= 4.0).then_some(())
    });
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(3000),
        "restarts came too fast: {took:?}"
    );
    let (state, trace) = worker.task_state("crashy", 0).unwrap();
    assert!(state == "FAILED" || state == "RUNNING", "{state}");
    if state == "FAILED" {
        assert!(trace.contains("Restarting in"), "{trace}");
    }
    // A restart over REST is taken at once, whatever the backoff.
    let response = http_request(
        worker.rest_port,
        "POST",
        "/connectors/crashy/tasks/0/restart",
        &[],
        None,
    )
    .unwrap();
    assert_eq!(response.status, 204, "{}", response.body);
    worker.stop();
}

#[test]
fn metrics_report_memory_high_water_mark_and_time_in_the_plugin() {
    let broker = Broker::start();
    let scratch = Scratch::new("metrics");
    let mut setup = worker_with_fixtures(&scratch, &broker, &[]);
    setup.connector(&scratch, "steady", &probe("steady", "steady", &[]));
    let worker = setup.spawn();
    worker.wait_ready();
    wait_for("the steady connector to deliver", LONG, || {
        (broker.high_watermark("steady") > 1000).then_some(())
    });
    let peak = metric(&worker, "sluice_task_memory_peak_bytes", "steady");
    let now = metric(&worker, "sluice_task_memory_bytes", "steady");
    let seconds = metric(&worker, "sluice_task_plugin_seconds_total", "steady");
    let calls = metric(&worker, "sluice_task_plugin_calls_total", "steady");
    // A Rust component starts with about a megabyte of linear memory.
    assert!((1e6..64e6).contains(&peak), "peak {peak}");
    assert!(now > 0.0 && now <= peak, "now {now}, peak {peak}");
    // Each poll sleeps 5 ms inside the plugin.
    assert!(
        seconds > 0.005 && calls >= 2.0,
        "{seconds} s in {calls} calls"
    );
    // The time keeps adding up while the task runs.
    wait_for("more time in the plugin", LONG, || {
        (metric(&worker, "sluice_task_plugin_seconds_total", "steady") > seconds).then_some(())
    });
    worker.stop();
}

#[test]
fn grants_of_undefined_resources_are_refused_naming_them() {
    let broker = Broker::start();
    let scratch = Scratch::new("undefined-net");
    let setup = worker_with_fixtures(
        &scratch,
        &broker,
        &[("net.endpoint.web", "localhost:80".into())],
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let body = serde_json::json!({
        "name": "greedy",
        "connector.class": "sandbox-probe",
        "probe": "steady",
        "topic": "t",
        "grant.net": "web,metadata",
        "grant.files": "inbox:ro,vault:rw",
    })
    .to_string();
    let response = http_request(
        worker.rest_port,
        "PUT",
        "/connector-plugins/sandbox-probe/config/validate",
        &[],
        Some(&body),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    let infos = response.json();
    assert_eq!(infos["error_count"], 2, "{infos}");
    let errors = |key: &str| -> String {
        infos["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"]["name"] == key)
            .map(|c| c["value"]["errors"].to_string())
            .unwrap_or_default()
    };
    assert!(
        errors("grant.net").contains("\\\"metadata\\\" is not a network endpoint of this worker"),
        "{infos}"
    );
    assert!(
        errors("grant.files").contains("\\\"vault\\\" is not a file root of this worker"),
        "{infos}"
    );
    worker.stop();
}

/// One task's sample of `name` from `GET /metrics` (0 before it exists).
fn metric(worker: &WorkerProcess, name: &str, connector: &str) -> f64 {
    let Some(response) = http_request(worker.rest_port, "GET", "/metrics", &[], None) else {
        return 0.0;
    };
    let prefix = format!("{name}{{connector=\"{connector}\",task=\"0\"}} ");
    response
        .body
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn plugin_inspect_prints_kind_keys_and_imports() {
    let inspect = |path: &Path| {
        let output = std::process::Command::new(sluice_tests::worker_binary())
            .args(["plugin", "inspect"])
            .arg(path)
            .output()
            .expect("running sluice plugin inspect");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = inspect(&Path::new(PLUGIN_DIR).join("file_source.wasm"));
    assert!(ok, "{err}");
    for expected in [
        "kind: source\n",
        "name: file-source\n",
        "aliases: org.apache.kafka.connect.file.FileStreamSourceConnector",
        "  sluice:connect/logging@0.1.0\n",
        "  wasi:filesystem/preopens@",
        "  file (STRING, required, HIGH importance): ",
        "  batch.size (INT, default 2000, ",
    ] {
        assert!(out.contains(expected), "lacks {expected:?}:\n{out}");
    }
    assert!(
        !out.contains("wasi:sockets"),
        "file-source needs no network:\n{out}"
    );

    let (ok, out, err) = inspect(&Path::new(FIXTURE_DIR).join("sandbox_probe.wasm"));
    assert!(ok, "{err}");
    assert!(out.contains("  wasi:sockets/tcp@"), "{out}");

    let scratch = Scratch::new("inspect");
    let bogus = scratch.file("bogus.wasm");
    std::fs::write(&bogus, b"not a component").unwrap();
    let (ok, _, err) = inspect(&bogus);
    assert!(!ok);
    assert!(err.contains("bogus.wasm is not a Sluice plugin"), "{err}");
}
