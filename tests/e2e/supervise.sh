#!/bin/bash
# SPDX-License-Identifier: MIT
# Supervise mode against a real midd, with programs no preload can see: a
# Go program (built here once, offline, into $B), a `gcc -static` C
# program, the same program making each gated call with its own `syscall`
# instruction, and one that first tries io_uring. Each writes a file,
# connects to a local sink and runs a child:
#  - under `midshim run` (supervise mode chosen by itself) the output, the
#    file and the sink match a run without midshim, and every event was
#    validated (TTL 0: one validate each);
#  - a policy that denies each event in errno mode fails each with EPERM
#    and a denial line, and nothing happens;
#  - after a revoke (push off: the supervisor itself asks midd) the first
#    event kills the whole tree, exit 137, and nothing happens; with push
#    on the tree dies at the revoke;
#  - io_uring_setup fails with ENOSYS and the program falls back to calls
#    that are gated;
#  - --supervise on a dynamically linked program (both layers) changes
#    nothing allowed, and refuses each denied event once, raw syscall
#    instructions included.
# Plain pass only (a Go build): ASAN_EXCLUDE in the Makefile.
. "$(dirname "$0")/../lib.sh"
need go golang-go
midd_start
shim_env "test:e2e:supervise:01"
DEV=$MIDSHIM_DEVICE_ID
. "$(dirname "$0")/push.lib"
MS=$BIN/midshim
STATIC=$BIN/helpers/static_sidefx
GOPROG=$BIN/helpers/sidefx_go
[ -x "$STATIC" ] || fail "$STATIC is not built"

# The Go program, built once per build directory (the standard library
# only: no module is downloaded).
src=$MID_TOP/tests/helpers/sidefx.go
if [ ! -x "$GOPROG" ] || [ "$src" -nt "$GOPROG" ]; then
	mkdir -p "$BIN/go-cache" "$BIN/go-path"
	(cd "$T" && GOCACHE=$BIN/go-cache GOPATH=$BIN/go-path GO111MODULE=off GOPROXY=off \
		GOFLAGS= CGO_ENABLED=0 go build -o "$GOPROG.tmp" "$src") || fail "go build of $src"
	mv "$GOPROG.tmp" "$GOPROG"
fi

listener_start "$T/sink"
PORT=$LISTEN_PORT
CHILD=(/bin/echo child-ran)
validates() {
	api GET "/api/v1/devices/list?deviceId=$DEV" "$ORG_KEY" | "$PY" -c '
import json, sys
_, _, body = sys.stdin.read().partition(" ")
d = json.loads(body).get("devices", [])
print(d[0].get("validates", 0) if d else 0)'
}
sink_lines() { wc -l <"$T/sink"; }
# The sink writes what it received a moment after the connection closes.
sink_wait() { # N
	local i
	for i in $(seq 1 100); do
		[ "$(sink_lines)" -ge "$1" ] && return 0
		sleep 0.05
	done
	fail "the sink holds $(sink_lines) lines, expected $1"
}

# A policy denying each of the three events, in errno mode.
cat >"$T/deny.json" <<EOF
{"version": 1, "on_deny": "errno",
 "rules": [{"on": "fs", "path": "$T/denied*", "action": "deny"},
           {"on": "connect", "port": $PORT, "action": "deny"},
           {"on": "exec", "path": "/bin/echo", "action": "deny"}]}
EOF

