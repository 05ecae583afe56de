#!/usr/bin/env python3
"""Slow clients against Edge and nginx, each with its default timeouts: slowhttptest's slow headers (-H, slowloris),
slow body (-B, R-U-Dead-Yet) and slow read (-X), while a well-behaved client keeps asking for a page.

Run through `Benchmarks/run --slow-clients`. For each attack and each side it reports how many of the normal
client's requests succeeded and their slowest time, the server side's peak RSS, and slowhttptest's own verdict.
Output: Benchmarks/results/latest/slow-clients.md (and a dated copy).
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import harness
from harness import BENCH, ROOT, Sampler, Stack, say, start_appserver, start_edge, start_nginx

ATTACK_SECONDS = int(os.environ.get("ATTACK_SECONDS", "60"))
ATTACK_CONNECTIONS = int(os.environ.get("ATTACK_CONNECTIONS", "1000"))

# (name, slowhttptest mode arguments, templates, path attacked, path the normal client asks for)
ATTACKS = [
    ("slow headers (-H)", ["-H", "-i", "10"], "proxy", "/plaintext", "/plaintext"),
    ("slow body (-B)", ["-B", "-i", "10", "-s", "8192", "-t", "POST"], "proxy", "/echo", "/plaintext"),
    ("slow read (-X)", ["-X", "-k", "1", "-w", "512", "-y", "1024", "-n", "5", "-z", "32"], "static",
     "/static/1m.bin", "/static/1k.txt"),
]


class NormalClient:
    """A client that asks for `url` on a new connection every 100 ms and records each outcome."""

    def __init__(self, url):
        self.url, self.ok, self.failed, self.slowest = url, 0, 0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                    self.ok += response.status == 200
                    self.failed += response.status != 200
            except Exception:
                self.failed += 1
            self.slowest = max(self.slowest, time.monotonic() - started)
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def start(side, templates, stack):
    if templates == "proxy":
        socket_path = start_appserver(stack)
        if side == "nginx":
            start_nginx(stack, "nginx-proxy.conf.template", "/plaintext", socket_path=socket_path)
        else:
            start_edge(stack, "edge-proxy.yaml.template", "/plaintext", socket_path=socket_path)
    elif side == "nginx":
        start_nginx(stack, "nginx-static.conf.template", "/static/1k.txt")
    else:
        start_edge(stack, "edge-static.yaml.template", "/static/1k.txt")


def attack(stack, arguments, path, normal_path):
    log_prefix = os.path.join(stack.work, "slowhttptest")
    argv = ["taskset", "-c", harness.CLIENT_CPU, "slowhttptest", *arguments, "-c", str(ATTACK_CONNECTIONS),
            "-r", "200", "-l", str(ATTACK_SECONDS), "-u", f"http://127.0.0.1:{stack.port}{path}", "-p", "5",
            "-g", "-o", log_prefix]
    # The front server is started last, after the app server it proxies to.
    with Sampler(stack.roots()) as memory, Sampler(stack.roots()[-1:]) as front, \
            NormalClient(f"http://127.0.0.1:{stack.port}{normal_path}") as normal:
        out = subprocess.run(argv, capture_output=True, text=True).stdout
    verdict = "?"
    for line in out.splitlines():
        if "service available:" in line:
            verdict = re.sub(r"\x1b\[[0-9;]*m", "", line.split("service available:")[1]).strip()
    # The last sample of slowhttptest's CSV: seconds, closed, pending, connected, service available.
    last = open(log_prefix + ".csv").read().strip().splitlines()[-1].split(",")
    return {
        "normal_ok": normal.ok, "normal_failed": normal.failed, "normal_slowest_s": round(normal.slowest, 2),
        "peak_rss_mib": round(memory.peak / 1024, 1), "front_peak_rss_mib": round(front.peak / 1024, 1),
        "verdict": verdict, "held_at_end": int(last[3]),
    }


def main():
    work = tempfile.mkdtemp(prefix="edge-slow.")
    os.chmod(work, 0o755)
    rows = []
    try:
        for name, arguments, templates, path, normal_path in ATTACKS:
            for side in ("nginx", "Edge"):
                side_work = os.path.join(work, f"{templates}-{side}-{len(rows)}")
                for sub in ("files", "media", "tmp"):
                    os.makedirs(os.path.join(side_work, sub), exist_ok=True)
                os.chmod(side_work, 0o755)
                os.chmod(os.path.join(side_work, "media"), 0o777)
                with open(os.path.join(side_work, "files", "1k.txt"), "w") as f:
                    f.write("x" * 1024)
                with open(os.path.join(side_work, "files", "1m.bin"), "wb") as f:
                    f.write(os.urandom(1 << 20))
                stack = Stack(side_work)
                try:
                    start(side, templates, stack)
                    say(f"{name} against {side} for {ATTACK_SECONDS} s")
                    result = attack(stack, arguments, path, normal_path)
                finally:
                    stack.stop()
                say(f"  {result}")
                rows.append((name, side, result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Slow clients, {ATTACK_CONNECTIONS} connections over {ATTACK_SECONDS} s (slowhttptest, 200 new a second), "
        "each server with its default timeouts; a normal client asks for a page every 100 ms on a new connection.",
        "",
        "| attack | server | normal client ok / failed | its slowest request | peak RSS, front server | "
        "peak RSS, all server processes | attack connections open at the end | slowhttptest: service available |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, side, r in rows:
        lines.append(f"| {name} | {side} | {r['normal_ok']} / {r['normal_failed']} | {r['normal_slowest_s']} s | "
                     f"{r['front_peak_rss_mib']} MiB | {r['peak_rss_mib']} MiB | {r['held_at_end']} | {r['verdict']} |")
    text = "\n".join(lines) + "\n"
    stamp = time.strftime("%Y-%m-%d-%H%M")
    for directory in (os.path.join(BENCH, "results", "latest"), os.path.join(BENCH, "results", f"slow-clients-{stamp}")):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "slow-clients.md"), "w") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
