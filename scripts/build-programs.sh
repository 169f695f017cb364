#!/usr/bin/env bash
# Builds every program and example of the workspace (glimpse-relay, glimpse-share, glimpse-view, the
# load test, the webinar, the wasm test tools...) in the test profile, into target/debug.
#
# The flags select the same packages and features as scripts/test.sh's `cargo test --workspace
# --all-targets --features glimpse-connect/cluster`, so after it this only links the examples: cargo
# resolves features per command, and a `-p PACKAGE` build would compile tokio and everything above
# it again with other features (minutes in CI). The parts' CI scripts call this instead of their own
# `cargo build -p`. Usage: bash scripts/build-programs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --workspace --bins --examples --features glimpse-connect/cluster
