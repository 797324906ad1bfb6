#!/bin/bash
# SPDX-License-Identifier: MIT
# Run midshim's tests and print one closing line "N passed, N failed".
#   tests/run.sh [unit|integration|e2e|fuzz|static]...   (default: all)
# MIDSHIM_TEST_EXCLUDE, a bash regex, leaves out the tests whose names match.
# Each test is a program or script that exits 0 on success; its output is
# kept in $B/test-logs/ and shown when it fails. Every test is bounded by
# MIDSHIM_TEST_TIMEOUT seconds (default 180).
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export B
export MID_TOP=$PWD
LOGS=$B/test-logs
mkdir -p "$LOGS"
limit=${MIDSHIM_TEST_TIMEOUT:-180}
pass=0 fail=0 failed=()

run_one() {
	local name=$1; shift
	if [ -n "${MIDSHIM_TEST_EXCLUDE:-}" ] && [[ $name =~ $MIDSHIM_TEST_EXCLUDE ]]; then
		return 0
	fi
	local log=$LOGS/${name//\//_}.log
	local t0=${EPOCHREALTIME/./} ms
	if timeout -k 5 "$limit" "$@" >"$log" 2>&1 </dev/null; then
		ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
		printf 'PASS  %-44s %5d ms\n' "$name" "$ms"
		pass=$((pass + 1))
	else
		local rc=$?
		printf 'FAIL  %-44s (exit %d)\n' "$name" "$rc"
		sed 's/^/    | /' "$log" | tail -n 40
		fail=$((fail + 1))
		failed+=("$name")
	fi
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(static unit fuzz integration e2e)

for s in "${suites[@]}"; do
	case $s in
	static)
		for t in tests/static/*.sh; do
			[ -e "$t" ] && run_one "$t" bash "$t"
		done ;;
	unit)
		for t in "$B"/tests/check_*; do
			[ -x "$t" ] && run_one "unit/${t##*/}" "$t"
		done ;;
	fuzz)
		for t in "$B"/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			n=${t##*/}
			run_one "fuzz-replay/$n" "$t" "tests/fuzz/corpus/${n#fuzz_}"
		done ;;
	integration)
		for t in tests/integration/*.sh; do
			[ -e "$t" ] && run_one "$t" bash "$t"
		done ;;
	e2e)
		for t in tests/e2e/*.sh; do
			[ -e "$t" ] && run_one "$t" bash "$t"
		done ;;
	*)
		echo "run.sh: unknown suite '$s' (unit, integration, e2e, fuzz, static)" >&2
		exit 2 ;;
	esac
done

echo
if [ "$fail" -gt 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
