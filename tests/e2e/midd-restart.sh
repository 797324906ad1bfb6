#!/bin/bash
# SPDX-License-Identifier: MIT
# Riding out a control-plane restart: a gated job keeps running while midd
# is stopped and started again 0.3 s later, over TCP and over a unix
# socket, since a refused connection or a missing socket is tried again
# until MIDSHIM_TIMEOUT_MS runs out. With midd gone for longer than that,
# the job is still stopped (fail closed).
. "$(dirname "$0")/../lib.sh"
shim_env "test:e2e:restart:01"
export MIDSHIM_TTL_MS=100 MIDSHIM_TIMEOUT_MS=2000
# Appends a line every 20 ms until $1/stop appears, for at most 60 s.
LOOP='for i in $(seq 1 3000); do [ -e "$1/stop" ] && exit 0; echo "$i" >>"$1/out"; sleep 0.02; done; exit 3'

lines() { cat "$T/w/out" 2>/dev/null | wc -l; }
wait_lines() { # n: until the job wrote n lines more than now (at most 10 s)
	local want=$(($(lines) + $1))
	for _ in $(seq 1 200); do
		[ "$(lines)" -ge "$want" ] && return 0
		kill -0 "$JOB" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# The URL the job uses: midd's TCP one, or its unix socket when
# SOCK_URL is set (midd_start sets MIDSHIM_URL to the TCP one).
start() {
	midd_start "$@"
	[ -z "${SOCK_URL:-}" ] || export MIDSHIM_URL=$SOCK_URL
}

restart_under_job() { # what midd-options...
	local what=$1 rc
	shift
	rm -rf "$T/w" && mkdir -p "$T/w"
	start "$@"
	LD_PRELOAD=$PRELOAD bash -c "$LOOP" _ "$T/w" >/dev/null 2>"$T/err" </dev/null &
	JOB=$!
	wait_lines 5 || fail "$what: the job did not start writing: $(cat "$T/err")"
	midd_stop
	sleep 0.3
	start "$@"
	wait_lines 25 || fail "$what: the job stopped across the restart: $(cat "$T/err")"
	touch "$T/w/stop"
	set +e
	wait "$JOB"
	rc=$?
	set -e
	assert_eq 0 "$rc" "$what: the job's exit status"
	if grep -q "midshim: denied" "$T/err"; then
		fail "$what: the restart caused a denial: $(cat "$T/err")"
	fi
	note "ok: $what: the job rode out a 0.3 s restart"
	midd_stop
}

restart_under_job "TCP"
SOCK_URL=unix:$T/midd.sock
restart_under_job "unix socket" --socket "$T/midd.sock"

# Gone for good: the job dies with MIDSHIM_UNREACHABLE. A child in its
# own validate (sleep) may use up one timeout before the shell's next
# write uses up another: TTL + 2 timeouts, plus 2 s for a loaded machine.
rm -rf "$T/w" && mkdir -p "$T/w"
start --socket "$T/midd.sock"
LD_PRELOAD=$PRELOAD bash -c "$LOOP" _ "$T/w" >/dev/null 2>"$T/err" </dev/null &
JOB=$!
wait_lines 5 || fail "gone: the job did not start writing: $(cat "$T/err")"
midd_stop
t0=${EPOCHREALTIME/./}
limit=$((MIDSHIM_TTL_MS + 2 * MIDSHIM_TIMEOUT_MS + 2000))
while kill -0 "$JOB" 2>/dev/null && [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -lt "$limit" ]; do
	sleep 0.02
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
set +e
kill -0 "$JOB" 2>/dev/null && { kill -KILL "$JOB"; fail "gone: the job still ran ${ms} ms after midd stopped"; }
wait "$JOB"
rc=$?
set -e
assert_eq 137 "$rc" "gone: exit status"
grep -Eq "midshim: denied .*code MIDSHIM_UNREACHABLE, request_id -\): killed" "$T/err" ||
	fail "gone: no MIDSHIM_UNREACHABLE denial: $(cat "$T/err")"
# Without retries it would die within about one TTL of the stop.
[ "$ms" -ge $((MIDSHIM_TIMEOUT_MS / 2)) ] || fail "gone: died after ${ms} ms: it did not retry towards the ${MIDSHIM_TIMEOUT_MS} ms deadline"
note "ok: midd gone for good: stopped after ${ms} ms"
