#!/usr/bin/env python3
"""Edge + AppServer against nginx + gunicorn: every scenario, both sides, same machine, same run.

Run through `Benchmarks/run`, which installs the tools and builds the release binaries first. Each scenario starts
the baseline (nginx, gunicorn) and our side (Edge, AppServer) in turn with the matched configurations in this
directory, alternating A/B for RUNS rounds, and reports medians: req/s, p50/p99 latency, CPU time per request
(user + system of every server-side process) and peak RSS (the sum over the server-side processes). Any socket
error or non-2xx response invalidates that run, and the result shows it.

Output (in Benchmarks/results/latest/, and a dated copy): results.md, results.json, chart.svg.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
BIN = os.environ["BIN"]                         # release build products (set by Benchmarks/run)
VENV = os.environ["VENV"]                       # gunicorn's virtualenv
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RUNS = max(3, int(os.environ.get("RUNS", "3")))
DURATION = int(os.environ.get("DURATION", "5"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
CLIENT_CPU = os.environ.get("CLIENT_CPU", "1")
ONLY = set(filter(None, os.environ.get("SCENARIOS", "").split(",")))
CORES = os.cpu_count() or 1


def cpu_count(spec):
    """How many CPUs a taskset list names (`0`, `0-1`, `0,2`)."""
    count = 0
    for part in spec.split(","):
        first, _, last = part.partition("-")
        count += int(last or first) - int(first) + 1
    return count


# Each side is sized by its own rule for the CPUs the servers are pinned to, not the machine's: gunicorn
# 2 x cores + 1 workers (3 on one CPU, as the issues ask), AppServer one worker per core. Two AppServer workers on
# one CPU took turns with PostgreSQL's backends: 3,000-3,200 /db requests a second against 5,400-6,200 with one.
SERVER_CORES = cpu_count(SERVER_CPU)
GUNICORN_WORKERS = 2 * SERVER_CORES + 1
TICKS = os.sysconf("SC_CLK_TCK")


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------
# Processes: start pinned, find every descendant, read their CPU time and memory.

def descendants(pid):
    """`pid` and every process below it (nginx workers, AppServer and gunicorn workers)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime + stime
        except (OSError, IndexError):
            pass
    return total / TICKS


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Sampler:
    """Samples the summed RSS of a process tree every 50 ms; `peak` is the largest sum seen."""

    def __init__(self, roots):
        self.roots, self.peak, self._stop = roots, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            pids = [p for root in self.roots for p in descendants(root)]
            self.peak = max(self.peak, rss_kib(pids))
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def wait_ready(url, process=None):
    for _ in range(400):
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited while starting ({url})")
        if subprocess.run(["curl", "-skf", "-o", "/dev/null", url]).returncode == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def render(template, out, **values):
    text = open(os.path.join(BENCH, template)).read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    with open(out, "w") as f:
        f.write(text)


def pinned(argv, **kwargs):
    return subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, **kwargs)


def stop(process, sig=signal.SIGTERM):
    if process and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------------------------------------------------------
# The servers. Each `Stack` starts one side of a scenario and knows its root processes.

@dataclass
class Stack:
    work: str
    processes: list = field(default_factory=list)
    port: int = 0

    def roots(self):
        return [p.pid for p in self.processes]

    def stop(self):
        for process in reversed(self.processes):
            stop(process)
        self.processes = []


def start_nginx(stack, template, ready, scheme="http", socket_path="", logged=False, cert="cert"):
    stack.port = free_port()
    conf = os.path.join(stack.work, "nginx.conf")
    access_log = f"access_log {stack.work}/access.log edge buffer=32k flush=1s;" if logged else "access_log off;"
    render(template, conf, WORK=stack.work, PORT=stack.port, SOCKET=socket_path, ACCESS_LOG=access_log,
           CERT=cert, KEY=cert.replace("cert", "key"))
    process = pinned([NGINX, "-c", conf, "-p", stack.work])
    stack.processes.append(process)
    wait_ready(f"{scheme}://127.0.0.1:{stack.port}{ready}", process)


def start_edge(stack, template, ready, scheme="http", socket_path="", logged=False, cert="cert", admin=False):
    stack.port = free_port()
    conf = os.path.join(stack.work, "edge.yaml")
    access_log = f"{stack.work}/access.log" if logged else "off"
    render(template, conf, WORK=stack.work, PORT=stack.port, SOCKET=socket_path, ACCESS_LOG=access_log,
           CERT=cert, KEY=cert.replace("cert", "key"))
    if admin:  # metrics counted (the admin listener on), as the metrics-* scenarios compare
        with open(conf, "a") as f:
            f.write(f"\nadmin: {{listen: 127.0.0.1:{free_port()}}}\n")
    process = pinned([f"{BIN}/edge", "--config", conf, "--log-level", "warning"])
    stack.processes.append(process)
    wait_ready(f"{scheme}://127.0.0.1:{stack.port}{ready}", process)


