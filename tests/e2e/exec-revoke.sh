#!/bin/bash
# SPDX-License-Identifier: MIT
# exec under the shim: C (execve, execvp, posix_spawn, system, popen),
# bash, python3 and perl start a program while the device is allowed and
# die at the exec once it is revoked; the program never runs.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:exec:01"
SFX=$BIN/helpers/sidefx
M=$T/marker
export M

check() { # name kind cmd... (the side effect is running `touch $M`)
	local name=$1 kind=$2
	shift 2
	rm -f "$M"
	expect_allowed "$name" "$@"
	assert_exists "$M" "$name: allowed exec ran"
	rm -f "$M"
	expect_revoked "$name" "$kind" "$@"
	assert_absent "$M" "$name: exec after revoke must not run"
	note "ok: $name"
}

# The C helper prints "ready" and waits on $GO when GO is set.
check "C execve" exec "$SFX" execve /usr/bin/touch "$M"
check "C execvp" exec "$SFX" execvp touch "$M"
check "C execl" exec "$SFX" execl /usr/bin/touch "$M"
check "C execle" exec "$SFX" execle /usr/bin/touch "$M"
check "C execlp" exec "$SFX" execlp touch "$M"
check "C posix_spawn" exec "$SFX" posix_spawn /usr/bin/touch "$M"
check "C system" exec "$SFX" system "touch $M"
check "C popen" exec "$SFX" popen "touch $M"
check "bash" exec bash -c 'echo ready; [ -z "${GO:-}" ] || read -r _ < "$GO"; touch "$M"'
check "python3 subprocess" exec "$PY" -c '
import os, subprocess
print("ready", flush=True)
if os.environ.get("GO"): open(os.environ["GO"]).read()
subprocess.run(["touch", os.environ["M"]], check=True)'
check "perl system" "(fork|exec)" perl -e '
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
# system() forks; the child dies at its exec; report it as a shell would.
my $r = system("touch", $ENV{M});
exit(($r & 127) ? 128 + ($r & 127) : $r >> 8);'
check "perl exec" exec perl -e '
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
exec("touch", $ENV{M}) or exit 1;'

# A shell loop whose commands each die at their exec must not spin on:
# the shell itself stops at its next fork after the revoke: within the
# TTL, one turn of the loop (two commands and a 50 ms sleep, as measured
# before the revoke) and a margin of 300 ms.
rm -f "$T/loop.log"
LD_PRELOAD=$PRELOAD bash -c "while :; do date >> $T/loop.log; sleep 0.05; done" 2>"$T/err" &
pid=$!
for _ in $(seq 1 100); do [ -s "$T/loop.log" ] && break; sleep 0.05; done
n=$(wc -l <"$T/loop.log")
sleep 0.6
n=$(($(wc -l <"$T/loop.log") - n))
[ "$n" -gt 0 ] || fail "the shell loop did not run: $(cat "$T/err")"
turn=$((600 / n))
LIMIT_MS=$((MIDSHIM_TTL_MS + turn + 300))
revoke_reap "$pid" 5
ms=$REAP_MS
assert_eq 137 "$RC" "shell loop killed"
# Whichever boundary comes first after the revoke: the shell's fork, the
# child's open of the log or exec, date's start, or date's write when
# date passed its exec before the revoke.
grep -Eq "midshim: denied (fork|exec|start|fs [a-z]+|write) .*code DEVICE_REVOKED" "$T/err" || fail "loop denial: $(cat "$T/err")"
note "shell loop stopped $ms ms after the revoke (limit $LIMIT_MS ms: TTL $MIDSHIM_TTL_MS + a turn of $turn + 300 ms)"
[ "$ms" -le "$LIMIT_MS" ] || fail "shell loop took $ms ms to stop, over $LIMIT_MS ms"
n=$(wc -l <"$T/loop.log")
sleep 0.3
assert_eq "$n" "$(wc -l <"$T/loop.log")" "loop log stopped growing"
note "ok: shell loop stopped"
