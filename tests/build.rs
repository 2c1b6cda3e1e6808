//! Builds the first-party plugins (plugins/, a wasm32-wasip2 workspace) and
//! the test fixtures (tests/fixtures/, components that misbehave on
//! purpose) so the end-to-end tests and benchmarks run components built
//! from the sources in this checkout, never checked-in binaries.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for dir in ["plugins", "sdk-guest", "wit", "tests/fixtures"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // A target directory of its own: the outer cargo holds the lock on the
    // host's. It lives beside the host's so CI caches both together.
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_root = out_dir
        .ancestors()
        .nth(4)
        .map(PathBuf::from)
        .unwrap_or_else(|| out_dir.clone());
    // One directory per checkout: two checkouts sharing a target directory
    // (CI clones share the cache) must not hand each other their plugins.
    let checkout = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        root.hash(&mut hasher);
        hasher.finish()
    };
    let plugin_dir = build_components(
        &root.join("plugins"),
        &target_root.join(format!("wasm-plugins-{checkout:016x}")),
    );
    println!("cargo:rustc-env=SLUICE_PLUGIN_DIR={}", plugin_dir.display());
    let fixture_dir = build_components(
        &root.join("tests").join("fixtures"),
        &target_root.join(format!("wasm-fixtures-{checkout:016x}")),
    );
    println!(
        "cargo:rustc-env=SLUICE_FIXTURE_DIR={}",
        fixture_dir.display()
    );
}

/// Builds the wasm32-wasip2 workspace in `workspace` into `target`, and
/// returns where the components are.
fn build_components(workspace: &std::path::Path, target: &std::path::Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target)
        // Variables of the outer build must not leak into the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo to build wasm components");
    assert!(
        status.success(),
        "building the components in {} failed; is the wasm32-wasip2 target installed? \
         (rustup target add wasm32-wasip2)",
        workspace.display()
    );
    target.join("wasm32-wasip2").join("release")
}
