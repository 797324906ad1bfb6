#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Revoke to halt of an idle program: push revocation's bench row.

    bench/halt_idle.py MODE REPS

MODE is "preload" (`sleep 600` under LD_PRELOAD, which holds its own push
channel after its start is validated) or "launcher" (`midshim run --
sleep 600`, whose launcher holds the channel and kills the tree). Each
repetition starts the program, waits until midd lists its channel,
revokes the device over a raw connection and times from the revoke's
reply to the program's death, seen through a pidfd; then it restores the
device and waits until midd lists no channel. The TTL is 30 s, so only
the push can stop the program within the run.

Needs BIN (build dir), MIDD_PORT, KEYS (the directory with org.key),
ADMIN_KEY_FILE and DEVICE in the environment; bench/run.sh sets them.
Prints one line a repetition ("idle MODE rep I ms X") and a summary
"idle MODE reps N median X p99 Y max Z" (ms). Exits 1 when a program
outlives its revoke by 5 s or midd refuses an action.
"""
import json
import os
import select
import socket
import subprocess
import sys
import time

MODES = ("preload", "launcher")


def usage(msg):
    sys.exit("halt_idle.py: %s\nusage: halt_idle.py preload|launcher REPS (1..500)" % msg)


def request(method, path, key_header, key, body=b""):
    """One HTTP/1.1 request to midd on its own connection; returns
    (status, body, the monotonic time the status line arrived)."""
    s = socket.create_connection(("127.0.0.1", int(os.environ["MIDD_PORT"])), timeout=5)
    try:
        head = ("%s %s HTTP/1.1\r\nHost: midd\r\n%s: %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (method, path, key_header, key, len(body)))
        s.sendall(head.encode() + body)
        data = s.recv(65536)
        at = time.monotonic()
        while True:
            more = s.recv(65536)
            if not more:
                break
            data += more
    finally:
        s.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.partition(b"\r\n\r\n")[2], at


def channels(org_key, device):
    st, body, _ = request("GET", "/api/v1/devices/list?deviceId=" + device, "x-org-key", org_key)
    if st != 200:
        sys.exit("halt_idle.py: list answered %d: %s" % (st, body[:200]))
    devs = json.loads(body).get("devices", [])
    return len(devs[0].get("processes", [])) if devs else 0


def wait_channels(org_key, device, want, what):
    end = time.monotonic() + 10
    while time.monotonic() < end:
        if (channels(org_key, device) >= 1) == (want >= 1):
            return
        time.sleep(0.01)
    sys.exit("halt_idle.py: %s: midd did not list the expected channels in 10 s" % what)


def victim(mode, env):
    """Start the program; return (Popen, the PID of the sleeping program)."""
    b = os.environ["BIN"]
    if mode == "preload":
        env = dict(env, LD_PRELOAD=b + "/libmidshim.so")
        p = subprocess.Popen(["sleep", "600"], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return p, p.pid
    p = subprocess.Popen([b + "/midshim", "run", "--lib", b + "/libmidshim.so", "--", "sleep", "600"],
                         env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                kids = f.read().split()
        except OSError:
            kids = []
        if kids:
            return p, int(kids[0])
        time.sleep(0.005)
    p.kill()
    sys.exit("halt_idle.py: midshim run started no program in 10 s")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        usage("wrong arguments")
    mode, reps = sys.argv[1], int(sys.argv[2])
    if not 1 <= reps <= 500:
        usage("REPS must be 1..500")
    keys = os.environ["KEYS"]
    with open(keys + "/org.key") as f:
        org_key = f.read().strip()
    with open(os.environ.get("ADMIN_KEY_FILE", keys + "/../admin/admin.key")) as f:
        admin_key = f.read().strip()
    device = os.environ["DEVICE"]
    body = json.dumps({"deviceId": device}).encode()
    env = dict(os.environ, MIDSHIM_URL="http://127.0.0.1:" + os.environ["MIDD_PORT"],
               MIDSHIM_ORG_KEY_FILE=keys + "/org.key", MIDSHIM_DEVICE_ID=device,
               MIDSHIM_TTL_MS="30000", MIDSHIM_PUSH="on")
    results = []
    for rep in range(1, reps + 1):
        p, pid = victim(mode, env)
        try:
            pidfd = os.pidfd_open(pid)
            wait_channels(org_key, device, 1, "rep %d, before the revoke" % rep)
            st, reply, t0 = request("POST", "/api/v1/devices/revoke", "x-admin-key", admin_key, body)
            if st != 200:
                sys.exit("halt_idle.py: revoke answered %d: %s" % (st, reply[:200]))
            r, _, _ = select.select([pidfd], [], [], 5)
            t1 = time.monotonic()
            os.close(pidfd)
            if not r:
                sys.exit("halt_idle.py: rep %d: the %s program outlived its revoke by 5 s" % (rep, mode))
        finally:
            if p.poll() is None:
                p.kill()
            p.wait()
        st, reply, _ = request("POST", "/api/v1/devices/unrevoke", "x-admin-key", admin_key, body)
        if st != 200:
            sys.exit("halt_idle.py: restore answered %d: %s" % (st, reply[:200]))
        wait_channels(org_key, device, 0, "rep %d, after the restore" % rep)
        ms = (t1 - t0) * 1000
        results.append(ms)
        print("idle %s rep %d ms %.3f" % (mode, rep, ms))
    v = sorted(results)
    n = len(v)
    median = v[(n - 1) // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    p99 = v[min(n - 1, int(0.99 * n + 0.999999) - 1)]
    print("idle %s reps %d median %.3f p99 %.3f max %.3f" % (mode, n, median, p99, v[-1]))


if __name__ == "__main__":
    main()
