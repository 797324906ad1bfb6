#!/bin/bash
# SPDX-License-Identifier: MIT
# Supervise mode gates signals to other processes and input pushed into a
# terminal as the preload does ("signal" and "tty-inject" events, one
# policy for both), for a statically linked program no preload sees
# (tests/helpers/static_signals, signals.c linked statically), by every
# road: kill, killpg, sigqueue, tgkill, pidfd_send_signal and the raw
# kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo and
# pidfd_send_signal numbers, and TIOCSTI on a pty.
#  - allowed, each road's signal arrives (the target dies) and TIOCSTI
#    works;
#  - a deny rule fails each with EPERM in errno mode (the target lives,
#    a denial line), or kills the whole tree in kill mode (137, the
#    target lives); a path rule names the target's program;
#  - after a revoke (push off: the launcher asks midd at the call) the
#    tree dies at the call and the target lives;
#  - signal 0 and signals to the process itself pass after a revoke;
#  - a setuid program is supervised by a launcher with CAP_SYS_ADMIN and
#    CAP_SYS_PTRACE (root here), with its privileges, and refused by one
#    without.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:supervise-signals:01"
DEV=$MIDSHIM_DEVICE_ID
. "$(dirname "$0")/push.lib"
. "$(dirname "$0")/signals.lib"
MS=$BIN/midshim
SIG=$BIN/helpers/static_signals
[ -x "$SIG" ] || fail "$SIG is not built"
export MIDSHIM_PUSH=off

# sup [run options] -- CMD...: CMD under `midshim run` (supervised: it is
# static); output in $T/out and $T/err, status in RC.
sup() {
	set +e
	"$MS" run --device "$DEV" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	set -e
}
# sup_revoked TAG CMD...: CMD under `midshim run` blocks before its call
# (GO); the device is revoked, CMD released: RC, and no process tagged
# TAG is left.
sup_revoked() {
	local tag=$1 pid
	shift
	rm -f "$T/go" "$T/out" "$T/err"
	mkfifo "$T/go"
	MIDTEST_TAG=$tag GO=$T/go MIDSHIM_TTL_MS=0 "$MS" run --device "$DEV" -- "$@" \
		>"$T/out" 2>"$T/err" </dev/null &
	pid=$!
	on_exit "kill -KILL $pid 2>/dev/null"
	for _ in $(seq 1 200); do grep -q ready "$T/out" 2>/dev/null && break; sleep 0.025; done
	grep -q ready "$T/out" || fail "$tag: the program never got ready: $(cat "$T/err")"
	device_revoke
	timeout 5 sh -c 'echo go >"$1"' _ "$T/go" || true
	set +e
	wait "$pid"
	RC=$?
	set -e
	device_restore
	assert_eq "" "$(tag_pids "$tag")" "$tag: the tree is gone"
}

ROADS="kill killpg sigqueue tgkill pidfd syscall-kill syscall-tkill syscall-tgkill
	syscall-sigqueueinfo syscall-tgsigqueueinfo syscall-pidfd"

# Allowed: every road's signal arrives.
for op in $ROADS; do
	target
	sup -- "$SIG" "$op" "$TPID"
	[ "$RC" -eq 0 ] || fail "$op allowed: exit $RC: $(cat "$T/err")"
	assert_not_contains "$(cat "$T/err")" "denied" "$op allowed"
	reap "$TPID" || fail "$op allowed: the target still lives"
done
note "ok: allowed, every road's signal arrives"

# Revoked while the program waits before its call: the tree dies there,
# the target lives, the denial names the target.
target
for op in $ROADS; do
	sup_revoked "sig.$op.$$" "$SIG" "$op" "$TPID"
	assert_eq 137 "$RC" "$op revoked: launcher status"
	alive "$TPID" || fail "$op revoked: the signal was sent"
	grep -Eq "denied signal SIGTERM to (pid $TPID $SLEEP|process group $TPID) \(device $DEV, code DEVICE_REVOKED, request_id $UUID_RE\): killed" \
		"$T/err" || fail "$op revoked: no denial line: $(cat "$T/err")"
	assert_not_contains "$(cat "$T/err")" "signals: $op" "$op revoked: the call returned"
