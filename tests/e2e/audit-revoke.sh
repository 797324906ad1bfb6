#!/bin/bash
# SPDX-License-Identifier: MIT
# Audit mode softens the policy, never an operator's decision: a program
# in audit mode runs on past a policy deny (logged as "would deny"), but
# a revoke, a remove or an org disable stops it like in enforce mode.
# midd learns the mode from the validates, and midctl shows it.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:audit:01"
export MIDSHIM_MODE=audit
cat >"$T/policy.json" <<'JSON'
{ "version": 1, "default": "validate",
  "rules": [ { "on": "fs", "op": ["delete"], "path": ["/tmp/**", "/var/tmp/**"], "action": "deny" } ] }
JSON
export MIDSHIM_POLICY=$T/policy.json
# The operator's key reaches midctl only, never the gated programs.
CTL=(env MIDSHIM_ADMIN_KEY_FILE="$T/admin/admin.key" "${OURS[@]}" "$BIN/midctl" --url "$MIDSHIM_URL")

# A loop that deletes a file (a policy deny) and appends a line to a file
# every 20 ms, for at most 60 s.
LOOP='for i in $(seq 1 3000); do : >"$1/victim"; rm -f "$1/victim"; echo "$i" >>"$1/out"; sleep 0.02; done'

run_until_stopped() { # what: start the loop, wait for it to pass the deny, stop it with "$@"
	local what=$1 pid t0 t1 ms
	shift
	rm -f "$T/out" "$T/err"
	rm -rf "$T/w"
	mkdir -p "$T/w"
	LD_PRELOAD=$PRELOAD bash -c "$LOOP" _ "$T/w" >/dev/null 2>"$T/err" </dev/null &
	pid=$!
	for _ in $(seq 1 200); do
		[ "$(cat "$T/w/out" 2>/dev/null | wc -l)" -ge 5 ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pid" 2>/dev/null || fail "$what: the audit-mode loop died before the stop: $(cat "$T/err")"
	grep -q "midshim: would deny fs delete $T/w/victim .*code POLICY_DENY.*: audit mode, allowed" "$T/err" ||
		fail "$what: no 'would deny' line for the policy deny: $(cat "$T/err")"
	"$@" >/dev/null || fail "$what: the stop command failed"
	t0=${EPOCHREALTIME/./}
	# The loop must die within one TTL, one turn of the loop (20 ms) and
	# a margin of 300 ms for a loaded machine.
	local limit=$((MIDSHIM_TTL_MS + 20 + 300))
	while kill -0 "$pid" 2>/dev/null && [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -le "$limit" ]; do
		sleep 0.02
	done
	t1=${EPOCHREALTIME/./}
	ms=$(((t1 - t0) / 1000))
	set +e
	kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; wait "$pid"; fail "$what: audit-mode program still ran ${ms} ms after the stop"; }
	[ "$ms" -le "$limit" ] || fail "$what: died $ms ms after the stop, over $limit ms"
	wait "$pid"
	RC=$?
	set -e
	assert_eq 137 "$RC" "$what: exit status"
	grep -Eq "midshim: denied .*code $CODE, request_id $UUID_RE\): killed" "$T/err" ||
		fail "$what: no '$CODE ... killed' line: $(cat "$T/err")"
	note "ok: $what stops an audit-mode program (${ms} ms, limit $limit ms: TTL + 20 + 300 ms)"
}

# Before any stop: midd learns the mode from the validates.
gated bash -c 'echo hi >/dev/null'
[ "$RC" -eq 0 ] || fail "audit-mode start exited $RC: $(cat "$T/err")"
out=$("${CTL[@]}" status "$MIDSHIM_DEVICE_ID")
grep -Eq '^mode +audit ' <<<"$out" || fail "midctl status shows no audit mode: $out"
out=$("${CTL[@]}" list)
grep -Eq "^$MIDSHIM_DEVICE_ID +active +audit " <<<"$out" || fail "midctl list shows no audit mode: $out"
out=$("${CTL[@]}" --json list)
assert_contains "$out" '"mode":"audit"' "list --json carries the mode"
note "ok: midd knows the device runs in audit mode"

CODE=DEVICE_REVOKED run_until_stopped "revoke" "${CTL[@]}" revoke "$MIDSHIM_DEVICE_ID"
"${CTL[@]}" restore "$MIDSHIM_DEVICE_ID" >/dev/null
CODE=ORG_DISABLED run_until_stopped "org disable" "${CTL[@]}" org disable
"${CTL[@]}" org enable >/dev/null

# A program whose only side effects are ones the policy denies: audit
# mode lets each through, but still asks midd, so a revoke stops it too.
"${CTL[@]}" restore "$MIDSHIM_DEVICE_ID" >/dev/null
rm -rf "$T/w" && mkdir -p "$T/w"
for i in $(seq 1 3000); do : >"$T/w/v.$i"; done
rm -f "$T/err"
LD_PRELOAD=$PRELOAD /usr/bin/python3 -I -B -c 'import os, sys, time
for i in range(1, 3001):
    os.unlink("%s/v.%d" % (sys.argv[1], i))
    time.sleep(0.02)' "$T/w" >/dev/null 2>"$T/err" </dev/null &
pid=$!
for _ in $(seq 1 200); do
	[ "$(find "$T/w" -name 'v.*' | wc -l)" -le 2995 ] && break
	sleep 0.05
done
grep -q "midshim: would deny fs delete $T/w/v.1 .*code POLICY_DENY.*: audit mode, allowed" "$T/err" ||
	fail "deletes only: no 'would deny' line: $(cat "$T/err")"
"${CTL[@]}" revoke "$MIDSHIM_DEVICE_ID" >/dev/null || fail "deletes only: revoke failed"
t0=${EPOCHREALTIME/./}
limit=$((MIDSHIM_TTL_MS + 20 + 300))
while kill -0 "$pid" 2>/dev/null && [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -le "$limit" ]; do
	sleep 0.02
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
if kill -0 "$pid" 2>/dev/null; then
	kill -KILL "$pid"
	fail "deletes only: the audit-mode program still ran ${ms} ms after the revoke"
fi
wait "$pid" && RC=0 || RC=$?
assert_eq 137 "$RC" "deletes only: exit status"
grep -Eq "midshim: denied fs delete .*code DEVICE_REVOKED, request_id $UUID_RE\): killed" "$T/err" ||
	fail "deletes only: no 'DEVICE_REVOKED ... killed' line: $(cat "$T/err")"
note "ok: a revoke stops an audit-mode program whose every act the policy denies (${ms} ms)"
"${CTL[@]}" restore "$MIDSHIM_DEVICE_ID" >/dev/null

CODE=DEVICE_REMOVED run_until_stopped "remove" "${CTL[@]}" remove "$MIDSHIM_DEVICE_ID"

# A mixed fleet: an enforce-mode process of the same device is seen too.
"${CTL[@]}" restore "$MIDSHIM_DEVICE_ID" >/dev/null
MIDSHIM_MODE=enforce gated /bin/true
[ "$RC" -eq 0 ] || fail "enforce-mode start exited $RC: $(cat "$T/err")"
out=$("${CTL[@]}" list)
grep -Eq "^$MIDSHIM_DEVICE_ID +active +mixed " <<<"$out" || fail "midctl list shows no mixed mode: $out"
note "ok: mixed modes"