# check NAME PROGRAM...: the three cases for one program.
check() {
	local n=$1 plain gated rc before after lines
	shift
	# Without midshim.
	lines=$(sink_lines)
	"$@" - "$T/plain.$n" "$PORT" "${CHILD[@]}" >"$T/plain.$n.out" 2>&1
	sink_wait $((lines + 2))
	# Under midshim run: supervised, every event asked (TTL 0).
	lines=$(sink_lines)
	before=$(validates)
	MIDSHIM_TTL_MS=0 "$MS" run --device "$DEV" -- "$@" - "$T/gated.$n" "$PORT" "${CHILD[@]}" \
		>"$T/gated.$n.out" 2>"$T/gated.$n.err" || fail "$n: gated run failed: $(cat "$T/gated.$n.err")"
	after=$(validates)
	sink_wait $((lines + 2))
	plain=$(cat "$T/plain.$n.out")
	gated=$(cat "$T/gated.$n.out")
	if [ "$n" = uring ]; then
		assert_contains "$plain" "io_uring: set up" "$n: io_uring works without midshim"
		assert_contains "$gated" "io_uring: Function not implemented; falling back" "$n: io_uring_setup fails with ENOSYS"
		plain=${plain#*$'\n'}
		gated=${gated#*$'\n'}
	fi
	assert_eq "$plain" "$gated" "$n: output under midshim run"
	assert_eq "$(cat "$T/plain.$n")" "$(cat "$T/gated.$n")" "$n: file written"
	assert_contains "$plain" "exec ok: child-ran" "$n: the run without midshim"
	# The program's exec, its write, its connect, the child's exec.
	[ $((after - before)) -ge 4 ] || fail "$n: $((after - before)) validates, expected at least 4"
	assert_not_contains "$(cat "$T/gated.$n.err")" "denied" "$n: no denial"
	note "ok: $n: same as without midshim; $((after - before)) validates"

	# A policy that denies each event, errno mode: each fails alone.
	lines=$(sink_lines)
	"$MS" run --device "$DEV" --policy "$T/deny.json" -- "$@" - "$T/denied.$n" "$PORT" \
		"${CHILD[@]}" >"$T/deny.$n.out" 2>"$T/deny.$n.err" || fail "$n: errno run failed"
	assert_absent "$T/denied.$n" "$n: denied write"
	for what in "write error" "connect error" "exec error"; do
		grep -qi "$what: .*operation not permitted" "$T/deny.$n.out" ||
			fail "$n: no EPERM for $what: $(cat "$T/deny.$n.out")"
	done
	for what in "fs create $T/denied.$n" "connect 127.0.0.1:$PORT" "exec /bin/echo"; do
		grep -q "denied $what (device $DEV, code POLICY_DENY, request_id -, rule [0-9]): EPERM" \
			"$T/deny.$n.err" || fail "$n: no denial line for $what: $(cat "$T/deny.$n.err")"
	done
	sleep 0.2
	assert_eq "$lines" "$(sink_lines)" "$n: nothing reached the sink when denied"
	note "ok: $n: each event denied alone"

	# Revoked while the program waits, push off: the supervisor asks
	# midd at the first event and kills the whole tree.
	lines=$(sink_lines)
	rm -f "$T/go.$n"
	MIDTEST_TAG=sup.$n.$$ MIDSHIM_PUSH=off MIDSHIM_TTL_MS=100 "$MS" run --device "$DEV" -- \
		"$@" "$T/go.$n" "$T/revoked.$n" "$PORT" "${CHILD[@]}" >"$T/rv.$n.out" 2>"$T/rv.$n.err" &
	local lpid=$! i c
	on_exit "kill -KILL $lpid 2>/dev/null"
	# Until the launcher's child runs the program (its exec allowed).
	for i in $(seq 1 200); do
		c=$(cat "/proc/$lpid/task/$lpid/children" 2>/dev/null || true)
		[ -n "$c" ] && [ "$(readlink "/proc/${c%% *}/exe" 2>/dev/null)" = "$1" ] && break
		sleep 0.025
	done
	device_revoke
	sleep 0.2 # the supervisor's cached allow (100 ms) runs out
	touch "$T/go.$n"
	set +e
	wait "$lpid"
	rc=$?
	set -e
	device_restore
	assert_eq 137 "$rc" "$n: launcher status after the revoke"
	assert_absent "$T/revoked.$n" "$n: no write after the revoke"
	grep -Eq "denied fs create $T/revoked.$n \(device $DEV, code DEVICE_REVOKED, request_id $UUID_RE\): killed" \
		"$T/rv.$n.err" || fail "$n: no revoke denial line: $(cat "$T/rv.$n.err")"
	assert_not_contains "$(cat "$T/rv.$n.out")" "ok" "$n: no step after the revoke"
	sleep 0.2
	assert_eq "$lines" "$(sink_lines)" "$n: nothing reached the sink after the revoke"
	assert_eq "" "$(tag_pids "sup.$n.$$")" "$n: the tree is gone"
	note "ok: $n: revoked, the tree died at its first event"
}

check go "$GOPROG"
check static "$STATIC" libc
check raw "$STATIC" raw
check uring "$STATIC" uring

# Push on: the revoke itself kills the supervised tree, idle.
export MIDSHIM_PUSH=on MIDSHIM_TTL_MS=30000
rm -f "$T/go.push"
MIDTEST_TAG=sup.push.$$ "$MS" run --device "$DEV" -- "$GOPROG" "$T/go.push" "$T/push.out" "$PORT" \
	"${CHILD[@]}" >"$T/push.out.txt" 2>"$T/push.err" &
LPID=$!
on_exit "kill -KILL $LPID 2>/dev/null"
push_wait "$DEV" 1
push_halt sup.push.$$ 2 /api/v1/devices/revoke "{\"deviceId\":\"$DEV\"}" || fail "push revoke"
touch "$T/go.push"
set +e
wait "$LPID"
rc=$?
set -e
assert_eq 137 "$rc" "push: launcher status"
assert_absent "$T/push.out" "push: no write"
device_restore
note "ok: push kills the supervised tree"

# Both layers: --supervise on a dynamically linked program keeps the
# preload. Allowed, it behaves as without midshim; the preload alone
# cannot see the raw syscall instructions, which the filter still gates.
DYN=$BIN/helpers/sidefx_dyn
export MIDSHIM_PUSH=off MIDSHIM_TTL_MS=1000
"$DYN" raw - "$T/dyn.plain" "$PORT" "${CHILD[@]}" >"$T/dyn.plain.out" 2>&1
"$MS" run --supervise --device "$DEV" -- "$DYN" raw - "$T/dyn.gated" "$PORT" "${CHILD[@]}" \
	>"$T/dyn.gated.out" 2>"$T/dyn.err" || fail "both layers: run failed: $(cat "$T/dyn.err")"
assert_eq "$(cat "$T/dyn.plain.out")" "$(cat "$T/dyn.gated.out")" "both layers: output"
assert_eq "$(cat "$T/dyn.plain")" "$(cat "$T/dyn.gated")" "both layers: file"
for mode in raw libc; do
	"$MS" run --supervise --device "$DEV" --policy "$T/deny.json" -- "$DYN" "$mode" - \
		"$T/denied.dyn$mode" "$PORT" "${CHILD[@]}" >"$T/dyn.$mode.out" 2>"$T/dyn.$mode.err" ||
		fail "both layers, $mode: run failed"
	assert_absent "$T/denied.dyn$mode" "both layers, $mode: denied write"
	for what in "write error" "connect error" "exec error"; do
		grep -qi "$what: .*operation not permitted" "$T/dyn.$mode.out" ||
			fail "both layers, $mode: no EPERM for $what: $(cat "$T/dyn.$mode.out")"
	done
	# Each refused once: by the preload (libc) or by the launcher (raw).
	assert_eq 3 "$(grep -c "denied .*code POLICY_DENY" "$T/dyn.$mode.err")" "both layers, $mode: one denial each"
done
note "ok: both layers"

# A static program is refused with --no-supervise; a setuid one still is.
set +e
"$MS" run --no-supervise --device "$DEV" -- "$STATIC" libc - "$T/x" "$PORT" /bin/true 2>"$T/err"
rc=$?
set -e
assert_eq 126 "$rc" "--no-supervise refuses a static program"
assert_absent "$T/x" "refused program did not run"
midd_stop
