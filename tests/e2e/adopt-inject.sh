#!/bin/bash
# SPDX-License-Identifier: MIT
# `midshim adopt --inject` loads the shim into a running python3 through
# ptrace and its own dlopen. Once the keeper has let go of the tree
# (--release) and with push off, a revoke still stops the program at its
# next gated write: the gate is in the process itself. An injected
# program that stays allowed writes exactly what an ungated run writes.
# A static program, and one sleeping in epoll_wait (which an interruption
# would end with EINTR), are refused with one line and run on, untouched.
. "$(dirname "$0")/../lib.sh"
[ "$(uname -m)" = x86_64 ] || skip "--inject is x86-64 only"
midd_start
DEV=test:e2e:inject:01
shim_env "$DEV"
unset LD_PRELOAD
export MIDSHIM_PUSH=off
api POST /api/v1/devices/register "$ORG_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null
AD=("$BIN/midshim" adopt --state-dir "$T/adopt" --device "$DEV" --org-key-file "$T/keys/org.key"
	--ttl-ms 100 --lib "$SHIM")

# The program: each time DIR/go appears, one round of work into DIR/out,
# DIR/go removed; "work" is a few writes, a file read back and a child.
cat >"$T/prog.py" <<'PY'
import os, subprocess, sys, time
d = sys.argv[1]
n = 0
while True:
    if os.path.exists(d + "/go"):
        n += 1
        with open(d + "/out", "a") as f:
            for i in range(50):
                f.write("round %d line %d %d\n" % (n, i, i * i))
        with open(d + "/out") as f:
            size = len(f.read())
        child = subprocess.run(["/bin/sh", "-c", "echo child $0", str(n)], capture_output=True, text=True)
        with open(d + "/out", "a") as f:
            f.write("read %d bytes; %s" % (size, child.stdout))
        os.unlink(d + "/go")
        if n == int(sys.argv[2]):
            sys.exit(0)
    time.sleep(0.02)
PY

# start DIR ROUNDS: the program, ungated, in DIR; its PID in P.
start() {
	mkdir -p "$1"
	env -u LD_PRELOAD "$PY" "$T/prog.py" "$1" "$2" 2>"$1/err" </dev/null &
	P=$!
	on_exit "kill -KILL $P 2>/dev/null"
}

# round DIR: make the program do one round, wait for it.
round() {
	touch "$1/go"
	for _ in $(seq 1 200); do
		[ -e "$1/go" ] || return 0
		kill -0 "$P" 2>/dev/null || return 0
		sleep 0.025
	done
	fail "the program did not finish its round in $1"
}

# ---- the gate is in the process: a revoke stops its next write ------------
start "$T/gate" 100
round "$T/gate"
"${AD[@]}" --inject "$P" >"$T/adopt.out" 2>"$T/adopt.err" || fail "inject: $(cat "$T/adopt.err")"
assert_contains "$(cat "$T/adopt.out")" "PID $P now runs $SHIM" "inject says so"
grep -q "$SHIM" "/proc/$P/maps" || fail "the shim is not mapped in the target"
assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$P/status")" "no tracer left"
round "$T/gate"
"${AD[@]:0:4}" --release "$P" >/dev/null || fail "release"
before=$(cat "$T/gate/out")
device_revoke "$DEV"
sleep 0.3 # past the 100 ms TTL: the cached allow is gone
touch "$T/gate/go"
set +e
wait "$P"
rc=$?
set -e
assert_eq 137 "$rc" "the injected program is killed by its own gate"
assert_eq "$before" "$(cat "$T/gate/out")" "the gated write did not happen"
grep -Eq "midshim: denied fs open $T/gate/out \(device $DEV, code DEVICE_REVOKED, request_id $UUID_RE\): killed" \
	"$T/gate/err" || fail "no denial line: $(cat "$T/gate/err")"
device_restore "$DEV"
note "ok: after a revoke the injected gate stops the write, push off, keeper gone"

