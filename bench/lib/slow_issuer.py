#!/usr/bin/env python3
"""A deliberately slow issuer for bench/parts/50-latency.sh:
  slow_issuer.py <port> <delay-seconds> <jwks-file> <log>
answers every GET /realms/<slug>/protocol/openid-connect/certs with the same
JWKS after <delay> seconds (one thread per request, so fetches overlap), and
appends "<unix time> <path>" to <log> as each request arrives. 127.0.0.1 only.
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, delay, jwks_file, log_file = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(jwks_file, "rb") as f:
    JWKS = f.read()
log = open(log_file, "a", buffering=1)


class Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        log.write(f"{time.time():.3f} {self.path}\n")
        time.sleep(delay)
        ok = self.path.startswith("/realms/") and self.path.endswith("/protocol/openid-connect/certs")
        body = JWKS if ok else b"{}"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Slow).serve_forever()
