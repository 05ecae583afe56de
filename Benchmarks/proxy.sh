#!/usr/bin/env bash
# Edge → AppServer against nginx → the same AppServer (upstream keep-alive on both), `/plaintext`, same run.
#
# Both proxies get one worker/event loop; proxy and AppServer (one worker) share CPU 0, wrk runs on CPU 1.
# Usage: Benchmarks/proxy.sh [runs per side (default 3)] [seconds per run (default 5)]
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 1), CONNECTIONS (default 64).
set -euo pipefail

RUNS=${1:-3}
DURATION=${2:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CONNECTIONS=${CONNECTIONS:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/Benchmarks"
source "$BENCH/lib.sh"
source "$ROOT/scripts/common.sh"

require_packages nginx wrk curl zlib1g-dev
require_swift
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

say "building release binaries (reuses .build)"
swift build "${RELEASE_FLAGS[@]}" --product edge 2>&1 | tail -1 >&2
swift build "${RELEASE_FLAGS[@]}" --product appserver 2>&1 | tail -1 >&2
BIN=$(swift build "${RELEASE_FLAGS[@]}" --show-bin-path)

WORK=$(mktemp -d /tmp/proxy-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/tmp"
APP_PID=
EDGE_PID=
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -n "$EDGE_PID" ] && kill "$EDGE_PID" 2>/dev/null || true
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

say "starting AppServer (one worker) on $WORK/app.sock"
taskset -c "$SERVER_CPU" "$BIN/appserver" --bind "unix:$WORK/app.sock" --workers 1 --socket-mode 0666 \
    --access-log off --log-level warning &
APP_PID=$!
for _ in $(seq 1 100); do [ -S "$WORK/app.sock" ] && break; sleep 0.05; done

start_nginx() { start_nginx_with nginx-proxy.conf.template /plaintext "$WORK/app.sock"; }
start_edge() { start_edge_with edge-proxy.yaml.template /plaintext "$WORK/app.sock"; }

: > "$WORK/nginx.rps"; : > "$WORK/edge.rps"
for run in $(seq 1 "$RUNS"); do
    for side in nginx edge; do
        "start_$side"
        rps=$(load /plaintext)
        echo "$rps" >> "$WORK/$side.rps"
        say "run $run $side → AppServer: $rps req/s"
        "stop_$side"
    done
done

n=$(median < "$WORK/nginx.rps"); e=$(median < "$WORK/edge.rps")
printf '\n| proxy in front of AppServer | req/s (median) |\n|---|---:|\n| nginx | %.0f |\n| Edge | %.0f |\n' "$n" "$e"
printf '\nEdge / nginx: %.2f×  (%s runs per side of %ss, %s connections, server side on CPU %s, wrk on CPU %s, %s)\n' \
    "$(awk -v e="$e" -v n="$n" 'BEGIN {print e/n}')" "$RUNS" "$DURATION" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" "$(date -u +%Y-%m-%d)"
