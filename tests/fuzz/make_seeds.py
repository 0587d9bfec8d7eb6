#!/usr/bin/env python3
"""Writes the seed corpora of the proto fuzz targets from the test vectors."""
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "data", "proto", "vectors.txt")


def vectors():
    out, name = {}, None
    for line in open(VECTORS):
        m = re.match(r"# (.*) \((\d+) bytes\)", line)
        if m:
            name = m.group(1)
            out[name] = b""
        elif not line.startswith("#") and name:
            out[name] += bytes.fromhex(line.strip())
    return out


def frames(*parts):
    """The command fuzzer's framing: u8 length, then the bytes."""
    b = b""
    for p in parts:
        assert len(p) < 255
        b += bytes([len(p)]) + p
    return b


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


v = vectors()
env, red = v["envelope"], v["redacted envelope"]
write("envelope", "vector", env)
write("envelope", "redacted", red)
write("envelope", "noted", v["noted envelope"])
write("envelope", "truncated-header", env[:60])
write("envelope", "no-signature", env[:-64])
write("envelope", "empty", b"")
write("envelope", "granted", v["granted envelope"])
write("envelope", "legacy-v1", v["version 1 envelope"])

# Delivery reports: the three of the vectors' batch, and damaged copies.
for i in range(3):
    write("report", "vector-%d" % i, v["report %d" % i])
write("report", "short-path", v["report 0"][:-96] + v["report 0"][-64:])
write("report", "no-signature", v["report 2"][:-64])

sig, mid, corr = b"LIAISON1", bytes.fromhex("00112233445566778899aabbccddeeff"), struct.pack(">Q", 7)
write("command", "ping", frames(sig, b"\x08", corr))
write("command", "pong", frames(sig, b"\x09", corr))
def acks(*items):
    """An accepted or receipt list: u16 count, then (u64 number, id) each."""
    return struct.pack(">H", len(items)) + b"".join(struct.pack(">Q", n) + i for n, i in items)


def deliveries(*items):
    """A deliver list: u16 count, then (u64 tag, u32 length, envelope) each."""
    return struct.pack(">H", len(items)) + b"".join(struct.pack(">QI", t, len(e)) + e for t, e in items)


def reports(*items):
    """A report list: u16 count, then (u64 tag, u16 length, report) each."""
    return struct.pack(">H", len(items)) + b"".join(struct.pack(">QH", t, len(r)) + r for t, r in items)


write("command", "accepted", frames(sig, b"\x02", acks((7, mid), (8, mid[::-1]))))
write("command", "rejected", frames(sig, b"\x03", corr, mid, b"\x00\x03", b"signature"))
write("command", "receipt", frames(sig, b"\x05", acks((3, mid))))
write("command", "status", frames(sig, b"\x06", corr, mid))
write("command", "forward-ack", frames(sig, b"\x0b", corr, mid, b"\x00\x00", b""))
entries = struct.pack(">H", 1) + bytes([8]) + b"CAN/RCMP" + bytes([4]) + struct.pack(">Q", 1) + b"\x00\x00"
write("command", "status-reply", frames(sig, b"\x07", corr, mid, entries))
# A length byte of 255 makes the last frame take the rest of the input.
write("command", "submit", frames(sig, b"\x01", corr) + bytes([255]) + env)
write("command", "deliver", frames(sig, b"\x04") + bytes([255]) + deliveries((4, env), (5, red)))
targets = bytes([2, 8]) + b"CAN/CBSA" + struct.pack(">Q", 2) + bytes([8]) + b"CAN/RCMP" + struct.pack(">Q", 0)
write("command", "forward", frames(sig, b"\x0a", corr, b"USACAN", targets) + bytes([255]) + env)
# The vectors' batch of three, in one report command (the frame takes the rest).
write("command", "report", frames(sig, b"\x0c") + bytes([255]) +
      reports(*[(5 + i, v["report %d" % i]) for i in range(3)]))
write("command", "garbage", b"\x00\x01\x02")
write("command", "tree-head", frames(sig, b"\x0d", bytes(112)))
write("command", "consistency-request", frames(sig, b"\x0e", corr, struct.pack(">Q", 1), struct.pack(">Q", 2)))
write("command", "consistency", frames(sig, b"\x0f", corr, struct.pack(">Q", 1), struct.pack(">Q", 2), bytes(32)))
# A partner's roster section (the frame takes the rest), and the answer to it.
section = (b"liaison-roster 1\nnation CAN\nserial 2\ncard\nidentity CAN\nsign-public " + b"11" * 32 +
           b"\nbox-public " + b"22" * 32 + b"\ncurve-public " + b"33" * 32 + b"\nend\nsignature " +
           b"44" * 64 + b"\n")
write("command", "roster", frames(sig, b"\x10", corr) + bytes([255]) + section)
write("command", "roster-ack", frames(sig, b"\x11", corr, struct.pack(">Q", 2), b"\x00\x0f", b"stale"))

# The broker's frame handling sees the same frames as the command parser.
for name in os.listdir(os.path.join(HERE, "corpus", "command")):
    with open(os.path.join(HERE, "corpus", "command", name), "rb") as f:
        write("broker_frames", name, f.read())

# Audit records (docs/audit.md): the documented example and two variants.
def record(event, actor, counterpart, purpose, rule, detail, msg=bytes(range(0xa0, 0xb0))):
    s8 = lambda b: bytes([len(b)]) + b
    return (b"\x01" + struct.pack(">Q", 1700000000123) + bytes([event]) + msg + s8(actor) +
            s8(counterpart) + s8(purpose) + s8(rule) + b"\x11" * 32 + b"\x22" * 32 + s8(detail))
write("audit_record", "released", record(4, b"USA/FBI", b"CAN/RCMP", b"fugitive", b"can-1", b"ok"))
write("audit_record", "peer-up", record(12, b"USA", b"CAN", b"", b"", b"tcp://127.0.0.1:7102", bytes(16)))
write("audit_record", "truncated", record(4, b"USA/FBI", b"CAN/RCMP", b"", b"", b"")[:40])
