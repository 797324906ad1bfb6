#!/bin/bash
# SPDX-License-Identifier: MIT
# Two midd replicas on one PostgreSQL database:
#  - a revoke on A denies on B within 50 ms (100 trials a round; the p99
#    of the best of three rounds, as the machine may be loaded; every
#    round's distribution is printed);
#  - kill -9 of A in the middle of revokes: every revoke A acknowledged
#    is denied on B;
#  - PostgreSQL stopped: B answers from memory, then after --max-stale
#    denies with MIDD_STALE (register and changes toward allow 503), and
#    allows again once PostgreSQL is back;
#  - PostgreSQL stopped: a revoke on A answers 200 not persisted, denies
#    on A and kills A's gated process at once; it survives a restart of
#    A while PostgreSQL is still down (A waits for the database, its deny
#    journal replayed), and once PostgreSQL is back it is in PostgreSQL
#    and B denies too;
#  - a gated program with MIDSHIM_URL naming A then B keeps running,
#    with no denial, when A is killed; its denial line names B.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"
. "$TOP/tests/pg.lib"
. "$TOP/tests/e2e/push.lib"
need jq jq

PROBE=$TOP/tests/integration/replica_probe.py
MAX_STALE=2
# The follower asks for a sign of life after 500 ms of silence and waits
# 500 ms for it (server/store_pg.c, PING_MS): the loss is noticed at most
# 1 s after the last word, so MIDD_STALE starts between MAX_STALE - 1 s
# and MAX_STALE after the stop; 3 s of margin for a loaded machine.
STALE_SLACK_MS=1000
MARGIN_MS=3000

T0=${EPOCHREALTIME/./}
pg_start
note "PostgreSQL up in $(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms"
URL=$(pg_url replicas)
"${OURS[@]}" "$BIN/midd" init --db "$URL" --write-keys "$T/keys" --admin-key-dir "$T/admin" \
	>"$T/init.out" || fail "midd init on PostgreSQL"
ORG_KEY=$(cat "$T/keys/org.key")
ADMIN_KEY=$(cat "$T/admin/admin.key")
export ORG_KEY ADMIN_KEY

