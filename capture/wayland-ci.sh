#!/usr/bin/env bash
# Tests glimpse-capture's Wayland backend against a real GNOME session without a GPU: installs what
# it needs (the Debian 12 packages capture/wayland/ci-common.sh lists), builds the `wayland` test,
# then runs it inside capture/wayland/headless-session.sh with GLIMPSE_REQUIRE_WAYLAND=1 (a test
# that cannot reach the session fails instead of skipping).
#
# usage: bash capture/wayland-ci.sh [-- TEST-FILTER...]
# Safe to run twice (installs only what is missing; every session is fresh and cleaned up). The
# session part is bounded (SESSION_TIMEOUT, default 240 s); pictures the tests leave (the dialog, the
# typed text) and the session's logs go to target/wayland-ci/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
out="$root/target/wayland-ci"

. capture/wayland/ci-common.sh
wayland_ci_install wayland-ci

echo "wayland-ci: building the test"
# The workspace aliases (.cargo/config.toml says why): this also builds
# connect's Wayland test, whose one test is ignored here (connect/wayland-ci.sh runs it).
cargo ws-test --test wayland --no-run

filter=()
if [ "${1:-}" = "--" ]; then
    shift
    filter=("$@")
fi
start=$(date +%s)
status=0
wayland_ci_session "${SESSION_TIMEOUT:-240}" "$out" \
    "cargo ws-test --test wayland -- --test-threads=1 ${filter[*]:-}" \
    || status=$?
# A second, short session for the test that stops the compositor under a running capture.
if [ "$status" = 0 ] && ((${#filter[@]} == 0)); then
    wayland_ci_session 60 "$out/destructive" \
        "GLIMPSE_WAYLAND_DESTRUCTIVE=1 cargo ws-test --test wayland -- \
         --exact vanished_compositor_is_a_clear_error" \
        || status=$?
fi
echo "wayland-ci: sessions and tests took $(( $(date +%s) - start )) s (status $status; logs in $out)"
exit "$status"
