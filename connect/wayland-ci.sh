#!/usr/bin/env bash
# glimpse-share on a real Wayland desktop without a GPU: installs what it needs (the Debian 12
# packages capture/wayland/ci-common.sh lists), builds the `wayland` test of glimpse-connect with
# glimpse-relay and glimpse-share, then runs it inside capture/wayland/headless-session.sh with
# GLIMPSE_REQUIRE_WAYLAND=1 (a test that cannot reach the session fails instead of skipping).
#
# usage: bash connect/wayland-ci.sh
# Safe to run twice (installs only what is missing; the session is fresh and cleaned up). The
# session part is bounded (SESSION_TIMEOUT, default 180 s); pictures the test leaves (the dialog,
# the grab, the typed text), share's stats and the session's logs go to target/wayland-share-ci/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
out="$root/target/wayland-share-ci"

. capture/wayland/ci-common.sh
wayland_ci_install wayland-share-ci

echo "wayland-share-ci: building the test and the programs"
# The workspace aliases (.cargo/config.toml says why): this also builds
# glimpse-capture's Wayland test, which has no ignored test, so only connect's runs here.
cargo ws-test --test wayland --no-run

start=$(date +%s)
status=0
wayland_ci_session "${SESSION_TIMEOUT:-180}" "$out" \
    "cargo ws-test --test wayland -- --ignored --nocapture" \
    || status=$?
echo "wayland-share-ci: the session and the test took $(( $(date +%s) - start )) s (status $status; logs in $out)"
exit "$status"
