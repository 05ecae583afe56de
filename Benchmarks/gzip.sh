#!/usr/bin/env bash
# Edge vs nginx gzipping a 100 KiB HTML page on the fly (same zlib level) and serving its precompressed .gz.
#
# Server pinned to one CPU, wrk (sending Accept-Encoding: gzip) to another; keep-alive; runs alternate
# nginx/Edge; medians reported. Both sides must answer gzip, or the run stops.
# Usage: Benchmarks/gzip.sh [runs per side (default 3)] [seconds per run (default 5)]
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

require_packages nginx wrk curl zlib1g-dev gzip
require_swift
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

say "building release binaries (reuses .build)"
swift build "${RELEASE_FLAGS[@]}" --product edge 2>&1 | tail -1 >&2
BIN=$(swift build "${RELEASE_FLAGS[@]}" --show-bin-path)

WORK=$(mktemp -d /tmp/gzip-bench.XXXXXX)
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -n "${EDGE_PID:-}" ] && kill "$EDGE_PID" 2>/dev/null || true
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/files" "$WORK/tmp"
chmod 755 "$WORK" "$WORK/files"  # nginx workers run as www-data
# A 100 KiB page of varied markup (a fixed seed, so every run compresses the same bytes).
python3 - "$WORK/files/page.html" <<'PY'
import random, sys
random.seed(7)
words = "edge server request proxy static gzip worker socket latency header cache stream file event loop".split()
parts = ["<!doctype html><html><head><title>Benchmark page</title></head><body>\n"]
size = 0
while size < 100 * 1024:
    line = "<p class=\"c%d\">%s</p>\n" % (random.randrange(50), " ".join(random.choice(words) for _ in range(12)))
    parts.append(line); size += len(line)
parts.append("</body></html>\n")
open(sys.argv[1], "w").write("".join(parts)[:100 * 1024])
PY
cp "$WORK/files/page.html" "$WORK/files/pre.html"
gzip -5 -k "$WORK/files/pre.html"
WRK_ARGS=(-H "Accept-Encoding: gzip")

check_gzip() { # path
    local encoding
    encoding=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:$PORT$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding" {print $2}')
    [ "$encoding" = gzip ] || { echo "$1 was not gzipped" >&2; exit 1; }
}
start_nginx() { start_nginx_with nginx-gzip.conf.template /static/page.html; check_gzip /static/page.html; check_gzip /static/pre.html; }
start_edge() { start_edge_with edge-gzip.yaml.template /static/page.html; check_gzip /static/page.html; check_gzip /static/pre.html; }

for file in page.html pre.html; do : > "$WORK/nginx-$file"; : > "$WORK/edge-$file"; done
for run in $(seq 1 "$RUNS"); do
    for side in nginx edge; do
        "start_$side"
        for file in page.html pre.html; do
            rps=$(load "/static/$file")
            echo "$rps" >> "$WORK/$side-$file"
            say "run $run $side $file: $rps req/s"
        done
        "stop_$side"
    done
done

printf '\n| 100 KiB HTML, gzip level 5 | nginx req/s (median) | Edge req/s (median) | Edge / nginx |\n|---|---:|---:|---:|\n'
for file in page.html pre.html; do
    n=$(median < "$WORK/nginx-$file"); e=$(median < "$WORK/edge-$file")
    label=$([ "$file" = page.html ] && echo "on the fly" || echo "precompressed (.gz)")
    printf '| %s | %.0f | %.0f | %.2f |\n' "$label" "$n" "$e" "$(awk -v e="$e" -v n="$n" 'BEGIN {print e/n}')"
done
printf '\n%s runs per side of %ss, %s connections, server on CPU %s, wrk on CPU %s, %s\n' \
    "$RUNS" "$DURATION" "$CONNECTIONS" "$SERVER_CPU" "$CLIENT_CPU" "$(date -u +%Y-%m-%d)"
