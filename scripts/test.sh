#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and end-to-end tests against a
# real tansu broker with real worker processes. Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh
# Release builds: wasmtime compiles components far faster when optimised,
# and the end-to-end tests move hundreds of thousands of records.
cargo test --release --workspace "$@"
