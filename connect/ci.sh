#!/usr/bin/env bash
# Quick connect checks beyond `cargo test` (which runs the in-process live tests): the programs as
# a user runs them (glimpse-relay restarted mid-stream and a host link stalled for 5 s with a Rust
# viewer, glimpse-view and a Chromium page all resuming pixel-exact; TLS with a test certificate;
# glimpse-share under Xvfb with real capture and input, and under an input flood), glimpse-share on
# a headless GNOME Wayland desktop (connect/wayland-ci.sh: portal capture pixel-exact against an
# independent PipeWire grab, remote input through the RemoteDesktop portal), the 200-viewer load
# test with /metrics, the relay cluster's tests (3 nats-server and 3 relay nodes: fan-out with a
# Chromium page, node and NATS server failures) and its webinar benchmark at CI size (300 viewers,
# 10 slow; the full 1,000 is `target/release/examples/webinar`). CI runs the programs from the test
# profile's build (debug assertions on), so their timing figures are above a release build's. (connect/e2e/run.sh runs the
# browser end-to-end test.)
# Installs what it needs (chromium, xvfb, nats-server from apt when missing; npm packages of connect/e2e from
# its package-lock.json; the viewer page when web/dist is absent). Safe to run twice; every step is
# bounded in time. Usage: bash connect/ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
start=$(date +%s)
OUT="$ROOT/target/connect-ci"
mkdir -p "$OUT"

echo "== connect: system packages (at $SECONDS s)"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing+=(nats-server)
if ((${#missing[@]})); then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "connect/ci.sh: Node.js 18+ is needed" >&2; exit 1; }

echo "== connect: viewer page (web/dist, embedded into the relay) (at $SECONDS s)"
bash scripts/build-web.sh

echo "== connect: programs (the test profile's build, which cargo test --workspace made) (at $SECONDS s)"
cargo ws-build -q --bins --examples
(cd connect/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

echo "== connect: programs (relay restart, host stall, TLS, Xvfb) (at $SECONDS s)"
if ! GLIMPSE_REQUIRE_BROWSER=1 timeout 600 cargo ws-test -q --test live -- \
    --ignored --test-threads=1 --nocapture >"$OUT/programs.log" 2>&1; then
  cat "$OUT/programs.log" >&2
  echo "connect/ci.sh: program tests failed" >&2
  exit 1
fi
grep -E '^(relay restart|host link|tls:|xvfb)|test result' "$OUT/programs.log" || true

echo "== connect: glimpse-share on Wayland (headless GNOME session, portal, PipeWire) (at $SECONDS s)"
if ! bash connect/wayland-ci.sh >"$OUT/wayland.log" 2>&1; then
  cat "$OUT/wayland.log" >&2
  echo "connect/ci.sh: Wayland share test failed" >&2
  exit 1
fi
grep -E '^(wayland share:|wayland-share-ci:)|test result' "$OUT/wayland.log" || true

echo "== connect: load test (200 viewers, 10 slow) (at $SECONDS s)"
# The 199 joiners arrive 8 at a time, faster than a session lets joiners through to its host: they
# wait their turn (relay/join_queue.rs), none may be refused.
if ! timeout 170 target/debug/examples/load_test >"$OUT/load.json"; then
  cat "$OUT/load.json" >&2 || true
  echo "connect/ci.sh: load test failed" >&2
  exit 1
fi
cat "$OUT/load.json"

echo "== connect: relay cluster (3 NATS servers, 3 relay nodes; fan-out, failures) (at $SECONDS s)"
if ! GLIMPSE_REQUIRE_NATS=1 GLIMPSE_REQUIRE_BROWSER=1 timeout 300 cargo ws-test -q \
    --test cluster -- --nocapture >"$OUT/cluster.log" 2>&1; then
  cat "$OUT/cluster.log" >&2
  echo "connect/ci.sh: cluster tests failed" >&2
  exit 1
fi
grep -E '^(cluster|failover):|test result' "$OUT/cluster.log" || true

echo "== connect: relay cluster webinar (1 host, 300 viewers over 3 nodes, 10 slow) (at $SECONDS s)"
timeout 300 target/debug/examples/webinar --viewers 300 --slow 10 >"$OUT/webinar.json"
cat "$OUT/webinar.json"

echo "quick connect checks finished in $(( $(date +%s) - start )) s"
