#!/bin/bash
# SPDX-License-Identifier: MIT
# Concurrency: 64 threads doing gated writes and connects while others
# fork, exec and take signals whose handlers write, with the cache
# expiring constantly (TTL 0 and TTL 1 ms). No deadlock (bounded by
# timeout), no crash, no failed operation; then a revoke in the middle of
# such a run kills it within the TTL plus a 300 ms margin.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:stress:01"
# A listener that accepts and closes at once, as fast as it can.
LPORT=$(free_port)
python3 - "$LPORT" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1024)
s.settimeout(1)
end = time.time() + 150
while time.time() < end:
    try:
        c, _ = s.accept()
        c.close()
    except socket.timeout:
        pass
PY
LPID=$!
on_exit "kill $LPID 2>/dev/null"
wait_listening 127.0.0.1 "$LPORT"
SECS=${MIDSHIM_TEST_STRESS_SECONDS:-8}

for ttl in 0 1; do
	mkdir -p "$T/s$ttl"
	t0=${EPOCHREALTIME/./}
	set +e
	MIDSHIM_TTL_MS=$ttl LD_PRELOAD=$PRELOAD timeout -k 5 $((SECS + 40)) \
		"$BIN/helpers/stress" "$T/s$ttl" "$LPORT" "$SECS" >"$T/out" 2>"$T/err"
	RC=$?
	set -e
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	[ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] || fail "TTL $ttl: hung or killed (status $RC) after $ms ms: $(tail -n 5 "$T/err")"
	[ "$RC" -eq 0 ] || fail "TTL $ttl: status $RC: $(tail -n 5 "$T/err")"
	grep -q 'midshim: denied' "$T/err" && fail "TTL $ttl: a denial while allowed: $(grep denied "$T/err" | head -3)"
	summary=$(grep '^stress:' "$T/err")
	note "TTL $ttl: $summary ($ms ms)"
	for k in writes connects forks execs signals atforks; do
		n=$(echo "$summary" | sed -E "s/.* $k ([0-9]+).*/\1/")
		[ "$n" -gt 0 ] || fail "TTL $ttl: no $k completed: $summary"
	done
done

# A revoke in the middle: a thread's next gated call after the cached
# allow goes stale kills the process, so it must die within the TTL plus a
# margin of 300 ms for the validate and the kill on a loaded machine.
TTL=100 MARGIN_MS=300
mkdir -p "$T/sr"
MIDSHIM_TTL_MS=$TTL LD_PRELOAD=$PRELOAD "$BIN/helpers/stress" "$T/sr" "$LPORT" 30 >"$T/out" 2>"$T/err" &
pid=$!
for _ in $(seq 1 100); do grep -q ready "$T/out" 2>/dev/null && break; sleep 0.05; done
sleep 1
revoke_reap "$pid" 10
ms=$REAP_MS
assert_eq 137 "$RC" "stress process killed by the revoke"
note "revoke -> death: $ms ms (limit TTL $TTL + $MARGIN_MS ms)"
[ "$ms" -le $((TTL + MARGIN_MS)) ] || fail "revoke to death took $ms ms, over TTL $TTL + $MARGIN_MS ms"
grep -Eq "code DEVICE_REVOKED, request_id $UUID_RE" "$T/err" || fail "no DEVICE_REVOKED line: $(tail -n 3 "$T/err")"
