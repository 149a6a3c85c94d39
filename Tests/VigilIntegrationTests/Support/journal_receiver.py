#!/usr/bin/env python3
"""A stand-in for journald's native socket: binds PATH, decodes each datagram of the native
journal protocol (KEY=value lines, or KEY\\n + 64-bit little-endian length + bytes for binary-safe
values) and appends it to OUT as one JSON object per line."""
import json
import os
import socket
import struct
import sys

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(out + ".ready", "w"):
    pass
while True:
    data = sock.recv(1 << 20)
    entry, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            i = nl + 1
        else:
            key = line
            (length,) = struct.unpack("<Q", data[nl + 1 : nl + 9])
            value = data[nl + 9 : nl + 9 + length]
            i = nl + 9 + length + 1
        entry[key.decode()] = value.decode("utf-8", "replace")
    with open(out, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())