# ---- an injected, allowed program writes what an ungated one writes -----
start "$T/plain" 3
for _ in 1 2 3; do round "$T/plain"; done
wait "$P" || fail "the ungated run failed"
start "$T/injected" 3
round "$T/injected"
"${AD[@]}" --inject "$P" >"$T/adopt.out" 2>"$T/adopt.err" || fail "inject: $(cat "$T/adopt.err")"
keeper=$(sed -n 's/.*keeper \([0-9]*\) .*/\1/p' "$T/adopt.out")
round "$T/injected"
round "$T/injected"
set +e
wait "$P"
rc=$?
set -e
assert_eq 0 "$rc" "the injected program's status"
cmp "$T/plain/out" "$T/injected/out" || fail "output differs from the ungated run"
assert_eq "" "$(cat "$T/injected/err")" "nothing on stderr"
v=$(api GET "/api/v1/devices/list?deviceId=$DEV" "$ORG_KEY")
validates=$(echo "$v" | sed -n 's/.*"validates":\([0-9]*\).*/\1/p')
[ "${validates:-0}" -ge 3 ] || fail "the injected program asked midd too seldom: $v"
for _ in $(seq 1 100); do kill -0 "$keeper" 2>/dev/null || break; sleep 0.05; done
note "ok: output identical to an ungated run ($(wc -l <"$T/plain/out") lines), $validates validates"

# ---- refusals: one line, the target runs on untouched ----------------------
refused() { # WHAT PID NEEDLE
	local rc
	local maps
	maps=$(cat "/proc/$2/maps")
	set +e
	"${AD[@]}" --inject "$2" >"$T/adopt.out" 2>"$T/adopt.err"
	rc=$?
	set -e
	assert_eq 126 "$rc" "$1: exit status"
	assert_eq 1 "$(wc -l <"$T/adopt.err")" "$1: one line"
	assert_contains "$(cat "$T/adopt.err")" "$3" "$1: the reason"
	kill -0 "$2" || fail "$1: the target died"
	assert_eq "$maps" "$(cat "/proc/$2/maps")" "$1: its memory map is unchanged"
	assert_eq 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$2/status")" "$1: not traced"
	assert_eq "" "$("${AD[@]:0:4}" --list | tail -n +2)" "$1: nothing adopted"
	note "refused: $(cat "$T/adopt.err")"
}
"$BIN/helpers/static_sleep" 600 &
S=$!
on_exit "kill -KILL $S 2>/dev/null"
# Asleep, past its start-up (which still maps its heap and protects its
# RELRO): in pause, nanosleep or clock_nanosleep.
for _ in $(seq 1 100); do
	case $(cut -d' ' -f1 "/proc/$S/syscall" 2>/dev/null) in 34 | 35 | 230) break ;; esac
	sleep 0.05
done
refused "static" "$S" "statically linked"
env -u LD_PRELOAD "$PY" -c 'import select; select.epoll().poll()' &
E=$!
on_exit "kill -KILL $E 2>/dev/null"
for _ in $(seq 1 100); do
	[ "$(cut -d' ' -f1 "/proc/$E/syscall" 2>/dev/null)" = 232 ] && break
	sleep 0.05
done
refused "epoll_wait" "$E" "system call 232"
note "ok: refusals"

# ---- the program's own LD_PRELOAD stays; its children start gated --------
cat >"$T/child.py" <<'PY'
import os, subprocess, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
r = subprocess.run(["/bin/sh", "-c", 'echo "$LD_PRELOAD"'], capture_output=True, text=True)
print(r.returncode, r.stdout.strip(), r.stderr.strip() or "-")
PY
LD_PRELOAD=libm.so.6 "$PY" "$T/child.py" "$T/child.go" >"$T/child.out" 2>&1 &
P=$!
on_exit "kill -KILL $P 2>/dev/null"
sleep 0.3
"${AD[@]}" --inject "$P" >"$T/adopt.out" 2>"$T/adopt.err" || fail "inject: $(cat "$T/adopt.err")"
touch "$T/child.go"
wait "$P" || fail "the program with its own preload failed: $(cat "$T/child.out")"
assert_eq "0 libm.so.6:$SHIM -" "$(cat "$T/child.out")" "the child's LD_PRELOAD"
note "ok: LD_PRELOAD kept, the shim after it"
midd_stop
