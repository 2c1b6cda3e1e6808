#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and end-to-end tests against a
# real tansu broker with real worker processes. Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh
# The services the end-to-end tests use, on the machine's standard ports:
# missing ones fail the run here, by name, rather than as a connection
# error deep in a test (and never as a skipped test).
missing_services=()
for service in PostgreSQL:5432 MariaDB:3306; do
    name="${service%%:*}" port="${service##*:}"
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || missing_services+=("$name on 127.0.0.1:$port")
done
if [ ${#missing_services[@]} -gt 0 ]; then
    printf 'the tests need %s, which does not answer: start it and run again\n' "${missing_services[@]}" >&2
    exit 1
fi
# Release builds: wasmtime compiles components far faster when optimised,
# and the end-to-end tests move hundreds of thousands of records.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
cargo test --release --workspace "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The plugins' unit tests (pure logic: SQL text, type mappings, Java's
# formats), run natively: the plugin workspace builds for wasm32-wasip2 by
# default, where a test binary cannot run. Filters given to this script
# apply to the end-to-end tests only.
if [ $# -eq 0 ]; then
    CARGO_TARGET_DIR="$CARGO_TARGET_DIR/native-plugins" \
        cargo test --release --manifest-path plugins/Cargo.toml \
        --target "$(rustc -vV | sed -n 's/^host: //p')" --workspace 2>&1 | tee -a "$log"
    plugin_status=${PIPESTATUS[0]}
    [ "$status" -ne 0 ] || status=$plugin_status
fi
set -e
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 }
     END { printf "%d passed, %d failed\n", passed, failed }' "$log"
exit "$status"
