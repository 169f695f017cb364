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
cargo test --workspace --all-targets
cargo test --workspace --doc

if [ -f ffi/ci.sh ]; then
  stage "C library"
  bash ffi/ci.sh
fi

if [ -f capture/ci.sh ]; then
  stage "screen capture and input injection (Xvfb)"
  bash capture/ci.sh
fi

if [ -f wasm/ci.sh ]; then
  stage "Web SDK (wasm, npm package, headless Chromium, join and share through a relay)"
  bash wasm/ci.sh
fi

if [ -f connect/e2e/run.sh ]; then
  stage "quick connect in headless Chromium (three viewers of the relay page, pixel-exact; latency figures)"
  bash connect/e2e/run.sh
fi

if [ -f connect/ci.sh ]; then
  stage "quick connect (relay, share, view, browsers, load test, relay cluster on NATS)"
  bash connect/ci.sh
fi

if [ -f fuzz/run.sh ]; then
  stage "fuzzing (short)"
  bash fuzz/run.sh
fi
stage "all tests finished"
