#!/bin/bash
# SPDX-License-Identifier: MIT
# write under the shim: a program opens a file while allowed; after a
# revoke its next write (write(2), stdio, python, perl, bash) never lands
# and the program dies at it.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:write:01"
SFX=$BIN/helpers/sidefx
F=$T/data.txt
export F

check() { # name cmd... (writes "payload" to $F, opened before the wait)
	local name=$1
	shift
	rm -f "$F"
	expect_allowed "$name" "$@"
	assert_file_contains "$F" payload "$name: allowed write landed"
	rm -f "$F"
	expect_revoked "$name" write "$@"
	if [ -s "$F" ]; then
		fail "$name: write after revoke landed: $(cat "$F")"
	fi
	note "ok: $name"
}

check "C write" "$SFX" write "$F" payload
check "C stdio fprintf" "$SFX" fprintf "$F" payload
check "C dprintf" "$SFX" dprintf "$F" payload
check "C pwrite" "$SFX" pwrite "$F" payload
check "C writev" "$SFX" writev "$F" payload
check "C syscall(SYS_write)" "$SFX" syscall-write "$F" payload
check "bash" bash -c 'exec 3>>"$F"; echo ready; [ -z "${GO:-}" ] || read -r _ < "$GO"; echo payload >&3'
check "python3" "$PY" -c '
import os
f = open(os.environ["F"], "a")
print("ready", flush=True)
if os.environ.get("GO"): open(os.environ["GO"]).read()
f.write("payload\n")
f.flush()'
check "perl" perl -e '
open(my $f, ">>", $ENV{F}) or die;
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
syswrite($f, "payload\n") or exit 1;'
