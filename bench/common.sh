# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers the benchmark scripts share (sourced by bench/run.sh,
# bench/devices.sh, bench/live.sh, bench/realwork.sh and bench/console.sh;
# not run on its own). The script names itself first with msg_prefix.
# free_port and midd_wait_ready come from scripts/lib.sh, as for the tests.

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
