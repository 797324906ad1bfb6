#!/bin/bash
# SPDX-License-Identifier: MIT
# Many live gated processes against one midd: for each LEVEL, that many
# `bench/live` processes run at once under the real shim, each having
# validated at its start and keeping its connection (it validates again
# every 20 s) and its push channel: two of midd's descriptors. Measured while they all live: midd's RSS and open
# descriptors per live process (against midd before they started), and
# the validate latency of a fresh client (`bench/validate`, the shim's own
# client, 5,000 calls). Every process is killed by its PID afterwards.
#
#   BIN=$PWD/build MIDD_PORT=P MIDD_PID=PID KEYS=DIR bench/live.sh [LEVEL...]
#
# (default levels: 1000 5000 10000) against the midd already serving
# 127.0.0.1:P as process PID, with DIR/org.key; bench/run.sh passes its own.
#
# Prints one summary row per level on stdout, in the form of
# bench/results.md, and a line per level on stderr; raw figures go to
# $BIN/bench-logs/live.*. A level is left out, and says so, when the
# machine lacks the memory (2 MiB per process plus 2 GiB) or the
# processes and descriptors for it.
set -Eeuo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
msg_prefix live
[ -d "${BIN:-}" ] || die "set BIN to the build directory (absolute)"
SHIM=$BIN/libmidshim.so
BB=$BIN/bench
LOG=$BIN/bench-logs
LEVELS=("$@")
[ ${#LEVELS[@]} -gt 0 ] || LEVELS=(1000 5000 10000)
LIFE=900          # seconds a live process lives at most: past START_WAIT
START_WAIT=600    # seconds to wait for a level's processes to connect
N_FRESH=5000      # timed validates of the fresh client
P99_MAX_US=5000
DEV=bench:live:proc:01

need_built "$SHIM" "$BB/live" "$BB/validate"
mkdir -p "$LOG"
# The processes' files go to memory when it can: no disk in the figures.
TD=/dev/shm
[ -w "$TD" ] || TD=${TMPDIR:-/tmp}
T=$(mktemp -d "$TD/midshim-live.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
fds() { find "/proc/$MIDD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
mem_avail_mib() { awk '/^MemAvailable/ { print int($2 / 1024) }' /proc/meminfo; }

[[ ${MIDD_PORT:-} =~ ^[0-9]+$ ]] && [ -n "${MIDD_PID:-}" ] && [ -f "${KEYS:-}/org.key" ] ||
	die "set MIDD_PORT, MIDD_PID and KEYS (the midd to load and its key directory)"
kill -0 "$MIDD_PID" 2>/dev/null || die "midd $MIDD_PID does not run"
URL=http://127.0.0.1:$MIDD_PORT
# Connections and push channels share midd's descriptors.
MAXC=$(awk '/^Max open files/ { print $4 - 64 }' "/proc/$MIDD_PID/limits")
# Push on, as by default: a caller (the test suite) may have turned it off.
export MIDSHIM_URL=$URL MIDSHIM_DEVICE_ID=$DEV MIDSHIM_ORG_KEY_FILE=$KEYS/org.key MIDSHIM_PUSH=on

# The fresh client once before any load: the baseline, and it warms midd.
"$BB/validate" "$URL" "$KEYS/org.key" bench:live:fresh:01 "$N_FRESH" >"$LOG/live.fresh.0" ||
	die "fresh validate failed: $(cat "$LOG/live.fresh.0")"
FDS0=$(fds)
RSS0=$(midd_rss_kib)
say "midd before: $RSS0 KiB, $FDS0 descriptors, $MAXC for connections and channels; $(cat "$LOG/live.fresh.0")"

for n in "${LEVELS[@]}"; do
	[[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20000 ] || die "LEVEL $n: use 1..20000"
	need=$((n * 2 + 2048))
	# Past the descriptors for two each, midd still holds them all
	# (channels refused with a 503 stay under the TTL gate; idle
	# connections are closed and re-opened): measured, and said.
	short=
	[ "$((2 * n + FDS0))" -gt "${MAXC:-0}" ] &&
		short="; midd's RLIMIT_NOFILE leaves ${MAXC:-?} descriptors, not the $((2 * n)) of two each"
	if [ "$(mem_avail_mib)" -lt "$need" ] || [ "$((n + FDS0 + 64))" -gt "${MAXC:-0}" ] ||
		[ "$n" -gt "$(($(ulimit -u) - 2000))" ]; then
		say "$n processes: left out (memory $(mem_avail_mib) MiB of $need needed, midd" \
			"connections ${MAXC:-?}, process limit $(ulimit -u))"
		echo "| $n live gated processes, each with its connection and push channel: \`midd\` RSS / descriptors per process; fresh validate p50 / p99 | all held; p99 ≤ 5 ms | not measured: the machine lacks the memory, processes or descriptors | missed |"
		continue
	fi
	rm -f "$T"/live.*
	PIDS=()
	t0=${EPOCHREALTIME/./}
	for _ in $(seq 1 "$n"); do
		LD_PRELOAD=$SHIM "$BB/live" "$LIFE" "$T" </dev/null >/dev/null 2>>"$LOG/live.stderr" &
		PIDS+=($!)
	done
	spawned=$(((${EPOCHREALTIME/./} - t0) / 1000))
	# Every process has validated once it holds its connection, and
	# then opens its channel: two descriptors each, as far as they go.
	want=$((2 * n))
	[ -z "$short" ] || want=$((MAXC - FDS0 - 64))
	ok=
	last=0
	begun=$SECONDS
	steady=$SECONDS
	for _ in $(seq 1 $((START_WAIT * 10))); do
		h=$(($(fds) - FDS0))
		[ "$h" -ge "$want" ] && { ok=1; break; }
		# Past its descriptors midd holds what its shares allow (a peer's
		# connections, the channels): done once that stops growing.
		[ "$h" -gt "$last" ] && last=$h steady=$SECONDS
		[ -n "$short" ] && [ $((SECONDS - steady)) -ge 30 ] && break
		[ $((SECONDS - begun)) -ge "$START_WAIT" ] && break
		sleep 0.1
	done
	ready=$(((${EPOCHREALTIME/./} - t0) / 1000))
	held=$(($(fds) - FDS0))
	[ -n "$ok" ] || say "$n processes: $held connections and channels held after $((ready / 1000)) s"
	sleep 1
	"$BB/validate" "$URL" "$KEYS/org.key" bench:live:fresh:01 "$N_FRESH" >"$LOG/live.fresh.$n" ||
		die "fresh validate beside $n processes failed: $(cat "$LOG/live.fresh.$n")"
	alive=0
	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	fdsn=$(fds)
	rssn=$(midd_rss_kib)
	read -r _ _ _ p50 _ _ _ p99 _ <"$LOG/live.fresh.$n"
	rss_per=$(awk -v a="$rssn" -v b="$RSS0" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')
	fds_per=$(awk -v a="$fdsn" -v b="$FDS0" -v n="$n" 'BEGIN { printf "%.2f", (a - b) / n }')
	echo "$n spawned_ms $spawned ready_ms $ready held $held alive $alive midd_rss_kib $rssn" \
		"midd_fds $fdsn rss_per_kib $rss_per fds_per $fds_per fresh_p50_us $p50 fresh_p99_us $p99" \
		>>"$LOG/live.rounds"
	verdict=met
	{ [ -n "$ok" ] && [ -z "$short" ] && [ "$alive" -eq "$n" ] &&
		[ "${p99%.*}" -le "$P99_MAX_US" ]; } || verdict=missed
	echo "| $n live gated processes, each with its connection and push channel: \`midd\` RSS / descriptors per process; fresh validate p50 / p99 | all held; p99 ≤ 5 ms | **$rss_per KiB / $fds_per fds; $p50 / $p99 µs** ($held connections and channels for $n processes, $alive alive; midd $((rssn / 1024)) MiB, $fdsn fds; connected in $((ready / 1000)) s$short) | $verdict |"
	say "$n processes: midd +$rss_per KiB and +$fds_per fds each; fresh validate p50 $p50 p99 $p99 µs; held $held, alive $alive; started in $ready ms"
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
	# midd sees the ends of the streams and lets the connections go.
	for _ in $(seq 1 300); do
		[ "$(fds)" -le "$((FDS0 + 8))" ] && break
		sleep 0.1
	done
done
