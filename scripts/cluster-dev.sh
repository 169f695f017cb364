#!/usr/bin/env bash
# A relay cluster for development, on 127.0.0.1: 3 NATS servers (one NATS cluster with JetStream,
# client ports 4222-4224, routes 6222-6224, monitoring 8222-8224) and 3 glimpse-relay nodes joined
# to it (http/ws ports 8081-8083). Stores and logs go to target/cluster-dev/. Runs in the
# foreground; Ctrl-C (or SIGTERM) stops everything.
#
#   bash scripts/cluster-dev.sh              # release build of glimpse-relay, then start
#   SECONDS_LIMIT=60 bash scripts/cluster-dev.sh   # stop by itself after 60 s
#
# Then share through any node and watch through any other:
#   target/release/glimpse-share --relay ws://127.0.0.1:8081 --corpus typing_editor --loop
#   target/release/glimpse-view --relay ws://127.0.0.1:8083 --code "THE CODE"
# Each node's /healthz and /metrics (glimpse_relay_cluster_*) are on its own port.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
[ -x "$NATS" ] || { echo "cluster-dev: nats-server is missing: bash scripts/setup.sh" >&2; exit 1; }
cargo build -q --release -p glimpse-connect --features cluster --bin glimpse-relay --bin glimpse-share --bin glimpse-view
DIR="$ROOT/target/cluster-dev"
rm -rf "$DIR"
mkdir -p "$DIR"
pids=()
stop() {
  trap - INT TERM EXIT
  echo "cluster-dev: stopping"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

routes="nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224"
for i in 0 1 2; do
  mkdir -p "$DIR/nats$i"
  "$NATS" -a 127.0.0.1 -p $((4222 + i)) -m $((8222 + i)) -n "nats$i" -js -sd "$DIR/nats$i" \
    --cluster "nats://127.0.0.1:$((6222 + i))" --cluster_name glimpse-dev --routes "$routes" \
    -l "$DIR/nats$i.log" &
  pids+=($!)
done
servers="nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
for i in 1 2 3; do
  RUST_LOG=${RUST_LOG:-info} "$ROOT/target/release/glimpse-relay" --listen "127.0.0.1:$((8080 + i))" \
    --nats "$servers" >"$DIR/relay$i.out" 2>"$DIR/relay$i.log" &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 1 150); do
    if grep -q '^cluster node' "$DIR/relay$i.out" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if ! grep -q '^cluster node' "$DIR/relay$i.out" 2>/dev/null; then
    echo "cluster-dev: relay $i did not join (see $DIR/relay$i.log)" >&2
    exit 1
  fi
  echo "node $i: http://127.0.0.1:$((8080 + i))/  ($(grep '^cluster node' "$DIR/relay$i.out"))"
done
echo "NATS: $servers (monitoring http://127.0.0.1:8222/varz); logs in $DIR"
if [ -n "${SECONDS_LIMIT:-}" ]; then
  sleep "$SECONDS_LIMIT"
else
  wait -n "${pids[@]}" || true
  echo "cluster-dev: a process stopped" >&2
fi
