#!/usr/bin/env bash
# Edge vs nginx terminating TLS with the same ECDSA P-256 certificate, protocols (TLS 1.2 + 1.3; clients settle on
# 1.3) and suites: a 1 KiB file over keep-alive connections, and a new connection (full handshake, no resumption)
# per request, same machine, same run.
#
# Server pinned to one CPU, wrk to another; runs alternate nginx/Edge; medians reported.
# Usage: Benchmarks/tls.sh [runs per side (default 3)] [seconds per run (default 5)]
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
SCHEME=https

source "$ROOT/scripts/common.sh"

require_packages nginx wrk curl openssl zlib1g-dev util-linux
require_swift
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

say "building release binaries (reuses .build)"
swift build "${RELEASE_FLAGS[@]}" --product edge 2>&1 | tail -1 >&2
BIN=$(swift build "${RELEASE_FLAGS[@]}" --show-bin-path)

WORK=$(mktemp -d /tmp/edge-bench.XXXXXX)
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -n "${EDGE_PID:-}" ] && kill "$EDGE_PID" 2>/dev/null || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/files" "$WORK/tmp"
chmod 755 "$WORK" "$WORK/files"  # nginx workers run as www-data
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 > "$WORK/files/1k.txt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
chmod 600 "$WORK/key.pem"  # nginx reads keys as root, before dropping privileges

start_nginx() { start_nginx_with nginx-tls.conf.template /static/1k.txt; }
start_edge() { start_edge_with edge-tls.yaml.template /static/1k.txt; }

SCENARIOS=(keepalive handshake)
for scenario in "${SCENARIOS[@]}"; do : > "$WORK/nginx-$scenario"; : > "$WORK/edge-$scenario"; done
for run in $(seq 1 "$RUNS"); do
    for side in nginx edge; do
        "start_$side"
        WRK_ARGS=()
        rps=$(load /static/1k.txt)
        echo "$rps" >> "$WORK/$side-keepalive"
        say "run $run $side keep-alive: $rps req/s"
        # wrk reconnects after every "Connection: close" response and keeps no TLS session: a full handshake each.
        WRK_ARGS=(-H "Connection: close")
        rps=$(load /static/1k.txt)
        echo "$rps" >> "$WORK/$side-handshake"
        say "run $run $side new connection per request: $rps req/s"
        "stop_$side"
    done
done

printf '\n| scenario | nginx req/s (median) | Edge req/s (median) | Edge / nginx |\n|---|---:|---:|---:|\n'
for scenario in "${SCENARIOS[@]}"; do
    n=$(median < "$WORK/nginx-$scenario"); e=$(median < "$WORK/edge-$scenario")
    label=$([ "$scenario" = keepalive ] && echo "1 KiB, keep-alive" || echo "1 KiB, new TLS connection per request")
    printf '| %s | %.0f | %.0f | %.2f |\n' "$label" "$n" "$e" "$(awk -v e="$e" -v n="$n" 'BEGIN {print e/n}')"
done
printf '\n%s runs per side of %ss, %s connections, server on CPU %s, wrk on CPU %s, %s\n' \
    "$RUNS" "$DURATION" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" "$(date -u +%Y-%m-%d)"
