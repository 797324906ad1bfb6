#!/bin/bash
# SPDX-License-Identifier: MIT
# What supervise mode costs a program: the extra time of a gated system
# call (an open with write intent, which the launcher decides from a
# fresh cached allow and makes itself), of an ungated one (getppid, which
# the filter lets through in the kernel), and an exec storm of a static
# program, supervised and plain. Rounds alternate plain and supervised
# runs (ABBA); each figure is the median over the rounds. The program
# (bench/static_supcost.c) times its own loop, so the launcher's start
# is not counted.
#
#   B=build bench/supervise.sh           print the rows, and put them into
#                                        bench/results.md (its supervise section)
#   BENCH_SUP_ROWS_ONLY=1 ...            print the rows only (bench/run.sh)
#
# Uses the midd named by MIDSHIM_URL and MIDSHIM_ORG_KEY_FILE when both
# are set (bench/run.sh), else starts one. Knobs: BENCH_SUP_ROUNDS (7),
# BENCH_SUP_GATED (3000 calls), BENCH_SUP_UNGATED (2000000),
# BENCH_SUP_SPAWN (300 spawns).
set -eu
cd "$(dirname "$0")/.."
B=${B:-build}
PROG=$B/bench/static_supcost
MS=$B/midshim
ROUNDS=${BENCH_SUP_ROUNDS:-7}
N_GATED=${BENCH_SUP_GATED:-3000}
N_UNGATED=${BENCH_SUP_UNGATED:-2000000}
N_SPAWN=${BENCH_SUP_SPAWN:-300}
for f in "$PROG" "$MS" "$B/midd"; do
	[ -x "$f" ] || { echo "bench/supervise: $f is not built (make bench)" >&2; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-supbench.XXXXXX")
MIDD_PID=
cleanup() {
	[ -n "$MIDD_PID" ] && kill "$MIDD_PID" 2>/dev/null && wait "$MIDD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

if [ -z "${MIDSHIM_URL:-}" ] || [ -z "${MIDSHIM_ORG_KEY_FILE:-}" ]; then
	"$B/midd" init --db "$T/midd.db" --write-keys "$T/keys" --admin-key-dir "$T/admin" >/dev/null
	"$B/midd" --db "$T/midd.db" --listen none --socket "$T/midd.sock" >"$T/midd.log" 2>&1 &
	MIDD_PID=$!
	export MIDSHIM_URL=unix:$T/midd.sock MIDSHIM_ORG_KEY_FILE=$T/keys/org.key
	for _ in $(seq 1 100); do
		[ -S "$T/midd.sock" ] && break
		sleep 0.05
	done
fi
unset MIDSHIM_ORG_KEY MIDSHIM_POLICY MIDSHIM_MODE MIDSHIM_ON_DENY MIDSHIM_AUDIT_LOG
export MIDSHIM_DEVICE_ID=bench:supervise:01 MIDSHIM_TTL_MS=30000

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# one WAY ARGS...: the program's ns per op, plain or supervised.
one() {
	local way=$1
	shift
	if [ "$way" = plain ]; then
		"$PROG" "$@"
	else
		"$MS" run -- "$PROG" "$@"
	fi | awk '{ print $3 }'
}
# ab NAME ARGS...: ROUNDS alternating pairs; lines "plain supervised".
ab() {
	local name=$1 r p s
	shift
	: >"$T/$name"
	for r in $(seq 1 "$ROUNDS"); do
		if [ $((r % 2)) -eq 1 ]; then
			p=$(one plain "$@")
			s=$(one sup "$@")
		else
			s=$(one sup "$@")
			p=$(one plain "$@")
		fi
		echo "$p $s" >>"$T/$name"
	done
	P=$(awk '{ print $1 }' "$T/$name" | median)
	S=$(awk '{ print $2 }' "$T/$name" | median)
	D=$(awk '{ print ($2 - $1) / 1000 }' "$T/$name" | median) # µs
	R=$(awk '{ print $2 / $1 }' "$T/$name" | median)
	echo "bench/supervise: $name rounds (plain, supervised ns/op): $(tr '\n' ';' <"$T/$name")" >&2
}
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "met" : "missed" }'; }

mkdir -p "$T/files"
"$MS" run -- "$PROG" true || { echo "bench/supervise: a supervised run fails" >&2; exit 1; }
ab gated gated "$N_GATED" "$T/files"
rows=("| supervise: extra time per gated call (\`open\` with write intent + \`close\`, made by the launcher; fresh allow), median of $ROUNDS | ≤ 25 µs | **$(printf '%.1f' "$D") µs** ($(printf '%.2f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.2f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs) | $(verdict "$D" 25) |")
ab ungated ungated "$N_UNGATED"
rows+=("| supervise: extra time per ungated call (\`getppid\`, let through by the filter), median of $ROUNDS | ≤ 0.5 µs | **$(printf '%.3f' "$D") µs** ($(printf '%.1f' "$P") → $(printf '%.1f' "$S") ns) | $(verdict "$D" 0.5) |")
ab spawn spawn "$N_SPAWN"
rows+=("| supervise: exec storm, $N_SPAWN × \`posix_spawn\` of a static program, supervised / plain (wall), median of $ROUNDS | — | **$(printf '%.2f' "$R")x** ($(printf '%.0f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.0f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs per spawn) | reported |")

printf '%s\n' "${rows[@]}"
[ -n "${BENCH_SUP_ROWS_ONLY:-}" ] && exit 0
# Alone: the rows go into bench/results.md's supervise section.
when=$(date -u '+%Y-%m-%d %H:%M UTC')
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "<!-- supervise:begin -->"
	echo "## Supervise mode"
	echo
	echo "\`B=build bench/supervise.sh\` ($when, load $load; \`make bench\` runs the same rows)."
	echo "A static program under \`midshim run\` (supervised, TTL 30 s, midd on $MIDSHIM_URL) against the same program run plain."
	echo
	echo "| figure | target | measured | verdict |"
	echo "| --- | --- | --- | --- |"
	printf '%s\n' "${rows[@]}"
	echo "<!-- supervise:end -->"
} >"$T/section"
out=bench/results.md
if grep -q '<!-- supervise:begin -->' "$out"; then
	awk -v f="$T/section" '/<!-- supervise:begin -->/ { while((getline l < f) > 0) print l; skip = 1; next }
		/<!-- supervise:end -->/ { skip = 0; next } !skip' "$out" >"$T/results" && cat "$T/results" >"$out"
else
	{ echo; cat "$T/section"; } >>"$out"
fi
echo "bench/supervise: wrote the supervise section of $out" >&2
