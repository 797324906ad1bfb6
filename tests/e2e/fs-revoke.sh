#!/bin/bash
# SPDX-License-Identifier: MIT
# File-system changes under the shim: rm (unlinkat), mv (renameat2), cp
# (creates its target, then copy_file_range), mkdir, and the same from C,
# python3, perl and bash, while allowed and after a revoke, when the
# change must not happen.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:fs:01"
SFX=$BIN/helpers/sidefx
A=$T/a.txt B=$T/b.txt D=$T/newdir
export A B D

fresh() { rm -rf "$A" "$B" "$D"; echo original >"$A"; }

check() { # name kind verify-allowed verify-revoked cmd...
	local name=$1 kind=$2 ok=$3 kept=$4
	shift 4
	fresh
	expect_allowed "$name" "$@"
	eval "$ok" || fail "$name: allowed change did not happen"
	fresh
	expect_revoked "$name" "$kind" "$@"
	eval "$kept" || fail "$name: change happened after revoke"
	note "ok: $name"
}

gone='[ ! -e "$A" ]'
kept='[ -e "$A" ] && [ ! -e "$B" ] && [ ! -e "$D" ]'
moved='[ ! -e "$A" ] && [ -e "$B" ]'
copied='[ -e "$A" ] && grep -q original "$B"'
made='[ -d "$D" ]'

check "C unlink" "fs delete" "$gone" "$kept" "$SFX" unlink "$A"
check "C rename" "fs rename" "$moved" "$kept" "$SFX" rename "$A" "$B"
check "C renameat2" "fs rename" "$moved" "$kept" "$SFX" renameat2 "$A" "$B"
check "C mkdir" "fs mkdir" "$made" "$kept" "$SFX" mkdir "$D"
check "C copy_file_range" "(write|fs create)" "$copied" "$kept" "$SFX" copy_file_range "$A" "$B"
check "python3 os.rename" "fs rename" "$moved" "$kept" "$PY" -c '
import os
print("ready", flush=True)
if os.environ.get("GO"): open(os.environ["GO"]).read()
os.rename(os.environ["A"], os.environ["B"])'
check "python3 os.unlink" "fs delete" "$gone" "$kept" "$PY" -c '
import os
print("ready", flush=True)
if os.environ.get("GO"): open(os.environ["GO"]).read()
os.unlink(os.environ["A"])'
check "perl unlink" "fs delete" "$gone" "$kept" perl -e '
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
unlink($ENV{A}) or exit 1;'
check "perl mkdir" "fs mkdir" "$made" "$kept" perl -e '
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
mkdir($ENV{D}) or exit 1;'

# Coreutils, each stopped inside the tool at its own system call: -i
# makes it ask on stdin before acting, and the answer comes after the
# revoke. rm's boundary is unlinkat, mv's renameat2 (the target exists,
# hence the question), cp's open of the target for truncation.
fresh
expect_allowed "rm" rm -f "$A"
eval "$gone" || fail "rm: allowed rm did not remove"
fresh
STDIN_GO=1 expect_revoked "rm -i (unlinkat)" "fs delete" rm -i "$A"
eval "$kept" || fail "rm: file removed after revoke"
note "ok: rm"

fresh
expect_allowed "mv" mv "$A" "$B"
eval "$moved" || fail "mv: allowed mv did not move"
fresh
echo other >"$B"
STDIN_GO=1 expect_revoked "mv -i (renameat2)" "fs rename" mv -i "$A" "$B"
[ -e "$A" ] && grep -q other "$B" || fail "mv: moved after revoke"
note "ok: mv"

fresh
expect_allowed "cp" cp "$A" "$B"
eval "$copied" || fail "cp: allowed cp did not copy"
fresh
echo other >"$B"
STDIN_GO=1 expect_revoked "cp -i" "fs truncate" cp -i "$A" "$B"
grep -q other "$B" || fail "cp: target overwritten after revoke"
note "ok: cp"

# cp's data path: with the target's writes denied by policy in errno
# mode, cp reports the failure of its copy_file_range (or write) and the
# shim names the write.
fresh
cat >"$T/nowrite.json" <<JSON
{"version": 1, "on_deny": "errno",
 "rules": [{"on": "write", "path": "$B", "action": "deny"}]}
JSON
MIDSHIM_POLICY=$T/nowrite.json gated cp "$A" "$B"
[ "$RC" -ne 0 ] || fail "cp with denied writes succeeded"
grep -q "midshim: denied write $B (file)" "$T/err" || fail "cp: no write denial: $(cat "$T/err")"
grep -q "Operation not permitted" "$T/err" || fail "cp: no EPERM: $(cat "$T/err")"
[ ! -s "$B" ] || fail "cp: data landed in $B"
note "ok: cp data path denied by policy"
