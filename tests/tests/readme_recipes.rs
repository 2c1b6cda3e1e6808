//! The README's curl recipes, run in order against a real worker, so that
//! what the README tells operators to type keeps working.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use sluice_tests::*;

/// The ```sh blocks between the README's recipe markers.
fn recipes() -> Vec<String> {
    let readme = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let text = std::fs::read_to_string(&readme).expect("reading README.md");
    let start = text
        .find("<!-- recipes:start -->")
        .expect("the recipes start marker");
    let end = text
        .find("<!-- recipes:end -->")
        .expect("the recipes end marker");
    let mut blocks = Vec::new();
    let mut rest = &text[start..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("a closed code block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    blocks
}

#[test]
fn the_readme_curl_recipes_work() {
    let blocks = recipes();
    assert!(
        blocks.len() >= 8,
        "expected the README's recipes, found {}",
        blocks.len()
    );
    let broker = Broker::start();
    let scratch = Scratch::new("readme");
    append_lines(
        &scratch.dir("inbox").join("input.txt"),
        &numbered_lines(0, 20, 10),
    );
    let setup = WorkerSetup::new(&scratch, &broker, &[]);
    let worker = setup.spawn();
    worker.wait_ready();
    let address = format!("127.0.0.1:{}", worker.rest_port);
    let run = |block: &String| {
        let script = block.replace("localhost:8083", &address);
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(&scratch.path)
            .output()
            .expect("running bash");
        assert!(
            output.status.success(),
            "this README recipe failed:\n{block}\nstdout: {}\nstderr: {}\nworker log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            worker.log()
        );
    };
    let (delete, before) = blocks.split_last().expect("recipes");
    assert!(
        delete.contains("-X DELETE"),
        "the last recipe deletes: {delete}"
    );
    before.iter().for_each(run);
    // What the recipes did: the file was read twice (the rewind) and the
    // log level changed.
    let values = broker.read_values("lines", 40, Duration::from_secs(30));
    assert_eq!(values.len(), 40, "the rewound source reads the file again");
    assert_eq!(
        worker.get("/admin/loggers/sluice::worker").unwrap().1["level"],
        "DEBUG"
    );
    run(delete);
    assert_eq!(worker.get("/connectors").unwrap(), (200, json!([])));
}
