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
need setpriv util-linux
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
src=$TOP/tests/helpers/sidefx.go
if [ ! -x "$GOPROG" ] || [ "$src" -nt "$GOPROG" ]; then
	mkdir -p "$BIN/go-cache" "$BIN/go-path"
	(cd "$T" && GOCACHE=$BIN/go-cache GOPATH=$BIN/go-path GO111MODULE=off GOPROXY=off \
		GOFLAGS="" CGO_ENABLED=0 go build -o "$GOPROG.tmp" "$src") || fail "go build of $src"
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
	for _ in $(seq 1 100); do
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
	local lpid=$! c
	on_exit "kill -KILL $lpid 2>/dev/null"
	# Until the launcher's child runs the program (its exec allowed).
	for _ in $(seq 1 200); do
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

# Denials the launcher decides reach midd's audit trail as the
# preload's do: a policy deny as a report row (program, PID, rule,
# target) within 1 s; a revoke as midd's own denied validate.
CTL=(env MIDSHIM_ADMIN_KEY_FILE="$T/admin/admin.key" "${OURS[@]}" "$BIN/midctl" --url "$MIDSHIM_URL")
# audit_rows: midctl's audit rows of $DEV, "route|decision|rule|program|detail|request_id".
audit_rows() {
	"${CTL[@]}" --json audit --device "$DEV" --limit 1000 >"$T/audit.json" || fail "midctl audit"
	"$PY" - "$T/audit.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["entries"]:
    rep = r.get("report") or {}
    print("%s|%s|%s|%s|%s|%s" % (r.get("route"), r.get("decision"), rep.get("rule", ""),
          rep.get("program", ""), rep.get("detail", ""), r.get("request_id", "")))
PY
}
cat >"$T/kill.json" <<EOF
{"version": 1, "rules": [{"on": "fs", "path": "$T/reported*", "action": "deny"}]}
EOF
set +e
"$MS" run --device "$DEV" --policy "$T/kill.json" -- "$STATIC" libc - "$T/reported" "$PORT" \
	"${CHILD[@]}" >"$T/rep.out" 2>"$T/rep.err"
rc=$?
set -e
t0=${EPOCHREALTIME/./}
assert_eq 137 "$rc" "report: the policy deny killed the tree"
assert_absent "$T/reported" "report: denied write"
# Polled through the API (curl starts quicker than midctl on a loaded
# machine); midctl shows the same row below. The bound: 1 s.
ms=
while [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -le 1000 ]; do
	r=$(api GET "/api/v1/audit?deviceId=$DEV&limit=20" "$ADMIN_KEY")
	if [[ $r == *"fs create $T/reported (POLICY_DENY)"* ]]; then
		ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
		break
	fi
	sleep 0.02
done
[ -n "$ms" ] || fail "report: no POLICY_DENY row for the supervised deny within 1000 ms: $r"
row=$(audit_rows | grep "^report|POLICY_DENY|" | grep -F "fs create $T/reported (POLICY_DENY)" | head -1 || true)
[ -n "$row" ] || fail "report: midctl audit lacks the row: $(cat "$T/audit.json")"
IFS='|' read -r _ _ rule prog _ <<<"$row"
assert_eq 1 "$rule" "report: the rule"
assert_eq "$STATIC" "$prog" "report: the program is the supervised one, not the launcher"
note "ok: a supervised policy deny is in midctl audit with its rule ($ms ms)"
# The revokes (see check): midd denied the supervisor's validate itself,
# under the request_id of the launcher's denial line.
rid=$(grep -Eo "request_id $UUID_RE" "$T/rv.raw.err" | head -1)
[ -n "$rid" ] || fail "report: no request_id in the revoke denial line: $(cat "$T/rv.raw.err")"
audit_rows | grep "^validate|deny|.*|${rid#request_id }\$" >/dev/null ||
	fail "report: no denied validate $rid in the trail: $(cat "$T/audit.json")"
note "ok: the supervised revokes are midd's denied validates in midctl audit"

