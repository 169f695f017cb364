#!/usr/bin/env bash
# Runs every test of the workspace: Rust unit, integration and doc tests (the full-corpus checks too when
# ../shared/corpus exists), the C library's suite (ASan + valgrind), screen capture under Xvfb, the Web
# SDK in Node and headless Chromium, quick connect end to end, and a short fuzzing pass.
# Installs what it needs; safe to run twice. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
start=$(date +%s)
# Prints a stage's title with the seconds since this script started (where CI's time goes).
stage() { echo "== $1 (at $(( $(date +%s) - start )) s)"; }

bash scripts/setup.sh

if [ -d ../shared/corpus ]; then
  stage "corpus: ../shared/corpus (full checks)"
else
  stage "corpus: testdata/corpus only (../shared/corpus absent)"
fi

stage "Rust tests"
# Through the workspace aliases (.cargo/config.toml), with the relay cluster: the parts' scripts
# build and test with the same packages and features, so CI compiles the workspace once.
cargo ws-test --all-targets
cargo ws-test --doc
# The parts' scripts below skip the Rust tests this has just run.
export GLIMPSE_WORKSPACE_TESTED=1

# Runs a part's own script, when the part is there: optional_stage TITLE SCRIPT.
optional_stage() {
  if [ -f "$2" ]; then
    stage "$1"
    bash "$2"
  fi
}

optional_stage "C library" ffi/ci.sh
optional_stage "screen capture and input injection (Xvfb)" capture/ci.sh
optional_stage "Web SDK (wasm, npm package, headless Chromium, join and share through a relay)" wasm/ci.sh
optional_stage "quick connect in headless Chromium (three viewers of the relay page, pixel-exact; latency figures)" \
  connect/e2e/run.sh
optional_stage "quick connect (relay, share, view, browsers, load test, relay cluster on NATS)" connect/ci.sh
optional_stage "fuzzing (short)" fuzz/run.sh
stage "all tests finished"
