#!/bin/bash
# SPDX-License-Identifier: MIT
# Load: two clients validate as fast as they can over kept-alive
# connections for MIDSHIM_TEST_LOAD_SECONDS (default 10; 60 for a long
# run) while an operator revokes and restores devices. Every answer is a
# well-formed decision, and the decisions agree with the revokes in time:
# a validate that started after a revoke's reply (and before the next
# restore was sent) is denied; one that started after a restore's reply
# is allowed. Only a validate that overlaps a change may see either state.
# Finally midd's validate counts equal the number of calls made.
# The whole test runs in one python3 process so that every time stamp
# comes from the same monotonic clock.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

SECS=${MIDSHIM_TEST_LOAD_SECONDS:-10}
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 600 ] ||
	fail "MIDSHIM_TEST_LOAD_SECONDS=$SECS: use 1..600"
SEED=${MIDSHIM_TEST_SEED:-$$}
midd_start
DEVS=(load:test:a:01 load:test:b:01 load:test:c:01 load:test:d:01)
for d in "${DEVS[@]}"; do
	register "$d"
done
note "2 clients x $SECS s, seed $SEED"
export MIDD_PORT SECS SEED
set +e
timeout -k 5 $((SECS + 60)) "$PY" - "${DEVS[@]}" <<'PY'
import http.client, json, os, random, re, sys, threading, time
from bisect import bisect_left

PORT = int(os.environ["MIDD_PORT"])
ORG, ADMIN = os.environ["ORG_KEY"], os.environ["ADMIN_KEY"]
SECS, SEED = int(os.environ["SECS"]), int(os.environ["SEED"])
DEVS = sys.argv[1:]
CLIENTS = 2
MAX_CALLS = 5_000_000          # per client, a bound besides the time
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
now = time.monotonic_ns
stop_at = now() + SECS * 10**9
errors = []
lock = threading.Lock()
connects = [0]


def error(msg):
    with lock:
        if len(errors) < 20:
            errors.append(msg)


class Conn(http.client.HTTPConnection):
    def connect(self):
        with lock:
            connects[0] += 1
        super().connect()


def post(c, path, hdr, key, dev):
    body = json.dumps({"deviceId": dev})
    c.request("POST", path, body, {hdr: key, "content-type": "application/json"})
    r = c.getresponse()
    data = r.read(65536)
    return r.status, data


def decision(status, data):
    """The answer as (allowed, code), or raise with what is wrong."""
    if status != 200:
        raise ValueError("HTTP %d: %r" % (status, data[:200]))
    d = json.loads(data)
    if not isinstance(d, dict) or not isinstance(d.get("allowed"), bool):
        raise ValueError("no boolean allowed: %r" % data[:200])
    code = d.get("code")
    if code not in ("ALLOW", "DEVICE_REVOKED"):
        raise ValueError("unexpected code: %r" % data[:200])
    if d["allowed"] != (code == "ALLOW"):
        raise ValueError("allowed disagrees with code: %r" % data[:200])
    if not UUID.match(str(d.get("request_id"))):
        raise ValueError("request_id is not a UUID v4: %r" % data[:200])
    return d["allowed"], code


results = [[] for _ in range(CLIENTS)]   # (device, start, end, allowed)


def client(idx):
    rnd = random.Random(SEED * 31 + idx)
    c = Conn("127.0.0.1", PORT, timeout=5)
    out = results[idx]
    try:
        while len(out) < MAX_CALLS and not errors:
            dev = rnd.choice(DEVS)
            t0 = now()
            if t0 >= stop_at:
                break
            try:
                allowed, _ = decision(*post(c, "/api/v1/devices/validate", "x-org-key", ORG, dev))
            except Exception as e:
                error("client %d, call %d (%s): %r" % (idx, len(out) + 1, dev, e))
                break
            out.append((dev, t0, now(), allowed))
    finally:
        c.close()


# changes[dev]: (sent, replied, state) in order; the first entry is the
# registered state, known since before the clients started.
changes = {d: [(0, 0, "active")] for d in DEVS}


