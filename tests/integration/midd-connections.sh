#!/bin/bash
# SPDX-License-Identifier: MIT
# midd under many connections. With a soft RLIMIT_NOFILE of 1024, midd
# raises its own limit and holds 1,100 idle kept-alive connections while a
# fresh client still validates. With a small --max-connections it closes
# the idle connection of the largest peer that was answered last (the one
# due last, for programs that ask every few seconds) instead of refusing
# new ones, and a gated process whose connection was closed re-opens it
# by itself. One peer never holds more than --peer-connections, and a peer
# (a uid, on loopback) over its share never costs another uid its
# connections. A connection that trickles a request head is closed at
# --head-timeout-ms however often a byte arrives.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

LOAD=$BIN/helpers/connload
DEV=conn:test:a:01
ulimit -Sn 1024

# hold N SECONDS [connload prefix...]: connload idle in the background,
# its output in $T/hold.N.out; waits until all N answered. Sets HOLD_PID.
hold() {
	local n=$1 secs=$2
	shift 2
	"$@" "$LOAD" idle "127.0.0.1:$MIDD_PORT" "$T/keys/org.key" "$DEV" "$n" "$secs" \
		>"$T/hold.$n.out" 2>&1 &
	HOLD_PID=$!
	for _ in $(seq 1 300); do
		grep -q '^ready' "$T/hold.$n.out" && return 0
		kill -0 "$HOLD_PID" 2>/dev/null || fail "connload idle $n: $(cat "$T/hold.$n.out")"
		sleep 0.05
	done
	fail "connload idle $n never got all its answers: $(cat "$T/hold.$n.out")"
}

# held N: wait for the hold of N to end; sets HELD, CLOSED and FIRST (the
# number, from 1 in the order they opened, of the first connection midd
# closed; 0 for none).
held() {
	wait "$HOLD_PID" || fail "connload idle $1 failed: $(cat "$T/hold.$1.out")"
	read -r _ _ HELD _ CLOSED _ FIRST < <(grep '^idle held' "$T/hold.$1.out")
	note "idle $1: held $HELD, closed by midd $CLOSED, the first closed $FIRST"
}

fresh_validate() { # what
	local t0=${EPOCHREALTIME/./}
	expect_code "$DEV" ALLOW
	note "$1: fresh validate in $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
}

midd_start
register "$DEV"
assert_file_contains "$T/midd.log" "raised RLIMIT_NOFILE from 1024" "midd raises its own soft limit"

note "1,100 idle kept-alive connections, then a fresh client"
hold 1100 3
fds=$(find "/proc/$MIDD_PID/fd" -mindepth 1 | wc -l)
[ "$fds" -gt 1100 ] || fail "midd holds $fds descriptors, not the 1,100 connections"
fresh_validate "beside 1,100 idle connections"
held 1100
assert_eq 0 "$CLOSED" "none of the 1,100 idle connections was closed"
midd_stop

note "at --max-connections 64: the connection answered last makes room"
midd_start --max-connections 64
shim_env "$DEV"
# 100 connections of one peer, each answered before the next opens: past
# the share (56) each new one closes one answered just before it, so the
# first ones stay.
hold 100 3
GO=$T/go
mkfifo "$GO"
MIDSHIM_TTL_MS=0 LD_PRELOAD=$PRELOAD bash -c 'echo a >"$1/a"; read -r x <"$2"; echo b >"$1/b"' \
	_ "$T" "$GO" >"$T/out" 2>"$T/err" &
GATED=$!
for _ in $(seq 1 200); do
	[ -s "$T/a" ] && break
	sleep 0.05
done
[ -s "$T/a" ] || fail "gated program did not write its first file: $(cat "$T/err")"
# The gated process was answered last; the fresh client's connection
# closes its kept-alive one, so the process holds no established
# connection to midd.
fresh_validate "at the limit"
ss -tnpH state established "( dport = :$MIDD_PORT )" >"$T/ss" 2>&1
! grep -q "pid=$GATED," "$T/ss" ||
	fail "the gated process's connection, answered last, was not the one closed: $(cat "$T/ss")"
held 100
[ "$HELD" -le 64 ] || fail "midd kept $HELD connections open over --max-connections 64"
[ "$CLOSED" -ge 36 ] || fail "midd closed only $CLOSED of 100 idle connections at a limit of 64"
# The first ones, idle longest, were kept. Not exactly the first 55: a
# connection counts as idle once midd has finished its answer, which may
# come after connload has read it and opened the next one, so a few
# before the last may already be taken (49 was seen); the old order
# closed the first one.
[ "$FIRST" -ge 20 ] ||
	fail "midd closed connection $FIRST of 100 first; those answered last should go"
