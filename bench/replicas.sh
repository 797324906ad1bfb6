#!/bin/bash
# SPDX-License-Identifier: MIT
# Two midd replicas on one throwaway PostgreSQL cluster (tests/pg.lib):
# their validates/s together (loadgen against each at once), and the
# time from a revoke answered by A to the first denial by B.
#
#   B=build bench/replicas.sh
#
# Prints two lines:
#   replicas-rate A_RATE B_RATE TOTAL
#   replicas-latency n=N p50 X p90 X p99 X max X ms
set -euo pipefail
MID_TOP=$(cd "$(dirname "$0")/.." && pwd)
export MID_TOP
. "$MID_TOP/tests/lib.sh"
. "$MID_TOP/tests/pg.lib"

CONNS=${REPLICAS_CONNS:-16}
SECS=${REPLICAS_SECS:-5}
TRIALS=${REPLICAS_TRIALS:-200}

pg_start
URL=$(pg_url bench)
"$BIN/midd" init --db "$URL" --write-keys "$T/keys" --admin-key-dir "$T/admin" >/dev/null 2>&1 ||
	fail "midd init on PostgreSQL"
declare -A PID PORT
for r in A B; do
	PORT[$r]=$(free_port)
	"$BIN/midd" --db "$URL" --listen "127.0.0.1:${PORT[$r]}" --state-dir "$T" --replica-name "$r" \
		--quiet --register-rate 0 >>"$T/midd-$r.log" 2>&1 &
	PID[$r]=$!
done
stop_replicas() {
	local r
	for r in A B; do [ -n "${PID[$r]:-}" ] && kill -TERM "${PID[$r]}" 2>/dev/null; done
	for r in A B; do [ -n "${PID[$r]:-}" ] && wait "${PID[$r]}" 2>/dev/null; done
	return 0
}
on_exit stop_replicas
for r in A B; do
	midd_ready "http://127.0.0.1:${PORT[$r]}" "${PID[$r]}" "$T/midd-$r.log"
done
python3 "$MID_TOP/tests/integration/replica_probe.py" register "${PORT[A]}" "$(cat "$T/keys/org.key")" \
	bench 1 || fail "register"
sleep 0.2
for r in A B; do
	"$BIN/bench/loadgen" "http://127.0.0.1:${PORT[$r]}" "$T/keys/org.key" bench-0 "$CONNS" "$SECS" 1 \
		>"$T/load-$r" 2>&1 &
	PID[load$r]=$!
done
wait "${PID[loadA]}" || fail "loadgen A: $(cat "$T/load-A")"
wait "${PID[loadB]}" || fail "loadgen B: $(cat "$T/load-B")"
ra=$(awk '{ sub("/s", "", $NF); print $NF }' "$T/load-A")
rb=$(awk '{ sub("/s", "", $NF); print $NF }' "$T/load-B")
echo "replicas-rate $ra $rb $(awk -v a="$ra" -v b="$rb" 'BEGIN { printf "%.0f", a + b }')"
out=$(python3 "$MID_TOP/tests/integration/replica_probe.py" latency "${PORT[A]}" "${PORT[B]}" \
	"$(cat "$T/keys/org.key")" "$(cat "$T/admin/admin.key")" "$TRIALS" lat) || fail "$out"
echo "replicas-latency $out"