# Opens the launcher makes for the program (a policy with a file rule;
# without one the kernel makes them): with the launcher's umask and
# credentials until a process of the tree changes its own (the filter
# sends those calls too): then with the program's umask, and refused to
# a process that became another user.
cat >"$T/filerule.json" <<JSON
{"version": 1, "rules": [{"on": "fs", "path": "$T/nothing-here/*", "action": "deny"}]}
JSON
"$MS" run --supervise --device "$DEV" --policy "$T/filerule.json" -- /bin/bash -c 'umask 077; echo x >"$1/umask.f"' _ "$T" ||
	fail "umask: run failed"
assert_eq 600 "$(stat -c %a "$T/umask.f")" "umask: the program's umask, not the launcher's"
if [ "$(id -u)" = 0 ]; then
	: >"$T/rootonly"
	chmod 644 "$T/rootonly"
	chmod 755 "$T"
	set +e
	"$MS" run --supervise --device "$DEV" --policy "$T/filerule.json" -- setpriv --reuid=65534 \
		--regid=65534 --clear-groups -- /bin/sh -c 'echo x >"$1/rootonly"' _ "$T" 2>"$T/setuid.err"
	rc=$?
	set -e
	[ "$rc" != 0 ] || fail "setuid: a process that became nobody wrote a file of root's"
	assert_eq 0 "$(stat -c %s "$T/rootonly")" "setuid: the file is untouched"
	# Nor a connect to a unix socket only root may reach, which the
	# launcher would make as root: the kernel's answer to nobody.
	mkdir -m 700 "$T/priv"
	"$PY" -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
time.sleep(120)' "$T/priv/sock" &
	on_exit "kill $! 2>/dev/null"
	for _ in $(seq 1 100); do [ -S "$T/priv/sock" ] && break; sleep 0.05; done
	conn='import socket, sys
try:
    socket.socket(socket.AF_UNIX).connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(e.strerror)'
	assert_eq connected "$("$MS" run --supervise --device "$DEV" -- "$PY" -c "$conn" "$T/priv/sock")" \
		"unix connect: the launcher's user"
	assert_eq "Permission denied" "$(setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$PY" -c "$conn" "$T/priv/sock")" "unix connect: nobody, without midshim"
	assert_eq "Permission denied" "$("$MS" run --supervise --device "$DEV" -- setpriv --reuid=65534 \
		--regid=65534 --clear-groups -- "$PY" -c "$conn" "$T/priv/sock")" \
		"unix connect: a process that became nobody"
	note "ok: the program's umask; no write or unix connect for a process that left the launcher's user"
else
	note "ok: the program's umask"
fi

# No-new-privs: skipped when the launcher holds CAP_SYS_ADMIN (setuid
# programs in the tree keep working), set when it does not.
nnp() { # [launcher prefix...]: NoNewPrivs of a supervised grep
	"$@" "$MS" run --supervise --device "$DEV" -- /bin/grep NoNewPrivs /proc/self/status |
		awk '{ print $2 }'
}
capeff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
if [ $((0x$capeff >> 21 & 1)) = 1 ]; then # CAP_SYS_ADMIN
	assert_eq 0 "$(nnp)" "no-new-privs: launcher with CAP_SYS_ADMIN"
	assert_eq 1 "$(nnp setpriv --inh-caps=-all --bounding-set=-all)" "no-new-privs: launcher without capabilities"
	note "ok: no-new-privs skipped with CAP_SYS_ADMIN, set without it"
else
	assert_eq 1 "$(nnp)" "no-new-privs: unprivileged launcher"
	note "ok: no-new-privs set (unprivileged launcher)"
fi

# A static program is refused with --no-supervise; a setuid one still is.
set +e
"$MS" run --no-supervise --device "$DEV" -- "$STATIC" libc - "$T/x" "$PORT" /bin/true 2>"$T/err"
rc=$?
set -e
assert_eq 126 "$rc" "--no-supervise refuses a static program"
assert_absent "$T/x" "refused program did not run"
midd_stop
