#!/usr/bin/env python3
"""A team's webhook receiver on loopback, for the notifier tests and nothing else.

Listens on 127.0.0.1 (port 0: the kernel picks; the port is written to --port-file), checks each
POST's HMAC-SHA256 signature (X-Vigil-Signature) with --secret-file, and appends one JSON line per
request to --log when it arrives ({"arrived": key}) and when it is answered: {"key",
"signature_ok", "status", "step", "accepted", "body"}. "accepted" is true the first
time a key is answered 2xx, which is how a real receiver de-duplicates by Idempotency-Key.

Misbehaviour, request by request, from --script: a comma-separated list consumed in order, then 200:
  500     answer 500
  hang    wait --hang-seconds before answering 200 (the notifier's timeout fires first)
"""
import argparse, hashlib, hmac, json, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--script", default="")
parser.add_argument("--hang-seconds", type=float, default=3.0)
args = parser.parse_args()

secret = open(args.secret_file, "rb").read().strip()
script = [step for step in args.script.split(",") if step]
lock = threading.Lock()
accepted = set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        key = self.headers.get("Idempotency-Key")
        with lock:
            step = script.pop(0) if script else "200"
            with open(args.log, "a") as log:
                log.write(json.dumps({"arrived": key}) + "\n")
        if step == "hang":
            time.sleep(args.hang_seconds)
        status = 500 if step == "500" else 200
        with lock:
            first = status == 200 and key not in accepted
            if first:
                accepted.add(key)
            with open(args.log, "a") as log:
                log.write(json.dumps({
                    "key": key, "signature_ok": hmac.compare_digest(expected, self.headers.get("X-Vigil-Signature", "")),
                    "status": status, "step": step, "accepted": first, "body": json.loads(body or b"null"),
                }) + "\n")
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
