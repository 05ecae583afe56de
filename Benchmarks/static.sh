#!/usr/bin/env bash
# Edge vs nginx serving the same 1 KiB and 1 MiB files, same machine, same run.
#
# Server pinned to one CPU, wrk to another; keep-alive; runs alternate nginx/Edge; medians reported.
# Usage: Benchmarks/static.sh [runs per side (default 3)] [seconds per run (default 5)]
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

require_packages nginx wrk curl zlib1g-dev util-linux
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
head -c $((1024 * 1024)) /dev/urandom > "$WORK/files/1m.bin"

start_nginx() { start_nginx_with nginx-static.conf.template /static/1k.txt; }
start_edge() { start_edge_with edge-static.yaml.template /static/1k.txt; }

declare -A RESULTS
for file in 1k.txt 1m.bin; do
    : > "$WORK/nginx-$file"; : > "$WORK/edge-$file"
done
for run in $(seq 1 "$RUNS"); do
    for side in nginx edge; do
        "start_$side"
        for file in 1k.txt 1m.bin; do
            rps=$(load "/static/$file")
            echo "$rps" >> "$WORK/$side-$file"
            say "run $run $side $file: $rps req/s"
        done
        "stop_$side"
    done
done

printf '\n| file | nginx req/s (median) | Edge req/s (median) | Edge / nginx |\n|---|---:|---:|---:|\n'
for file in 1k.txt 1m.bin; do
    n=$(median < "$WORK/nginx-$file"); e=$(median < "$WORK/edge-$file")
    printf '| %s | %.0f | %.0f | %.2f |\n' "$file" "$n" "$e" "$(awk -v e="$e" -v n="$n" 'BEGIN {print e/n}')"
done
printf '\n%s runs per side of %ss, %s connections, server on CPU %s, wrk on CPU %s, %s\n' \
    "$RUNS" "$DURATION" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" "$(date -u +%Y-%m-%d)"
