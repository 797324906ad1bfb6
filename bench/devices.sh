#!/bin/bash
# SPDX-License-Identifier: MIT
# Many registered devices: for each LEVEL, a database holding that many
# devices (written with sqlite3 before midd starts, as midd writes a
# registered device), then measured: midd's start (its own figures from
# its start line: wall time from main to serving, and the CPU time spent,
# which a busy machine does not inflate), its RSS per device against a
# midd with none, validate
# latency (`bench/validate`, the shim's own client, 5,000 calls, beside a
# run on the empty database), and the time `midctl list --json` takes to
# read every page.
#
#   BIN=$PWD/build bench/devices.sh [LEVEL...]     (default 10000 100000 1000000)
#
# Prints one row per level in the form of bench/results.md on stdout, a
# line per level on stderr; raw figures go to $BIN/bench-logs/devices.*.
set -Eeuo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
msg_prefix devices
[ -d "${BIN:-}" ] || die "set BIN to the build directory (absolute)"
BB=$BIN/bench
LOG=$BIN/bench-logs
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(10000 100000 1000000)
N_VALIDATE=5000
START_MAX_MS=5000 # for a million devices
BYTES_MAX=200     # RSS per device
need_built "$BIN/midd" "$BIN/midctl" "$BB/validate"
need_tools sqlite3
mkdir -p "$LOG"
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-devices.XXXXXX")
MIDD_PID=
cleanup() {
	midd_kill
	rm -rf "$T"
}
trap cleanup EXIT

# start N: a fresh database with N devices; midd started on it. Sets
# PORT, MIDD_PID, START_MS and START_CPU_MS (from midd's start line).
# midd reads every device before it serves: 30 s for /healthz, not the
# usual 10, is for a million of them on a busy machine (START_MAX_MS is
# what the row asks of it).
start() {
	local n=$1 line rc=0
	rm -rf "$T/db" && mkdir -p "$T/db"
	"$BIN/midd" init --device-limit 0 --db "$T/db/midd.db" --write-keys "$T/db/keys" --admin-key-dir "$T/db/admin" \
		>/dev/null
	[ "$n" -eq 0 ] || sqlite3 "$T/db/midd.db" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL
		SELECT i + 1 FROM s WHERE i < $n) INSERT INTO devices(org_id, device_id, state, created)
		SELECT 1, printf('bench:devices:d:%07d', i), 'active', 1700000000000 + i FROM s;"
	PORT=$(free_port)
	"$BIN/midd" --db "$T/db/midd.db" --listen "127.0.0.1:$PORT" --quiet >"$T/midd.log" 2>&1 &
	MIDD_PID=$!
	MIDD_READY_S=30 midd_wait_ready "http://127.0.0.1:$PORT" "$MIDD_PID" || rc=$?
	[ "$rc" -ne 1 ] || die "midd did not start on $n devices (port $PORT?)"
	[ "$rc" -eq 0 ] || die "midd on $n devices did not answer in 30 s"
	cat "$T/midd.log" >>"$LOG/devices.midd.log"
	line=$(grep -m1 'midd: start ' "$T/midd.log") || die "midd on $n devices logged no start line"
	START_MS=$(sed -n 's/.* ready_ms=\([0-9]*\).*/\1/p' <<<"$line")
	START_CPU_MS=$(sed -n 's/.* cpu_ms=\([0-9]*\).*/\1/p' <<<"$line")
	[ -n "$START_MS" ] && [ -n "$START_CPU_MS" ] || die "no ready_ms/cpu_ms in: $line"
}

stop() {
	midd_kill
	MIDD_PID=
}


# measure N: sets RSS_KIB, P50, P99 and LIST_S for a midd on N devices.
measure() {
	local n=$1 t0
	start "$n"
	RSS_KIB=$(midd_rss_kib)
	"$BB/validate" "http://127.0.0.1:$PORT" "$T/db/keys/org.key" bench:devices:fresh:01 "$N_VALIDATE" \
		>"$LOG/devices.validate.$n" || die "validate on $n devices failed: $(cat "$LOG/devices.validate.$n")"
	read -r _ _ _ P50 _ _ _ P99 _ <"$LOG/devices.validate.$n"
	t0=${EPOCHREALTIME/./}
	"$BIN/midctl" --url "http://127.0.0.1:$PORT" --admin-key-file "$T/db/admin/admin.key" list --json \
		>"$T/list.json" || die "midctl list on $n devices failed"
	LIST_S=$(awk -v a="$t0" -v b="${EPOCHREALTIME/./}" 'BEGIN { printf "%.2f", (b - a) / 1e6 }')
	local got
	got=$(grep -o '"deviceId"' "$T/list.json" | wc -l)
	[ "$got" -eq $((n + 1)) ] || die "midctl list on $n devices listed $got"
	stop
}

measure 0
RSS0=$RSS_KIB BASE_P50=$P50 BASE_P99=$P99
say "no devices: start $START_MS ms, RSS $RSS0 KiB, validate p50 $P50 p99 $P99 µs"
echo "0 start_ms $START_MS rss_kib $RSS0 p50_us $P50 p99_us $P99" >"$LOG/devices.rounds"
for n in "${LEVELS[@]}"; do
	measure "$n"
	per=$(awk -v a="$RSS_KIB" -v b="$RSS0" -v n="$n" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
	echo "$n start_ms $START_MS start_cpu_ms $START_CPU_MS rss_kib $RSS_KIB bytes_per_device $per p50_us $P50 p99_us $P99 list_s $LIST_S" \
		>>"$LOG/devices.rounds"
	verdict=met
	[ "$per" -le "$BYTES_MAX" ] || verdict=missed
	[ "$n" -lt 1000000 ] || [ "$START_MS" -le "$START_MAX_MS" ] || verdict=missed
	echo "| $n registered devices: \`midd\` start (wall, CPU) / RSS per device / validate p50, p99 / \`midctl list\` (every page) | start ≤ 5 s at 1M; ≤ $BYTES_MAX B a device; validate as with none ($BASE_P50 / $BASE_P99 µs) | **$START_MS ms ($START_CPU_MS CPU ms) / $per B / $P50, $P99 µs / $LIST_S s** | $verdict |"
	say "$n devices: start $START_MS ms ($START_CPU_MS CPU ms), +$per B each, validate p50 $P50 p99 $P99 µs, midctl list $LIST_S s"
done
