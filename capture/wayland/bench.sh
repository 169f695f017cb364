#!/usr/bin/env bash
# Capture latency and CPU per frame, the Wayland portal (mutter headless, PipeWire) against X11
# (Xvfb, MIT-SHM + XDamage), at 1280x720 and 1920x1080, in one run (capture_bench example).
# Wayland content: screen-app.py's clock ticking every 20 ms in foot; X11 content: a terminal-like
# window with a clock-sized change every 20 ms. Not part of CI (numbers, no assertions).
#
# usage: bash capture/wayland/bench.sh [FRAMES]   (default 300 measured frames per run)
# Needs what capture/wayland-ci.sh installs, plus Xvfb.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$(pwd)
frames=${1:-300}
cargo build --release -q -p glimpse-capture --example capture_bench
bench="$root/target/release/examples/capture_bench"
results=()
for size in 1280x720 1920x1080; do
    out="$root/target/wayland-bench/$size"
    line=$(timeout 300 bash capture/wayland/headless-session.sh --size "$size" --out "$out" --run \
        "touch \"\$GLIMPSE_SESSION_DIR/fast\"
         echo \"monitor \$PORTAL_RESTORE_TOKEN\" > \"\$GLIMPSE_SESSION_DIR/tokens\"
         '$bench' portal --frames $frames --token-file \"\$GLIMPSE_SESSION_DIR/tokens\" \
             --server-pid \"\$GLIMPSE_COMPOSITOR_PID\"" | grep '^portal')
    results+=("$line")

    displayfile=$(mktemp)
    Xvfb -displayfd 1 -screen 0 "${size}x24" -nolisten tcp -noreset >"$displayfile" 2>/dev/null &
    xvfb=$!
    for _ in $(seq 100); do [ -s "$displayfile" ] && break; sleep 0.05; done
    display=":$(cat "$displayfile")"
    line=$("$bench" x11 --frames "$frames" --display "$display" --server-pid "$xvfb" | grep '^x11')
    results+=("$line")
    kill "$xvfb"; wait "$xvfb" 2>/dev/null || true
    rm -f "$displayfile"
done
printf '%s\n' "${results[@]}"
