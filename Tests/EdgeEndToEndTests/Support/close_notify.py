#!/usr/bin/env python3
"""Asks Edge for a page over TLS with HTTP/1.0 (so Edge closes the connection after the response), reads up to
Edge's close_notify, and then neither answers it nor closes: reports how long Edge took to close the TCP connection.

    close_notify.py PORT PATH          one JSON line: status, fin_after_close_notify (seconds), eof
"""
import json
import os
import select
import socket
import ssl
import sys
import time

port, path = int(sys.argv[1]), sys.argv[2]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
tls.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
response = b""
while chunk := tls.recv(65536):  # ends at Edge's close_notify
    response += chunk
notified = time.monotonic()
# The TCP connection under TLS, without sending our own close_notify.
raw = socket.socket(fileno=os.dup(tls.fileno()))
select.select([raw], [], [], 10)
try:
    eof = raw.recv(1) == b""
except OSError:
    eof = True
print(json.dumps({"status": int(response.split(b" ")[1]), "fin_after_close_notify": round(time.monotonic() - notified, 3),
                  "eof": eof}))
