#!/bin/bash
# SPDX-License-Identifier: MIT
# Signals to other processes and input pushed into a terminal are events
# a policy names ("signal", "tty-inject"): after a revoke no road sends
# one (kill, killpg, sigqueue, tgkill, pidfd_send_signal and the raw
# syscall() numbers), and the target still lives; a deny rule fails them
# with EPERM while signal 0 and signals to the process itself pass; a
# path rule names the target's program (a group has none). TIOCSTI is gated whatever the
# kernel then does with it (dev.tty.legacy_tiocsti), so the audit log is
# asserted, not only the effect. Last, an open a posix_spawn file action
# makes after a chdir action is judged in that directory.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:signals:01"
SIG=$BIN/helpers/signals
# shellcheck source=tests/e2e/signals.lib
. "$(dirname "$0")/signals.lib"

ROADS="kill killpg sigqueue tgkill pidfd syscall-kill syscall-tkill syscall-tgkill
	syscall-sigqueueinfo syscall-tgsigqueueinfo syscall-pidfd"
for op in $ROADS; do
	target
	expect_allowed "$op allowed" "$SIG" "$op" "$TPID"
	reap "$TPID" || fail "$op allowed: the target still lives"
	target
	expect_revoked "$op" signal "$SIG" "$op" "$TPID"
	alive "$TPID" || fail "$op: the signal was sent after the revoke"
	grep -Eq "denied signal SIGTERM to (pid $TPID $SLEEP|process group $TPID)" "$T/err" ||
		fail "$op: the denial names no target: $(cat "$T/err")"
	kill "$TPID"
	note "ok: $op"
done

# What is no side effect passes a revoked device's gate: signal 0 to
# another process and signals to itself by every road. (The start gate
# needs an allow: revoke once it runs.)
target
go=$T/go
rm -f "$go"
mkfifo "$go"
LD_PRELOAD=$PRELOAD GO=$go "$SIG" self "$TPID" >"$T/out" 2>"$T/err" </dev/null &
pid=$!
for _ in $(seq 1 200); do grep -q ready "$T/out" 2>/dev/null && break; sleep 0.05; done
device_revoke
sleep 0.3
timeout 5 sh -c 'echo go >"$1"' _ "$go" || true
set +e
wait "$pid"
RC=$?
set -e
device_restore
[ "$RC" -eq 0 ] || fail "self: a probe or a signal to itself was stopped ($RC): $(cat "$T/err")"
alive "$TPID" || fail "self: the probe killed the target"
note "ok: signal 0 and signals to itself pass after a revoke"

# A deny rule, errno mode: each road fails with EPERM, the target lives,
# the audit log has the decision.
AUDIT=$T/audit.jsonl
cat >"$T/deny.json" <<JSON
{"version": 1, "default": "allow", "rules": [
  {"on": "signal", "path": "$TAIL", "action": "allow"},
  {"on": "signal", "action": "deny"},
  {"on": "tty-inject", "action": "deny"}
]}
JSON
export MIDSHIM_POLICY=$T/deny.json MIDSHIM_ON_DENY=errno MIDSHIM_AUDIT_LOG=$AUDIT
for op in $ROADS; do
	gated "$SIG" "$op" "$TPID"
	[ "$RC" -eq 1 ] || fail "$op denied: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "signals: $op: Operation not permitted" "$op denied: EPERM"
	assert_file_contains "$T/err" "code POLICY_DENY" "$op denied: denial line"
	alive "$TPID" || fail "$op denied: the target died"
done
grep -q "\"kind\":\"signal\".*\"target_pid\":$TPID,\"sig\":15,\"path\":\"$SLEEP\".*\"rule\":2" "$AUDIT" ||
	fail "no audit line for the denied signal: $(cat "$AUDIT")"
expect_allowed "self under deny" "$SIG" self "$TPID"
note "ok: a deny rule stops every road; probes and signals to itself pass"

# The first rule names tail: that program may be signalled.
tail -f /dev/null &
OTHER=$!
on_exit "kill $OTHER 2>/dev/null"
expect_allowed "kill of another program" "$SIG" kill "$OTHER"
reap "$OTHER" || fail "kill of another program: it still lives"
note "ok: the path rule names the target's program"

# TIOCSTI on a pty the helper makes its controlling terminal: refused
# by the rule, with its audit line, also with high bits in the request.
for op in tiocsti tiocsti-high; do
	: >"$AUDIT"
	gated "$SIG" "$op"
	[ "$RC" -eq 1 ] || fail "$op denied: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "signals: $op: Operation not permitted" "$op: EPERM"
	grep -q '"kind":"tty-inject","fd":"tty","path":"/dev/pts/[0-9]*".*"code":"POLICY_DENY"' "$AUDIT" ||
		fail "$op: no tty-inject audit line: $(cat "$AUDIT")"
done
note "ok: TIOCSTI denied by the rule"
unset MIDSHIM_POLICY MIDSHIM_ON_DENY MIDSHIM_AUDIT_LOG

# Allowed, then revoked. The kernel may refuse TIOCSTI itself.
gated "$SIG" tiocsti
if [ "$RC" -ne 0 ]; then
	assert_not_contains "$(cat "$T/err")" "midshim: denied" "tiocsti allowed"
	note "the kernel refuses TIOCSTI here ($(cat "$T/err")); the gate let it through"
fi
expect_revoked tiocsti tty-inject "$SIG" tiocsti
note "ok: TIOCSTI after a revoke"

# posix_spawn: an open added after a chdir action is judged where the
# child makes it.
L=$T/locked F=$T/free
mkdir -p "$L" "$F"
cat >"$T/fs.json" <<JSON
{"version": 1, "default": "allow", "rules": [
  {"on": "fs", "path": "$L/**", "action": "deny"}
]}
JSON
export MIDSHIM_POLICY=$T/fs.json MIDSHIM_ON_DENY=errno
cd "$F"
for op in spawn-chdir spawn-fchdir; do
	rm -f "$L/out" "$F/out"
	gated "$SIG" "$op" "$L" out
	[ "$RC" -eq 1 ] || fail "$op into $L: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "midshim: denied fs create $L/out" "$op: judged in the chdir's directory"
	assert_absent "$L/out" "$op: the child opened the file"
	expect_allowed "$op into $F" "$SIG" "$op" "$F" out
	assert_file_contains "$F/out" payload "$op into $F"
done
cd "$T"
note "ok: spawn file actions follow chdir actions"