done
note "ok: revoked, the tree dies at every road and the target lives"

# What is no side effect passes the revoked device without a question:
# signal 0 to another process, and signals to itself by every road.
sup_revoked "sig.self.$$" "$SIG" self "$TPID"
[ "$RC" -eq 0 ] || fail "self: a probe or a signal to itself was stopped ($RC): $(cat "$T/err")"
alive "$TPID" || fail "self: the probe killed the target"
note "ok: signal 0 and signals to itself pass after a revoke"

# A deny rule: EPERM in errno mode, the tree killed in kill mode; the
# target lives either way. The first rule names tail, which may be
# signalled.
for mode in errno kill; do
	cat >"$T/deny.$mode.json" <<JSON
{"version": 1, "default": "allow", "on_deny": "$mode", "rules": [
  {"on": "signal", "path": "$TAIL", "action": "allow"},
  {"on": "signal", "action": "deny"},
  {"on": "tty-inject", "action": "deny"}
]}
JSON
done
for op in $ROADS; do
	sup --policy "$T/deny.errno.json" -- "$SIG" "$op" "$TPID"
	[ "$RC" -eq 1 ] || fail "$op denied: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "signals: $op: Operation not permitted" "$op denied: EPERM"
	grep -Eq "denied signal SIGTERM to (pid $TPID $SLEEP|process group $TPID) \(device $DEV, code POLICY_DENY, request_id -, rule 2\): EPERM" \
		"$T/err" || fail "$op denied: no denial line: $(cat "$T/err")"
	alive "$TPID" || fail "$op denied: the target died"
	sup --policy "$T/deny.kill.json" -- "$SIG" "$op" "$TPID"
	assert_eq 137 "$RC" "$op denied, kill mode: launcher status"
	assert_not_contains "$(cat "$T/err")" "signals: $op" "$op denied, kill mode: the call returned"
	alive "$TPID" || fail "$op denied, kill mode: the target died"
done
sup --policy "$T/deny.errno.json" -- "$SIG" self "$TPID"
[ "$RC" -eq 0 ] || fail "self under deny: exit $RC: $(cat "$T/err")"
tail -f /dev/null &
OTHER=$!
on_exit "kill $OTHER 2>/dev/null"
sup --policy "$T/deny.errno.json" -- "$SIG" kill "$OTHER"
[ "$RC" -eq 0 ] || fail "kill of tail under deny: exit $RC: $(cat "$T/err")"
reap "$OTHER" || fail "kill of tail under deny: it still lives"
note "ok: a deny rule stops every road (EPERM, or the tree); probes, itself and tail pass"

# TIOCSTI on a pty the program makes its controlling terminal: works
# allowed (unless the kernel refuses it itself), denied by the rule in
# both modes (high bits in the request make no other request), and the
# tree dies at it after a revoke.
sup -- "$SIG" tiocsti
if [ "$RC" -ne 0 ]; then
	assert_not_contains "$(cat "$T/err")" "midshim: denied" "tiocsti allowed"
	note "the kernel refuses TIOCSTI here ($(cat "$T/err")); the launcher let it through"
fi
for op in tiocsti tiocsti-high; do
	sup --policy "$T/deny.errno.json" -- "$SIG" "$op"
	[ "$RC" -eq 1 ] || fail "$op denied: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "signals: $op: Operation not permitted" "$op: EPERM"
	grep -Eq "denied tty-inject /dev/pts/[0-9]+ \(device $DEV, code POLICY_DENY, request_id -, rule 3\): EPERM" \
		"$T/err" || fail "$op denied: no denial line: $(cat "$T/err")"
	sup --policy "$T/deny.kill.json" -- "$SIG" "$op"
	assert_eq 137 "$RC" "$op denied, kill mode: launcher status"
done
sup_revoked "sig.tiocsti.$$" "$SIG" tiocsti
assert_eq 137 "$RC" "tiocsti revoked: launcher status"
grep -Eq "denied tty-inject /dev/pts/[0-9]+ \(device $DEV, code DEVICE_REVOKED" "$T/err" ||
	fail "tiocsti revoked: no denial line: $(cat "$T/err")"
