#!/bin/bash
# SPDX-License-Identifier: MIT
# The launcher and the configuration checks: a static binary is
# supervised, or refused with --no-supervise,
# a bad setting stops the program before main with exit 126 and one line
# naming it, policy check and explain answer, and a child started with a
# clean environment is still gated.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:launcher:01"
MS=$BIN/midshim
M=$T/marker

# Static binary: supervised (tests/e2e/supervise.sh); refused with
# --no-supervise, unless --allow-static.
"$MS" run --device "$MIDSHIM_DEVICE_ID" -- "$BIN/helpers/static_true"
set +e
"$MS" run --no-supervise -- "$BIN/helpers/static_true" 2>"$T/err"
rc=$?
set -e
assert_eq 126 "$rc" "static binary refused"
assert_file_contains "$T/err" "statically linked" "static refusal names the reason"
"$MS" run --allow-static -- "$BIN/helpers/static_true" 2>"$T/err"
assert_file_contains "$T/err" "runs ungated" "allow-static warns"

# A program run by the launcher is gated: allowed, then revoked.
"$MS" run --device "$MIDSHIM_DEVICE_ID" --org-key-file "$T/keys/org.key" -- touch "$M"
assert_exists "$M" "launcher run allowed"
rm -f "$M"
device_revoke
sleep 0.3
set +e
"$MS" run --device "$MIDSHIM_DEVICE_ID" --org-key-file "$T/keys/org.key" -- touch "$M" 2>"$T/err"
rc=$?
set -e
device_restore
assert_eq 137 "$rc" "launcher run after revoke killed"
assert_absent "$M" "no side effect after revoke"
grep -Eq "denied start .*code DEVICE_REVOKED, request_id $UUID_RE" "$T/err" ||
	fail "startup denial line: $(cat "$T/err")"

# Bad configuration: exit 126 before main, one line naming the cause.
bad() { # what expected-text env...
	local what=$1 want=$2
	shift 2
	set +e
	env "$@" LD_PRELOAD="$PRELOAD" sh -c "touch $M" 2>"$T/err"
	local rc=$?
	set -e
	assert_eq 126 "$rc" "$what: exit status"
	assert_absent "$M" "$what: no side effect"
	assert_file_contains "$T/err" "$want" "$what: message"
	[ "$(grep -c midshim "$T/err")" -eq 1 ] || fail "$what: expected one line: $(cat "$T/err")"
}
bad "ttl too long" "MIDSHIM_TTL_MS=60000 is out of range" MIDSHIM_TTL_MS=60000
bad "typo" "unknown variable MIDSHIM_TTL" MIDSHIM_TTL=5
bad "no device" "no device" MIDSHIM_DEVICE_ID=
bad "bad on_deny" "MIDSHIM_ON_DENY=boom" MIDSHIM_ON_DENY=boom
printf '{"version": 1,\n "rules": [{"on": "write", "pth": "/x", "action": "allow"}]}\n' >"$T/bad.json"
bad "bad policy" "$T/bad.json:2" MIDSHIM_POLICY="$T/bad.json"

# policy check and explain.
printf '{"version": 1, "rules": [{"on": "fs", "op": "delete", "path": "/etc/**", "action": "deny"}]}\n' >"$T/p.json"
out=$("$MS" policy check "$T/p.json")
assert_contains "$out" "ok (1 rules)" "policy check ok"
set +e
"$MS" policy check "$T/bad.json" 2>"$T/err"
rc=$?
set -e
assert_eq 1 "$rc" "policy check of a bad file"
assert_file_contains "$T/err" "$T/bad.json:2" "policy check names file:line"
out=$("$MS" explain --policy "$T/p.json" fs delete /etc/passwd)
assert_contains "$out" "deny" "explain deny"
assert_contains "$out" "rule 1" "explain names the rule"
out=$("$MS" explain --policy "$T/p.json" fs delete /tmp/x)
assert_contains "$out" "validate" "explain default"

# A child given a clean environment (no LD_PRELOAD, no MIDSHIM_*) is
# still gated: after a revoke it dies at its first boundary, its own exec
# of touch. sidefx does not wait (SIDEFX_NOWAIT): it execs /bin/sh at once,
# and the shell says "ready" and waits on the FIFO, which it cannot learn
# from its clean environment but from its command line.
expect_allowed "clean env child" "$BIN/helpers/sidefx" execve-clean-env /usr/bin/touch "$M"
assert_exists "$M" "clean-env child ran while allowed"
rm -f "$M"
SIDEFX_NOWAIT=1 expect_revoked "clean env child" "exec /usr/bin/touch" "$BIN/helpers/sidefx" \
	execve-clean-env /bin/sh -c "echo ready; read -r _ < $T/go; exec /usr/bin/touch $M"
assert_eq ready "$(cat "$T/out")" "the clean-env shell ran up to its wait"
assert_absent "$M" "clean-env child after revoke"
# env -i in bash, then the grandchild's own side effect after a revoke.
gated bash -c "env -i /bin/sh -c 'echo \$LD_PRELOAD; echo \$MIDSHIM_DEVICE_ID'"
assert_contains "$(cat "$T/out")" "libmidshim.so" "env -i child has LD_PRELOAD"
assert_contains "$(cat "$T/out")" "$MIDSHIM_DEVICE_ID" "env -i child has the device"
