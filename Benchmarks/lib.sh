# Helpers shared by the benchmark scripts. Sourced, not executed.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits until `url` answers 2xx (servers start in the background).
wait_ready() {
    for _ in $(seq 1 400); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
    echo "$1 did not come up" >&2
    exit 1
}

# Runs wrk pinned to CLIENT_CPU against http://127.0.0.1:$PORT$1 and prints req/s; any socket error or non-2xx
# response fails the whole benchmark, with wrk's output.
load() {
    local out
    out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$PORT$1")
    if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then echo "errors in run:" >&2; echo "$out" >&2; exit 1; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}

# The median of the numbers on standard input.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
