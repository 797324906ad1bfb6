#!/bin/bash
# SPDX-License-Identifier: MIT
# Side effects by roads the shim once did not hook, each tried after a
# revoke: POSIX AIO, shared memory and message queues, bind to a unix
# socket path, backtrace_symbols_fd, putpwent, a posix_spawn file action
# that opens a file for the child, a file dup'ed by a raw
# fcntl onto a number the fd table still called a pipe, and a syscall()
# number the hook does not know (refused whether allowed or not; the
# unit test walks every number).
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:escape-paths:01"
ESC=$BIN/helpers/escape
F=$T/data.txt
NAME=/midshim-test-$$
on_exit "rm -f /dev/shm$NAME /dev/mqueue$NAME 2>/dev/null"

check() { # op kind what: the op writes 'what' into $F
	local op=$1 kind=$2 what=$3
	rm -f "$F"
	expect_allowed "$op" "$ESC" "$op" "$F"
	assert_file_contains "$F" "$what" "$op: allowed run wrote"
	rm -f "$F"
	expect_revoked "$op" "$kind" "$ESC" "$op" "$F"
	if grep -q "$what" "$F"; then fail "$op: the write after the revoke landed"; fi
	note "ok: $op"
}
check aio_write write payload
check backtrace_symbols_fd write escape
check putpwent write payload
check pclose-dupfd write payload
check spawn-addopen "fs create" payload

# Shared memory: the object is a file under /dev/shm.
expect_allowed shm_open "$ESC" shm_open "$NAME"
assert_exists "/dev/shm$NAME" "shm_open allowed"
rm -f "/dev/shm$NAME"
expect_revoked shm_open "fs create" "$ESC" shm_open "$NAME"
assert_absent "/dev/shm$NAME" "shm_open after the revoke"
note "ok: shm_open"

# A message queue made while allowed; the send comes after the revoke.
if [ -d /dev/mqueue ] && mountpoint -q /dev/mqueue; then
	expect_revoked mq_send write "$ESC" mq_send "$NAME"
	grep -q 'QSIZE:0 ' "/dev/mqueue$NAME" || fail "mq_send: a message went in after the revoke: $(cat "/dev/mqueue$NAME")"
	note "ok: mq_send"
else
	expect_revoked mq_send write "$ESC" mq_send "$NAME"
	note "ok: mq_send (no mqueue file system mounted to look into)"
fi

# bind makes the socket file.
S=$T/sock
expect_allowed bind-unix "$ESC" bind-unix "$S"
assert_exists "$S" "bind-unix allowed"
rm -f "$S"
expect_revoked bind-unix "fs mknod" "$ESC" bind-unix "$S"
assert_absent "$S" "bind-unix after the revoke"
note "ok: bind-unix"

# fchmodat2 by number: refused even while allowed; the mode stays.
echo x >"$F"
chmod 0644 "$F"
gated "$ESC" syscall-fchmodat2 "$F"
[ "$RC" -eq 1 ] || fail "syscall(452): expected refusal (exit 1), got $RC"
assert_contains "$(cat "$T/err")" "syscall(452) refused" "syscall(452): the line says why"
assert_eq 644 "$(stat -c %a "$F")" "syscall(452): mode"
note "ok: syscall(452)"
