#!/usr/bin/env bash
# Tests glimpse-capture against a real X server: installs Xvfb and xdotool when missing (Debian
# packages; needs root or sudo), then runs the crate's tests, the Xvfb ones included; then the
# Wayland backend inside a headless GNOME session (capture/wayland-ci.sh).
# Idempotent: installs nothing when the tools are already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v Xvfb >/dev/null 2>&1 || missing+=(xvfb)
command -v xdotool >/dev/null 2>&1 || missing+=(xdotool)
if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "capture/ci.sh: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" xauth x11-utils >/dev/null
fi

# CI=1 makes a missing Xvfb a failure rather than a skip. After scripts/test.sh's workspace run
# (GLIMPSE_WORKSPACE_TESTED=1; scripts/setup.sh installed Xvfb before it) the crate's tests, the Xvfb
# ones included, have run already.
if [ "${GLIMPSE_WORKSPACE_TESTED:-0}" != 1 ]; then
    CI="${CI:-1}" cargo test -p glimpse-capture "$@"
fi

bash capture/wayland-ci.sh
