# Sourced by the other scripts: makes sure this machine has what Sluice's
# build, demo and tests need, installing what is missing. Everything it
# installs is cached outside the checkout, so a second run is quick.
#
#   - Debian packages: a C toolchain, make and perl (for the bundled
#     librdkafka), zlib and OpenSSL's headers (librdkafka's TLS and SCRAM),
#     curl (the README's recipes), python3, and openssl (the https
#     listener's test makes its certificate with it)
#   - the wasm32-wasip2 Rust target (plugins are built for it)
#   - the tansu broker (a Kafka-protocol broker from crates.io, no JVM)
#   - schemathesis (PyPI), for the property-based test of the REST API

missing=()
for pkg in build-essential pkg-config zlib1g-dev libssl-dev perl curl python3 openssl; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

SLUICE_CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SLUICE_CACHE/target}"
mkdir -p "$SLUICE_CACHE" "$CARGO_TARGET_DIR"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
fi

if [ -z "${TANSU:-}" ]; then
    if command -v tansu >/dev/null 2>&1; then
        TANSU="$(command -v tansu)"
    else
        TANSU="$SLUICE_CACHE/tools/bin/tansu"
        if [ ! -x "$TANSU" ]; then
            echo "==> installing the tansu broker into $SLUICE_CACHE/tools (about 15 minutes, once)"
            cargo install tansu --version 0.6.0 --locked --features dynostore,libsql,postgres \
                --root "$SLUICE_CACHE/tools"
        fi
    fi
fi
export TANSU

if [ -z "${SCHEMATHESIS:-}" ]; then
    SCHEMATHESIS="$SLUICE_CACHE/venv/bin/schemathesis"
    if [ ! -x "$SCHEMATHESIS" ]; then
        echo "==> installing schemathesis into $SLUICE_CACHE/venv"
        if ! python3 -m venv "$SLUICE_CACHE/venv" 2>/dev/null; then
            # Debian's python3 keeps venv in a package of its own.
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
            python3 -m venv "$SLUICE_CACHE/venv"
        fi
        "$SLUICE_CACHE/venv/bin/pip" install -q "schemathesis==4.32.5"
    fi
fi
export SCHEMATHESIS