note "ok: TIOCSTI allowed, denied in both modes, and after a revoke"

# A setuid main program (the helper's copy, setuid nobody): a launcher
# holding CAP_SYS_ADMIN and CAP_SYS_PTRACE supervises it with its
# privileges (no no-new-privs), gates its calls (the launcher reads its
# /proc files although it is undumpable: the denial line names the
# pidfd's process) and kills it at a revoke; a launcher without them
# refuses it.
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if [ "$(id -u)" != 0 ] || [ $((0x$capeff >> 21 & 1)) != 1 ] || [ $((0x$capeff >> 19 & 1)) != 1 ]; then
	note "skipped the setuid program: not root with CAP_SYS_ADMIN and CAP_SYS_PTRACE"
	kill "$TPID"
	midd_stop
	exit 0
fi
SUID=$T/suid_signals
cp "$SIG" "$SUID"
chown 65534:65534 "$SUID"
chmod 4755 "$SUID"
chmod 755 "$T" # the program, nobody now, opens the FIFO GO names
rm -f "$T/go"
mkfifo -m 644 "$T/go"
GO=$T/go "$MS" run --device "$DEV" -- "$SUID" kill "$TPID" >"$T/out" 2>"$T/err" </dev/null &
LPID=$!
on_exit "kill -KILL $LPID 2>/dev/null"
for _ in $(seq 1 200); do grep -q ready "$T/out" 2>/dev/null && break; sleep 0.025; done
grep -q ready "$T/out" || fail "setuid: the program never got ready: $(cat "$T/err")"
c=$(cat "/proc/$LPID/task/$LPID/children")
assert_eq "$SUID" "$(readlink "/proc/${c%% *}/exe")" "setuid: the launcher's child"
assert_eq "0 65534 65534 65534" "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/${c%% *}/status")" \
	"setuid: the program runs with its owner's user"
assert_eq 0 "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/${c%% *}/status")" "setuid: no no-new-privs"
assert_eq 2 "$(awk '/^Seccomp:/ { print $2 }' "/proc/${c%% *}/status")" "setuid: under the filter"
timeout 5 sh -c 'echo go >"$1"' _ "$T/go"
set +e
wait "$LPID"
RC=$?
set -e
[ "$RC" -eq 0 ] || fail "setuid allowed: exit $RC: $(cat "$T/err")"
reap "$TPID" || fail "setuid allowed: the target still lives"
target
for op in kill pidfd; do
	sup --policy "$T/deny.errno.json" -- "$SUID" "$op" "$TPID"
	[ "$RC" -eq 1 ] || fail "setuid $op denied: expected exit 1, got $RC; $(cat "$T/err")"
	assert_file_contains "$T/err" "signals: $op: Operation not permitted" "setuid $op denied: EPERM"
	grep -Eq "denied signal SIGTERM to pid $TPID $SLEEP \(device $DEV, code POLICY_DENY" \
		"$T/err" || fail "setuid $op denied: no denial line naming the target: $(cat "$T/err")"
done
alive "$TPID" || fail "setuid denied: the target died"
sup_revoked "sig.suid.$$" "$SUID" kill "$TPID"
assert_eq 137 "$RC" "setuid revoked: launcher status"
alive "$TPID" || fail "setuid revoked: the signal was sent"
set +e
setpriv --inh-caps=-all --bounding-set=-all "$MS" run --device "$DEV" -- "$SUID" kill "$TPID" \
	>"$T/out" 2>"$T/err" </dev/null
RC=$?
set -e
assert_eq 126 "$RC" "setuid, launcher without capabilities: refused"
assert_file_contains "$T/err" "is setuid" "setuid refused: why"
assert_file_contains "$T/err" "CAP_SYS_ADMIN and CAP_SYS_PTRACE" "setuid refused: what would run it"
alive "$TPID" || fail "setuid refused: the program ran"
note "ok: a setuid program supervised with its privileges, gated, killed at a revoke; refused without the capabilities"
kill "$TPID"
midd_stop