def start_appserver(stack, workers=None, admin=False, database=None):
    sock = os.path.join(stack.work, "app.sock")
    conf = os.path.join(stack.work, "appserver.yaml")
    database = database or f"sqlite:{stack.work}/app.db"
    with open(conf, "w") as f:
        f.write(f"bind: unix:{sock}\nsocket_mode: \"0666\"\nworkers: {workers or SERVER_CORES}\naccess_log: off\n"
                f"log_level: warning\nforwarded_allow: [\"0\"]\n"
                f"app: {{media_dir: {stack.work}/media, database: \"{database}\"}}\n")
        if admin:
            f.write(f"admin: {{listen: 127.0.0.1:{free_port()}}}\n")
    stack.processes.append(pinned([f"{BIN}/appserver", "--config", conf]))
    wait_socket(sock)
    return sock


def start_gunicorn(stack, worker_class):
    sock = os.path.join(stack.work, "gunicorn.sock")
    argv = [f"{VENV}/bin/gunicorn", "--workers", str(GUNICORN_WORKERS), "--worker-class", worker_class,
            "--bind", f"unix:{sock}", "--umask", "0", "--log-level", "warning", "--chdir", BENCH]
    if worker_class == "gthread":
        argv += ["--threads", "4"]
    stack.processes.append(pinned(argv + ["wsgi_hello:app"]))
    wait_socket(sock)
    return sock


def start_django(stack, worker_class, workers=GUNICORN_WORKERS, sqlite=False):
    """nginx's upstream for the database scenarios: gunicorn running the Django site in django_site/, on the
    benchmark's PostgreSQL (or its SQLite file)."""
    sock = os.path.join(stack.work, "gunicorn.sock")
    argv = [f"{VENV}/bin/gunicorn", "--workers", str(workers), "--worker-class", worker_class,
            "--bind", f"unix:{sock}", "--umask", "0", "--log-level", "warning",
            "--chdir", os.path.join(BENCH, "django_site")]
    if worker_class == "gthread":
        argv += ["--threads", "4"]
    if sqlite:
        env = dict(os.environ, DATABASE_PATH=bench_sqlite())
    else:
        database = bench_postgres()
        env = dict(os.environ, DATABASE_HOST=database.socket_dir, DATABASE_PORT=str(database.port),
                   DATABASE_NAME="tfb", DATABASE_USER="bench")
    stack.processes.append(pinned(argv + ["tfb.wsgi:application"], env=env))
    wait_socket(sock)
    return sock


