#!/bin/bash
# SPDX-License-Identifier: MIT
# Every fs and stdio hook against a local policy, in errno mode: a change
# under $T/deny is refused with EPERM and one denial line naming the op and
# the absolute path, and does not happen; the same change under $T/ok
# happens. Relative paths are judged by their absolute, normal form, a
# read-only open is not gated at all, and stdio output is gated as a write.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:fspolicy:01"
SFX=$BIN/helpers/sidefx
D=$T/deny O=$T/ok WD=$T/wdeny
mkdir -p "$D" "$O" "$WD"
cat >"$T/policy.json" <<EOF
{"version": 1, "default": "allow", "rules": [
  {"on": "fs", "path": "$D/**", "action": "deny"},
  {"on": "write", "path": "$WD/**", "action": "deny"}
]}
EOF
export MIDSHIM_POLICY=$T/policy.json MIDSHIM_ON_DENY=errno

# denied OP "fs OP PATH" CHECK OP ARGS...: `sidefx OP ARGS...` fails with
# EPERM, the denial line names "fs OP PATH", and CHECK (a shell test)
# still holds.
denied() {
	local op=$1 what=$2 kept=$3
	shift 3
	gated "$SFX" "$@"
	[ "$RC" -eq 1 ] || fail "$op: expected exit 1, got $RC; stderr: $(cat "$T/err")"
	assert_file_contains "$T/err" "sidefx: $op: Operation not permitted" "$op: EPERM"
	assert_file_contains "$T/err" "midshim: denied $what (device $MIDSHIM_DEVICE_ID, code POLICY_DENY" \
		"$op: denial line"
	eval "$kept" || fail "$op: the change happened although denied"
}

# allowed OP CHECK ARGS...: sidefx OP succeeds and CHECK holds after.
allowed() {
	local op=$1 done=$2
	shift 2
	expect_allowed "$op" "$SFX" "$op" "$@"
	eval "$done" || fail "$op: allowed change did not happen"
}

# xattrs FILE: the names of FILE's extended attributes, sorted, on one line.
xattrs() { python3 -c 'import os, sys; print(" ".join(sorted(os.listxattr(sys.argv[1]))))' "$1"; }

