//! A property-based test of the REST API from its own OpenAPI document:
//! schemathesis (from PyPI) generates requests for every operation, valid
//! and invalid, against a running `sluice standalone` with real
//! connectors, and checks that no response is a 5xx or contradicts the
//! document (status codes, content types, headers, body schemas), that
//! invalid requests are refused, and that the stateful sequences hold.
//!
//! Not checked: that every schema-valid request is accepted. A connector
//! configuration is valid only against an installed plugin, which no
//! schema can express, so most generated configurations are rightly
//! refused with 400.

use std::path::PathBuf;
use std::process::Command;

use sluice_tests::*;

/// schemathesis, as scripts/prerequisites.sh installs it (`SCHEMATHESIS`),
/// or on the PATH. Missing is a failure, not a skip.
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let cached = PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/sluice/venv/bin/schemathesis");
    if cached.exists() {
        return cached;
    }
    panic!(
        "schemathesis is not installed: run scripts/prerequisites.sh (it installs it from PyPI \
         into ~/.cache/sluice/venv) or set SCHEMATHESIS"
    );
}

#[test]
fn the_api_conforms_to_its_openapi_document() {
    let broker = Broker::start();
    let scratch = Scratch::new("rest-schema");
    append_lines(
        &scratch.dir("inbox").join("in.txt"),
        &numbered_lines(0, 50, 20),
    );
    let mut setup = WorkerSetup::new(&scratch, &broker, &[]);
    setup.connector(
        &scratch,
        "src",
        &[
            ("connector.class", "FileStreamSource"),
            ("file", "/inbox/in.txt"),
            ("topic", "lines"),
            ("grant.files", "inbox:ro"),
        ],
    );
    setup.connector(
        &scratch,
        "dst",
        &[
            ("connector.class", "file-sink"),
            ("file", "/outbox/out.txt"),
            ("topics", "lines"),
            ("grant.files", "outbox:rw"),
        ],
    );
    let worker = setup.spawn();
    worker.wait_ready();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let url = format!("http://127.0.0.1:{}/openapi.json", worker.rest_port);
    let examples = std::env::var("SLUICE_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "40".into());
    let output = Command::new(schemathesis())
        .current_dir(&scratch.path)
        .arg("--config-file")
        .arg(&config)
        .arg("--no-color")
        .args(["run", &url])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection,\
             unsupported_method,use_after_free,ensure_resource_availability",
        ])
        .args(["--max-examples", &examples, "--workers", "1"])
        .args(["--request-timeout", "60"])
        .output()
        .expect("running schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Tested:"), "{report}");
    // The worker survived everything it was sent.
    assert_eq!(
        worker.get("/health").map(|(code, _)| code),
        Some(200),
        "{}",
        worker.log()
    );
    assert!(!worker.log().contains("panicked"), "{}", worker.log());
    assert!(worker.stop().success());
}
