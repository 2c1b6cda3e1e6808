//! The sandbox end to end: hostile plugins (the `sandbox-probe` fixture)
//! run on one worker beside a well-behaved connector. Each escape through
//! the files, the network or the limits is refused or stopped with a trace
//! that says what stopped it, and the well-behaved connector keeps
//! delivering all along. Then: automatic restarts with backoff, metrics,
//! and grants of undefined resources refused at configuration time.
//!
//! Then plugins that attack the worker itself rather than escape, each on
//! a worker of its own beside a file-source -> Kafka -> file-sink flow
//! that must keep delivering, lose nothing and never fail: a source that
//! returns ten times its memory limit (streamed, or in lists that share
//! one buffer), a gigabyte on stderr, results the host cannot read
//! (offsets that are not JSON, a value whose nodes are shared, a transform
//! answering garbage), and a plugin that opens files until it runs out.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluice_tests::sql::POSTGRES_URL;
use sluice_tests::{
    Broker, FIXTURE_DIR, PLUGIN_DIR, Scratch, WorkerProcess, WorkerSetup, append_lines,
    http_request, line_counts, read_lines, wait_for,
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

/// A plain file-source -> Kafka -> file-sink flow beside a hostile
/// connector, fed lines all along: it must keep delivering, lose nothing,
/// and never fail or restart, whatever its neighbour does.
struct Neighbour {
    output: PathBuf,
    appended: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Neighbour {
    const SOURCE: &'static str = "neighbour-source";
    const SINK: &'static str = "neighbour-sink";

    /// Adds the flow's two connectors to `setup` (the worker's `inbox`
    /// and `outbox` roots).
    fn configure(setup: &mut WorkerSetup, scratch: &Scratch) {
        std::fs::write(scratch.dir("inbox").join("neighbour.txt"), "").unwrap();
        setup.connector(
            scratch,
            Self::SOURCE,
            &[
                ("connector.class", "file-source"),
                ("file", "/inbox/neighbour.txt"),
                ("topic", "neighbour"),
                ("grant.files", "inbox:ro"),
            ],
        );
        setup.connector(
            scratch,
            Self::SINK,
            &[
                ("connector.class", "file-sink"),
                ("topics", "neighbour"),
                ("file", "/outbox/neighbour.txt"),
                ("grant.files", "outbox:rw"),
            ],
        );
    }

    /// Appends 20 lines every 50 ms until finished, and waits until the
    /// first have gone through.
    fn start(scratch: &Scratch) -> Neighbour {
        let input = scratch.dir("inbox").join("neighbour.txt");
        let appended = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counting, stopping) = (Arc::clone(&appended), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut next = 0;
            while !stopping.load(Ordering::SeqCst) {
                let lines: Vec<String> = (next..next + 20)
                    .map(|i| format!("neighbour line {i:08}"))
                    .collect();
                append_lines(&input, &lines);
                next += 20;
                counting.store(next, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let neighbour = Neighbour {
            output: scratch.dir("outbox").join("neighbour.txt"),
            appended,
            stop,
            thread: Some(thread),
        };
        neighbour.wait_delivering("the neighbour to deliver");
        neighbour
    }

    /// Lines delivered to the sink's file so far.
    fn delivered(&self) -> usize {
        read_lines(&self.output).len()
    }

    /// Waits until 100 more lines than now have been delivered.
    fn wait_delivering(&self, what: &str) {
        let from = self.delivered();
        wait_for(what, LONG, || {
            (self.delivered() >= from + 100).then_some(())
        });
    }

    /// Stops feeding, then checks that every line arrived exactly once,
    /// that both connectors are RUNNING, and that neither failed and
    /// restarted meanwhile.
    fn finish(mut self, worker: &WorkerProcess) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap();
        let appended = self.appended.load(Ordering::SeqCst);
        let lines = wait_for_or_last(LONG, || {
            let lines = read_lines(&self.output);
            (lines.len() >= appended, lines)
        });
        let counts = line_counts(&lines);
        let missing = (0..appended)
            .filter(|i| !counts.contains_key(format!("neighbour line {i:08}").as_str()))
            .count();
        let repeated = counts.values().filter(|&&n| n > 1).count();
        let restarts: Vec<f64> = [Self::SOURCE, Self::SINK]
            .iter()
            .map(|c| metric(worker, "sluice_task_restarts_total", c))
            .collect();
        let states: Vec<Option<(String, String)>> = [Self::SOURCE, Self::SINK]
            .iter()
            .map(|c| worker.task_state(c, 0))
            .collect();
        eprintln!(
            "neighbour: {appended} lines appended, {} delivered, {missing} missing, {repeated} \
             delivered more than once; restarts (source, sink): {restarts:?}",
            lines.len()
        );
        assert_eq!(missing, 0, "the neighbour lost lines");
        assert_eq!(
            restarts,
            [0.0, 0.0],
            "the neighbour's tasks failed and restarted: {states:?}"
        );
        for (connector, state) in [Self::SOURCE, Self::SINK].iter().zip(&states) {
            assert_eq!(
                state.as_ref().map(|(s, _)| s.as_str()),
                Some("RUNNING"),
                "{connector}: {state:?}"
            );
        }
        assert_eq!(repeated, 0, "the neighbour delivered lines twice");
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Polls `check` until it says done or `timeout` passes, and returns its
/// last value either way (the assertions after it say what was wrong).
fn wait_for_or_last<T>(timeout: Duration, mut check: impl FnMut() -> (bool, T)) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let (done, value) = check();
        if done || Instant::now() > deadline {
            return value;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A worker with the plugins and fixtures, `extra` keys, and the neighbour
/// flow, started and delivering.
fn worker_with_neighbour(
    scratch: &Scratch,
    broker: &Broker,
    extra: &[(&str, String)],
) -> (WorkerProcess, Neighbour) {
    let mut setup = worker_with_fixtures(scratch, broker, extra);
    Neighbour::configure(&mut setup, scratch);
    let worker = setup.spawn();
    worker.wait_ready();
    let neighbour = Neighbour::start(scratch);
    (worker, neighbour)
}

/// Creates a connector over REST.
fn create(worker: &WorkerProcess, name: &str, config: &[(&str, &str)]) {
    let config: serde_json::Map<String, serde_json::Value> = config
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let body = serde_json::json!({ "name": name, "config": config }).to_string();
    let response = http_request(worker.rest_port, "POST", "/connectors", &[], Some(&body))
        .expect("the worker answers");
    assert_eq!(response.status, 201, "creating {name}: {}", response.body);
}

/// The worker's resident memory now and at its peak (VmRSS, VmHWM), bytes.
fn worker_memory(worker: &WorkerProcess) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", worker.pid()))
        .expect("reading the worker's /proc status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .unwrap_or_else(|| panic!("no {name} in the worker's status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// How many file descriptors the worker has open, and its soft limit.
fn worker_descriptors(worker: &WorkerProcess) -> (usize, usize) {
    let pid = worker.pid();
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .expect("the worker's limit of open files");
    (open, soft)
}

#[test]
fn the_neighbour_flow_alone_delivers_everything_without_failing() {
    // The control for the attacks below: what they require of the
    // neighbour, with no attacker beside it.
    let broker = Broker::start();
    let scratch = Scratch::new("neighbour");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        neighbour.wait_delivering("the neighbour to keep delivering");
    }
    neighbour.finish(&worker);
    worker.stop();
}

const MIB: u64 = 1 << 20;
/// The memory limit of the memory attacks' tasks.
const ATTACK_MEMORY: u64 = 16 * MIB;

/// What the attacker's task came to: FAILED with its trace, or the first
/// records of `topic` arrived.
fn failed_or_delivered(
    worker: &WorkerProcess,
    broker: &Broker,
    connector: &str,
    topic: &str,
    records: i64,
) -> Result<(), String> {
    wait_for(&format!("{connector} to fail or deliver"), LONG, || {
        match worker.task_state(connector, 0) {
            Some((state, trace)) if state == "FAILED" => return Some(Err(trace)),
            _ => {}
        }
        (broker.high_watermark(topic) >= records).then_some(Ok(()))
    })
}

#[test]
fn a_source_streaming_ten_times_its_memory_limit_is_throttled() {
    const PER_POLL: u64 = 2 * MIB;
    const RECORD: u64 = 64 << 10;
    let broker = Broker::start();
    let scratch = Scratch::new("stream-memory");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let (_, peak_before) = worker_memory(&worker);
    let probe = format!("records:{PER_POLL}:{RECORD}");
    let limit = ATTACK_MEMORY.to_string();
    create(
        &worker,
        "streamer",
        &probe_config(&probe, "streamed", &limit),
    );
    let delivered_before = neighbour.delivered();
    let started = Instant::now();
    let target = (10 * ATTACK_MEMORY / RECORD) as i64;
    let outcome = failed_or_delivered(&worker, &broker, "streamer", "streamed", target);
    let took = started.elapsed();
    // Long enough for the neighbour to show it kept going meanwhile.
    std::thread::sleep(Duration::from_secs(4).saturating_sub(took));
    let (_, peak) = worker_memory(&worker);
    let grew = peak.saturating_sub(peak_before);
    eprintln!(
        "streamer: {outcome:?}: {} MiB streamed in {} MiB polls in {took:?} ({} MiB after {:?}), \
         the worker's peak memory grew {} MiB (from {} MiB)",
        10 * ATTACK_MEMORY / MIB,
        PER_POLL / MIB,
        broker.high_watermark("streamed") as u64 * RECORD / MIB,
        started.elapsed(),
        grew / MIB,
        peak_before / MIB
    );
    assert_eq!(
        outcome,
        Ok(()),
        "a source that never holds more than its limit failed"
    );
    // The host holds a few polled batches at a time (MAX_BATCHES_IN_FLIGHT
    // waiting for Kafka, one being sent, one polled ahead), each once
    // lifted and once in librdkafka: about 24 MiB here, plus the plugin's
    // own memory. Buffering what the source returned would be 160 MiB.
    assert!(
        grew < 4 * ATTACK_MEMORY,
        "the worker's memory grew {} MiB while the source streamed",
        grew / MIB
    );
    assert!(
        neighbour.delivered() > delivered_before,
        "the neighbour delivered nothing while the source streamed"
    );
    let response = http_request(
        worker.rest_port,
        "DELETE",
        "/connectors/streamer",
        &[],
        None,
    )
    .expect("the worker answers");
    assert_eq!(response.status, 204, "{}", response.body);
    neighbour.wait_delivering("the neighbour to keep delivering");
    neighbour.finish(&worker);
    worker.stop();
}

/// A sandbox-probe connector's configuration: `probe` to `topic`, under
/// the memory limit `memory`, not restarted when it fails.
fn probe_config<'a>(probe: &'a str, topic: &'a str, memory: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("connector.class", "sandbox-probe"),
        ("probe", probe),
        ("topic", topic),
        ("task.memory.max.bytes", memory),
        ("task.restart.enabled", "false"),
    ]
}

#[test]
fn a_source_returning_lists_that_share_ten_times_its_memory_limit_is_stopped() {
    // 320 values of 512 KiB, all the same buffer: 160 MiB lifted out of a
    // plugin that holds half a megabyte of them.
    const RECORD: u64 = 512 << 10;
    const RECORDS: u64 = 10 * ATTACK_MEMORY / RECORD;
    let broker = Broker::start();
    let scratch = Scratch::new("alias-memory");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let (_, peak_before) = worker_memory(&worker);
    let probe = format!("alias:{RECORD}:{RECORDS}");
    let limit = ATTACK_MEMORY.to_string();
    let delivered_before = neighbour.delivered();
    create(&worker, "aliaser", &probe_config(&probe, "aliased", &limit));
    let outcome = failed_or_delivered(&worker, &broker, "aliaser", "aliased", 1);
    // The peak, whatever happened, has happened by the time records are
    // in Kafka or the task failed; give librdkafka a moment either way.
    std::thread::sleep(Duration::from_secs(2));
    let (_, peak) = worker_memory(&worker);
    let grew = peak.saturating_sub(peak_before);
    eprintln!(
        "aliaser: {} records of {} KiB sharing one buffer ({} MiB, {}x the limit): the worker's \
         peak memory grew {} MiB (from {} MiB); {} records reached Kafka; outcome: {:?}",
        RECORDS,
        RECORD >> 10,
        RECORDS * RECORD / MIB,
        RECORDS * RECORD / ATTACK_MEMORY,
        grew / MIB,
        peak_before / MIB,
        broker.high_watermark("aliased"),
        outcome
            .as_ref()
            .map_err(|t| t.lines().next().unwrap_or_default())
    );
    assert!(
        neighbour.delivered() > delivered_before,
        "the neighbour delivered nothing meanwhile"
    );
    neighbour.wait_delivering("the neighbour to keep delivering");
    assert!(
        grew < 4 * ATTACK_MEMORY,
        "a plugin limited to {} MiB made the worker take {} MiB more, by returning one buffer \
         {RECORDS} times",
        ATTACK_MEMORY / MIB,
        grew / MIB
    );
    match outcome {
        Err(trace) => assert!(
            trace.contains("task.memory.max.bytes"),
            "the trace does not name the memory limit:\n{trace}"
        ),
        Ok(()) => panic!(
            "the task delivered {} MiB it could never have held under its {} MiB limit",
            RECORDS * RECORD / MIB,
            ATTACK_MEMORY / MIB
        ),
    }
    neighbour.finish(&worker);
    worker.stop();
}

#[test]
fn a_gigabyte_on_stderr_is_contained() {
    const GIB: u64 = 1 << 30;
    let broker = Broker::start();
    let scratch = Scratch::new("spew");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let log_before = std::fs::metadata(scratch.file("worker.log")).unwrap().len();
    let (_, peak_before) = worker_memory(&worker);
    let delivered_before = neighbour.delivered();
    let probe = format!("spew:{GIB}");
    let started = Instant::now();
    create(
        &worker,
        "spewer",
        &probe_config(&probe, "spewed", &(256 * MIB).to_string()),
    );
    // A record per 16 MiB slice, and one when done.
    let slices = (GIB / (16 * MIB)) as usize;
    let records = broker.read_values("spewed", slices + 1, LONG);
    let took = started.elapsed();
    let delivered_during = neighbour.delivered() - delivered_before;
    let log = worker.log();
    let log_grew = log.len() as u64 - log_before;
    let (_, peak) = worker_memory(&worker);
    let grew = peak.saturating_sub(peak_before);
    let last = records
        .last()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    eprintln!(
        "spewer: \"{last}\" after {took:?}; the log grew {} KiB, the worker's peak memory {} \
         MiB; the neighbour delivered {delivered_during} lines meanwhile",
        log_grew >> 10,
        grew / MIB
    );
    assert_eq!(
        last,
        format!("wrote {GIB} bytes to stderr"),
        "{:?}",
        worker.task_state("spewer", 0)
    );
    assert!(
        log.contains("the rest of this window's output is dropped"),
        "the cap is not reported"
    );
    // 1 MiB of output a minute reaches the log, each line with its label.
    let minutes = took.as_secs() / 60 + 1;
    assert!(
        log_grew < minutes * 3 * MIB,
        "the log grew {} KiB in {took:?}",
        log_grew >> 10
    );
    assert!(
        grew < 64 * MIB,
        "the worker's memory grew {} MiB",
        grew / MIB
    );
    assert!(
        delivered_during > 0,
        "the neighbour delivered nothing while the plugin spewed"
    );
    neighbour.wait_delivering("the neighbour to keep delivering");
    neighbour.finish(&worker);
    worker.stop();
}

#[test]
fn an_offset_that_is_not_json_fails_its_own_task_alone() {
    let broker = Broker::start();
    let scratch = Scratch::new("bad-offset");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    // What the offsets file holds for the neighbour's source (REST shows
    // the worker's memory, which may be ahead of what it could write).
    let offsets_file = scratch.file("offsets.json");
    let offsets = || {
        let stored = std::fs::read_to_string(&offsets_file).unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(&stored)
            .ok()
            .and_then(|v| v["connectors"][Neighbour::SOURCE][0]["offset"]["position"].as_i64())
            .unwrap_or(0)
    };
    create(
        &worker,
        "bad-offset",
        &probe_config("bad-offset", "bad-offsets", &(256 * MIB).to_string()),
    );
    let trace = worker.failure_trace("bad-offset", LONG);
    eprintln!("bad-offset: {}", trace.lines().next().unwrap_or_default());
    // The neighbour's offsets go on being committed.
    let committed = offsets();
    neighbour.wait_delivering("the neighbour to keep delivering");
    let later = wait_for_or_last(Duration::from_secs(10), || {
        let now = offsets();
        (now > committed, now)
    });
    eprintln!(
        "neighbour-source offsets in the file: {committed} when bad-offset failed, {later} \
         after"
    );
    let stored = std::fs::read_to_string(&offsets_file).unwrap_or_default();
    assert!(
        serde_json::from_str::<serde_json::Value>(&stored).is_ok(),
        "the offsets file is no longer JSON:\n{stored}"
    );
    assert!(
        later > committed,
        "the neighbour's offsets stopped being written to the offsets file ({committed}, then \
         {later})"
    );
    assert!(
        trace.contains("offset") && trace.contains("JSON"),
        "the trace does not say the offset is not JSON:\n{trace}"
    );
    neighbour.finish(&worker);
    worker.stop();
}

#[test]
fn a_value_whose_nodes_are_shared_is_refused_not_amplified() {
    // 21 value nodes that read as a tree of about a million leaves.
    const DEPTH: u32 = 20;
    let broker = Broker::start();
    let scratch = Scratch::new("value-dag");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let probe = format!("value-dag:{DEPTH}");
    let mut config = probe_config(&probe, "dag", "268435456");
    // Tolerated and dead-lettered: the dead letter holds the value as the
    // host renders it.
    config.extend_from_slice(&[
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", "dag-dlq"),
    ]);
    let (_, peak_before) = worker_memory(&worker);
    let started = Instant::now();
    create(&worker, "dag", &config);
    let outcome = failed_or_delivered(&worker, &broker, "dag", "dag-dlq", 1);
    let took = started.elapsed();
    let grew = worker_memory(&worker).1.saturating_sub(peak_before);
    let letters = broker.read_values("dag-dlq", 1, Duration::from_secs(10));
    let largest = letters.iter().map(Vec::len).max().unwrap_or(0);
    eprintln!(
        "dag: {} value nodes; outcome {:?} after {took:?}; {} dead letters, the largest \
         {largest} bytes; the worker's peak memory grew {} MiB",
        DEPTH + 1,
        outcome
            .as_ref()
            .map_err(|t| t.lines().next().unwrap_or_default()),
        letters.len(),
        grew / MIB
    );
    assert!(
        grew < 64 * MIB,
        "{} value nodes made the worker take {} MiB more",
        DEPTH + 1,
        grew / MIB
    );
    match outcome {
        Err(trace) => assert!(
            trace.contains("value node"),
            "the trace does not name the malformed value:\n{trace}"
        ),
        Ok(()) => assert!(
            largest <= 64 << 10,
            "{} value nodes became a dead letter of {largest} bytes",
            DEPTH + 1
        ),
    }
    neighbour.wait_delivering("the neighbour to keep delivering");
    neighbour.finish(&worker);
    worker.stop();
}

#[test]
fn a_transform_returning_malformed_results_fails_its_task_naming_them() {
    let broker = Broker::start();
    let scratch = Scratch::new("malformed");
    let (worker, neighbour) = worker_with_neighbour(&scratch, &broker, &[]);
    let cases = [
        ("garbage", "the transform returned a"),
        ("short", "the plugin returned 199 results for 200 records"),
        ("truncated", "the transform returned a"),
    ];
    for (answer, _) in cases {
        let topic = format!("malformed-{answer}");
        create(
            &worker,
            &topic,
            &[
                ("connector.class", "sandbox-probe"),
                ("probe", "steady"),
                ("topic", &topic),
                ("transforms", "bad"),
                ("transforms.bad.type", "malformed-transform"),
                ("transforms.bad.answer", answer),
                ("task.restart.enabled", "false"),
            ],
        );
    }
    for (answer, expected) in cases {
        let topic = format!("malformed-{answer}");
        let trace = worker.failure_trace(&topic, LONG);
        eprintln!("{topic}: {}", trace.lines().next().unwrap_or_default());
        assert!(
            trace.contains(expected),
            "{topic}: the trace lacks \"{expected}\":\n{trace}"
        );
        assert_eq!(
            broker.high_watermark(&topic),
            0,
            "{topic}: a malformed result reached Kafka"
        );
    }
    neighbour.wait_delivering("the neighbour to keep delivering");
    neighbour.finish(&worker);
    worker.stop();
}

#[test]
fn a_plugin_opening_files_until_it_runs_out_leaves_the_worker_its_descriptors() {
    const HOLD_MS: u64 = 3000;
    let broker = Broker::start();
    let scratch = Scratch::new("open-files");
    let files = scratch.dir("files");
    let (worker, neighbour) = worker_with_neighbour(
        &scratch,
        &broker,
        &[("files.root.scratch", files.display().to_string())],
    );
    let (open_before, limit) = worker_descriptors(&worker);
    // The REST API, asked all along: the slowest answer, and requests
    // that got none.
    let asking = Arc::new(AtomicBool::new(true));
    let rest = {
        let (asking, port) = (Arc::clone(&asking), worker.rest_port);
        std::thread::spawn(move || {
            let (mut slowest, mut unanswered) = (Duration::ZERO, 0);
            while asking.load(Ordering::SeqCst) {
                let started = Instant::now();
                match http_request(port, "GET", "/connectors", &[], None) {
                    Some(r) if r.status == 200 => {}
                    _ => unanswered += 1,
                }
                slowest = slowest.max(started.elapsed());
                std::thread::sleep(Duration::from_millis(100));
            }
            (slowest, unanswered)
        })
    };
    let delivered_before = neighbour.delivered();
    let probe = format!("open-files:/scratch:{HOLD_MS}");
    let mut config = probe_config(&probe, "opened", "268435456");
    config.push(("grant.files", "scratch:rw"));
    create(&worker, "opener", &config);
    let mut most_open = open_before;
    let trace = wait_for("the opener to fail", LONG, || {
        most_open = most_open.max(worker_descriptors(&worker).0);
        match worker.task_state("opener", 0) {
            Some((state, trace)) if state == "FAILED" => Some(trace),
            _ => {
                std::thread::sleep(Duration::from_millis(50));
                None
            }
        }
    });
    asking.store(false, Ordering::SeqCst);
    let (slowest, unanswered) = rest.join().unwrap();
    let delivered_during = neighbour.delivered() - delivered_before;
    let created = std::fs::read_dir(&files).map(|d| d.count()).unwrap_or(0);
    eprintln!(
        "opener: {}\n  it created {created} files; the worker's descriptors: {open_before} \
         before, at most {most_open} of its limit of {limit}; REST: slowest answer {slowest:?}, \
         {unanswered} unanswered; the neighbour delivered {delivered_during} lines meanwhile",
        trace.lines().next().unwrap_or_default()
    );
    assert!(
        trace.contains("exceeded the resource limit") && trace.contains("4096 resources"),
        "the trace does not say what stopped the plugin:\n{trace}"
    );
    assert!(
        most_open + 100 < limit,
        "the plugin took the worker's file descriptors: {most_open} open of {limit}"
    );
    assert!(
        unanswered == 0 && slowest < Duration::from_secs(2),
        "the REST API stalled while the plugin held its files: slowest {slowest:?}, {unanswered} \
         unanswered"
    );
    neighbour.wait_delivering("the neighbour to keep delivering");
    neighbour.finish(&worker);
    worker.stop();
}
