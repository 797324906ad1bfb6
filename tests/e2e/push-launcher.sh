#!/bin/bash
# SPDX-License-Identifier: MIT
# `midshim run` keeps the program's tree: a bash script with a `setsid
# nohup` daemon, a statically linked child and an idle `sleep` dies as a
# whole within PUSH_BOUND_MS of a revoke, an org disable or a remove, the
# launcher exits 137 and names the request ID. Signals are forwarded and
# the program's status is the launcher's. A kill -9 and restart of midd
# under a running tree kills nothing, and a revoke afterwards still
# halts all of it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
midd_start
shim_env "test:e2e:push:launcher"
DEV=$MIDSHIM_DEVICE_ID
export MIDSHIM_TTL_MS=30000 MIDSHIM_PUSH=on
MS=$BIN/midshim
STATIC=$BIN/helpers/static_sleep
body() { printf '{"deviceId":"%s"}' "$DEV"; }

# tree TAG: the launcher with a script that leaves a setsid daemon, a
# static child and a sleep behind, all idle. Tags are made unique to this
# run; what a failure leaves behind is killed at exit.
tree() {
	on_exit "kill -KILL \$(tag_pids $1) 2>/dev/null"
	MIDTEST_TAG=$1 "$MS" run --device "$DEV" --org-key-file "$T/keys/org.key" -- \
		bash -c 'setsid nohup sleep 600 >/dev/null 2>&1 & "$1" & sleep 600' _ "$STATIC" \
		>>"$T/out" 2>"$T/err.$1" </dev/null &
	LPID=$!
	on_exit "kill -KILL $LPID 2>/dev/null"
	tag_wait "$1" 5 # launcher, bash, daemon, static child, sleep
	push_wait "$DEV" 2 # the launcher's channel and bash's own
}

# halt_case TAG PATH BODY CODE: the tree dies within the bound; the
# launcher exits 137 and says why.
halt_case() {
	local tag=$1 rc
	tree "$tag"
	push_halt "$tag" 5 "$2" "$3" || fail "$tag"
	set +e
	wait "$LPID"
	rc=$?
	set -e
	assert_eq 137 "$rc" "$tag: launcher status"
	grep -Eq "killed every process of .*bash \(device $DEV, code $4, request_id $UUID_RE\): pushed" \
		"$T/err.$tag" || fail "$tag: no launcher line: $(cat "$T/err.$tag")"
	note "ok: $tag"
}

reset() {
	api POST /api/v1/devices/unrevoke "$ADMIN_KEY" "$(body)" >/dev/null
	api POST /api/v1/org/enable "$ADMIN_KEY" "" >/dev/null
	push_wait "$DEV" 0
}

halt_case revoke.$$ /api/v1/devices/revoke "$(body)" DEVICE_REVOKED
reset
halt_case disable.$$ /api/v1/org/disable "" ORG_DISABLED
reset

# The program's status is the launcher's; signals reach the program.
set +e
"$MS" run --device "$DEV" --org-key-file "$T/keys/org.key" -- bash -c 'exit 3'
rc=$?
set -e
assert_eq 3 "$rc" "exit status passed through"
"$MS" run --device "$DEV" --org-key-file "$T/keys/org.key" -- \
	bash -c 'trap "exit 42" USR1; touch "$1"; while :; do sleep 0.05; done' _ "$T/ready" &
LPID=$!
for _ in $(seq 1 100); do [ -e "$T/ready" ] && break; sleep 0.05; done
kill -USR1 "$LPID"
set +e
wait "$LPID"
rc=$?
set -e
assert_eq 42 "$rc" "SIGUSR1 forwarded to the program"
"$MS" run --device "$DEV" --org-key-file "$T/keys/org.key" -- sleep 600 &
LPID=$!
push_wait "$DEV" 2
kill -TERM "$LPID"
set +e
wait "$LPID"
rc=$?
set -e
assert_eq 143 "$rc" "SIGTERM forwarded; status 128+15"
push_wait "$DEV" 0
note "ok: status and signals"

# Restart midd under a running tree: nothing dies; a revoke still kills.
tree restart.$$
before=$(tag_pids restart.$$)
midd_kill9
midd_start
push_wait "$DEV" 2
sleep 0.5
assert_eq "$before" "$(tag_pids restart.$$)" "the tree lives through a midd restart"
push_halt restart.$$ 5 /api/v1/devices/revoke "$(body)" || fail "revoke after restart"
note "ok: restart"
reset

halt_case remove.$$ /api/v1/devices/remove "$(body)" DEVICE_REMOVED
