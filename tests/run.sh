#!/bin/bash
# SPDX-License-Identifier: MIT
# Run midshim's tests and print one closing line
# "N passed, N failed, N skipped".
#   tests/run.sh [static|unit|fuzz|integration|faults|e2e|browser]...   (default: all)
#
# Each test is a program or script: exit 0 is a pass, 77 a skip (its
# "SKIP: ..." lines say why), anything else a failure. Its output is kept
# in $B/test-logs/ and shown when it fails or skips. A test that skips for
# a missing program names the Debian package in its SKIP line
# ("... (Debian package P)", see skip and need in tests/lib.sh).
#
# MIDSHIM_TEST_EXCLUDE   a bash regex: the tests whose names match are left out
# MIDSHIM_TEST_TIMEOUT   seconds each test may take (default 180)
# MIDSHIM_TEST_REQUIRE_DEPS=1   a skip for a package that
#                        scripts/install-deps.sh installs is a failure
#                        (make check sets it)
# MIDSHIM_TEST_TALLY     a file that receives "PASSED FAILED SKIPPED"
set -u
cd "$(dirname "$0")/.." || exit 2
B=${B:-build}
export B
export MID_TOP=$PWD
LOGS=$B/test-logs
mkdir -p "$LOGS"
limit=${MIDSHIM_TEST_TIMEOUT:-180}
pass=0 fail=0 skip=0 failed=() excluded=()

# The packages a skip may not name under MIDSHIM_TEST_REQUIRE_DEPS.
required=
if [ -n "${MIDSHIM_TEST_REQUIRE_DEPS:-}" ]; then
	required=" $(scripts/install-deps.sh --list | tr '\n' ' ') "
fi

count_fail() { # name
	fail=$((fail + 1))
	failed+=("$1")
}

run_one() {
	local name=$1; shift
	if [ -n "${MIDSHIM_TEST_EXCLUDE:-}" ] && [[ $name =~ $MIDSHIM_TEST_EXCLUDE ]]; then
		excluded+=("$name")
		return 0
	fi
	local log=$LOGS/${name//\//_}.log
	local t0=${EPOCHREALTIME/./} ms rc=0
	timeout -k 5 "$limit" "$@" >"$log" 2>&1 </dev/null || rc=$?
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	if [ "$rc" -eq 0 ]; then
		printf 'PASS  %-44s %5d ms\n' "$name" "$ms"
		pass=$((pass + 1))
	elif [ "$rc" -eq 77 ]; then
		local why pkg owed=
		why=$(grep '^SKIP: ' "$log" || true)
		[ -n "$why" ] || why="SKIP: (no reason given)"
		for pkg in $(sed -nE 's/^SKIP: .*\(Debian package ([a-z0-9.+-]+)\)$/\1/p' "$log"); do
			[[ $required == *" $pkg "* ]] && owed="$owed $pkg"
		done
		if [ -n "$owed" ]; then
			printf 'FAIL  %-44s (skipped for%s, which scripts/install-deps.sh installs)\n' \
				"$name" "$owed"
			count_fail "$name"
		else
			printf 'SKIP  %-44s %5d ms\n' "$name" "$ms"
			skip=$((skip + 1))
		fi
		sed 's/^/    | /' <<<"$why"
	else
		printf 'FAIL  %-44s (exit %d)\n' "$name" "$rc"
		sed 's/^/    | /' "$log" | tail -n 40
		count_fail "$name"
	fi
}

# A test that should exist but was not built is a failure, not a gap.
run_built() { # name program args...
	if [ -x "$2" ]; then
		run_one "$@"
	elif [ -n "${MIDSHIM_TEST_EXCLUDE:-}" ] && [[ $1 =~ $MIDSHIM_TEST_EXCLUDE ]]; then
		excluded+=("$1")
	else
		printf 'FAIL  %-44s (%s is not built)\n' "$1" "$2"
		count_fail "$1"
	fi
}

run_scripts() { # dir
	local t
	for t in "$1"/*.sh; do
		[ -e "$t" ] && run_one "$t" bash "$t"
	done
}

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(static unit fuzz integration faults e2e browser)

for s in "${suites[@]}"; do
	case $s in
	static | integration | faults | e2e | browser)
		run_scripts "tests/$s" ;;
	unit)
		for src in tests/unit/check_*.c; do
			n=$(basename "$src" .c)
			run_built "unit/$n" "$B/tests/$n"
		done ;;
	fuzz)
		for src in tests/fuzz/fuzz_*.c; do
			n=$(basename "$src" .c)
			run_built "fuzz-replay/$n" "$B/fuzz/$n" "tests/fuzz/corpus/${n#fuzz_}"
		done ;;
	*)
		echo "run.sh: unknown suite '$s' (static, unit, fuzz, integration, faults, e2e, browser)" >&2
		exit 2 ;;
	esac
done

echo
if [ ${#excluded[@]} -gt 0 ]; then
	echo "excluded by MIDSHIM_TEST_EXCLUDE: ${excluded[*]}"
fi
if [ "$fail" -gt 0 ]; then
	echo "failed: ${failed[*]}"
fi
[ -z "${MIDSHIM_TEST_TALLY:-}" ] || echo "$pass $fail $skip" >"$MIDSHIM_TEST_TALLY"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
