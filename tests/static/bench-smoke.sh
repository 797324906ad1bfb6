#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark harness still works: the hot-path program builds, runs
# 1000 writes of each kind with and without the shim against a real midd
# and prints a time per write, and the harness scripts parse. No timing
# is asserted; `make bench` measures.
. "$(dirname "$0")/../lib.sh"
for s in bench/run.sh bench/halt.sh bench/readme-table.sh bench/live.sh; do
	bash -n "$TOP/$s" 2>"$T/err" || fail "$s: $(cat "$T/err")"
	[ -x "$TOP/$s" ] || fail "$s: not executable"
done
make -s -C "$TOP" --no-print-directory B="$B" "$B/bench/hotpath" >"$T/make.out" 2>&1 ||
	fail "building bench/hotpath: $(tail -n 20 "$T/make.out")"
HP=$BIN/bench/hotpath
midd_start --quiet
shim_env "bench:smoke:hotpath:01"
export MIDSHIM_TTL_MS=30000

number_re='^(null|file) 1000 [0-9]+\.[0-9]+ ns/op [0-9]+\.[0-9]+ cpu-ns/op$'
for kind in null file; do
	dir=()
	[ "$kind" = file ] && dir=("$T")
	out=$(env -u LD_PRELOAD "$HP" "$kind" 1000 "${dir[@]}")
	[[ $out =~ $number_re ]] || fail "ungated hotpath $kind printed: $out"
	gated "$HP" "$kind" 1000 "${dir[@]}"
	assert_eq 0 "$RC" "gated hotpath $kind exit status (stderr: $(head -c 1000 "$T/err"))"
	out=$(cat "$T/out")
	[[ $out =~ $number_re ]] || fail "gated hotpath $kind printed: $out"
	note "ok: hotpath $kind, ungated and gated"
done
# The gated runs really were gated: the shim registered its device.
r=$(api GET /api/v1/devices/list "$ORG_KEY")
assert_contains "$r" "bench:smoke:hotpath:01" "the gated run registered its device"

# The live-process rows: two gated processes hold their connections.
make -s -C "$TOP" --no-print-directory B="$B" "$B/bench/live" "$B/bench/validate" >"$T/make.out" 2>&1 ||
	fail "building bench/live: $(tail -n 20 "$T/make.out")"
BIN=$BIN MIDD_PORT=$MIDD_PORT MIDD_PID=$MIDD_PID KEYS=$T/keys bash "$TOP/bench/live.sh" 2 \
	>"$T/live.out" 2>"$T/live.err" || fail "bench/live.sh: $(tail -n 5 "$T/live.err")"
grep -q '^| 2 live gated processes, .* | \*\*-\?[0-9.]* KiB / -\?[0-9.]* fds; [0-9.]* / [0-9.]* µs\*\* (2 of 2 connections held, 2 alive;' \
	"$T/live.out" || fail "bench/live.sh printed: $(cat "$T/live.out")"
note "ok: bench/live.sh with 2 processes"