@dataclass
class BenchPostgres:
    """The PostgreSQL both sides of the database scenarios use, started once per run: initdb in the run's
    directory (as the postgres user when run as root), its own socket, pinned to the servers' CPU."""
    work: str
    port: int = 0
    process: object = None

    @property
    def socket_dir(self):
        return os.path.join(self.work, "pg-socket")

    def url(self):
        return f"postgres:///tfb?host={self.socket_dir}&port={self.port}&user=bench"

    def start(self):
        versions = sorted(int(v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
        bin_dir = f"/usr/lib/postgresql/{versions[-1]}/bin"
        as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] \
            if os.geteuid() == 0 else []
        os.makedirs(self.socket_dir, exist_ok=True)
        if as_postgres:
            subprocess.run(["chown", "-R", "postgres:postgres", self.work], check=True)
        data = os.path.join(self.work, "pg-data")
        subprocess.run(as_postgres + [f"{bin_dir}/initdb", "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8"],
                       check=True, capture_output=True)
        self.port = free_port()
        self.process = pinned(as_postgres + [f"{bin_dir}/postgres", "-D", data, "-k", self.socket_dir,
                                             "-p", str(self.port), "-c", "listen_addresses=",
                                             "-c", "max_connections=200"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            if subprocess.run([f"{bin_dir}/pg_isready", "-h", self.socket_dir, "-p", str(self.port)],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        subprocess.run([f"{bin_dir}/createdb", "-h", self.socket_dir, "-p", str(self.port), "-U", "bench", "tfb"],
                       check=True)
        # The reference app's own command makes the tables and loads the data both sides read.
        conf = os.path.join(self.work, "init-db.yaml")
        with open(conf, "w") as f:
            f.write(f"bind: unix:{self.work}/unused.sock\napp: {{database: \"{self.url()}\"}}\n")
        subprocess.run([f"{BIN}/appserver", "--config", conf, "--run", "init-db"], check=True, capture_output=True)
        say(f"PostgreSQL for the database scenarios on {self.socket_dir} (port {self.port})")

    def stop(self):
        if self.process:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=30)


BENCH_POSTGRES = []
BENCH_SQLITE = []


def bench_sqlite():
    """The SQLite file both sides of the db-sqlite-* scenarios read, made once per run by the reference app's
    `--run init-db`."""
    if not BENCH_SQLITE:
        work = tempfile.mkdtemp(prefix="edge-harness-sqlite.")
        os.chmod(work, 0o777)
        path = os.path.join(work, "tfb.db")
        conf = os.path.join(work, "init-db.yaml")
        with open(conf, "w") as f:
            f.write(f"bind: unix:{work}/unused.sock\napp: {{database: \"sqlite:{path}\"}}\n")
        subprocess.run([f"{BIN}/appserver", "--config", conf, "--run", "init-db"], check=True, capture_output=True)
        for name in os.listdir(work):
            os.chmod(os.path.join(work, name), 0o666)
        BENCH_SQLITE.append(path)
    return BENCH_SQLITE[0]


def bench_postgres():
    if not BENCH_POSTGRES:
        server = BenchPostgres(work=tempfile.mkdtemp(prefix="edge-harness-pg."))
        os.chmod(server.work, 0o755)
        server.start()
        BENCH_POSTGRES.append(server)
    return BENCH_POSTGRES[0]


def checked(stack, path, check):
    """Raises unless `path` answers as TechEmpower's rules say (`check` gets the body), so a database scenario
    never times wrong answers."""
    response = subprocess.run(["curl", "-s", "-w", "\n%{http_code}", f"http://127.0.0.1:{stack.port}{path}"],
                              capture_output=True, text=True).stdout
    body, _, status = response.rpartition("\n")
    if status != "200" or not check(body):
        raise RuntimeError(f"{path} answered {status}: {body[:200]}")
    return stack


def valid_world(world):
    return set(world) == {"id", "randomNumber"} and 1 <= world["id"] <= 10000 and 1 <= world["randomNumber"] <= 10000


def valid_worlds(count):
    return lambda body: len(json.loads(body)) == count and all(valid_world(w) for w in json.loads(body))


def valid_fortunes(body):
    rows = body.count("<tr>") - 1
    return (rows == 13 and "Additional fortune added at request time." in body and "&lt;script&gt;" in body
            and "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af" in body)


def wait_socket(path):
    for _ in range(400):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear")


# ---------------------------------------------------------------------------------------------------------------
# Load generators. Each returns a Measurement for one run.

@dataclass
class Measurement:
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    errors: str = ""                 # non-empty invalidates the run
    cpu_us_per_request: float = 0.0
    peak_rss_mib: float = 0.0        # every server-side process (front server and app server)
    front_peak_rss_mib: float = 0.0  # the front server alone (nginx or Edge)
    seconds: float = 0.0             # for timed scenarios (upload)
    added_rss_mib: float = 0.0       # idle connections: RSS they added to the server side


def to_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(stack, path, scheme="http", headers=()):
    argv = ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency"]
    for header in headers:
        argv += ["-H", header]
    argv.append(f"{scheme}://127.0.0.1:{stack.port}{path}")
    return measured(stack, lambda: parse_wrk(subprocess.run(argv, capture_output=True, text=True).stdout))


def parse_wrk(out):
    m = Measurement()
    m.rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m.requests = int(re.search(r"(\d+) requests in", out).group(1))
    for percentile, attribute in (("50", "p50_ms"), ("99", "p99_ms")):
        found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if found:
            setattr(m, attribute, to_ms(*found.groups()))
    problems = [line.strip() for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line]
    m.errors = "; ".join(problems)
    return m


def gzipped(stack, path):
    """Raises unless `path` comes back gzip-encoded, so a gzip scenario never measures identity responses."""
    head = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "-H", "Accept-Encoding: gzip",
                           f"http://127.0.0.1:{stack.port}{path}"], capture_output=True, text=True).stdout.lower()
    if "content-encoding: gzip" not in head:
        raise RuntimeError(f"{path} was not gzipped")
    return stack


def h2load(stack, path, connections=8, streams=16):
    log = os.path.join(stack.work, "h2load.log")
    argv = ["taskset", "-c", CLIENT_CPU, "h2load", "-c", str(connections), "-m", str(streams), "-D", str(DURATION),
            "--warm-up-time", "1",
            "--log-file", log, f"https://127.0.0.1:{stack.port}{path}"]

    def run():
        out = subprocess.run(argv, capture_output=True, text=True).stdout
        m = Measurement()
        m.rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
        m.requests = int(done.group(2))
        status = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        if int(done.group(3)) or int(done.group(4)) or any(int(status.group(i)) for i in (2, 3, 4)):
            m.errors = done.group(0) + "; " + status.group(0)
        if "Application protocol: h2" not in out:
            m.errors += " (h2 not negotiated)"
        times = sorted(int(line.split()[2]) for line in open(log) if line.strip())  # microseconds per request
        if times:
            m.p50_ms = times[len(times) // 2] / 1000
            m.p99_ms = times[min(len(times) - 1, len(times) * 99 // 100)] / 1000
        return m

    return measured(stack, run)


def measured(stack, run):
    """Runs `run` while sampling the server side's CPU time and memory."""
    pids = lambda: [p for root in stack.roots() for p in descendants(root)]
    before = cpu_seconds(pids())
    # The front server is started last (after the app server it proxies to).
    with Sampler(stack.roots()) as everything, Sampler(stack.roots()[-1:]) as front:
        m = run()
    used = cpu_seconds(pids()) - before
    m.cpu_us_per_request = used * 1e6 / m.requests if m.requests else 0
    m.peak_rss_mib = everything.peak / 1024
    m.front_peak_rss_mib = front.peak / 1024
    return m


def upload(stack, payload):
    """POSTs `payload` (100 MiB) to the reference app's /upload through the proxy; time and peak RSS."""
    def run():
        name = f"up-{time.monotonic_ns()}.bin"
        out = subprocess.run(
            ["taskset", "-c", CLIENT_CPU, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
             "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{payload}",
             f"http://127.0.0.1:{stack.port}/upload?name={name}"], capture_output=True, text=True).stdout.split()
        m = Measurement(requests=1, seconds=float(out[1]))
        stored = os.path.join(stack.work, "media", name)
        if out[0] != "201":
            m.errors = f"status {out[0]}"
        elif os.path.getsize(stored) != os.path.getsize(payload):
            m.errors = "stored file has the wrong size"
        if os.path.exists(stored):
            os.remove(stored)
        m.rps = 1 / m.seconds if m.seconds else 0
        return m
    return measured(stack, run)


def idle_connections(stack, count=10_000):
    """Opens `count` keep-alive connections, one request each, then idles them; the server side's RSS."""
    sockets, errors = [], 0
    request = b"GET /static/1k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
    before = rss_kib([p for root in stack.roots() for p in descendants(root)])
    for _ in range(count):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", stack.port))
            s.sendall(request)
            sockets.append(s)
        except OSError:
            errors += 1
            s.close()
    answered = 0
    for s in sockets:
        s.settimeout(10)
        try:
            if s.recv(65536).startswith(b"HTTP/1.1 200"):
                answered += 1
        except OSError:
            pass
    return idle_result(stack, before, sockets, answered, count, errors)


def idle_result(stack, before, connections, answered, count, errors):
    """A second after `connections` went idle: the RSS they added to the server side (then they are closed)."""
    time.sleep(1)
    rss = rss_kib([p for root in stack.roots() for p in descendants(root)])
    for connection in connections:
        connection.close()
    m = Measurement(requests=answered, peak_rss_mib=rss / 1024, front_peak_rss_mib=rss / 1024)
    m.added_rss_mib = (rss - before) / 1024
    if answered != count or errors:
        m.errors = f"{answered} of {count} answered, {errors} connection errors"
    return m


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def h2_request(path):
    """HEADERS for GET `path` on stream 1, END_STREAM | END_HEADERS, HPACK literals without indexing."""
    def literal(name, value):
        return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    block = b"".join(literal(n, v) for n, v in ((b":method", b"GET"), (b":scheme", b"https"),
                                                 (b":path", path.encode()), (b":authority", b"localhost")))
    return h2_frame(1, 0x5, 1, block)


def h2_answered(tls):
    """Reads frames until stream 1 ends (acknowledging the server's SETTINGS); whether its status was 200 is not
    decoded: an error would end the stream too, so the HEADERS block is checked for the static table's 200."""
    buffer, ok = b"", False
    while True:
        chunk = tls.recv(65536)
        if not chunk:
            return False
        buffer += chunk
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], "big")
            if len(buffer) < 9 + length:
                break
            kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF
            payload, buffer = buffer[9:9 + length], buffer[9 + length:]
            if kind == 4 and not flags & 1:
                tls.sendall(h2_frame(4, 1, 0))
            if stream == 1 and kind == 1:
                ok = payload[:1] == b"\x88"          # indexed :status 200
            if stream == 1 and kind in (0, 1) and flags & 1:
                return ok


def idle_tls_connections(stack, count=2000, http2=False):
    """Opens `count` TLS 1.3 connections (with ALPN h2 and an HTTP/2 request when `http2`), one request each, then
    idles them; the RSS they added to the server side."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.set_alpn_protocols(["h2"] if http2 else ["http/1.1"])
    before = rss_kib([p for root in stack.roots() for p in descendants(root)])
    connections, answered, errors = [], 0, 0
    for _ in range(count):
        try:
            tls = context.wrap_socket(socket.create_connection(("127.0.0.1", stack.port), timeout=10),
                                      server_hostname="localhost")
            if http2:
                tls.sendall(H2_PREFACE + h2_frame(4, 0, 0) + h2_request("/static/1k.txt"))
                answered += h2_answered(tls)
            else:
                tls.sendall(b"GET /static/1k.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                response = b""
                while len(response) < 1024 or b"\r\n\r\n" not in response:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    response += chunk
                answered += response.startswith(b"HTTP/1.1 200")
            connections.append(tls)
        except (OSError, ssl.SSLError):
            errors += 1
    return idle_result(stack, before, connections, answered, count, errors)


def rss_at_start(stack):
    """The server side's RSS once it has answered its readiness request, and a second later."""
    time.sleep(1)
    rss = rss_kib([p for root in stack.roots() for p in descendants(root)])
    return Measurement(requests=1, peak_rss_mib=rss / 1024, front_peak_rss_mib=rss / 1024)


def full_handshakes(stack, clients=4):
    """New TLS 1.3 connections without session resumption (`openssl s_time -new`), one 1 KiB request each, from
    `clients` processes on the client CPU. The server has an RSA-3072 certificate, whose signature costs the server
    far more than its verification costs the client; a run where the clients used 95 % of their CPU or more is
    invalid (it measured the client)."""
    argv = ["taskset", "-c", CLIENT_CPU, "openssl", "s_time", "-connect", f"127.0.0.1:{stack.port}", "-new",
            "-tls1_3", "-time", str(DURATION), "-www", "/static/1k.txt"]

    def run():
        started = time.monotonic()
        processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                     for _ in range(clients)]
        outputs, client_cpu = [], 0.0
        for process in processes:
            out = process.stdout.read()
            _, _, usage = os.wait4(process.pid, 0)
            process.returncode = 0
            client_cpu += usage.ru_utime + usage.ru_stime
            outputs.append(out)
        wall = time.monotonic() - started
        m = Measurement()
        for out in outputs:
            found = re.search(r"(\d+) connections in ([\d.]+) real seconds, (\d+) bytes read per connection", out)
            if not found:
                m.errors = f"s_time: {out.strip()[-200:]}"
                return m
            m.requests += int(found.group(1))
            if int(found.group(3)) < 1024:
                m.errors = f"only {found.group(3)} bytes read per connection"
        m.rps = m.requests / DURATION
        if client_cpu / wall >= 0.95:
            m.errors = f"client-bound: the clients used {client_cpu / wall:.0%} of their CPU"
        return m

    return measured(stack, run)


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: (name, title, metric, baseline label, ours label, start baseline, start ours, measure)

def fixtures(work):
    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    os.makedirs(os.path.join(work, "media"), exist_ok=True)
    for path in (work, files):
        os.chmod(path, 0o755)          # nginx workers run as www-data
    os.chmod(os.path.join(work, "media"), 0o777)
    with open(os.path.join(files, "1k.txt"), "w") as f:
        f.write(("0123456789abcdef" * 64)[:1024])
    with open(os.path.join(files, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    import random
    random.seed(7)
    words = "edge server request proxy static gzip worker socket latency header cache stream file event loop".split()
    page = ["<!doctype html><html><head><title>Benchmark page</title></head><body>\n"]
    while sum(map(len, page)) < 100 * 1024:
        page.append('<p class="c%d">%s</p>\n' % (random.randrange(50), " ".join(random.choice(words) for _ in range(12))))
    with open(os.path.join(files, "page.html"), "w") as f:
        f.write("".join(page)[:100 * 1024])
    # The same page precompressed at the same level, for nginx's gzip_static and Edge's `precompressed`.
    shutil.copy(os.path.join(files, "page.html"), os.path.join(files, "pre.html"))
    subprocess.run(["gzip", "-5", "-k", "-f", os.path.join(files, "pre.html")], check=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "30", "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(f"{work}/key.pem", 0o600)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-days", "30",
                    "-keyout", f"{work}/rsa-key.pem", "-out", f"{work}/rsa-cert.pem", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(f"{work}/rsa-key.pem", 0o600)
    payload = os.path.join(work, "upload.bin")
    with open(payload, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    return payload


def scenarios(payload):
    gzip = ("Accept-Encoding: gzip",)
    return [
        ("static-1k", "static 1 KiB", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-static.conf.template", "/static/1k.txt"),
         lambda s: start_edge(s, "edge-static.yaml.template", "/static/1k.txt"),
         lambda s: wrk(s, "/static/1k.txt")),
        ("static-1m", "static 1 MiB", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-static.conf.template", "/static/1k.txt"),
         lambda s: start_edge(s, "edge-static.yaml.template", "/static/1k.txt"),
         lambda s: wrk(s, "/static/1m.bin")),
        ("gzip-100k", "gzip 100 KiB HTML (level 5)", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-gzip.conf.template", "/static/page.html"),
         lambda s: start_edge(s, "edge-gzip.yaml.template", "/static/page.html"),
         lambda s: wrk(gzipped(s, "/static/page.html"), "/static/page.html", headers=gzip)),
        ("gzip-precompressed", "precompressed 100 KiB HTML (.gz)", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-gzip.conf.template", "/static/page.html"),
         lambda s: start_edge(s, "edge-gzip.yaml.template", "/static/page.html"),
         lambda s: wrk(gzipped(s, "/static/pre.html"), "/static/pre.html", headers=gzip)),
        ("tls-keepalive", "TLS 1 KiB, keep-alive", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: wrk(s, "/static/1k.txt", "https")),
        ("tls-handshake", "TLS new connection per request", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: wrk(s, "/static/1k.txt", "https", ("Connection: close",))),
        ("h2-1k", "HTTP/2 1 KiB (h2load)", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: h2load(s, "/static/1k.txt")),
        ("tls-full-handshake", "TLS 1.3 full handshake per request (RSA 3072)", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https", cert="rsa-cert"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https", cert="rsa-cert"),
         lambda s: full_handshakes(s)),
        ("h2-many-streams", "HTTP/2 1 KiB, 2 connections × 100 streams", "rps", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: h2load(s, "/static/1k.txt", connections=2, streams=100)),
        ("h2-proxy", "HTTP/2 proxy /plaintext to AppServer", "rps", "nginx h2 → AppServer", "Edge h2 → AppServer",
         lambda s: start_nginx(s, "nginx-tls-proxy.conf.template", "/plaintext", "https", socket_path=start_appserver(s)),
         lambda s: start_edge(s, "edge-tls-proxy.yaml.template", "/plaintext", "https", socket_path=start_appserver(s)),
         lambda s: h2load(s, "/plaintext")),
        ("proxy", "proxy /plaintext to AppServer", "rps", "nginx → AppServer", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy.conf.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: wrk(s, "/plaintext")),
        ("proxy-logged", "proxy /plaintext, access logs on", "rps", "nginx → AppServer", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy.conf.template", "/plaintext", socket_path=start_appserver(s), logged=True),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s), logged=True),
         lambda s: wrk(s, "/plaintext")),
        ("proxy-minimal-headers", "proxy /plaintext, Edge's default headers vs nginx's usual three", "rps",
         "nginx → AppServer", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy-minimal.conf.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: wrk(s, "/plaintext")),
        ("stack-sync", "full stack vs gunicorn sync", "rps", "nginx → gunicorn sync", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy.conf.template", "/plaintext", socket_path=start_gunicorn(s, "sync")),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: wrk(s, "/plaintext")),
        ("stack-gthread", "full stack vs gunicorn gthread", "rps", "nginx → gunicorn gthread", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy.conf.template", "/plaintext", socket_path=start_gunicorn(s, "gthread")),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: wrk(s, "/plaintext")),
        ("upload-100m", "100 MiB upload through the proxy", "seconds", "nginx → AppServer", "Edge → AppServer",
         lambda s: start_nginx(s, "nginx-proxy.conf.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: upload(s, payload)),
        # What counting costs: the same server with its admin listener off (baseline) and on (ours).
        ("metrics-static-1k", "static 1 KiB, metrics on vs off", "rps", "Edge, metrics off", "Edge, metrics on",
         lambda s: start_edge(s, "edge-static.yaml.template", "/static/1k.txt"),
         lambda s: start_edge(s, "edge-static.yaml.template", "/static/1k.txt", admin=True),
         lambda s: wrk(s, "/static/1k.txt")),
        ("metrics-proxy", "proxy /plaintext to AppServer, metrics on vs off (both servers)", "rps",
         "Edge → AppServer, metrics off", "Edge → AppServer, metrics on",
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s)),
         lambda s: start_edge(s, "edge-proxy.yaml.template", "/plaintext", socket_path=start_appserver(s, admin=True),
                              admin=True),
         lambda s: wrk(s, "/plaintext")),
        # TechEmpower's database tests through the whole seed stack, both sides on the same PostgreSQL.
        *[(f"db-{name}-{worker_class}", f"{title}, PostgreSQL, vs Django on gunicorn {worker_class}", "rps",
           f"nginx → gunicorn {worker_class} ({GUNICORN_WORKERS}) → Django", "Edge → AppServer",
           lambda s, wc=worker_class, p=path: start_nginx(s, "nginx-proxy.conf.template", p,
                                                          socket_path=start_django(s, wc)),
           lambda s, p=path: start_edge(s, "edge-proxy.yaml.template", p,
                                        socket_path=start_appserver(s, database=bench_postgres().url())),
           lambda s, p=path, c=check: wrk(checked(s, p, c), p))
          for worker_class in ("sync", "gthread")
          for name, title, path, check in (
              ("db", "/db", "/db", lambda b: valid_world(json.loads(b))),
              ("queries", "/queries?queries=20", "/queries?queries=20", valid_worlds(20)),
              ("fortunes", "/fortunes", "/fortunes", valid_fortunes),
              ("updates", "/updates?queries=20", "/updates?queries=20", valid_worlds(20)))],
        # The same on SQLite, the database `scripts/run` users get.
        *[(f"db-sqlite-{name}", f"{title}, SQLite, vs Django on gunicorn sync", "rps",
           f"nginx → gunicorn sync ({GUNICORN_WORKERS}) → Django", "Edge → AppServer",
           lambda s, p=path: start_nginx(s, "nginx-proxy.conf.template", p, socket_path=start_django(s, "sync", sqlite=True)),
           lambda s, p=path: start_edge(s, "edge-proxy.yaml.template", p,
                                        socket_path=start_appserver(s, database=f"sqlite:{bench_sqlite()}")),
           lambda s, p=path, c=check: wrk(checked(s, p, c), p))
          for name, title, path, check in (
              ("db", "/db", "/db", lambda b: valid_world(json.loads(b))),
              ("fortunes", "/fortunes", "/fortunes", valid_fortunes))],
        ("idle-10k", "10,000 idle keep-alive connections (RSS added)", "added", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-static.conf.template", "/static/1k.txt"),
         lambda s: start_edge(s, "edge-static.yaml.template", "/static/1k.txt"),
         lambda s: idle_connections(s)),
        ("idle-tls-2k", "2,000 idle TLS 1.3 connections (RSS added)", "added", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: idle_tls_connections(s)),
        ("idle-h2-2k", "2,000 idle HTTP/2 connections (RSS added)", "added", "nginx", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: idle_tls_connections(s, http2=True)),
        ("start-rss", "RSS at start (TLS static config)", "rss", "nginx master + worker", "Edge",
         lambda s: start_nginx(s, "nginx-tls.conf.template", "/static/1k.txt", "https"),
         lambda s: start_edge(s, "edge-tls.yaml.template", "/static/1k.txt", "https"),
         lambda s: rss_at_start(s)),
    ]


# ---------------------------------------------------------------------------------------------------------------
# Running, summarising, reporting.

def median_of(measurements, attribute):
    valid = [getattr(m, attribute) for m in measurements if not m.errors]
    return statistics.median(valid) if valid else None


METRIC_KEYS = {"rps": "rps", "seconds": "seconds", "rss": "peak_rss_mib", "added": "added_rss_mib"}


def ratio(metric, baseline, ours):
    """Higher is better for req/s; for time and memory the ratio is baseline / ours, so > 1 still means ours wins."""
    b, o = baseline.get(METRIC_KEYS[metric]), ours.get(METRIC_KEYS[metric])
    if not b or not o:
        return None
    return o / b if metric == "rps" else b / o


def run_all():
    work = tempfile.mkdtemp(prefix="edge-harness.")
    os.chmod(work, 0o755)
    payload = fixtures(work)
    results = []
    try:
        for name, title, metric, base_label, ours_label, start_base, start_ours, measure in scenarios(payload):
            if ONLY and name not in ONLY:
                continue
            runs = {"baseline": [], "ours": []}
            for round_number in range(1, RUNS + 1):
                # Which side goes first alternates (ABBA...), so nothing that favours a round's first or second
                # slot (the host warming up or slowing down within a round) leans towards one side.
                order = (("baseline", start_base), ("ours", start_ours))
                for side, start in order if round_number % 2 else reversed(order):
                    side_work = os.path.join(work, f"{name}-{side}")
                    os.makedirs(os.path.join(side_work, "tmp"), exist_ok=True)
                    os.makedirs(os.path.join(side_work, "media"), exist_ok=True)
                    os.chmod(side_work, 0o755)
                    os.chmod(os.path.join(side_work, "media"), 0o777)
                    for shared in ("files", "cert.pem", "key.pem", "rsa-cert.pem", "rsa-key.pem"):
                        target = os.path.join(side_work, shared)
                        if not os.path.exists(target):
                            os.symlink(os.path.join(work, shared), target)
                    stack = Stack(work=side_work)
                    try:
                        start(stack)
                        m = measure(stack)
                    except Exception as error:          # a side that cannot start or answer is a failed run
                        m = Measurement(errors=f"{type(error).__name__}: {error}")
                    finally:
                        stack.stop()
                    runs[side].append(m)
                    say(f"{name} round {round_number} {side}: rps={m.rps:.0f} p99={m.p99_ms:.2f}ms "
                        f"cpu/req={m.cpu_us_per_request:.1f}us rss={m.peak_rss_mib:.1f}MiB "
                        f"{'s=%.2f ' % m.seconds if metric == 'seconds' else ''}"
                        f"{'added=%.1fMiB ' % m.added_rss_mib if metric == 'added' else ''}{m.errors}")
            results.append(summarise(name, title, metric, base_label, ours_label, runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for server in BENCH_POSTGRES:
            server.stop()
            shutil.rmtree(server.work, ignore_errors=True)
        for path in BENCH_SQLITE:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return results


def summarise(name, title, metric, base_label, ours_label, runs):
    summary = {"scenario": name, "title": title, "metric": metric, "baseline": base_label, "ours": ours_label,
               "runs": {side: [m.__dict__ for m in ms] for side, ms in runs.items()},
               "invalid_runs": {side: sum(1 for m in ms if m.errors) for side, ms in runs.items()}}
    for side, ms in runs.items():
        summary[side + "_median"] = {a: median_of(ms, a) for a in
                                     ("rps", "p50_ms", "p99_ms", "cpu_us_per_request", "peak_rss_mib", "front_peak_rss_mib", "seconds",
                                      "added_rss_mib")}
    summary["ratio"] = ratio(metric, summary["baseline_median"], summary["ours_median"])
    # The two sides of a round ran back to back, so their ratio is nearly free of the host's drift between rounds
    # (which moves both sides' figures together); the spread of these says how far to trust the headline ratio.
    summary["round_ratios"] = [ratio(metric, b.__dict__, o.__dict__) for b, o in zip(runs["baseline"], runs["ours"])
                               if not b.errors and not o.errors]
    return summary


def round_ratio_summary(round_ratios):
    """Median and range of the rounds' ratios, and in how many rounds ours came out ahead: were the two sides
    equal, that count would be a coin flip per round, so it tells a small real difference from noise."""
    valid = [r for r in round_ratios if r is not None]
    if not valid:
        return "—"
    ahead = sum(1 for r in valid if r > 1)
    return f"{statistics.median(valid):.2f} ({min(valid):.2f}–{max(valid):.2f}), ahead {ahead}/{len(valid)}"


def fmt(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def markdown(results, machine):
    lines = [f"Machine: {machine}. {RUNS} rounds per side, A/B alternating (the side that goes first alternates "
             f"from round to round), {DURATION} s each, {CONNECTIONS} connections; server side on CPU {SERVER_CPU}, "
             f"load generator on CPU {CLIENT_CPU}; medians of valid runs.",
             "",
             "| scenario | baseline | ours | baseline | ours | ratio | by round: median (range) "
             "| p50 / p99 ms (baseline) | p50 / p99 ms (ours) "
             "| CPU µs/req (baseline / ours) | peak RSS MiB, all / front server (baseline) | (ours) | invalid runs |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        b, o = r["baseline_median"], r["ours_median"]
        unit = {"rps": ("rps", 0, " req/s"), "seconds": ("seconds", 2, " s"), "rss": ("peak_rss_mib", 1, " MiB"),
                "added": ("added_rss_mib", 1, " MiB")}[r["metric"]]
        key, digits, suffix = unit
        lines.append(
            f"| {r['title']} | {r['baseline']} | {r['ours']} | {fmt(b[key], digits)}{suffix} | {fmt(o[key], digits)}{suffix} "
            f"| **{fmt(r['ratio'], 2)}** | {round_ratio_summary(r.get('round_ratios', []))} "
            f"| {fmt(b['p50_ms'], 2)} / {fmt(b['p99_ms'], 2)} | {fmt(o['p50_ms'], 2)} / {fmt(o['p99_ms'], 2)} "
            f"| {fmt(b['cpu_us_per_request'], 1)} / {fmt(o['cpu_us_per_request'], 1)} "
            f"| {fmt(b['peak_rss_mib'], 1)} / {fmt(b['front_peak_rss_mib'], 1)} | {fmt(o['peak_rss_mib'], 1)} / {fmt(o['front_peak_rss_mib'], 1)} "
            f"| {r['invalid_runs']['baseline']} / {r['invalid_runs']['ours']} |")
    lines += ["", "Ratio: ours / baseline for req/s; baseline / ours for time (upload) and memory (RSS at start, RSS "
              "that idle connections added), "
              "so above 1 always means ours is better. It compares the two sides' medians; \"by round\" is the ratio "
              "within each round (the two sides ran back to back), whose spread shows the host's noise, and "
              "\"ahead k/n\" counts the rounds in which ours was better. "
              "Errors of invalid runs are in results.json."]
    return "\n".join(lines) + "\n"


def svg_chart(results, machine):
    """One bar pair per scenario, each pair scaled to the baseline (= 1.0), so scenarios of any unit compare."""
    width, row, left = 760, 34, 260
    height = 70 + row * len(results)
    scale = (width - left - 60) / max([2.0] + [r["ratio"] or 0 for r in results])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
             f'<text x="10" y="20" font-size="14" font-weight="bold">Edge + AppServer vs nginx + gunicorn (baseline = 1.0, higher is better)</text>',
             f'<text x="10" y="38" fill="#555">{machine}</text>']
    x1 = left + scale
    parts.append(f'<line x1="{x1:.0f}" y1="48" x2="{x1:.0f}" y2="{height - 10}" stroke="#999" stroke-dasharray="4 3"/>')
    for i, r in enumerate(results):
        y = 56 + i * row
        ratio = r["ratio"] or 0
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{r["title"]}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{scale:.0f}" height="12" fill="#9aa5b1"/>')
        parts.append(f'<rect x="{left}" y="{y + 15}" width="{ratio * scale:.0f}" height="12" fill="#e8590c"/>')
        parts.append(f'<text x="{left + max(scale, ratio * scale) + 6:.0f}" y="{y + 25}">{fmt(r["ratio"], 2)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def machine_description():
    model = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    distro = "Linux"
    if os.path.exists("/etc/os-release"):
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                distro = line.split("=", 1)[1].strip().strip('"')
    nginx = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    return f"{CORES} vCPU {model}, {distro}, nginx {nginx}, {time.strftime('%Y-%m-%d', time.gmtime())}"


def main():
    machine = machine_description()
    say(f"{machine}; {RUNS} rounds × {DURATION} s per side")
    results = run_all()
    stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    for directory in (os.path.join(BENCH, "results", "latest"), os.path.join(BENCH, "results", stamp)):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "results.json"), "w") as f:
            json.dump({"machine": machine, "runs": RUNS, "duration": DURATION, "connections": CONNECTIONS,
                       "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "scenarios": results}, f, indent=2)
        with open(os.path.join(directory, "results.md"), "w") as f:
            f.write(markdown(results, machine))
        with open(os.path.join(directory, "chart.svg"), "w") as f:
            f.write(svg_chart(results, machine))
    print(markdown(results, machine))
    say(f"written to Benchmarks/results/latest/ and Benchmarks/results/{stamp}/")


if __name__ == "__main__":
    main()
