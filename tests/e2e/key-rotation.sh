#!/bin/bash
# SPDX-License-Identifier: MIT
# Rotating the org key kills nothing: during the overlap (midctl
# rotate-key org, 10 minutes by default) a job holding the old key runs on
# and a job started with the new key runs too. When an overlap ends (here
# one of 1 s), a job still holding the replaced key is stopped with
# MIDSHIM_HTTP_401: the overlap is bounded, and failing closed is kept.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:rotate:01"
export MIDSHIM_TTL_MS=100
CTL=(env MIDSHIM_ADMIN_KEY_FILE="$T/admin/admin.key" "${OURS[@]}" "$BIN/midctl" --url "$MIDSHIM_URL")
LOOP='for i in $(seq 1 3000); do [ -e "$1/stop" ] && exit 0; echo "$i" >>"$1/out"; sleep 0.02; done; exit 3'

start_job() { # name keyfile: a loop in $T/NAME, pid in PID_NAME
	rm -rf "${T:?}/$1" && mkdir -p "$T/$1"
	MIDSHIM_ORG_KEY_FILE=$2 LD_PRELOAD=$PRELOAD bash -c "$LOOP" _ "$T/$1" >/dev/null 2>"$T/$1.err" </dev/null &
	eval "PID_$1=$!"
	for _ in $(seq 1 200); do
		[ "$(cat "$T/$1/out" 2>/dev/null | wc -l)" -ge 5 ] && return 0
		sleep 0.05
	done
	fail "$1 did not start: $(cat "$T/$1.err")"
}
alive_for() { # seconds names...: every named job still writes after that long
	local s=$1 n before
	shift
	sleep "$s"
	for n in "$@"; do
		before=$(cat "$T/$n/out" | wc -l)
		sleep 0.3
		[ "$(cat "$T/$n/out" | wc -l)" -gt "$before" ] || fail "$n stopped: $(cat "$T/$n.err")"
	done
}

cp "$T/keys/org.key" "$T/keys/k0"
start_job A "$T/keys/k0"
"${CTL[@]}" rotate-key org >"$T/keys/k1" 2>"$T/rotate.err" || fail "rotate-key: $(cat "$T/rotate.err")"
alive_for 1 A
start_job B "$T/keys/k1"
alive_for 0.5 A B
"${CTL[@]}" keys >"$T/keys.out"
grep -Eq '^org key +current, and the previous one until .*\((59[0-9]|600) s left\)$' "$T/keys.out" ||
	fail "midctl keys shows no overlap: $(cat "$T/keys.out")"
note "ok: a rotation with the default overlap stops nothing"

# A rotation with a 1 s overlap: B (the key just replaced) runs on until
# it ends; A (the key before, whose overlap this ends) stops at once.
"${CTL[@]}" rotate-key org --grace 1 >"$T/k2" 2>"$T/rotate.err" || fail "rotate-key: $(cat "$T/rotate.err")"
t0=${EPOCHREALTIME/./}
wait_dead() { # name bound-ms
	local pid rc
	eval "pid=\$PID_$1"
	while kill -0 "$pid" 2>/dev/null && [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -lt "$2" ]; do
		sleep 0.02
	done
	set +e
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "$1 still ran $2 ms after the rotation"; }
	wait "$pid"
	rc=$?
	set -e
	assert_eq 137 "$rc" "$1: exit status"
	grep -Eq "midshim: denied .*code MIDSHIM_HTTP_401, request_id -\): killed" "$T/$1.err" ||
		fail "$1: no MIDSHIM_HTTP_401 denial: $(cat "$T/$1.err")"
	MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
}
# Bounds: A within one TTL, B within the 1 s overlap plus one TTL, each
# with 2 s more for a loaded machine (a shell and its child may each wait).
wait_dead A $((MIDSHIM_TTL_MS + 2000))
msA=$MS
wait_dead B $((1000 + MIDSHIM_TTL_MS + 2000))
msB=$MS
[ "$msB" -ge 900 ] || fail "B stopped after ${msB} ms, before its 1 s overlap ended"
note "ok: the replaced keys stop working: A after ${msA} ms, B after ${msB} ms"
