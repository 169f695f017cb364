#!/usr/bin/env bash
# Builds and tests the npm package (glimpse-web): fmt + clippy (native and wasm32), the wasm build,
# `npm pack`, then tests of the packed tarball: tsc --noEmit over its types, Node tests (node:test) and
# real headless Chromium tests (playwright-core driving /usr/bin/chromium), and the benchmark.
# Installs what it needs (wasm32 target, the pinned wasm-bindgen-cli, chromium, npm packages); safe to
# run twice. Usage: bash wasm/ci.sh
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
# GLIMPSE_WORKSPACE: the Cargo workspace holding this crate (default: the repository root).
WS=${GLIMPSE_WORKSPACE:-$(cd .. && pwd)}
TARGET_DIR=${CARGO_TARGET_DIR:-$WS/target}
export CARGO_TERM_COLOR=never
# Must equal the exact `wasm-bindgen = "=..."` pin in Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
grep -q "wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" Cargo.toml || { echo "ci.sh: Cargo.toml does not pin wasm-bindgen =$WASM_BINDGEN_VERSION" >&2; exit 1; }

echo "== tools"
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
command -v node >/dev/null || { echo "ci.sh: Node.js 18+ is needed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error

echo "== fmt + clippy"
MANIFEST="$WS/wasm/Cargo.toml"
cargo fmt --manifest-path "$MANIFEST" --check
cargo clippy -q --manifest-path "$MANIFEST" --all-targets -- -D warnings
cargo clippy -q --manifest-path "$MANIFEST" --all-targets --target wasm32-unknown-unknown -- -D warnings
cargo test -q --manifest-path "$MANIFEST" --lib

# The wasm engine and the TypeScript in ts/ (JavaScript and generated types in js/).
bash build.sh

echo "== test packets (native encoder)"
cargo build -q --manifest-path "$MANIFEST" --example packets
TOOL="$TARGET_DIR/debug/examples/packets"
"$TOOL" make build/testdata

echo "== npm pack"
mkdir -p build
rm -f build/glimpse-web-*.tgz
TARBALL="$HERE/build/$(npm pack --silent --pack-destination build | tail -n1)"
echo "packed $TARBALL"
# A consumer project that installs the tarball; the tests run inside it and import 'glimpse-web'.
CONSUMER=build/consumer
rm -rf "$CONSUMER"
mkdir -p "$CONSUMER/node_modules"
echo '{ "name": "consumer", "private": true, "type": "module" }' > "$CONSUMER/package.json"
(cd "$CONSUMER" && npm install --no-audit --no-fund --loglevel=error --no-save "$TARBALL")
ln -sfn "$HERE/node_modules/playwright-core" "$CONSUMER/node_modules/playwright-core"
cp tests/*.mjs tests/*.ts tests/*.html tests/tsconfig.json "$CONSUMER/"

echo "== tsc --noEmit"
(cd "$CONSUMER" && "$HERE/node_modules/.bin/tsc" --noEmit -p tsconfig.json)
echo "types ok"

echo "== node + chromium tests"
export GLIMPSE_TESTDATA="$HERE/build/testdata" GLIMPSE_PACKETS_TOOL="$TOOL" GLIMPSE_TARBALL="$TARBALL"
cd "$CONSUMER"
node --test --test-concurrency=1 --test-reporter=tap node.test.mjs browser.test.mjs 2>&1 | tee ../test.log | grep -v '^ *# Subtest' || true
grep -q '^# fail 0$' ../test.log || { echo "ci.sh: wasm tests failed" >&2; exit 1; }
pass=$(sed -n 's/^# pass //p' ../test.log)
echo "$pass passed, 0 failed"
