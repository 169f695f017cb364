#!/usr/bin/env bash
# Installs the system packages the workspace needs, before anything is built (OpenH264 picks up nasm at
# build time: without it encoding is 2.5x slower; glimpse-capture's Wayland backend links libpipewire;
# nats-server runs the relay cluster's tests and scripts/cluster-dev.sh). Safe to run twice; skips what
# is installed.
set -euo pipefail
# libpipewire-0.3-dev, libclang-dev: glimpse-capture's Wayland backend (pipewire-rs runs bindgen).
# nats-server: Debian 12 has 2.9.10, which the cluster (async-nats without server_2_10) works with.
# xvfb, xauth, x11-utils, xdotool: glimpse-capture's X11 tests, which the workspace run holds (with CI
# set they fail rather than skip without an X server).
packages=(nasm pkg-config valgrind zstd ffmpeg libpipewire-0.3-dev libclang-dev nats-server
  xvfb xauth x11-utils xdotool)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