def operator():
    rnd = random.Random(SEED)
    c = Conn("127.0.0.1", PORT, timeout=5)
    state = {d: "active" for d in DEVS}
    try:
        while now() < stop_at - 100 * 10**6 and not errors:
            dev = rnd.choice(DEVS)
            want = "revoked" if state[dev] == "active" else "active"
            path = "/api/v1/devices/" + ("revoke" if want == "revoked" else "unrevoke")
            t0 = now()
            try:
                status, data = post(c, path, "x-admin-key", ADMIN, dev)
                t1 = now()
                if status != 200 or json.loads(data).get("state") != want:
                    raise ValueError("HTTP %d: %r" % (status, data[:200]))
            except Exception as e:
                error("operator %s %s: %r" % (path, dev, e))
                break
            changes[dev].append((t0, t1, want))
            state[dev] = want
            time.sleep(rnd.uniform(0.01, 0.15))
    finally:
        c.close()


threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
threads.append(threading.Thread(target=operator))
t_start = now()
for t in threads:
    t.start()
for t in threads:
    t.join(SECS + 30)
    if t.is_alive():
        error("a thread did not finish within %d s" % (SECS + 30))
wall = (now() - t_start) / 1e9
if errors:
    print("FAIL: error replies:\n  " + "\n  ".join(errors), file=sys.stderr)
    sys.exit(1)

# Check every decision against the operator's changes of its device.
replied = {d: [ch[1] for ch in changes[d]] for d in DEVS}
checked_revoked = checked_active = racing = 0
bad = []
for out in results:
    for dev, s, e, allowed in out:
        ch = changes[dev]
        # The last change replied before the validate started is in
        # force; a change that overlaps the validate may also be seen.
        k = bisect_left(replied[dev], s) - 1
        possible = {ch[k][2]}
        for sent, rep, st in ch[k + 1:]:
            if sent >= e:
                break
            possible.add(st)
        if len(possible) > 1:
            racing += 1
        elif "revoked" in possible:
            checked_revoked += 1
        else:
            checked_active += 1
        if ("active" if allowed else "revoked") not in possible and len(bad) < 10:
            since = "registration" if k == 0 else "reply to its %s" % ch[k][2]
            bad.append("%s validate started %.3f ms after the %s, overlapped no change, "
                       "and answered allowed=%s" % (dev, (s - ch[k][1]) / 1e6, since, allowed))
if bad:
    print("FAIL: decisions disagree with the revokes:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)

calls = sum(len(o) for o in results)
nchanges = sum(len(c) - 1 for c in changes.values())
lat = sorted((e - s) / 1e6 for o in results for _, s, e, _ in o)
if calls == 0 or nchanges < 4 or checked_revoked == 0 or checked_active == 0:
    print("FAIL: too little happened to check: %d calls, %d changes, %d while revoked, %d while active"
          % (calls, nchanges, checked_revoked, checked_active), file=sys.stderr)
    sys.exit(1)

# midd counted every validate exactly once.
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
c.request("GET", "/api/v1/devices/list", headers={"x-org-key": ORG})
listed = json.loads(c.getresponse().read(1 << 20))["devices"]
c.close()
counted = sum(d["validates"] for d in listed if d["deviceId"] in DEVS)
if counted != calls:
    print("FAIL: midd counted %d validates, the clients made %d" % (counted, calls), file=sys.stderr)
    sys.exit(1)

pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("# %d validates in %.1f s (%.0f/s) on %d connections; %s" % (
    calls, wall, calls / wall, connects[0],
    ", ".join("client %d: %d" % (i, len(o)) for i, o in enumerate(results))))
print("# latency ms: p50 %.3f, p99 %.3f, max %.3f" % (pct(0.5), pct(0.99), lat[-1]))
print("# %d revokes/restores; decisions checked: %d while revoked (all denied), "
      "%d while active (all allowed), %d racing a change (either)" % (
          nchanges, checked_revoked, checked_active, racing))
PY
RC=$?
set -e
[ "$RC" -eq 0 ] || fail "load run failed (status $RC)"
midd_alive
