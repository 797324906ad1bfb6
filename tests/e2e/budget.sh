#!/bin/bash
# SPDX-License-Identifier: MIT
# Side-effect budgets: a program that connects in a loop to a loopback
# sink under --connects 100/1m dies with BUDGET_EXCEEDED after more than
# 100 and at most 100 + one TTL's worth of connects; an idle process of
# the same device with a push channel dies with it; midctl budget show
# reports the use, writes and bytes sent from threads included; a device
# without a budget is unaffected; a validate
# without counts (any MachineID client) still works; clear lifts it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
midd_start
shim_env "test:e2e:budget:01"
DEV=$MIDSHIM_DEVICE_ID
FREE=test:e2e:budget:free
TTL=200
export MIDSHIM_TTL_MS=$TTL
MAX=20000 # the loop's own bound: a budget that never bites fails the test, not the clock
ctl() { midctl_run --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" "$@"; }

# A sink that accepts and drops connections (and counts them).
PORT=$(free_port)
"$PY" - "$PORT" "$T/sink.count" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(512)
s.settimeout(120)
n = 0
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.close()
    n += 1
    if n % 50 == 0:
        open(sys.argv[2], "w").write(str(n))
PY
on_exit "kill $! 2>/dev/null"
wait_listening 127.0.0.1 "$PORT"

# The loop: one line with the time (µs) before each connect, so the test
# can tell how many fit in one TTL, and a 2 ms pause (a read that times
# out on a FIFO nobody writes), so a TTL holds some tens of them rather
# than the whole run. No fork, no exec: one process.
mkfifo "$T/never"
# shellcheck disable=SC2016 # expanded by the gated shell
LOOP='exec 4<>'$T/never'; i=0; while [ $i -lt '$MAX' ]; do echo "$EPOCHREALTIME"; exec 3<>/dev/tcp/127.0.0.1/'$PORT'; exec 3>&-; read -r -t 0.002 -u 4; i=$((i + 1)); done'

# A webhook receiver for the budget alert: one line per post, with its
# HMAC-SHA256 signature checked against the secret alert add printed.
cat >"$T/recv.py" <<'PY'
import hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        key = open(sys.argv[2] + "/secret").read().strip().encode()
        ok = hmac.compare_digest("sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
                                 self.headers.get("X-Midd-Signature", ""))
        with open(sys.argv[2] + "/recv.log", "a") as f:
            f.write(json.dumps({"sig_ok": ok, "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
RECV_PORT=$(free_port)
"$PY" "$T/recv.py" "$RECV_PORT" "$T" &
on_exit "kill $! 2>/dev/null"
wait_listening 127.0.0.1 "$RECV_PORT"
ctl alert add "http://127.0.0.1:$RECV_PORT/hook" --events budget
[ "$RC" -eq 0 ] || fail "alert add: $ERR"
printf '%s\n' "$OUT" >"$T/secret"

# Register both devices (the shim's first start does it) before the budget.
expect_allowed "register $DEV" /bin/true
MIDSHIM_DEVICE_ID=$FREE expect_allowed "register $FREE" /bin/true

ctl budget set "$DEV" --connects 100/1m --bytes-out 10M/1h
[ "$RC" -eq 0 ] || fail "budget set: $ERR"
assert_contains "$OUT" "connects  100/1m" "budget set prints the limit"
assert_contains "$OUT" "bytesOut  10485760 bytes/1h" "budget set: SIZE with M"
ctl budget set "$DEV" --connects 100/1x
[ "$RC" -eq 2 ] || fail "a bad window is a usage error, got $RC: $ERR"
ctl budget set "$DEV"
[ "$RC" -eq 2 ] || fail "budget set without a limit is a usage error, got $RC"

# An idle process of the device with a push channel.
MIDTEST_TAG=idle.$$ MIDSHIM_PUSH=on MIDSHIM_TTL_MS=30000 LD_PRELOAD=$PRELOAD \
	sleep 60 >"$T/idle.out" 2>"$T/idle.err" &
IDLE=$!
on_exit "kill -KILL $IDLE 2>/dev/null"
push_wait "$DEV" 1

gated bash -c "$LOOP"
[ "$RC" -eq 137 ] || fail "the loop exited $RC, not 137 (SIGKILL); stderr: $(head -c 2000 "$T/err")"
assert_file_contains "$T/err" BUDGET_EXCEEDED "the loop's denial names BUDGET_EXCEEDED"
N=$(wc -l <"$T/out")
# How many connects the loop made in any one TTL (plus 100 ms for the
# validate's round trip and the scheduler): the documented lag.
PER_TTL=$("$PY" - "$T/out" $((TTL + 100)) <<'PY'
import sys
t = [float(l) for l in open(sys.argv[1]) if l.strip()]
w = float(sys.argv[2]) / 1000
best, j = 0, 0
for i in range(len(t)):
    while t[i] - t[j] > w:
        j += 1
    best = max(best, i - j + 1)
print(best)
PY
)
note "the loop started $N connects; at most $PER_TTL in one TTL"
# It died at the connect after its last line, or at the write of the
# next line: N - 1 or N connects.
[ "$((N - 1))" -gt 100 ] || fail "the loop was stopped after $((N - 1)) connects, within its budget of 100"
[ "$N" -le $((100 + PER_TTL)) ] ||
	fail "the loop made $N connects: more than 100 + one TTL's worth ($PER_TTL)"

# The idle process died by push, at once: midd audits the kill.
for _ in $(seq 1 40); do kill -0 "$IDLE" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$IDLE" 2>/dev/null || fail "the idle process of the device still lives"
# midd writes its audit rows in batches (every ~100 ms): wait for them.
for _ in $(seq 1 50); do
	ctl --json audit --device "$DEV" --limit 50
	case $OUT in *'"route":"push","decision":"kill"'*) break ;; esac
	sleep 0.1
done
assert_contains "$OUT" '"route":"budget","decision":"alert","code":"BUDGET_EXCEEDED"' "the budget alert's audit row"
assert_contains "$OUT" '"kind":"connects"' "the crossing's detail names the kind"
assert_contains "$OUT" '"route":"push","decision":"kill","code":"BUDGET_EXCEEDED"' "the push kill is audited"
# The budget alert reaches the webhook, signed, with the numbers.
for _ in $(seq 1 100); do grep -qs '"kind": "budget"' "$T/recv.log" && break; sleep 0.1; done
"$PY" - "$T/recv.log" "$DEV" <<'PY' || fail "the budget alert: $(cat "$T/recv.log" 2>/dev/null)"
import json, sys
posts = [json.loads(l) for l in open(sys.argv[1])]
b = [p for p in posts if p["body"].get("kind") == "budget" and p["body"].get("device") == sys.argv[2]]
assert b and b[0]["sig_ok"], posts
assert '"connects"' in json.dumps(b[0]["body"]), b[0]
PY
note "ok: the loop and the idle process stopped, audited"

ctl budget show "$DEV"
[ "$RC" -eq 0 ] || fail "budget show: $ERR"
USED=$(sed -n 's/^connects *\([0-9]*\) of 100\/1m  EXCEEDED$/\1/p' <<<"$OUT")
[ -n "$USED" ] && [ "$USED" -gt 100 ] || fail "budget show: no use over 100: $OUT"
[ "$USED" -ge "$((N - 1))" ] && [ "$USED" -le "$N" ] ||
	fail "midd counted $USED connects; the loop made $((N - 1)) or $N"
assert_contains "$OUT" "bytesOut  0 of 10485760 bytes/1h" "budget show: the bytes"
note "ok: budget show: $USED of 100 connects"

# Within the window the device stays denied, with or without counts.
R=$(api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$DEV\"}")
assert_contains "$R" '"code":"BUDGET_EXCEEDED"' "a plain validate of the device over budget"
gated /bin/true
[ "$RC" -ne 0 ] || fail "a new start of the device over budget ran"
assert_file_contains "$T/err" BUDGET_EXCEEDED "a new start is denied with BUDGET_EXCEEDED"

# A device without a budget: the same loop, shorter, runs to its end.
MIDSHIM_DEVICE_ID=$FREE expect_allowed "no budget" bash -c "${LOOP/$MAX/150}"
assert_eq 150 "$(wc -l <"$T/out")" "the device without a budget made every connect"
ctl budget show "$FREE"
assert_eq "no budget" "$OUT" "budget show of a device without one"

# Threads count each in their own TLS; what an ended thread had not sent
# is kept for the next validate: 4 threads x 25 connects, joined, then a
# write after the TTL carries them.
ctl budget set "$FREE" --connects 1000/1h
MIDSHIM_DEVICE_ID=$FREE expect_allowed "threads" "$PY" -c '
import os, socket, sys, threading, time
def run():
    for _ in range(25):
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5).close()
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
time.sleep(float(sys.argv[2]) / 1000 + 0.1)
print("done", flush=True)' "$PORT" "$TTL"
ctl budget show "$FREE"
assert_eq "connects  100 of 1000/1h" "$OUT" "the connects of ended threads"

# Writes and bytes sent are counted on the hot path, in each thread's
# TLS reached from offsets the first count learns: 4 threads x 25 writes
# to a file and 25 sends of 10 bytes on a socket pair, joined, then a
# write after the TTL carries them. Nothing else in the program writes
# before that validate.
ctl budget set "$FREE" --writes 1000/1h --bytes-out 1M/1h
MIDSHIM_DEVICE_ID=$FREE expect_allowed "threads that write" "$PY" -c '
import os, socket, sys, threading, time
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
a, b = socket.socketpair()
def run():
    for _ in range(25):
        os.write(fd, b"x")
        a.send(b"0123456789")
ts = [threading.Thread(target=run) for _ in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
time.sleep(float(sys.argv[1]) / 1000 + 0.1)
print("done", flush=True)' "$TTL" "$T/written"
assert_eq 100 "$(wc -c <"$T/written")" "the threads wrote"
ctl budget show "$FREE"
assert_contains "$OUT" "writes    100 of 1000/1h" "the writes of ended threads"
assert_contains "$OUT" "bytesOut  1000 of 1048576 bytes/1h" "the bytes they sent"

# An old-style validate: no counts, no mode, no binding.
R=$(api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$FREE\"}")
assert_contains "$R" '200 {"allowed":true,"code":"ALLOW"' "a validate without counts"
R=$(api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$FREE\",\"counts\":{\"connects\":-1}}")
assert_contains "$R" "400 " "negative counts are refused"
R=$(api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$FREE\",\"counts\":{\"connects\":5}}")
assert_contains "$R" '"allowed":true' "counts for a device without a budget"
note "ok: no budget, old-style validate"

# Clear: the device is allowed again; the budget is gone after a restart too.
ctl budget clear "$DEV"
[ "$RC" -eq 0 ] || fail "budget clear: $ERR"
expect_allowed "after clear" /bin/true
ctl budget set "$DEV" --writes 5/1s
midd_stop
midd_start
ctl --json budget show "$DEV"
assert_contains "$OUT" '"budget":{"writes":{"limit":5,"windowMs":1000,"used":0}}' "the budget survives a restart"
kill -KILL "$IDLE" 2>/dev/null || true
keepers_stop
midd_stop
