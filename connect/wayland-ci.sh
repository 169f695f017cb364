#!/usr/bin/env bash
# glimpse-share on a real Wayland desktop without a GPU: installs what it needs (Debian 12 packages:
# mutter, PipeWire, WirePlumber, xdg-desktop-portal with its GNOME backend, foot, GStreamer's
# pipewiresrc for the independent grab, the PipeWire headers for pipewire-rs), builds the `wayland`
# test of glimpse-connect with glimpse-relay and glimpse-share, then runs it inside
# capture/wayland/headless-session.sh with GLIMPSE_REQUIRE_WAYLAND=1 (a test that cannot reach the
# session fails instead of skipping).
#
# usage: bash connect/wayland-ci.sh
# Safe to run twice (installs only what is missing; the session is fresh and cleaned up). The
# session part is bounded (SESSION_TIMEOUT, default 180 s); pictures the test leaves (the dialog,
# the grab, the typed text), share's stats and the session's logs go to target/wayland-share-ci/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
out="$root/target/wayland-share-ci"

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
    echo "wayland-share-ci: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

echo "wayland-share-ci: building the test and the programs"
cargo test -p glimpse-connect --test wayland --no-run

start=$(date +%s)
status=0
timeout --kill-after=10 "${SESSION_TIMEOUT:-180}" \
    bash capture/wayland/headless-session.sh --out "$out" --run \
    "cd '$root' && GLIMPSE_REQUIRE_WAYLAND=1 GLIMPSE_ARTIFACTS='$out' \
     cargo test -p glimpse-connect --test wayland -- --ignored --nocapture" \
    || status=$?
echo "wayland-share-ci: the session and the test took $(( $(date +%s) - start )) s (status $status; logs in $out)"
exit "$status"
