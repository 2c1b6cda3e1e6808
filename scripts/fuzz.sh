#!/usr/bin/env bash
# Coverage-guided fuzzing (fuzz/): builds the libFuzzer targets with the
# stable toolchain's coverage instrumentation, runs each for FUZZ_SECONDS
# (default 60) from its seeds in fuzz/corpus/<target>, and fails on any
# crash, failed assertion, timeout or memory blow-up, naming the target and
# the input that did it. Targets given as arguments run alone:
#   bash scripts/fuzz.sh                   # every target
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh json_reader
#
# The flags are those cargo-fuzz passes with `--sanitizer none` (no -Z
# flag, so the stable toolchain builds them); cargo-fuzz itself is not
# needed, and the layout is its own for whoever prefers
# `cargo fuzz run <target> -s none`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/prerequisites.sh

seconds="${FUZZ_SECONDS:-60}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
# The instrumented build differs from every other build of the tree: its
# own target directory, so that neither evicts the other's artifacts.
target_dir="$CARGO_TARGET_DIR/fuzz"
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for file in fuzz/fuzz_targets/*.rs; do
        name="${file##*/}"
        targets+=("${name%.rs}")
    done
fi

# The coverage the fuzzer steers by (8-bit edge counters and the table of
# their code addresses, the operands of comparisons, the stack's depth) and
# `cfg(fuzzing)`. `--target` keeps build scripts and proc macros, which
# run on the build machine without libFuzzer, uninstrumented. Overflow
# checks and debug assertions come from fuzz/Cargo.toml's profile.
rustflags="-Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-sanitizer-coverage-stack-depth \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
--cfg fuzzing"
echo "==> building the fuzz targets (${targets[*]})"
bins=()
for target in "${targets[@]}"; do
    bins+=(--bin "$target")
done
RUSTFLAGS="$rustflags ${RUSTFLAGS:-}" CARGO_TARGET_DIR="$target_dir" \
    cargo build --release --manifest-path fuzz/Cargo.toml --target "$triple" "${bins[@]}"

work="$(mktemp -d)"
failed=()
for target in "${targets[@]}"; do
    echo "==> fuzzing $target for ${seconds}s"
    # New inputs go to a directory of this run's (libFuzzer writes to the
    # first corpus directory only); the seeds are read, never added to.
    mkdir -p "$work/$target/new" "$work/$target/artifacts"
    corpus=("$work/$target/new")
    [ -d "fuzz/corpus/$target" ] && corpus+=("fuzz/corpus/$target")
    log="$work/$target/log"
    status=0
    "$target_dir/$triple/release/$target" \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1 \
        -artifact_prefix="$work/$target/artifacts/" \
        "${corpus[@]}" >"$log" 2>&1 || status=$?
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
    took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")"
    new="$(find "$work/$target/new" -type f | wc -l)"
    if [ "$status" -eq 0 ]; then
        echo "    ${runs:-?} runs in ${took:-?}s ($(( ${runs:-0} / (${took:-1} > 0 ? ${took:-1} : 1) )) a second), $new new inputs"
        continue
    fi
    failed+=("$target")
    # The panic's message and what libFuzzer says (a crash, a timeout, a
    # memory limit); the backtrace stays in the log.
    sed -n '/panicked at/,/^stack backtrace:/p' "$log" | head -n 40 >&2
    grep -E '^==[0-9]+== ERROR|^SUMMARY' "$log" >&2 || tail -n 20 "$log" >&2
    echo "  log: $log" >&2
    for input in "$work/$target/artifacts"/*; do
        [ -e "$input" ] || continue
        echo "FUZZ FAILURE: target $target, input $input" >&2
        echo "  reproduce: $target_dir/$triple/release/$target $input" >&2
    done
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]} (inputs and logs kept in $work)" >&2
    exit 1
fi
rm -rf "$work"
echo "fuzzing passed: ${targets[*]}, ${seconds}s each"
