#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo` as a newcomer sees it, in a private directory: it exits 0,
# shows the revoke with its request_id, the shim's DEVICE_REVOKED line,
# exit status 137, a death within TTL + 1 s, a file that stopped growing,
# and the program working again after the restore; it leaves no process
# behind and no colour codes in a pipe. The interactive mode is driven by
# the console command it prints. A stop by SIGTERM cleans up too, and a
# directory the demo did not make is never wiped.
. "$(dirname "$0")/../lib.sh"
DEMO=$TOP/scripts/demo.sh
# Sanitizer builds: the runtime must come before the shim in LD_PRELOAD.
pre=
[ -z "${MIDSHIM_TEST_SANITIZER:-}" ] || pre=${PRELOAD%:*}

# demo_env VAR=... : the demo's environment for this test.
demo_env() {
	env DEMO_DIR="$T/demo" DEMO_PORT="$(free_port)" DEMO_PRELOAD="$pre" B="$B" "$@"
}
# No process may outlive the demo: everything it starts names $T/demo.
assert_no_leftovers() { # what
	for _ in $(seq 1 20); do
		pgrep -f "$T/demo" >/dev/null || return 0
		sleep 0.1
	done
	fail "$1: processes left behind: $(pgrep -af "$T/demo")"
}

# ---- non-interactive --------------------------------------------------------
set +e
demo_env timeout 60 "$DEMO" >"$T/out" 2>&1 </dev/null
rc=$?
set -e
out=$(cat "$T/out")
assert_eq 0 "$rc" "demo exit status; output: $out"
url=$(sed -n 's/^    console   \(http:[^ ]*\/console\)   in a browser; log in with the admin key$/\1/p' "$T/out")
[ -n "$url" ] || fail "no console URL line: $out"
grep -Eq "^    midd listens on ${url%/console} " "$T/out" || fail "the console URL is not midd's: $out"
grep -Eq "^    registered demo:local:runaway:01 \(request_id $UUID_RE\)$" "$T/out" ||
	fail "no register line: $out"
grep -Eq "^    revoked demo:local:runaway:01 \(request_id $UUID_RE\)$" "$T/out" ||
	fail "no revoke line with its request_id: $out"
grep -Eq "^      midshim: denied [a-z ]+ .*\(device demo:local:runaway:01, code DEVICE_REVOKED, request_id $UUID_RE\): killed$" "$T/out" ||
	fail "no denial line from the shim: $out"
rid=$(sed -n 's/^      midshim: denied .*, request_id \([0-9a-f-]*\)): killed$/\1/p' "$T/out")
grep -Eq "^      [0-9T:.Z-]+ +demo:local:runaway:01 +validate +deny +DEVICE_REVOKED +$rid " "$T/out" ||
	fail "midd's audit trail line for request_id $rid not shown: $out"
assert_contains "$out" "exit status 137 (killed by SIGKILL)" "exit status shown"
ms=$(sed -n 's/.*program died at [0-9:.]*: \([0-9]*\) ms (TTL 500 ms)$/\1/p' "$T/out")
[ -n "$ms" ] || fail "no revoke-to-death time: $out"
# The program connects every 200 ms: it dies within the TTL, one period
# and a margin of 300 ms.
note "death $ms ms after the revoke (limit 500 + 200 + 300 ms)"
[ "$ms" -le 1000 ] || fail "death ${ms} ms after the revoke, over TTL 500 + 200 + 300 ms"
grep -Eq "out.log: ([0-9]+) lines at its death, still \1 lines 1 s later$" "$T/out" ||
	fail "file growth after the death not shown as none: $out"
grep -Eq "it runs again: .*out.log grew from [0-9]+ to [0-9]+ lines" "$T/out" ||
	fail "no working run after the restore: $out"
grep -Eq "^PASS  killed by SIGKILL [0-9]+ ms after the revoke \(DEVICE_REVOKED\)" "$T/out" ||
	fail "no PASS line: $out"
assert_not_contains "$out" $'\e[' "no colour codes when stdout is not a terminal"
assert_not_contains "$out" "Killed" "no job-control noise from bash"
# The file agrees with what was shown: lines from two runs, none after the death.
assert_file_contains "$T/demo/out.log" "tick 1 " "the program's file"
assert_exists "$T/demo/.midshim-demo" "marker of the demo's directory"
assert_no_leftovers "demo"

# ---- interactive: revoke through the console command it prints -------------
set +e
env DEMO_DIR="$T/demo" DEMO_PORT="$(free_port)" DEMO_PRELOAD="$pre" B="$B" \
	DEMO_INTERACTIVE=1 timeout 60 "$DEMO" >"$T/iout" 2>&1 </dev/null &
pid=$!
set -e
cmd=
for _ in $(seq 1 100); do
	cmd=$(sed -n 's/^ *\(.*\/midctl --url .* console --device demo:local:runaway:01\)$/\1/p' "$T/iout" 2>/dev/null || true)
	[ -n "$cmd" ] && break
	sleep 0.1
done
[ -n "$cmd" ] || fail "interactive demo printed no console command: $(cat "$T/iout")"
assert_file_contains "$T/iout" "Or revoke from the browser: open http://" "the browser console offered"
assert_contains "$cmd" "--admin-key-file $T/demo/admin/admin.key" "console command names the admin key"
sleep 1
# shellcheck disable=SC2086 # the printed command, split as a shell would
echo revoke | $cmd >"$T/console" 2>&1 || fail "console: $(cat "$T/console")"
assert_file_contains "$T/console" "revoked demo:local:runaway:01" "console revoke"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 0 "$rc" "interactive demo exit status; output: $(cat "$T/iout")"
assert_file_contains "$T/iout" "code DEVICE_REVOKED, request_id" "interactive denial line"
grep -Eq "midd's audit trail: revoke at [0-9:.]+, program died at [0-9:.]+: [0-9]+ ms" "$T/iout" ||
	fail "interactive revoke-to-death time not shown: $(cat "$T/iout")"
assert_file_contains "$T/iout" "it runs again" "interactive restore"
assert_no_leftovers "interactive demo"

# ---- SIGTERM in the middle: exit 143, nothing left running -------------------
env DEMO_DIR="$T/demo" DEMO_PORT="$(free_port)" DEMO_PRELOAD="$pre" B="$B" \
	"$DEMO" >"$T/tout" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 100); do
	grep -q "running as pid" "$T/tout" 2>/dev/null && break
	sleep 0.1
done
grep -q "running as pid" "$T/tout" || fail "demo did not start the program: $(cat "$T/tout")"
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 143 "$rc" "demo stopped by SIGTERM"
assert_file_contains "$T/tout" "interrupted: stopping midd and the program" "interrupt message"
assert_no_leftovers "interrupted demo"

# ---- a directory it did not make is left alone ------------------------------
mkdir -p "$T/mine"
echo keep >"$T/mine/precious"
set +e
env DEMO_DIR="$T/mine" B="$B" "$DEMO" >"$T/refuse" 2>&1 </dev/null
rc=$?
set -e
assert_eq 1 "$rc" "demo refuses a foreign directory"
assert_file_contains "$T/refuse" "was not made by the demo" "refusal names the cause"
assert_file_contains "$T/mine/precious" "keep" "foreign directory untouched"
