#!/bin/bash
# SPDX-License-Identifier: MIT
# A midd whose descriptors run out: each gated process holds a connection
# and a push channel, and midd splits its descriptors between the two.
# Past the channel limit a process is refused its channel with a 503
# before the upgrade and stays under the TTL gate: it must not die (a
# channel closed after the upgrade would kill it). Those with a channel
# still die at once on a revoke.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
# 200 descriptors: 136 after midd's reserve of 64, so 68 connections and
# 68 channels. Root could raise the hard limit again; without
# CAP_SYS_RESOURCE midd cannot.
ulimit -n 200 || fail "cannot lower RLIMIT_NOFILE"
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
	OURS=(setpriv --bounding-set=-sys_resource --inh-caps=-sys_resource "${OURS[@]}")
fi
midd_start
# midd answers before it logs its start line; give the line a moment.
for _ in $(seq 100); do
	grep -q "midd: start " "$T/midd.log" && break
	sleep 0.05
done
grep -q "max_connections=68 push_channels=68 " "$T/midd.log" ||
	fail "midd did not split 200 descriptors 68/68: $(grep 'start version' "$T/midd.log")"
shim_env "test:e2e:push-full:01"
DEV=$MIDSHIM_DEVICE_ID
export MIDSHIM_TTL_MS=30000 MIDSHIM_PUSH=on
N=76
TAG=pushfull.$$
PIDS=()
for _ in $(seq 1 $N); do
	MIDTEST_TAG=$TAG LD_PRELOAD=$PRELOAD sleep 600 >>"$T/out" 2>>"$T/err" &
	PIDS+=($!)
	on_exit "kill -KILL $! 2>/dev/null"
done
push_wait "$DEV" 68
# Give the refused ones time to be refused, and any wrong kill to land.
sleep 1
n=$(push_channels "$DEV")
[ "$n" -eq 68 ] || fail "midd holds $n channels, over its limit of 68"
alive=0
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
[ "$alive" -eq "$N" ] || fail "only $alive of $N gated processes live: a refused channel killed some ($(head -c 300 "$T/err"))"
note "ok: $N processes, 68 channels held, none killed by a refusal"

# The revoke kills the 68 with a channel at once; the rest sleep on under
# the TTL gate (they die at their next side effect).
t0=${EPOCHREALTIME/./}
api POST /api/v1/devices/revoke "$ADMIN_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null
for _ in $(seq 1 100); do
	alive=0
	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
	[ "$alive" -le $((N - 68)) ] && break
	sleep 0.02
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
[ "$alive" -eq $((N - 68)) ] || fail "after the revoke $alive of $N live, expected $((N - 68))"
note "ok: the revoke killed the 68 with a channel in $ms ms; $alive without one sleep on"
midd_stop
