#!/usr/bin/env bash
# Quick connect checks: the relay + share integration tests (late joiner, slow and resumed viewers
# pixel-exact; keys, rate limits, malformed messages, remote control), the share command under Xvfb
# (real X11 capture and XTest input), the 200-viewer load test, and the end-to-end test in headless
# Chromium. Installs what it needs (chromium, xvfb from apt when missing; npm packages in quick/e2e
# from its package-lock.json; the Web SDK build when wasm/dist is absent). Safe to run twice; every
# step is bounded in time. Usage: bash quick/ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
start=$(date +%s)
BUILD="$ROOT/quick/build"
mkdir -p "$BUILD"

echo "== quick: system packages"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "quick/ci.sh: Node.js 18+ is needed" >&2; exit 1; }

echo "== quick: Web SDK files for the viewer page"
PKG="$ROOT/wasm"
if [ ! -f wasm/dist/glimpse_wasm_bg.wasm ] || [ ! -f wasm/js/index.js ]; then
  # Not built by wasm/ci.sh yet: build the same files into quick/build/pkg.
  bash quick/build_web.sh
  PKG="$BUILD/pkg"
fi
echo "Web SDK: $PKG"

echo "== quick: build"
cargo build -q --release --example share --example relay --example quick_load
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples"

echo "== quick: Rust integration tests (relay, share, Xvfb)"
GLIMPSE_REQUIRE_XVFB=1 timeout 300 cargo test -q --release --test quick_connect -- --nocapture 2>&1 \
  | tee "$BUILD/tests.log" | grep -E "^(test |late joiner|slow viewer|xvfb:|test result)" || true
grep -q "^test result: ok" "$BUILD/tests.log" || { echo "quick/ci.sh: integration tests failed" >&2; cat "$BUILD/tests.log" >&2; exit 1; }

echo "== quick: load test (200 viewers, 10 slow)"
timeout 170 "$TARGET/quick_load" > "$BUILD/load.json"
cat "$BUILD/load.json"

echo "== quick: end-to-end in headless Chromium"
if [ -d ../shared/corpus ]; then CORPUS=typing_editor@1920x1080; else CORPUS=typing_editor@1280x720; fi
(cd quick/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd quick/e2e && timeout 150 node e2e.mjs "$TARGET/share" --corpus "$CORPUS" --pkg "$PKG") 2>&1 \
  | grep -v '^\[' | tee "$BUILD/e2e.log" | grep -E '^(e2e:|\{)'

echo "quick connect checks finished in $(( $(date +%s) - start )) s"
