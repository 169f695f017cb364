#!/usr/bin/env bash
# Builds and tests the npm package (glimpse-web): fmt + clippy (native and wasm32), the build
# (wasm/build.sh: the wasm engine and the TypeScript in ts/), `npm pack`, then tests of the packed
# tarball: tsc --noEmit over its generated types, Node tests (node:test), real headless Chromium tests
# (playwright-core driving /usr/bin/chromium) and the benchmark, and quick connect against a real
# glimpse-relay, end-to-end encrypted (GlimpseViewer.join on a glimpse-share session, the relay's page
# built from the tarball with its integrity hashes, join errors, GlimpseSharer.share joined by
# glimpse-view and by a browser with approval and a replaced code, a relay restart, a misbehaving and
# a tampering relay), and the relay's viewer page on a laptop window and a phone (fit, 1:1, touch
# under remote control, checked in screenshots).
# Installs what it needs (wasm32 target, the pinned wasm-bindgen-cli, chromium, npm packages); safe to
# run twice. Usage: bash wasm/ci.sh
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
# GLIMPSE_WORKSPACE: the Cargo workspace holding this crate (default: the repository root).
WS=${GLIMPSE_WORKSPACE:-$(cd .. && pwd)}
TARGET_DIR=${CARGO_TARGET_DIR:-$WS/target}
export CARGO_TERM_COLOR=never

echo "== tools (at $SECONDS s)"
# The wasm32 target for clippy below; build.sh installs the rest of the wasm tools.
installed=$(rustup target list --installed)
case $'\n'"$installed"$'\n' in
  *$'\n'wasm32-unknown-unknown$'\n'*) ;;
  *) rustup target add wasm32-unknown-unknown ;;
esac
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
fi
command -v node >/dev/null || { echo "ci.sh: Node.js 18+ is needed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error

echo "== fmt + clippy (at $SECONDS s)"
MANIFEST="$WS/wasm/Cargo.toml"
cargo fmt --manifest-path "$MANIFEST" --check
cargo clippy -q --manifest-path "$MANIFEST" --all-targets -- -D warnings
cargo clippy -q --manifest-path "$MANIFEST" --all-targets --target wasm32-unknown-unknown -- -D warnings
# scripts/test.sh has run the native tests with the whole workspace (GLIMPSE_WORKSPACE_TESTED=1).
if [ "${GLIMPSE_WORKSPACE_TESTED:-0}" != 1 ]; then
  cargo test -q --manifest-path "$MANIFEST" --lib
fi

# The wasm engine and the TypeScript in ts/ (JavaScript and generated types in js/).
bash build.sh

echo "== test packets (native encoder) (at $SECONDS s)"
# The workspace's programs and examples (the test tools here, and glimpse-relay, glimpse-share and
# glimpse-view for the quick connect tests below) in the test profile, which `cargo test
# --workspace` has already built: CI compiles the programs once, and only the corpus report in release.
(cd "$WS" && cargo ws-build -q --bins --examples)
TOOL="$TARGET_DIR/debug/examples/packets"
"$TOOL" make build/testdata
# Messages of a misbehaving relay, encoded by the protocol itself.
"$TARGET_DIR/debug/examples/relay_messages" build/relay-messages

echo "== npm pack (at $SECONDS s)"
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

echo "== quick connect programs and the relay's pages (from the tarball) (at $SECONDS s)"
BIN_DIR="$TARGET_DIR/debug" # built above
WEB="$HERE/build/web"
bash "$WS/scripts/build-web.sh" --tarball "$TARBALL" --out "$WEB"
# The relay tests' own page, served by the relay next to its pages (under its CSP).
mkdir -p "$WEB/test"
cp tests/relay-page.html tests/relay-page.mjs "$WEB/test/"
if [ -d "$WS/../shared/corpus" ]; then CORPUS_DIR="$WS/../shared/corpus"; else CORPUS_DIR="$WS/testdata/corpus"; fi

echo "== tsc --noEmit (at $SECONDS s)"
(cd "$CONSUMER" && "$HERE/node_modules/.bin/tsc" --noEmit -p tsconfig.json)
echo "types ok"

echo "== node + chromium tests (at $SECONDS s)"
export GLIMPSE_TESTDATA="$HERE/build/testdata" GLIMPSE_PACKETS_TOOL="$TOOL" GLIMPSE_TARBALL="$TARBALL"
export GLIMPSE_RELAY_MESSAGES="$HERE/build/relay-messages"
# Screenshots the viewer page tests take (checked by them; kept for a look, not committed).
export GLIMPSE_ARTIFACTS_DIR="$HERE/build/artifacts"
export GLIMPSE_BIN_DIR="$BIN_DIR" GLIMPSE_WEB_DIR="$WEB" GLIMPSE_CORPUS_DIR="$CORPUS_DIR" GLIMPSE_CORPUS=typing_editor@1280x720
cd "$CONSUMER"
timeout 900 node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=tap node.test.mjs view.test.mjs browser.test.mjs connect.test.mjs viewer-page.test.mjs hostile-relay.test.mjs 2>&1 \
  | tee ../test.log | grep -v '^ *# Subtest' || true
grep -q '^# fail 0$' ../test.log || { echo "ci.sh: wasm tests failed" >&2; exit 1; }
pass=$(sed -n 's/^# pass //p' ../test.log)
echo "$pass passed, 0 failed"