# Closed by a reset, not left in TIME-WAIT on midd's side: there, a
# client's next connection from the same port would be answered with an
# ACK and would have to try again a second later (under churn, past the
# shim's deadline).
tw=$(ss -tnH state time-wait "( sport = :$MIDD_PORT )" | wc -l)
assert_eq 0 "$tw" "connections midd closed left in TIME-WAIT at its end"
echo go >"$GO"
set +e
wait "$GATED"
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "the gated process did not re-open its connection: exit $rc; $(cat "$T/err")"
assert_eq b "$(cat "$T/b")" "second write after the re-open"
grep -q "connections live=.* evicted=[1-9]" "$T/midd.log" || fail "no eviction logged"
midd_stop

note "--peer-connections 32: one peer keeps 32, another uid keeps its own"
midd_start --peer-connections 32
hold 100 1
fresh_validate "beside a peer at its share"
held 100
[ "$HELD" -le 32 ] || fail "one peer kept $HELD connections over --peer-connections 32"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$T" "$T/keys"
	chmod 644 "$T/keys/org.key"
	hold 20 3
	ROOT_HOLD=$HOLD_PID
	hold 100 1 setpriv --reuid=65534 --regid=65534 --clear-groups
	held 100
	[ "$HELD" -le 32 ] || fail "uid 65534 kept $HELD connections over its share of 32"
	HOLD_PID=$ROOT_HOLD
	held 20
	assert_eq 0 "$CLOSED" "root's connections while uid 65534 flooded"
else
	note "not root: the second uid's part is left out"
fi
midd_stop

note "--peer-connections 32: connections that close by themselves give their place back"
# One connection held throughout keeps the peer's record alive; 200
# connections then open and close one after another, never more than two
# at once. Each close must give back its place in the peer's share: none
# may be closed by midd, refused, or cost the held one.
midd_start --peer-connections 32
hold 1 6
KEEP=$HOLD_PID
"$PY" - "$MIDD_PORT" "$(cat "$T/keys/org.key")" "$DEV" <<'PY' || fail "sequential connections failed"
import http.client, json, sys
port, key, dev = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(200):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("POST", "/api/v1/devices/validate", json.dumps({"deviceId": dev}),
              {"x-org-key": key, "content-type": "application/json", "connection": "close"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or not json.loads(body).get("allowed"):
        sys.exit("connection %d: %d %s" % (i, r.status, body[:200]))
    c.close()
PY
metrics=$(curl -fsS "$MIDSHIM_URL/metrics")
assert_contains "$metrics" 'midd_connections_closed_total{reason="evicted"} 0' "no eviction after 200 closed connections"
assert_contains "$metrics" 'midd_connections_closed_total{reason="refused"} 0' "no refusal after 200 closed connections"
HOLD_PID=$KEEP
held 1
assert_eq 0 "$CLOSED" "the held connection after 200 others came and went"
midd_stop

note "--head-timeout-ms 1000: a trickled head is cut at its deadline"
midd_start --head-timeout-ms 1000
"$LOAD" trickle "127.0.0.1:$MIDD_PORT" 50 3 100 >"$T/trickle.out" ||
	fail "connload trickle: $(cat "$T/trickle.out")"
read -r _ _ _ _ _ _ closed _ life < <(grep '^trickle conns' "$T/trickle.out")
note "trickle: $(grep '^trickle conns' "$T/trickle.out")"
# Each of the 50 lived past one deadline in 3 s; none outlived it by
# more than the 100 ms sweep plus a 1 s margin for a loaded machine.
[ "$closed" -ge 50 ] || fail "only $closed trickling connections were cut in 3 s"
[ "$life" -le 2100 ] || fail "a trickling connection lived $life ms past a 1000 ms head deadline"
fresh_validate "after the trickle"
# Counted under their own reason, apart from the idle deadline.
metrics=$(curl -sS --max-time 10 "http://127.0.0.1:$MIDD_PORT/metrics")
n=$(sed -n 's/^midd_connections_closed_total{reason="head_timeout"} //p' <<<"$metrics")
[ "${n:-0}" -ge 50 ] || fail "head_timeout closes counted: '${n:-}', not 50 or more"
assert_contains "$metrics" 'midd_connections_closed_total{reason="idle_timeout"} 0' \
	"no idle-deadline close in a 3 s run"
midd_alive
