#!/bin/bash
# SPDX-License-Identifier: MIT
# Other roads to a gated call, each tried after a revoke: glibc's other
# names of a hooked function (__write, _IO_fputs...), its stream
# internals (_IO_do_write, fcloseall, _flushlbf), a lookup that names a
# version (dlvsym) or goes through a handle of libc itself, and bytes put
# in a stream's buffer by the inline putc_unlocked and flushed by exit.
# Each must die at the gate and leave the file as it was.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:escape-names:01"
ESC=$BIN/helpers/escape
F=$T/data.txt

check() { # op: the op opens $F, then writes "payload" into it
	local op=$1
	rm -f "$F"
	expect_allowed "$op" "$ESC" "$op" "$F"
	assert_file_contains "$F" payload "$op: allowed run wrote"
	rm -f "$F"
	expect_revoked "$op" write "$ESC" "$op" "$F"
	if grep -q payload "$F"; then
		fail "$op: the write after the revoke landed"
	fi
	note "ok: $op"
}

check __write
check __pwrite64
check _IO_fputs
check _IO_fflush
check fcloseall
check _flushlbf
check _IO_do_write
check dlvsym
check dlsym-libc
check dlvsym-libc
check exit-putc

# Opens that truncate: the allowed run leaves the file empty.
for op in __open _IO_fopen; do
	echo payload >"$F"
	expect_allowed "$op" "$ESC" "$op" "$F"
	[ ! -s "$F" ] || fail "$op: allowed run did not truncate"
	echo before >"$F"
	expect_revoked "$op" "fs truncate" "$ESC" "$op" "$F"
	[ "$(cat "$F")" = before ] || fail "$op: the file changed after the revoke"
	note "ok: $op"
done

# popen's other name runs a shell.
M=$T/marker
expect_allowed "_IO_popen" "$ESC" _IO_popen "touch $M"
assert_exists "$M" "_IO_popen: allowed run"
rm -f "$M"
expect_revoked "_IO_popen" exec "$ESC" _IO_popen "touch $M"
assert_absent "$M" "_IO_popen after revoke"
note "ok: _IO_popen"
