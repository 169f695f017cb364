#!/usr/bin/env bash
# Quick connect end to end in headless Chromium, end-to-end encrypted: builds the relay's pages
# (scripts/build-web.sh, into connect/e2e/build/web), glimpse-share and glimpse-relay, then runs
# e2e.mjs (three browser viewers of a recording, pixel-exact, join and latency figures as JSON on the
# last line) and interop.mjs (a C host, examples/c/quick_share.c on libglimpse, joined by the relay's
# page: pixel-exact, names both ways). The C host is target/ffi-ci/quick_share_static when
# ffi/ci.sh built it, else built here (static libglimpse, into connect/e2e/build/). Installs what it
# needs (chromium from apt, npm packages from package-lock.json, what build-web.sh needs); safe to
# run twice; bounded in time. Usage: bash connect/e2e/run.sh [--corpus NAME@WxH]
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
ROOT=$(cd ../.. && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
export CARGO_TERM_COLOR=never

if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
command -v node >/dev/null || { echo "e2e: Node.js 20+ is needed" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error

echo "== e2e: the relay's pages and glimpse-share (at $SECONDS s)"
bash "$ROOT/scripts/build-web.sh" --out "$HERE/build/web"
# The same build as connect/ci.sh (features and targets) in the test profile, which `cargo test
# --workspace` has already built: CI compiles the programs once, and only the corpus report in release.
(cd "$ROOT" && cargo ws-build -q --bins --examples)
QUICK_SHARE="$TARGET_DIR/ffi-ci/quick_share_static"
if [ ! -x "$QUICK_SHARE" ]; then
  echo "== e2e: the C host (examples/c/quick_share.c, static libglimpse) (at $SECONDS s)"
  GLIMPSE_PROFILE=dev bash "$ROOT/ffi/install.sh" "$HERE/build/prefix" >/dev/null
  NATIVE="$(sed -n 's/^Libs.private: //p' "$HERE/build/prefix/lib/pkgconfig/glimpse.pc")"
  QUICK_SHARE="$HERE/build/quick_share_static"
  # shellcheck disable=SC2086 # NATIVE is a list of flags
  gcc -std=c99 -O2 -Wall -Wextra -Werror -I"$HERE/build/prefix/include" "$ROOT/examples/c/quick_share.c" \
    "$HERE/build/prefix/lib/libglimpse.a" $NATIVE -o "$QUICK_SHARE"
fi

if [ -d "$ROOT/../shared/corpus" ]; then
  CORPUS_DIR="$ROOT/../shared/corpus"; CORPUS=typing_editor@1920x1080
else
  CORPUS_DIR="$ROOT/testdata/corpus"; CORPUS=typing_editor@1280x720
fi
if [ "${1:-}" = --corpus ]; then CORPUS=$2; fi

echo "== e2e: three browser viewers of $CORPUS (at $SECONDS s)"
timeout 200 node e2e.mjs "$TARGET_DIR/debug/glimpse-share" --corpus "$CORPUS" --corpus-dir "$CORPUS_DIR" \
  --web "$HERE/build/web" > "$HERE/build/e2e.log" 2>&1 || status=$?
grep -E '^(e2e:|\{)' "$HERE/build/e2e.log" || true
if [ "${status:-0}" != 0 ]; then
  echo "e2e: failed (exit ${status}); full log in $HERE/build/e2e.log:" >&2
  tail -n 40 "$HERE/build/e2e.log" >&2
  exit 1
fi

echo "== e2e: a C host joined by the relay's page (encrypted interop) (at $SECONDS s)"
status=0
timeout 150 node interop.mjs "$TARGET_DIR/debug/glimpse-relay" "$QUICK_SHARE" --web "$HERE/build/web" \
  > "$HERE/build/interop.log" 2>&1 || status=$?
grep -E '^interop:' "$HERE/build/interop.log" || true
if [ "$status" != 0 ]; then
  echo "e2e: interop failed (exit $status); full log in $HERE/build/interop.log:" >&2
  tail -n 40 "$HERE/build/interop.log" >&2
  exit 1
fi
