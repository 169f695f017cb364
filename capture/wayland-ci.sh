#!/usr/bin/env bash
# Tests glimpse-capture's Wayland backend against a real GNOME session without a GPU: installs what
# it needs (Debian 12 packages: mutter, PipeWire, WirePlumber, xdg-desktop-portal with its GNOME
# backend, foot, GStreamer's pipewiresrc for the independent grab, the PipeWire headers for
# pipewire-rs), builds the `wayland` test, then runs it inside capture/wayland/headless-session.sh
# with GLIMPSE_REQUIRE_WAYLAND=1 (a test that cannot reach the session fails instead of skipping).
#
# usage: bash capture/wayland-ci.sh [-- TEST-FILTER...]
# Safe to run twice (installs only what is missing; every session is fresh and cleaned up). The
# session part is bounded (SESSION_TIMEOUT, default 240 s); pictures the tests leave (the dialog, the
# typed text) and the session's logs go to target/wayland-ci/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
out="$root/target/wayland-ci"

packages=(mutter pipewire wireplumber xdg-desktop-portal xdg-desktop-portal-gnome dbus foot
    fonts-dejavu-core libgl1-mesa-dri python3-gi gir1.2-glib-2.0 libglib2.0-bin
    gstreamer1.0-pipewire gstreamer1.0-plugins-base gstreamer1.0-tools
    libpipewire-0.3-dev libclang-dev pkg-config)
missing=()
for pkg in "${packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    echo "wayland-ci: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

echo "wayland-ci: building the test"
cargo test -p glimpse-capture --test wayland --no-run

filter=()
if [ "${1:-}" = "--" ]; then
    shift
    filter=("$@")
fi
start=$(date +%s)
status=0
timeout --kill-after=10 "${SESSION_TIMEOUT:-240}" \
    bash capture/wayland/headless-session.sh --out "$out" --run \
    "cd '$root' && GLIMPSE_REQUIRE_WAYLAND=1 GLIMPSE_ARTIFACTS='$out' \
     cargo test -p glimpse-capture --test wayland -- --test-threads=1 ${filter[*]:-}" \
    || status=$?
# A second, short session for the test that stops the compositor under a running capture.
if [ "$status" = 0 ] && ((${#filter[@]} == 0)); then
    timeout --kill-after=10 60 \
        bash capture/wayland/headless-session.sh --out "$out/destructive" --run \
        "cd '$root' && GLIMPSE_REQUIRE_WAYLAND=1 GLIMPSE_WAYLAND_DESTRUCTIVE=1 \
         cargo test -p glimpse-capture --test wayland -- --exact vanished_compositor_is_a_clear_error" \
        || status=$?
fi
echo "wayland-ci: sessions and tests took $(( $(date +%s) - start )) s (status $status; logs in $out)"
exit "$status"
