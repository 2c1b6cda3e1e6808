#!/usr/bin/env bash
# Builds everything and runs a demo pipeline end to end:
#   /inbox/input.txt -> file-source -> Kafka topic "demo-lines" -> file-sink -> /outbox/output.txt
# A tansu broker is started (and stopped) for you; nothing to install by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

echo "==> building the host and the plugins"
# The host alone: the test crate's binaries would build the plugins a
# second time (tests/build.rs) into a directory of their own.
cargo build --release -p sluice --bin sluice
# One plugin target directory per checkout: checkouts may share the cache.
PLUGIN_TARGET="$CARGO_TARGET_DIR/wasm-plugins-demo-$(pwd | cksum | cut -d" " -f1)"
cargo build --release --manifest-path plugins/Cargo.toml --target wasm32-wasip2 --target-dir "$PLUGIN_TARGET"
SLUICE="$CARGO_TARGET_DIR/release/sluice"

demo="$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")"
mkdir -p "$demo/plugins" "$demo/inbox" "$demo/outbox"
cp "$PLUGIN_TARGET"/wasm32-wasip2/release/*.wasm "$demo/plugins/"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kafka_port=$(free_port)
rest_port=$(free_port)

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

echo "==> starting the tansu broker on 127.0.0.1:$kafka_port"
# SQLite storage, not memory: tansu 0.6.0's memory storage skips the rest of
# a producer batch when a consumer resumes from inside it.
(cd "$demo" && exec "$TANSU" broker --storage-engine sqlite://tansu.db \
    --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" >"$demo/broker.log" 2>&1) &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && break; sleep 0.1; done

cat >"$demo/worker.properties" <<PROPS
bootstrap.servers=127.0.0.1:$kafka_port
plugin.path=$demo/plugins
offset.storage.file.filename=$demo/offsets.json
listeners=http://127.0.0.1:$rest_port
files.root.inbox=$demo/inbox
files.root.outbox=$demo/outbox
PROPS
cat >"$demo/source.properties" <<PROPS
name=demo-source
connector.class=FileStreamSource
file=/inbox/input.txt
topic=demo-lines
grant.files=inbox:ro
PROPS
cat >"$demo/sink.json" <<JSON
{"name": "demo-sink", "config": {
  "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
  "file": "/outbox/output.txt", "topics": "demo-lines", "grant.files": "outbox:rw"}}
JSON
for i in $(seq 1 1000); do echo "hello from line $i"; done >"$demo/inbox/input.txt"

echo "==> starting sluice standalone (log: $demo/worker.log)"
"$SLUICE" standalone "$demo/worker.properties" "$demo/source.properties" "$demo/sink.json" \
    2>"$demo/worker.log" &
worker=$!
pids+=($worker)

wait_lines() {
    for _ in $(seq 600); do
        [ -f "$demo/outbox/output.txt" ] && [ "$(wc -l <"$demo/outbox/output.txt")" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1 lines; worker log:"; cat "$demo/worker.log"; exit 1
}
wait_lines 1000
echo "==> 1000 lines went file -> Kafka -> file; the last three:"
tail -n 3 "$demo/outbox/output.txt"
echo "==> appending two lines to the input while it runs"
printf 'appended while running\nand one more\n' >>"$demo/inbox/input.txt"
wait_lines 1002
tail -n 2 "$demo/outbox/output.txt"
echo "==> connector status (GET /connectors/demo-source/status):"
curl -s "http://127.0.0.1:$rest_port/connectors/demo-source/status"; echo
cmp "$demo/inbox/input.txt" "$demo/outbox/output.txt" && echo "==> output.txt equals input.txt"
echo "==> stopping (SIGTERM flushes and commits)"
kill -TERM "$worker"; wait "$worker" || true
echo "==> stored source offsets:"; cat "$demo/offsets.json"; echo
echo "==> demo files are in $demo"