declare -A PID PORT
# replica NAME [options]: start replica NAME and wait for its /healthz.
replica() {
	local name=$1
	shift
	PORT[$name]=${PORT[$name]:-$(free_port)}
	"${OURS[@]}" "$BIN/midd" --db "$URL" --listen "127.0.0.1:${PORT[$name]}" --state-dir "$T" \
		--replica-name "$name" --register-rate 0 "$@" >>"$T/midd-$name.log" 2>&1 &
	PID[$name]=$!
	midd_ready "http://127.0.0.1:${PORT[$name]}" "${PID[$name]}" "$T/midd-$name.log"
}
# stop NAME: SIGTERM; it must exit 0 within 10 s.
stop() {
	local pid=${PID[$1]} rc=0
	kill -TERM "$pid"
	for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && fail "replica $1 did not stop within 10 s"
	wait "$pid" || rc=$?
	assert_eq 0 "$rc" "replica $1 exit status at SIGTERM"
	PID[$1]=
}
stop_all() {
	local n
	for n in "${!PID[@]}"; do
		[ -n "${PID[$n]}" ] && kill -KILL "${PID[$n]}" 2>/dev/null
	done
	# Their push keepers, by the PIDs the logs name.
	cat "$T"/midd-*.log >>"$T/midd.log" 2>/dev/null
	return 0
}
on_exit stop_all
at() { MIDSHIM_URL=http://127.0.0.1:${PORT[$1]}; }

replica A
replica B --max-stale "$MAX_STALE"

at B
req GET /healthz ""
assert_eq postgresql "$(jf backend)" "healthz backend"
assert_eq B "$(jf replica)" "healthz replica name"
assert_eq false "$(jf stale)" "healthz stale"

note "revoke on A, deny on B ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)"
ok=
for round in 1 2 3; do
	out=$(python3 "$PROBE" latency "${PORT[A]}" "${PORT[B]}" "$ORG_KEY" "$ADMIN_KEY" 100 "lat$round") ||
		fail "round $round: $out"
	note "round $round: revoke on A -> deny on B: $out"
	p99=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' <<<"$out")
	if awk -v p="$p99" 'BEGIN { exit !(p <= 50) }'; then ok=1; break; fi
done
# A sanitizer build is several times slower than the one the bound is
# for: there every trial must still deny within the probe's 2 s.
[ -n "$ok" ] || [ -n "${MIDSHIM_TEST_SANITIZER:-}" ] ||
	fail "revoke on A -> deny on B: p99 over 50 ms in all three rounds"

note "kill -9 of A in the middle of revokes ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)"
python3 "$PROBE" register "${PORT[B]}" "$ORG_KEY" kill 300 || fail "register on B"
at A
expect_code kill-299 ALLOW
: >"$T/acked"
python3 "$PROBE" revokes "${PORT[A]}" "$ADMIN_KEY" kill 300 "$T/acked" &
probe=$!
# Kill once a few revokes are in, while more are in flight.
for _ in $(seq 1 200); do
	[ "$(wc -l <"$T/acked")" -ge 20 ] && break
	sleep 0.01
done
kill -KILL "${PID[A]}"
wait "${PID[A]}" 2>/dev/null || true
PID[A]=
wait "$probe" || fail "the revoke loop failed"
n=$(wc -l <"$T/acked")
[ "$n" -ge 20 ] && [ "$n" -lt 300 ] || fail "kill -9 did not land in the middle: $n of 300 revokes acknowledged"
out=$(python3 "$PROBE" seen "${PORT[B]}" "$ORG_KEY" "$T/acked") || fail "$out"
note "$out (A killed after $n)"
# Long enough that A's validates during the outage below show the revoke
# itself, not MIDD_STALE.
replica A --max-stale 120

# A gated process on A, with a push channel, to be killed by a revoke
# made while PostgreSQL is down.
at A
OUT_DEV=outage:test:01
register "$OUT_DEV"
MIDTEST_TAG=outage.$$ MIDSHIM_URL=$MIDSHIM_URL MIDSHIM_DEVICE_ID=$OUT_DEV MIDSHIM_ORG_KEY_FILE=$T/keys/org.key \
	MIDSHIM_PUSH=on MIDSHIM_TTL_MS=30000 LD_PRELOAD=$PRELOAD sleep 600 \
	>>"$T/out" 2>>"$T/outage.err" &
on_exit "kill -KILL $! 2>/dev/null"
push_wait "$OUT_DEV" 1

note "PostgreSQL stopped: B answers from memory, then MIDD_STALE ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)"
at B
expect_code lat1-0 DEVICE_REVOKED
register stale-dev
expect_code stale-dev ALLOW
register alive-dev
t0=${EPOCHREALTIME/./}
kill -INT "$PG_PID"
expect_code stale-dev ALLOW
first_ms=
while :; do
	validate stale-dev
	el=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	if [ "$VCODE" = MIDD_STALE ]; then first_ms=$el; break; fi
	assert_eq ALLOW "$VCODE" "B before --max-stale"
	[ "$el" -le $((MAX_STALE * 1000 + MARGIN_MS)) ] || fail "no MIDD_STALE ${el} ms after the stop"
	sleep 0.05
done
note "MIDD_STALE after $first_ms ms (--max-stale ${MAX_STALE}s)"
[ "$first_ms" -ge $((MAX_STALE * 1000 - STALE_SLACK_MS)) ] ||
	fail "MIDD_STALE after $first_ms ms, before --max-stale ${MAX_STALE}s less ${STALE_SLACK_MS} ms"
assert_eq false "$(jf allowed)" "a stale validate is a denial"
expect_code lat1-0 MIDD_STALE
req POST /api/v1/devices/register "$ORG_KEY" '{"deviceId":"new-while-down"}'
expect_status 503 "register while the database is down"
admin unrevoke lat1-0
expect_status 503 "restore while the database is down"
req POST /api/v1/org/enable "$ADMIN_KEY" ""
expect_status 503 "org enable while the database is down"
req GET /healthz ""
assert_eq true "$(jf stale)" "healthz stale while down"
assert_eq unreachable "$(jf database)" "healthz database while down"

note "PostgreSQL down: revoke on A ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)"
at A
for _ in $(seq 1 100); do
	req GET /healthz ""
	[ "$(jf database)" = unreachable ] && break
	sleep 0.05
done
assert_eq unreachable "$(jf database)" "A's healthz database while down"
expect_code "$OUT_DEV" ALLOW
pids=$(tag_pids "outage.$$" | xargs)
[ -n "$pids" ] || fail "the gated process on A is gone before the revoke"
admin revoke "$OUT_DEV"
expect_status 200 "revoke on A while the database is down"
assert_eq revoked "$(jf state)" "revoke reply state"
assert_eq false "$(jf persisted)" "revoke reply persisted"
assert_eq true "$(jf journaled)" "revoke reply journaled"
expect_code "$OUT_DEV" DEVICE_REVOKED
for _ in $(seq 1 100); do
	[ -z "$(tag_pids "outage.$$")" ] && break
	sleep 0.05
done
[ -z "$(tag_pids "outage.$$")" ] || fail "the gated process on A ($pids) outlived the revoke by 5 s"
note "A's gated process ($pids) killed by the revoke"
admin unrevoke "$OUT_DEV"
expect_status 503 "restore on A while a revoke waits for the database"
req GET /healthz ""
assert_eq 1 "$(jf pending_persistence)" "A's healthz pending while down"
# B: a revoke goes through there too, with the same mark.
at B
admin revoke stale-dev
expect_status 200 "revoke on B while the database is down"
assert_eq false "$(jf persisted)" "B's revoke reply persisted"

note "PostgreSQL down: A restarted, waits for the database ($(( (${EPOCHREALTIME/./} - T0) / 1000 )) ms in)"
stop A
: >"$T/midd-A.log"
"${OURS[@]}" "$BIN/midd" --db "$URL" --listen "127.0.0.1:${PORT[A]}" --state-dir "$T" \
	--replica-name A --register-rate 0 >>"$T/midd-A.log" 2>&1 &
PID[A]=$!
for _ in $(seq 1 200); do
	grep -q 'waiting for the database' "$T/midd-A.log" && break
	kill -0 "${PID[A]}" 2>/dev/null || fail "A exited with PostgreSQL down: $(tail -n 5 "$T/midd-A.log")"
	sleep 0.05
done
assert_file_contains "$T/midd-A.log" "the deny journal $T/midd-A-pending keeps 1 change(s)" \
	"A's log while it waits"
sleep 1
kill -0 "${PID[A]}" 2>/dev/null || fail "A gave up waiting: $(tail -n 5 "$T/midd-A.log")"

pg_down
pg_up
t0=${EPOCHREALTIME/./}
rc=0
midd_wait_ready "http://127.0.0.1:${PORT[A]}" "${PID[A]}" || rc=$?
[ "$rc" -ne 1 ] || fail "A exited: $(tail -n 5 "$T/midd-A.log")"
note "A serves $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms after PostgreSQL is back"
assert_file_contains "$T/midd-A.log" "deny journal: replayed revoke" "A replays its journal"
at A
expect_code "$OUT_DEV" DEVICE_REVOKED
req GET /healthz ""
assert_eq 0 "$(jf pending_persistence)" "A's healthz pending once the database is back"
assert_eq 0 "$(jf journal_used)" "A's journal slots in use once the database is back"
st=$(_pg psql -h "$PG_DIR" -U midd -d replicas -Atc \
	"SELECT state FROM devices WHERE device_id = '$OUT_DEV'") || fail "psql"
assert_eq revoked "$st" "the revoke made on A while down, in PostgreSQL"
# Its audit rows: the moment it took effect, and the one it was stored.
st=$(_pg psql -h "$PG_DIR" -U midd -d replicas -Atc \
	"SELECT string_agg(code, ' ' ORDER BY id) FROM audit WHERE device_id = '$OUT_DEV'
	 AND route = 'revoke'") || fail "psql"
assert_eq "PERSIST_PENDING PERSISTED" "$st" "audit rows of the revoke made on A while down"
at B
t1=${EPOCHREALTIME/./}
while :; do
	validate "$OUT_DEV"
	[ "$VCODE" = DEVICE_REVOKED ] && break
	el=$(( (${EPOCHREALTIME/./} - t1) / 1000 ))
	[ "$el" -le 10000 ] || fail "B answers $VCODE for $OUT_DEV ${el} ms after PostgreSQL is back"
	sleep 0.05
done
note "B denies A's outage revoke $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms after PostgreSQL is back"
at B
while :; do
	validate alive-dev
	[ "$VCODE" = ALLOW ] && break
	el=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	[ "$el" -le 10000 ] || fail "B still answers $VCODE ${el} ms after PostgreSQL is back"
	sleep 0.05
done
note "B allows again $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms after PostgreSQL is back"
# B's own revoke of the outage: in force there, then committed, so A
# learns it.
expect_code stale-dev DEVICE_REVOKED
expect_code lat1-0 DEVICE_REVOKED
at A
t1=${EPOCHREALTIME/./}
while :; do
	validate stale-dev
	[ "$VCODE" = DEVICE_REVOKED ] && break
	el=$(( (${EPOCHREALTIME/./} - t1) / 1000 ))
	[ "$el" -le 10000 ] || fail "A answers $VCODE for stale-dev ${el} ms after B is back"
	sleep 0.05
done

note "a shim with two URLs: A killed, the program goes on on B"
shim_env failover:test:01
export MIDSHIM_URL="http://127.0.0.1:${PORT[A]},http://127.0.0.1:${PORT[B]}"
export MIDSHIM_TTL_MS=50
# Each exec of true asks the gate; with a 50 ms TTL that is a validate
# every few iterations, over about 3 s.
LD_PRELOAD=$PRELOAD bash -c 'for i in $(seq 1 150); do true || exit 3; /bin/true || exit 4; sleep 0.02; done' \
	>"$T/out" 2>"$T/err" </dev/null &
prog=$!
sleep 1
kill -0 "$prog" 2>/dev/null || fail "the gated program ended before A was killed: $(cat "$T/err")"
kill -KILL "${PID[A]}"
wait "${PID[A]}" 2>/dev/null || true
PID[A]=
set +e
wait "$prog"
RC=$?
set -e
assert_eq 0 "$RC" "the gated program's status (stderr: $(head -c 2000 "$T/err"))"
grep -q 'midshim: denied' "$T/err" && fail "a denial while failing over: $(cat "$T/err")"
at B
device_revoke failover:test:01
# A first, as configured: refused, then B decides.
export MIDSHIM_URL="http://127.0.0.1:${PORT[A]},http://127.0.0.1:${PORT[B]}"
gated /bin/true
assert_ne 0 "$RC" "a revoked device's program"
assert_file_contains "$T/err" "code DEVICE_REVOKED" "denial line"
assert_file_contains "$T/err" "midd http://127.0.0.1:${PORT[B]})" "the denial line names the replica that decided"
unset MIDSHIM_URL

stop B
