#!/bin/bash
# SPDX-License-Identifier: MIT
# What counting side effects for the budgets costs the hot path. The
# hot-path program (bench/hotpath, null and file) runs under the shipped
# shim and under $B/bench/libmidshim-nocount.so, the same shim built with
# the hooks' counting compiled out (MIDSHIM_NO_COUNTS, shim/preload/hooks.h),
# against the same midd and device with a fresh cached allow. A round
# starts one of each, and the two take turns chunk by chunk (hotpath
# turns; who goes first flips every round), so neighbouring chunks meet
# the same disturbances of a shared machine; the round's ratio is the
# median of the neighbours' ratios (CPU time of the writing thread), and
# the figure the median of the rounds' ratios, shim / shim without
# counting. Many short rounds rather than a few long ones: the layout a
# process happens to get moves its times by about a percent, more than
# counting's cost. With valgrind, the user-space instructions per write
# of each build (callgrind) go beside it.
#
#   B=build bench/counts.sh [ROUNDS]
#
# Uses the midd named by MIDSHIM_URL and MIDSHIM_ORG_KEY_FILE when both
# are set (bench/run.sh), else starts one. Prints one row per kind on
# stdout in the form of bench/results.md, a summary per kind on stderr;
# raw rounds go to $LOG/counts-KIND.rounds ("round first shim nocount
# ratio": the median chunk of each build, CPU ns per write, and the
# round's ratio). Knobs: ROUNDS (or BENCH_COUNTS_ROUNDS, default 101),
# BENCH_COUNTS_IR=0 (no callgrind), BENCH_QUICK=1 (two rounds of a few
# chunks: checks the harness, not the numbers).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
# shellcheck source=bench/common.sh
. "$TOP/bench/common.sh"
msg_prefix counts
B=${B:-build}
case $B in /*) BIN=$B ;; *) BIN=$TOP/$B ;; esac
SHIM=$BIN/libmidshim.so
NOCOUNT=$BIN/bench/libmidshim-nocount.so
HP=$BIN/bench/hotpath
LOG=${LOG:-$BIN/bench-logs}
ROUNDS=${1:-${BENCH_COUNTS_ROUNDS:-101}}
# Writes per build and round, and per chunk: a chunk of some 0.3 ms.
N_NULL=20000 CHUNK_NULL=200
N_FILE=10000 CHUNK_FILE=100
N_IR=20000
TARGET=1.01
if [ -n "${BENCH_QUICK:-}" ]; then
	ROUNDS=2 N_NULL=1000 N_FILE=1000 N_IR=1000
fi

need_built "$SHIM" "$NOCOUNT" "$HP" "$BIN/midd"
mkdir -p "$LOG"
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-counts.XXXXXX")
MIDD_PID=
cleanup() {
	midd_kill
	rm -rf "$T"
}
trap cleanup EXIT

if [ -z "${MIDSHIM_URL:-}" ] || [ -z "${MIDSHIM_ORG_KEY_FILE:-}" ]; then
	"$BIN/midd" init --db "$T/midd.db" --write-keys "$T/keys" --admin-key-dir "$T/admin" >/dev/null
	"$BIN/midd" --db "$T/midd.db" --listen none --socket "$T/midd.sock" --quiet >"$T/midd.log" 2>&1 &
	MIDD_PID=$! # midd_kill stops it
	say "midd $MIDD_PID on $T/midd.sock"
	export MIDSHIM_URL=unix:$T/midd.sock MIDSHIM_ORG_KEY_FILE=$T/keys/org.key
	midd_wait_ready "$MIDSHIM_URL" "$MIDD_PID" || die "midd did not start: $(tail -n 5 "$T/midd.log")"
fi
unset MIDSHIM_ORG_KEY MIDSHIM_POLICY MIDSHIM_MODE MIDSHIM_ON_DENY MIDSHIM_AUDIT_LOG
# The hot-path rows' device and TTL: one validate at start, none timed.
export MIDSHIM_DEVICE_ID=${MIDSHIM_DEVICE_ID:-bench:gate:hotpath:01} MIDSHIM_TTL_MS=30000

# One gated start registers the device before anything is timed.
timeout 120 env LD_PRELOAD="$SHIM" "$HP" null 10 >/dev/null 2>>"$LOG/stderr.log" || die "a gated hotpath does not run: $(tail -n 5 "$LOG/stderr.log")"

# pair KIND N CHUNK FIRST: one round, the two builds taking turns chunk
# by chunk (hotpath turns), FIRST (shim or nocount) first; the chunks'
# CPU ns per write go to $T/shim.out and $T/nocount.out.
pair() {
	local kind=$1 n=$2 chunk=$3 first=$4 dir=() a b p rc=0
	[ "$kind" = file ] && dir=("$T")
	rm -f "$T/to-shim" "$T/to-nocount"
	mkfifo "$T/to-shim" "$T/to-nocount"
	# Held open for reading and writing here, so no open blocks and the
	# last chunk's byte finds a reader.
	exec {a}<>"$T/to-shim" {b}<>"$T/to-nocount"
	printf t >&"$([ "$first" = shim ] && echo "$a" || echo "$b")"
	timeout 120 env LD_PRELOAD="$SHIM" "$HP" turns "$kind" "$n" "$chunk" "${dir[@]}" \
		3<&"$a" 4>&"$b" >"$T/shim.out" 2>>"$LOG/stderr.log" &
	p=$!
	timeout 120 env LD_PRELOAD="$NOCOUNT" "$HP" turns "$kind" "$n" "$chunk" "${dir[@]}" \
		3<&"$b" 4>&"$a" >"$T/nocount.out" 2>>"$LOG/stderr.log" || rc=1
	wait "$p" || rc=1
	exec {a}>&- {b}>&-
	[ "$rc" = 0 ] || die "hotpath turns $kind failed: $(tail -n 3 "$LOG/stderr.log")"
}

# A round's figures: the median chunk of each build, and the median of
# the ratios of chunks that ran one after the other.
for kind in null file; do : >"$LOG/counts-$kind.rounds"; done
for r in $(seq 1 "$ROUNDS"); do
	first=shim
	[ $((r % 2)) -eq 1 ] || first=nocount
	# The kinds interleave too, so a burst of other work falls on both.
	for kind in null file; do
		n=$N_NULL chunk=$CHUNK_NULL
		[ "$kind" = file ] && n=$N_FILE chunk=$CHUNK_FILE
		pair "$kind" "$n" "$chunk" "$first"
		c=$(median <"$T/shim.out")
		u=$(median <"$T/nocount.out")
		q=$(paste "$T/shim.out" "$T/nocount.out" | awk '{ print $1 / $2 }' | median)
		for v in "$c" "$u" "$q"; do is_num "$v"; done
		echo "$r $first $c $u $q" >>"$LOG/counts-$kind.rounds"
	done
done

for kind in null file; do
	f=$LOG/counts-$kind.rounds
	C=$(awk '{ print $3 }' "$f" | median)
	U=$(awk '{ print $4 }' "$f" | median)
	R=$(awk '{ print $5 }' "$f" | median)
	ir=
	if [ "${BENCH_COUNTS_IR:-1}" != 0 ] && command -v valgrind >/dev/null; then
		dir=()
		[ "$kind" = file ] && dir=("$T")
		iu=$(ir_per_write "$T/cg.out" "$NOCOUNT" "$HP" "$kind" "$N_IR" "${dir[@]}") &&
			ic=$(ir_per_write "$T/cg.out" "$SHIM" "$HP" "$kind" "$N_IR" "${dir[@]}") &&
			ir="; $iu → $ic instructions per write" || say "callgrind failed (see $LOG/valgrind.log)"
	fi
	say "$kind: without counting $U, with $C CPU ns/op, ratio $(calc '%.4f' "$R") ($ROUNDS rounds$ir)"
	what='`write(/dev/null)`'
	[ "$kind" = file ] && what='4 KiB file `write`'
	echo "| counting's cost on the hot path: $what, shim / shim built without counting | ≤ ${TARGET}x |" \
		"**$(calc '%.3f' "$R")x** ($U → $C CPU ns/op; $ROUNDS rounds$ir) |" \
		"$(verdict "$R" "$TARGET") |"
done
