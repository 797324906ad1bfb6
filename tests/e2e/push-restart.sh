#!/bin/bash
# SPDX-License-Identifier: MIT
# A control-plane restart kills nothing: with gated programs idle on their
# push channels, midd is killed with SIGKILL and started again, then
# stopped with SIGTERM and started again; every program lives on, the new
# midd lists it again (taken back from the push keeper), and a revoke
# after the restarts still halts all of them within PUSH_BOUND_MS.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
midd_start
shim_env "test:e2e:push:restart"
DEV=$MIDSHIM_DEVICE_ID
export MIDSHIM_TTL_MS=30000 MIDSHIM_PUSH=on

for _ in 1 2; do
	MIDTEST_TAG=restart.$$ LD_PRELOAD=$PRELOAD sleep 600 >>"$T/out" 2>>"$T/err" &
	on_exit "kill -KILL $! 2>/dev/null"
done
push_wait "$DEV" 2
before=$(tag_pids restart.$$)

midd_kill9
sleep 0.5
assert_eq "$before" "$(tag_pids restart.$$)" "processes alive after midd was killed"
midd_start
push_wait "$DEV" 2
grep -q "restored=2" "$T/midd.log" || fail "the new midd did not take back 2 channels: $(cat "$T/midd.log")"

midd_stop
sleep 0.5
assert_eq "$before" "$(tag_pids restart.$$)" "processes alive after midd stopped"
midd_start
push_wait "$DEV" 2
sleep 0.5
assert_eq "$before" "$(tag_pids restart.$$)" "processes alive after the restarts"
note "ok: two restarts killed nothing"

push_halt restart.$$ 2 /api/v1/devices/revoke "{\"deviceId\":\"$DEV\"}" || fail "revoke after restart"
note "ok: a revoke after the restarts halts every process"
