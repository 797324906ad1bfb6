#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark harness still works: the hot-path program builds, runs
# 1000 writes of each kind with and without the shim against a real midd
# and prints a time per write, the harness scripts parse, and the
# counting's-cost, live-process and real-work rows come out of one tiny
# run each; the shim built without counting counts no writes. No timing
# is asserted; `make bench` measures.
. "$(dirname "$0")/../lib.sh"
for s in bench/run.sh bench/halt.sh bench/readme-table.sh bench/live.sh bench/realwork.sh bench/counts.sh; do
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

# Counting's cost (bench/counts.sh) in its quick form: two rounds of a
# few chunks of each kind, the two builds taking turns (each build first
# once), and a row for each kind.
make -s -C "$TOP" --no-print-directory B="$B" "$B/bench/libmidshim-nocount.so" >"$T/make.out" 2>&1 ||
	fail "building bench/libmidshim-nocount.so: $(tail -n 20 "$T/make.out")"
B=$BIN LOG=$T/counts BENCH_QUICK=1 bash "$TOP/bench/counts.sh" >"$T/counts.out" 2>"$T/counts.err" ||
	fail "bench/counts.sh: $(tail -n 5 "$T/counts.err")"
row_re='^\| counting.s cost on the hot path: (`write\(/dev/null\)`|4 KiB file `write`), shim / shim built without counting \| ≤ 1\.01x \| \*\*[0-9.]+x\*\* \([0-9.]+ → [0-9.]+ CPU ns/op; 2 rounds(; [0-9.]+ → [0-9.]+ instructions per write)?\) \| (met|missed) \|$'
[ "$(grep -cE "$row_re" "$T/counts.out")" = 2 ] || fail "bench/counts.sh printed: $(cat "$T/counts.out")"
for kind in null file; do
	[ "$(awk '{ printf "%s ", $2 }' "$T/counts/counts-$kind.rounds")" = "shim nocount " ] ||
		fail "counts-$kind.rounds: $(cat "$T/counts/counts-$kind.rounds")"
done
note "ok: bench/counts.sh, two quick rounds"

# The build without counting counts nothing, and only that: the same
# file writes, each validated (TTL 0, so every one sends the counts so
# far), show in the budget of the shipped shim's device and not in the
# other's.
for way in shim nocount; do
	pre=$SHIM
	[ "$way" = nocount ] && pre=$BIN/bench/libmidshim-nocount.so
	dev=bench:smoke:$way:01
	MIDSHIM_DEVICE_ID=$dev LD_PRELOAD=$pre /bin/true || fail "a start under $pre"
	r=$(api POST /api/v1/budget/set "$ADMIN_KEY" "{\"deviceId\":\"$dev\",\"writes\":{\"limit\":1000000,\"windowMs\":3600000}}")
	assert_contains "$r" "200 " "budget set for $dev"
	MIDSHIM_DEVICE_ID=$dev MIDSHIM_TTL_MS=0 LD_PRELOAD=$pre "$HP" file 100 "$T" >/dev/null ||
		fail "hotpath file 100 under $pre"
	r=$(api GET "/api/v1/budget?deviceId=$dev" "$ORG_KEY")
	used=$(sed -n 's/.*"writes":{[^}]*"used":\([0-9]*\).*/\1/p' <<<"$r")
	# 100 timed writes and 11 of warm-up; the last one's count waits
	# for a validate that never comes.
	case $way in
	shim) [ -n "$used" ] && [ "$used" -ge 110 ] && [ "$used" -le 111 ] || fail "$way: writes counted: $r" ;;
	nocount) assert_contains "$r" '"used":0}' "$way counts no writes" ;;
	esac
done
note "ok: the build without counting counts no writes; the shim counted them"

# The live-process rows: two gated processes hold their connections and
# push channels.
make -s -C "$TOP" --no-print-directory B="$B" "$B/bench/live" "$B/bench/validate" >"$T/make.out" 2>&1 ||
	fail "building bench/live: $(tail -n 20 "$T/make.out")"
BIN=$BIN MIDD_PORT=$MIDD_PORT MIDD_PID=$MIDD_PID KEYS=$T/keys bash "$TOP/bench/live.sh" 2 \
	>"$T/live.out" 2>"$T/live.err" || fail "bench/live.sh: $(tail -n 5 "$T/live.err")"
grep -q '^| 2 live gated processes, .* | \*\*-\?[0-9.]* KiB / -\?[0-9.]* fds; [0-9.]* / [0-9.]* µs\*\* (4 connections and channels for 2 processes, 2 alive;' \
	"$T/live.out" || fail "bench/live.sh printed: $(cat "$T/live.out")"
note "ok: bench/live.sh with 2 processes"

# The real-work rows, in their quick form (a small piece of each
# workload, one round): each row's setup proves that a revoked device
# stops the gated workload, every run produces the ungated run's result,
# and a row comes out for each.
make -s -C "$TOP" --no-print-directory B="$B" "$B/bench/spawn" >"$T/make.out" 2>&1 ||
	fail "building bench/spawn: $(tail -n 20 "$T/make.out")"
/usr/bin/python3 -c 'import test.test_shutil' 2>/dev/null ||
	fail "python3's test suite is missing (Debian package libpython3.11-testsuite; scripts/install-deps.sh)"
# MAKE and MAKEFLAGS as an outer `make bench` or `make check` exports them:
# the script drops them, and must not drop its own make with them.
MAKE=make MAKEFLAGS=s BIN=$BIN MIDD_PORT=$MIDD_PORT KEYS=$T/keys ADMIN_KEY_FILE=$T/admin/admin.key \
	LOG=$T/realwork BENCH_QUICK=1 bash "$TOP/bench/realwork.sh" >"$T/work.out" 2>"$T/work.err" ||
	fail "bench/realwork.sh: $(tail -n 5 "$T/work.err")"
for name in make git python; do
	assert_file_contains "$T/work.err" "$name: bench:work:$name:01 revoked, the probe died with DEVICE_REVOKED" \
		"the $name row's setup"
	[ "$(wc -l <"$T/realwork/realwork-$name.rounds")" = 1 ] || fail "$name: not one round: $(cat "$T/realwork/realwork-$name.rounds")"
done
row_re='^\| real work: .*, shim / none \| ≤ 1\.05x \| \*\*[0-9.]+x\*\* \([0-9.]+ → [0-9.]+ CPU ms; empty preload [0-9.]+x; page faults [0-9]+ → [0-9]+; wall [0-9.]+x\) \| (met|missed) \|$'
[ "$(grep -cE "$row_re" "$T/work.out")" = 3 ] || fail "bench/realwork.sh printed: $(cat "$T/work.out")"
grep -q '`make -j2`' "$T/work.out" && grep -q '`git` session' "$T/work.out" &&
	grep -q 'test.test_shutil' "$T/work.out" || fail "a real-work row is missing: $(cat "$T/work.out")"
note "ok: bench/realwork.sh, one quick round of each row"
