# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers the benchmark scripts share (sourced by bench/run.sh,
# bench/devices.sh, bench/live.sh, bench/realwork.sh, bench/console.sh and
# bench/counts.sh; not run on its own). The script names itself first with
# msg_prefix. free_port and midd_wait_ready come from scripts/lib.sh, as
# for the tests.

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# msg_prefix WORD: say and die start their lines with "WORD: ".
msg_prefix() { ME=$1; }
say() { echo "$ME: $*" >&2; }
die() { echo "$ME: $*" >&2; exit 1; }

# need_built FILE...: stop unless each FILE is there (a program, or the
# preload), with the make target that builds it.
need_built() {
	local f
	for f; do
		[ -x "$f" ] || [ -f "$f" ] || die "$f is missing; run 'make bench'"
	done
}

# need_tools COMMAND...: stop unless each COMMAND can be run.
need_tools() {
	local t
	for t; do
		command -v "$t" >/dev/null || die "$t is needed (scripts/install-deps.sh)"
	done
}

# ---- numbers -----------------------------------------------------------
# median: the median of the numbers on stdin, one a line; fails on none.
median() { sort -g | awk '{ v[NR] = $1 } END { if(!NR) exit 1
	printf "%.6g\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }    # FORMAT EXPRESSION
# verdict VALUE LIMIT [le|ge]: "met" when VALUE <= LIMIT (ge: >=), else
# "missed".
verdict() { awk -v v="$1" -v l="$2" -v d="${3:-le}" 'BEGIN {
	ok = (d == "le") ? v <= l : v >= l; print ok ? "met" : "missed" }'; }

# midd_rss_kib: the resident memory of midd (MIDD_PID) in KiB.
midd_rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$MIDD_PID/status"; }

# midd_kill: stop the midd this script started (MIDD_PID, when set) and
# reap it.
midd_kill() {
	[ -z "${MIDD_PID:-}" ] || { kill -TERM "$MIDD_PID" 2>/dev/null; wait "$MIDD_PID" 2>/dev/null; } || true
}

# is_num VALUE: stop unless VALUE is a plain number (see $LOG).
is_num() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "not a number: '$1' (see $LOG)"; }

# ir_per_write OUT PRELOAD HOTPATH KIND N [DIR]: user-space instructions
# per write of bench/hotpath KIND under PRELOAD ("": none), by callgrind:
# the difference of a run of N writes and one of 2N, so start-up cancels
# out (a run also makes N/10 + 1 warm-up writes; N a multiple of 10).
# OUT is a scratch file; valgrind's messages go to $LOG/valgrind.log.
ir_per_write() {
	local out=$1 pre=$2 hp=$3 kind=$4 n=$5 m total=()
	shift 5
	local env=(env -u LD_PRELOAD)
	[ -z "$pre" ] || env=(env LD_PRELOAD="$pre")
	for m in 1 2; do
		rm -f "$out"
		"${env[@]}" timeout 300 valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$hp" "$kind" $((m * n)) "$@" >/dev/null 2>>"$LOG/valgrind.log" || return 1
		total+=("$(awk '/^(summary|totals):/ { print $2; exit }' "$out")")
	done
	calc '%.1f' "(${total[1]} - ${total[0]}) / ($n + $n / 10)"
}
