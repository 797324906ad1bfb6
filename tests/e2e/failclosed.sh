#!/bin/bash
# SPDX-License-Identifier: MIT
# Fail closed: with the control plane stopped, too slow, or answering
# anything but a well-formed allow, a gated program is stopped at its
# startup gate with a code naming the fault, and its side effect never
# happens.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:failclosed:01"
M=$T/marker
export MIDSHIM_TIMEOUT_MS=400

expect_fault() { # what code
	rm -f "$M"
	gated sh -c "touch $M"
	[ "$RC" -eq 137 ] || fail "$1: expected SIGKILL (137), got $RC; stderr: $(cat "$T/err")"
	assert_absent "$M" "$1: side effect happened"
	grep -Eq "midshim: denied start .*code $2, request_id -\): killed" "$T/err" ||
		fail "$1: no denial with code $2; stderr: $(cat "$T/err")"
	note "ok: $1 -> $2"
}

# The control case: a well-formed allow lets the program run.
expect_allowed "midd up" sh -c "touch $M"
assert_exists "$M" "allowed run"

# midd stopped: nothing listens on its port.
midd_stop
expect_fault "midd stopped" MIDSHIM_UNREACHABLE
MIDSHIM_URL=unix:$T/nothing.sock expect_fault "no unix socket" MIDSHIM_UNREACHABLE

FPORT=$(free_port)
start_fault() {
	[ -z "${FPID:-}" ] || { kill "$FPID" 2>/dev/null; wait "$FPID" 2>/dev/null || true; }
	python3 "$TOP/tests/faultd.py" "$FPORT" "$1" &
	FPID=$!
	local i
	for i in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $FPORT), 1).close()" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "fault server ($1) did not start"
}
on_exit '[ -z "${FPID:-}" ] || kill "$FPID" 2>/dev/null'
export MIDSHIM_URL=http://127.0.0.1:$FPORT

start_fault allow
expect_allowed "fault server control case" sh -c "touch $M"

for c in hang:MIDSHIM_TIMEOUT slow:MIDSHIM_TIMEOUT garbage:MIDSHIM_BAD_HTTP \
	notjson:MIDSHIM_NOT_JSON string:MIDSHIM_BAD_REPLY missing:MIDSHIM_BAD_REPLY \
	array:MIDSHIM_BAD_REPLY http500:MIDSHIM_HTTP_500 http301:MIDSHIM_HTTP_301 \
	http429:MIDSHIM_HTTP_429 http401:MIDSHIM_HTTP_401 big:MIDSHIM_TOO_LARGE \
	reset:MIDSHIM_TRUNCATED truncated:MIDSHIM_TRUNCATED chunkbad:MIDSHIM_BAD_HTTP; do
	start_fault "${c%%:*}"
	t0=${EPOCHREALTIME/./}
	expect_fault "${c%%:*}" "${c#*:}"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	# Register and validate each have the 400 ms deadline; a hung
	# server must not hold the program much longer than that.
	[ "$ms" -lt 3000 ] || fail "${c%%:*}: took $ms ms"
done
