#!/bin/bash
# SPDX-License-Identifier: MIT
# make check: make lint, then three passes, each a build then tests/run.sh, and one closing
# line "N passed, N failed, N skipped" summing them all (a pass whose build
# fails counts as one failure). Every pass runs even when an earlier one
# failed; the exit status is 0 only if nothing failed.
#   plain        $B, -Werror: static, unit, fuzz, integration, faults, e2e,
#                browser (the console in headless Chromium)
#   asan+ubsan   $ASAN_DIR: the same without static, browser and ASAN_EXCLUDE
#   tsan         $TSAN_DIR: unit
# A skip for a package that scripts/install-deps.sh installs is a failure
# here (MIDSHIM_TEST_REQUIRE_DEPS).
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
B=${B:-build}
ASAN_DIR=${ASAN_DIR:-build-asan}
TSAN_DIR=${TSAN_DIR:-build-tsan}
ASAN_EXCLUDE=${ASAN_EXCLUDE:-compat|demo|install|adopt|supervise|e2e/deb|pg-}
export MIDSHIM_TEST_REQUIRE_DEPS=1
tally=$(mktemp "${TMPDIR:-/tmp}/midshim-check.XXXXXX")
trap 'rm -f "$tally"' EXIT
P=0 F=0 S=0 recap=()

# one_pass NAME: build with the make arguments MK, then run tests/run.sh
# with the environment RUN_ENV on the suites SUITES.
one_pass() {
	local name=$1 p f s
	echo "== make check: $name"
	if ! "$MAKE" --no-print-directory WERROR=-Werror "${MK[@]}"; then
		recap+=("$name: the build failed")
		F=$((F + 1))
		return
	fi
	: >"$tally"
	env "${RUN_ENV[@]}" MIDSHIM_TEST_TALLY="$tally" tests/run.sh "${SUITES[@]}"
	if read -r p f s <"$tally" && [ -n "$s" ]; then
		recap+=("$name: $p passed, $f failed, $s skipped")
	else
		recap+=("$name: tests/run.sh ended without a count")
		p=0 f=1 s=0
	fi
	P=$((P + p)) F=$((F + f)) S=$((S + s))
}

# make lint (cppcheck, shellcheck, clang-format) counts as one test.
echo "== make check: lint"
if "$MAKE" --no-print-directory lint; then
	recap+=("lint: clean")
	P=$((P + 1))
else
	recap+=("lint: failed")
	F=$((F + 1))
fi

MK=(B="$B" build-all tests-build)
RUN_ENV=(B="$B")
SUITES=(static unit fuzz integration faults e2e browser)
one_pass plain

MK=(B="$ASAN_DIR" "SANITIZER=address,undefined" OPT="-O1 -g" build-all tests-build)
RUN_ENV=(B="$ASAN_DIR" MIDSHIM_TEST_SANITIZER=address MIDSHIM_TEST_EXCLUDE="$ASAN_EXCLUDE")
SUITES=(unit fuzz integration faults e2e)
one_pass asan+ubsan

MK=(B="$TSAN_DIR" SANITIZER=thread OPT="-O1 -g" unit-build)
RUN_ENV=(B="$TSAN_DIR")
SUITES=(unit)
one_pass tsan

echo
echo "== make check: every pass"
for r in "${recap[@]}"; do echo "   $r"; done
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
