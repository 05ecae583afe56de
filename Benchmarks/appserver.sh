#!/usr/bin/env bash
# nginx → AppServer (reference app /plaintext) and Edge → AppServer (the pair) against nginx → gunicorn sync
# (2 × cores + 1 workers) serving the same bytes from a WSGI hello app, same machine, same run.
#
# Server side (nginx + app server) pinned to one CPU, wrk to another; runs alternate; medians reported.
# Usage: Benchmarks/appserver.sh [runs per side (default 3)] [seconds per run (default 5)]
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 1), CONNECTIONS (default 64),
#      APPSERVER_WORKERS (default: one per CPU in SERVER_CPU; event-loop workers gain nothing from more).
set -euo pipefail

RUNS=${1:-3}
DURATION=${2:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
CONNECTIONS=${CONNECTIONS:-64}
CORES=$(nproc)
APPSERVER_WORKERS=${APPSERVER_WORKERS:-$(tr ',' '\n' <<<"$SERVER_CPU" | wc -l)}
GUNICORN_WORKERS=$((2 * CORES + 1))
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/Benchmarks"
source "$BENCH/lib.sh"
source "$ROOT/scripts/common.sh"

require_packages nginx wrk curl zlib1g-dev python3-venv
require_swift
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

VENV="$ROOT/.build/bench-venv"
if [ ! -x "$VENV/bin/gunicorn" ]; then
    say "installing gunicorn into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q gunicorn
fi

say "building release binaries (reuses .build)"
swift build "${RELEASE_FLAGS[@]}" --product appserver 2>&1 | tail -1 >&2
swift build "${RELEASE_FLAGS[@]}" --product edge 2>&1 | tail -1 >&2
BIN=$(swift build "${RELEASE_FLAGS[@]}" --show-bin-path)

WORK=$(mktemp -d /tmp/appserver-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$WORK/tmp"
SERVER_PID=
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    [ -n "${EDGE_PID:-}" ] && kill "$EDGE_PID" 2>/dev/null || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

start_nginx() { start_nginx_with nginx-proxy.conf.template /plaintext "$1"; }

start_appserver() {
    # The socket must be reachable by nginx's www-data workers.
    taskset -c "$SERVER_CPU" "$BIN/appserver" --bind "unix:$WORK/app.sock" --workers "$APPSERVER_WORKERS" \
        --socket-mode 0666 --access-log off --log-level warning &
    SERVER_PID=$!
    start_nginx "$WORK/app.sock"
}
stop_appserver() { stop_nginx; kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

EDGE_PID=
start_pair() {
    taskset -c "$SERVER_CPU" "$BIN/appserver" --bind "unix:$WORK/app.sock" --workers "$APPSERVER_WORKERS" \
        --access-log off --log-level warning &
    SERVER_PID=$!
    for _ in $(seq 1 100); do [ -S "$WORK/app.sock" ] && break; sleep 0.05; done
    start_edge_with edge-proxy.yaml.template /plaintext "$WORK/app.sock"
}
stop_pair() {
    stop_edge
    kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
}

start_gunicorn() {
    (cd "$BENCH" && taskset -c "$SERVER_CPU" "$VENV/bin/gunicorn" --workers "$GUNICORN_WORKERS" --worker-class sync \
        --bind "unix:$WORK/gunicorn.sock" --umask 0 --log-level warning wsgi_hello:app) &
    SERVER_PID=$!
    start_nginx "$WORK/gunicorn.sock"
}
stop_gunicorn() { stop_nginx; kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

: > "$WORK/gunicorn.rps"; : > "$WORK/appserver.rps"; : > "$WORK/pair.rps"
for run in $(seq 1 "$RUNS"); do
    for side in gunicorn appserver pair; do
        "start_$side"
        rps=$(load /plaintext)
        echo "$rps" >> "$WORK/$side.rps"
        say "run $run $side: $rps req/s"
        "stop_$side"
    done
done

g=$(median < "$WORK/gunicorn.rps"); a=$(median < "$WORK/appserver.rps"); p=$(median < "$WORK/pair.rps")
printf '\n| stack | app workers | req/s (median) |\n|---|---:|---:|\n'
printf '| nginx → gunicorn sync (WSGI hello) | %s | %.0f |\n' "$GUNICORN_WORKERS" "$g"
printf '| nginx → AppServer (reference app /plaintext) | %s | %.0f |\n' "$APPSERVER_WORKERS" "$a"
printf '| Edge → AppServer (the pair) | %s | %.0f |\n' "$APPSERVER_WORKERS" "$p"
printf '\nEdge + AppServer / nginx + gunicorn: %.2f×\n' "$(awk -v p="$p" -v g="$g" 'BEGIN {print p/g}')"
printf '\nAppServer / gunicorn: %.2f×  (%s runs per side of %ss, %s connections, server side on CPU %s, wrk on CPU %s, %s)\n' \
    "$(awk -v a="$a" -v g="$g" 'BEGIN {print a/g}')" "$RUNS" "$DURATION" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" "$(date -u +%Y-%m-%d)"