fresh() {
	rm -rf "${D:?}"/* "${O:?}"/* "${WD:?}"/*
	echo original >"$D/f"
	echo original >"$O/f"
	echo original >"$WD/f"
}

fresh
denied write "fs truncate $D/f" 'grep -q original "$D/f"' write "$D/f" new
denied fwrite "fs create $D/n" '[ ! -e "$D/n" ]' fwrite "$D/n" new
denied fprintf "fs truncate $D/f" 'grep -q original "$D/f"' fprintf "$D/f" new
denied open-trunc "fs truncate $D/f" 'grep -q original "$D/f"' open-trunc "$D/f"
denied creat "fs create $D/n" '[ ! -e "$D/n" ]' creat "$D/n"
denied syscall-openat "fs create $D/n" '[ ! -e "$D/n" ]' syscall-openat "$D/n"
denied unlink "fs delete $D/f" '[ -e "$D/f" ]' unlink "$D/f"
denied rename "fs rename $D/f -> $O/moved" '[ -e "$D/f" ] && [ ! -e "$O/moved" ]' \
	rename "$D/f" "$O/moved"
denied renameat2 "fs rename $O/f -> $D/in" '[ -e "$O/f" ] && [ ! -e "$D/in" ]' \
	renameat2 "$O/f" "$D/in"
denied mkdir "fs mkdir $D/sub" '[ ! -e "$D/sub" ]' mkdir "$D/sub"
denied symlink "fs link /etc/passwd -> $D/l" '[ ! -L "$D/l" ]' symlink /etc/passwd "$D/l"
denied link "fs link $O/f -> $D/h" '[ ! -e "$D/h" ]' link "$O/f" "$D/h"
denied chmod "fs chmod $D/f" '[ "$(stat -c %a "$D/f")" != 600 ]' chmod "$D/f"
denied truncate "fs truncate $D/f" 'grep -q original "$D/f"' truncate "$D/f"
# Times and attributes: the file's times (set far in the past, so "now"
# differs), its change time and its extended attributes stay as they were.
touch -d @1000000000 "$D/f"
# shellcheck disable=SC2034 # read by the checks that denied() evals
times0=$(stat -c '%y|%z' "$D/f")
denied utimensat "fs utime $D/f" '[ "$(stat -c "%y|%z" "$D/f")" = "$times0" ]' utimensat "$D/f"
assert_eq 1000000000 "$(stat -c %Y "$D/f")" "utimensat: mtime after the denial"
denied setxattr "fs xattr $D/f" '[ "$(stat -c "%y|%z" "$D/f")" = "$times0" ] && [ -z "$(xattrs "$D/f")" ]' \
	setxattr "$D/f"
denied mkstemp "fs create $D/sidefx.XXXXXX" '[ -z "$(ls "$D" | grep sidefx)" ]' mkstemp "$D"
denied copy_file_range "fs create $D/c" '[ ! -e "$D/c" ]' copy_file_range "$O/f" "$D/c"
denied sendfile "fs create $D/c" '[ ! -e "$D/c" ]' sendfile "$O/f" "$D/c"
mkdir "$D/empty"
denied rmdir "fs delete $D/empty" '[ -d "$D/empty" ]' rmdir "$D/empty"
note "ok: every fs change under the denied tree refused"

# Relative paths, with '..' and '.', are judged by their absolute form.
gated bash -c 'cd "$1/.." && exec "$2" unlink "./ok/../deny//f"' _ "$O" "$SFX"
[ "$RC" -eq 1 ] || fail "relative unlink: expected exit 1, got $RC"
assert_file_contains "$T/err" "midshim: denied fs delete $D/f (" "relative path made absolute"
assert_exists "$D/f" "relative unlink kept the file"
note "ok: relative path"

# Reading is no side effect: a read-only open of a denied file passes.
gated cat "$D/f"
assert_eq 0 "$RC" "cat of a denied file"
assert_contains "$(cat "$T/out")" original "cat read the file"
note "ok: read-only open not gated"

# The same changes elsewhere happen.
fresh
allowed write 'grep -q new "$O/f"' "$O/f" new
allowed fprintf 'grep -q new2 "$O/p"' "$O/p" new2
allowed creat '[ -e "$O/c" ]' "$O/c"
allowed syscall-openat '[ -e "$O/s" ]' "$O/s"
allowed rename '[ -e "$O/g" ] && [ ! -e "$O/f" ]' "$O/f" "$O/g"
allowed link '[ -e "$O/h" ]' "$O/g" "$O/h"
allowed symlink '[ -L "$O/l" ]' "$O/g" "$O/l"
allowed chmod '[ "$(stat -c %a "$O/g")" = 600 ]' "$O/g"
touch -d @1000000000 "$O/g"
allowed utimensat '[ "$(stat -c %Y "$O/g")" != 1000000000 ]' "$O/g"
allowed setxattr '[ "$(xattrs "$O/g")" = user.test ]' "$O/g"
allowed truncate '[ ! -s "$O/g" ]' "$O/g"
allowed mkdir '[ -d "$O/sub" ]' "$O/sub"
allowed rmdir '[ ! -e "$O/sub" ]' "$O/sub"
allowed unlink '[ ! -e "$O/h" ]' "$O/h"
allowed mkstemp '[ -n "$(ls "$O" | grep sidefx)" ]' "$O"
note "ok: the same changes elsewhere happen"

# stdio output is a write to its stream's descriptor: opening the file is
# allowed (no fs rule), the bytes are not.
fresh
for op in fwrite fprintf write syscall-write; do
	gated "$SFX" "$op" "$WD/out" payload
	[ "$RC" -eq 1 ] || fail "$op: expected exit 1, got $RC; stderr: $(cat "$T/err")"
	assert_file_contains "$T/err" "midshim: denied write $WD/out" "$op: write denial line"
	[ ! -s "$WD/out" ] || fail "$op: bytes landed: $(cat "$WD/out")"
	rm -f "$WD/out"
done
note "ok: stdio and syscall(SYS_write) output gated as writes"
