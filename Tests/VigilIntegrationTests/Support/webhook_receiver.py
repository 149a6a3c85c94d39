#!/usr/bin/env python3
"""A team's webhook receiver on loopback, for the notifier tests and nothing else.

Listens on 127.0.0.1 (port 0: the kernel picks; the port is written to --port-file), checks each
POST's HMAC-SHA256 signature (X-Vigil-Signature) with --secret-file, and appends one JSON line per
request to --log when it arrives ({"arrived": key, "t": time}) and when it is answered: {"key",
"signature_ok", "status", "step", "accepted", "body", "t", "t_end", "sent", "open"}. "accepted" is
true the first time a key is answered 2xx, which is how a real receiver de-duplicates by
Idempotency-Key. "t" is when the request arrived and "t_end" when its answer ended (the last byte
sent, or the client gone), as Unix times; "sent" counts the answer's body bytes (the head's for
`trickle`); "open" is how many requests were being answered at once when this one arrived.

Misbehaviour, request by request, from --script: a comma-separated list consumed in order, then
--default-step (200 unless given):
  200           answer 200
  500           answer 500
  hang          wait --hang-seconds before answering 200 (the notifier's timeout fires first)
  redirectNNN:URL  answer NNN (301, 302, 303, 307, 308) with `Location: URL` and an empty body
  huge          answer 200 with a body of --huge-bytes (1 GiB), streamed as fast as the client
                reads it from one reused 1 MiB block, until the end or the client goes
  trickle       send the status line and then an endless header a byte a second, forever (the
                head never ends), until the client goes
  trickle-body  answer 200 with a Content-Length of --huge-bytes, then a body byte a second until
                the client goes
"""
import argparse, hashlib, hmac, json, select, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--secret-file", required=True)
parser.add_argument("--script", default="")
parser.add_argument("--default-step", default="200")
parser.add_argument("--hang-seconds", type=float, default=3.0)
parser.add_argument("--huge-bytes", type=int, default=1 << 30)
args = parser.parse_args()

secret = open(args.secret_file, "rb").read().strip()
script = [step for step in args.script.split(",") if step]
lock = threading.Lock()
accepted = set()
answering = 0
BLOCK = b"x" * (1 << 20)


def log(line):
    with open(args.log, "a") as f:
        f.write(json.dumps(line) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def client_gone(self, wait):
        """Waits up to `wait` seconds; true when the client closed the connection meanwhile."""
        readable, _, _ = select.select([self.connection], [], [], wait)
        if not readable:
            return False
        try:
            return self.connection.recv(65536) == b""
        except OSError:
            return True

    def trickle(self, head, then):
        """Sends `head` at once, then one byte of `then` a second until the client goes; returns bytes sent."""
        sent = 0
        try:
            self.connection.sendall(head)
            while True:
                if self.client_gone(1.0):
                    return sent
                self.connection.sendall(then)
                sent += 1
        except OSError:
            return sent

    def huge(self, status):
        self.send_response(status)
        self.send_header("Content-Length", str(args.huge_bytes))
        self.end_headers()
        sent = 0
        try:
            while sent < args.huge_bytes:
                chunk = BLOCK[: min(len(BLOCK), args.huge_bytes - sent)]
                self.connection.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        return sent

    def do_POST(self):
        global answering
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        key = self.headers.get("Idempotency-Key")
        arrived = time.time()
        with lock:
            step = script.pop(0) if script else args.default_step
            answering += 1
            concurrent = answering
            log({"arrived": key, "t": arrived})
        streaming = step in ("huge", "trickle", "trickle-body")
        status = None if step == "trickle" else 500 if step == "500" else 200
        if step.startswith("redirect"):
            status = int(step[len("redirect"):].split(":", 1)[0])
        if step == "hang":
            time.sleep(args.hang_seconds)
        if not streaming:
            # Logged before the answer goes out: whoever sees the answer finds the line written.
            self.answered(key, expected, status, step, body, arrived, 0, concurrent)
        sent = 0
        try:
            if step.startswith("redirect"):
                self.send_response(status)
                self.send_header("Location", step.split(":", 1)[1])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif step == "huge":
                sent = self.huge(200)
                self.close_connection = True
            elif step == "trickle":
                sent = self.trickle(b"HTTP/1.1 200 OK\r\nX-Trickle: ", b"a")
                self.close_connection = True
            elif step == "trickle-body":
                sent = self.trickle(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % args.huge_bytes, b"x")
                self.close_connection = True
            else:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass
        if streaming:
            self.answered(key, expected, status, step, body, arrived, sent, concurrent)
        with lock:
            answering -= 1

    def answered(self, key, expected, status, step, body, arrived, sent, concurrent):
        with lock:
            first = status is not None and 200 <= status < 300 and key not in accepted
            if first:
                accepted.add(key)
            log({
                "key": key, "signature_ok": hmac.compare_digest(expected, self.headers.get("X-Vigil-Signature", "")),
                "status": status, "step": step, "accepted": first, "body": json.loads(body or b"null"),
                "t": arrived, "t_end": time.time(), "sent": sent, "open": concurrent,
            })

    def log_message(self, *_):
        pass


ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
