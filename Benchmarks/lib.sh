# Helpers shared by the benchmark scripts. Sourced, not executed.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until `url` answers 2xx (servers start in the background).
wait_ready() {
    for _ in $(seq 1 400); do curl -skf -o /dev/null "$1" && return 0; sleep 0.05; done
    echo "$1 did not come up" >&2
    exit 1
}

# Extra wrk arguments (headers), e.g. WRK_ARGS=(-H "Accept-Encoding: gzip").
WRK_ARGS=()
# http, or https for the TLS benchmark (certificates there are self-signed; curl and wrk do not verify).
SCHEME=${SCHEME:-http}

# Runs wrk pinned to CLIENT_CPU against $SCHEME://127.0.0.1:$PORT$1 and prints req/s; any socket error or non-2xx
# response fails the whole benchmark, with wrk's output.
load() {
    local out
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "${WRK_ARGS[@]}" "$SCHEME://127.0.0.1:$PORT$1")
    if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then echo "errors in run:" >&2; echo "$out" >&2; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}

# The median of the numbers on standard input.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Fills a config template (@WORK@, @PORT@, @SOCKET@) into $2 with a fresh PORT.
render() { # template output [socket]
    PORT=$(free_port)
    sed -e "s|@WORK@|$WORK|g" -e "s|@PORT@|$PORT|g" -e "s|@SOCKET@|${3:-}|g" -e "s|@BENCH@|$BENCH|g" "$BENCH/$1" > "$2"
}

# Starts nginx (pinned to SERVER_CPU) with a template, waiting until `ready_path` answers.
start_nginx_with() { # template ready_path [socket]
    render "$1" "$WORK/nginx.conf" "${3:-}"
    taskset -c "$SERVER_CPU" "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
    wait_ready "$SCHEME://127.0.0.1:$PORT$2"
}
stop_nginx() { kill "$(cat "$WORK/nginx.pid")"; while [ -f "$WORK/nginx.pid" ]; do sleep 0.05; done; }

# Starts Edge (pinned to SERVER_CPU) with a template, waiting until `ready_path` answers; sets EDGE_PID.
start_edge_with() { # template ready_path [socket]
    render "$1" "$WORK/edge.yaml" "${3:-}"
    taskset -c "$SERVER_CPU" "$BIN/edge" --config "$WORK/edge.yaml" --log-level warning &
    EDGE_PID=$!
    wait_ready "$SCHEME://127.0.0.1:$PORT$2"
}
stop_edge() { kill -TERM "$EDGE_PID"; wait "$EDGE_PID" 2>/dev/null || true; EDGE_PID=; }
