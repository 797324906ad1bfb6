#!/bin/bash
# SPDX-License-Identifier: MIT
# What supervise mode costs a program: the extra time of a gated system
# call (an open with write intent, which the launcher decides from a
# fresh cached allow: under the built-in policy the kernel then makes it,
# under a policy with a file rule the launcher does), of an ungated one (getppid, which
# the filter lets through in the kernel), and an exec storm of a static
# program, supervised and plain. Then both layers (--supervise on the
# same program linked dynamically, bench/dyn_supcost): the extra time of
# a gated open, and how many notifications the launcher received for a
# run of 10 libc writes and one of 2000 (strace on the launcher counts
# them; equal counts: no write left the kernel). Rounds alternate plain and supervised
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
DYN=$B/bench/dyn_supcost
MS=$B/midshim
ROUNDS=${BENCH_SUP_ROUNDS:-7}
N_GATED=${BENCH_SUP_GATED:-3000}
N_UNGATED=${BENCH_SUP_UNGATED:-2000000}
N_SPAWN=${BENCH_SUP_SPAWN:-300}
for f in "$PROG" "$DYN" "$MS" "$B/midd"; do
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
# one WAY ARGS...: the program's ns per op, plain or supervised. The
# program is $PROG, or with BOTH=1 $DYN under --supervise (both layers).
one() {
	local way=$1 prog=$PROG sup=()
	shift
	[ -n "${BOTH:-}" ] && prog=$DYN sup=(--supervise)
	[ -n "${RULE:-}" ] && sup+=(--policy "$T/filerule.json")
	if [ "$way" = plain ]; then
		"$prog" "$@"
	else
		"$MS" run "${sup[@]}" -- "$prog" "$@"
	fi | awk '{ print $3 }'
}
# notifs N: the notifications the launcher received for one open and N
# libc writes of $DYN under --supervise (-f: its thread receives them).
notifs() {
	rm -f "$T/w"
	strace -f -o "$T/strace" -e trace=ioctl -e signal=none "$MS" run --supervise -- "$DYN" writes "$1" "$T/w" >/dev/null
	grep -c 'data={nr=' "$T/strace" # each received call, on its line or its resumed one
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
rows=("| supervise: extra time per gated call (\`open\` with write intent + \`close\`; the built-in policy, fresh allow: decided, then made by the kernel), median of $ROUNDS | ≤ 25 µs | **$(printf '%.1f' "$D") µs** ($(printf '%.2f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.2f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs) | $(verdict "$D" 25) |")
# A policy with a file rule: the launcher opens the checked path and puts
# the descriptor into the program (no check/use race).
echo "{\"version\": 1, \"rules\": [{\"on\": \"fs\", \"path\": \"$T/nothing/*\", \"action\": \"deny\"}]}" >"$T/filerule.json"
RULE=1 ab rule gated "$N_GATED" "$T/files"
rows+=("| supervise: the same under a policy with a file rule (the launcher makes the open and injects the descriptor), median of $ROUNDS | ≤ 25 µs | **$(printf '%.1f' "$D") µs** ($(printf '%.2f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.2f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs) | $(verdict "$D" 25) |")
ab ungated ungated "$N_UNGATED"
rows+=("| supervise: extra time per ungated call (\`getppid\`, let through by the filter), median of $ROUNDS | ≤ 0.5 µs | **$(printf '%.3f' "$D") µs** ($(printf '%.1f' "$P") → $(printf '%.1f' "$S") ns) | $(verdict "$D" 0.5) |")
ab spawn spawn "$N_SPAWN"
rows+=("| supervise: exec storm, $N_SPAWN × \`posix_spawn\` of a static program, supervised / plain (wall), median of $ROUNDS | — | **$(printf '%.2f' "$R")x** ($(printf '%.0f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.0f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs per spawn) | reported |")

BOTH=1 ab both gated "$N_GATED" "$T/files"
rows+=("| supervise, both layers (\`--supervise\` on a dynamic program): extra time per gated call (the same \`open\`: the preload decides, then the launcher), median of $ROUNDS | — | **$(printf '%.1f' "$D") µs** ($(printf '%.2f' "$(echo "$P" | awk '{ print $1 / 1000 }')") → $(printf '%.2f' "$(echo "$S" | awk '{ print $1 / 1000 }')") µs) | reported |")
if command -v strace >/dev/null; then
	n10=$(notifs 10)
	n2000=$(notifs 2000)
	rows+=("| supervise, both layers: notifications the launcher received for a run with 10 libc \`write\`s / with 2000 (strace on the launcher) | equal | **$n10 / $n2000** | $([ "$n10" = "$n2000" ] && echo met || echo missed) |")
fi

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
