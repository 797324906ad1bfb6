#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Timing probes for tests/integration/pg-replicas.sh, over kept-alive
HTTP connections to two midd replicas (a Python loop times a call to well
under a millisecond, a curl process per call would not).

  replica_probe.py latency A_PORT B_PORT ORG_KEY ADMIN_KEY TRIALS PREFIX
      per trial: register PREFIX-i on A, wait until B allows it, revoke it
      on A, then validate on B until it denies; prints one line
      "n=.. p50 .. p90 .. p99 .. max .. ms" of the times from A's revoke
      answer to B's first denial. Exit 1 if a step failed or took 2 s.
  replica_probe.py revokes A_PORT ADMIN_KEY PREFIX N OUT
      revoke PREFIX-0 .. PREFIX-N-1 on A one by one, appending each
      acknowledged one (200, persisted) to OUT as soon as it is answered;
      stops at the first failure (A killed).
  replica_probe.py register PORT ORG_KEY PREFIX N
      register PREFIX-0 .. PREFIX-N-1.
  replica_probe.py seen B_PORT ORG_KEY FILE
      every device named in FILE validates as DEVICE_REVOKED on B within
      2 s; prints how many. Exit 1 otherwise.
"""
import http.client
import json
import sys
import time

DEADLINE_S = 2.0


class Midd:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, path, key, admin, body):
        hdr = {"content-type": "application/json",
               "x-admin-key" if admin else "x-org-key": key}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                self.conn.request("POST", path, json.dumps(body), hdr)
                r = self.conn.getresponse()
                return r.status, json.loads(r.read() or b"{}")
            except (OSError, http.client.HTTPException):
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def validate(m, key, dev):
    status, body = m.call("/api/v1/devices/validate", key, False, {"deviceId": dev})
    if status != 200:
        raise RuntimeError(f"validate {dev}: HTTP {status} {body}")
    return body["code"]


def until(fn, what):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if fn():
            return time.monotonic()
    raise RuntimeError(f"{what}: not within {DEADLINE_S} s")


def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def latency(a_port, b_port, org, admin, trials, prefix):
    a, b = Midd(int(a_port)), Midd(int(b_port))
    out = []
    for i in range(int(trials)):
        dev = f"{prefix}-{i}"
        status, body = a.call("/api/v1/devices/register", org, False, {"deviceId": dev})
        if status != 200:
            raise RuntimeError(f"register {dev} on A: HTTP {status} {body}")
        until(lambda: validate(b, org, dev) == "ALLOW", f"B learns of {dev}")
        status, body = a.call("/api/v1/devices/revoke", admin, True, {"deviceId": dev})
        if status != 200 or not body.get("persisted"):
            raise RuntimeError(f"revoke {dev} on A: HTTP {status} {body}")
        t0 = time.monotonic()
        t1 = until(lambda: validate(b, org, dev) == "DEVICE_REVOKED", f"B denies {dev}")
        out.append((t1 - t0) * 1000)
    out.sort()
    print(f"n={len(out)} p50 {pct(out, 50):.2f} p90 {pct(out, 90):.2f} "
          f"p99 {pct(out, 99):.2f} max {out[-1]:.2f} ms")


def revokes(a_port, admin, prefix, n, path):
    a = Midd(int(a_port))
    with open(path, "a") as f:
        for i in range(int(n)):
            dev = f"{prefix}-{i}"
            try:
                status, body = a.call("/api/v1/devices/revoke", admin, True, {"deviceId": dev})
            except (OSError, http.client.HTTPException):
                return
            if status != 200:
                return
            if not body.get("persisted"):
                raise RuntimeError(f"revoke {dev}: acknowledged but not persisted: {body}")
            f.write(dev + "\n")
            f.flush()


def register(port, org, prefix, n):
    m = Midd(int(port))
    for i in range(int(n)):
        status, body = m.call("/api/v1/devices/register", org, False, {"deviceId": f"{prefix}-{i}"})
        if status != 200:
            raise RuntimeError(f"register {prefix}-{i}: HTTP {status} {body}")


def seen(b_port, org, path):
    b = Midd(int(b_port))
    devs = [l.strip() for l in open(path) if l.strip()]
    for dev in devs:
        until(lambda: validate(b, org, dev) == "DEVICE_REVOKED", f"B denies {dev}")
    print(f"{len(devs)} acknowledged revokes, all denied on B")


if __name__ == "__main__":
    try:
        {"latency": latency, "revokes": revokes, "register": register, "seen": seen}[sys.argv[1]](*sys.argv[2:])
    except RuntimeError as e:
        print(f"replica_probe: {e}", file=sys.stderr)
        sys.exit(1)
