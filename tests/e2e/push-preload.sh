#!/bin/bash
# SPDX-License-Identifier: MIT
# Push under plain LD_PRELOAD: an idle gated process (asleep, blocked in
# a pipe read, blocked in accept) dies within PUSH_BOUND_MS of a revoke,
# a remove or an org disable, with no side effect of its own; midd lists
# it while it lives and audits the kill under the action's request ID.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
midd_start
shim_env "test:e2e:push:01"
DEV=$MIDSHIM_DEVICE_ID
# A long TTL: only the push can stop these programs within the bound.
export MIDSHIM_TTL_MS=30000 MIDSHIM_PUSH=on

start() { # tag cmd...: start a gated program in the background
	local tag=$1.$$
	shift
	MIDTEST_TAG=$tag LD_PRELOAD=$PRELOAD "$@" >>"$T/out" 2>>"$T/err" </dev/null &
	on_exit "kill -KILL $! 2>/dev/null"
}

body() { printf '{"deviceId":"%s"}' "$DEV"; }

run_case() { # name path body cmd...: one idle program, one action
	local name=$1 path=$2 b=$3
	shift 3
	start "$name" "$@"
	push_wait "$DEV" 1
	push_halt "$name.$$" 1 "$path" "$b" || fail "$name"
	note "ok: $name"
}

reset() {
	api POST /api/v1/devices/unrevoke "$ADMIN_KEY" "$(body)" >/dev/null
	api POST /api/v1/org/enable "$ADMIN_KEY" "" >/dev/null
	push_wait "$DEV" 0
}

# midctl status lists the live processes, by PID and program.
start status sleep 600
push_wait "$DEV" 1
st=$("${OURS[@]}" "$BIN/midctl" --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" \
	status "$DEV") || fail "midctl status: $st"
assert_contains "$st" "processes   1 live" "midctl status: the count"
assert_contains "$st" "$(tag_pids "status.$$" | tr -d ' ') sleep preload" "midctl status: the process"
kill -KILL "$(tag_pids "status.$$" | tr -d ' ')"
push_wait "$DEV" 0
note "ok: midctl status lists the live process"

# One kept-alive connection and one channel: a validate after the
# channel opened reuses the connection it had, neither leaving it open
# in the process nor dialling midd again.
# Under the highest soft limit on descriptors this host allows, so that
# the shim's two sit where they would in a service started with a high
# one (next check).
MIDSHIM_TTL_MS=100 start reuse bash -c 'ulimit -n "$(ulimit -Hn)" && exec "$@"' - "$PY" -c 'import time
for i in range(3):
    time.sleep(0.3)
    open("/dev/null", "w").write("x")
time.sleep(600)'
push_wait "$DEV" 1
sleep 1.5
p=$(tag_pids "reuse.$$" | tr -d ' ')
[ -n "$p" ] || fail "the reuse program died: $(tail -n 3 "$T/err")"
socks=$(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null | wc -l)
assert_eq 2 "$socks" "sockets of a process that validated after its channel opened"
# Both below 1,024: the kernel sizes the descriptor table by the highest
# descriptor and copies it at every fork, so a channel near a soft limit
# of 20,000 cost each fork of the program a 256 KiB table.
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -gt 1024 ] ||
	note "hard limit on descriptors $hard: the table check below proves less here"
high=$(find "/proc/$p/fd" -lname 'socket:*' -printf '%f\n' | awk '$1 >= 1024' | head -n 1)
[ -z "$high" ] || fail "the shim's socket is descriptor $high, past 1023"
assert_eq 1024 "$(awk '$1 == "FDSize:" {print $2}' "/proc/$p/status")" \
	"descriptor table size of a gated process with its connection and channel"
kill -KILL "$p"
push_wait "$DEV" 0
note "ok: the kept-alive connection outlives the channel's opening"

run_case "sleep, revoke" /api/v1/devices/revoke "$(body)" sleep 600
reset
run_case "pipe read, revoke" /api/v1/devices/revoke "$(body)" \
	"$PY" -c 'import os; r, w = os.pipe(); os.read(r, 1)'
reset
PORT=$(free_port)
run_case "http.server accept, org disable" /api/v1/org/disable "" \
	"$PY" -m http.server --bind 127.0.0.1 "$PORT"
reset

# The audit trail holds the kills, under the actions' request IDs.
r=$(api GET "/api/v1/audit?limit=200" "$ADMIN_KEY")
python3 - "$r" <<'PY' || fail "audit: push kills"
import json, sys
_, _, body = sys.argv[1].partition(" ")
rows = json.loads(body)["entries"]
kills = [e for e in rows if e["route"] == "push" and e["decision"] == "kill"
         and e["deviceId"] == "test:e2e:push:01"]
codes = sorted(e["code"] for e in kills)
assert codes == ["DEVICE_REVOKED", "DEVICE_REVOKED", "ORG_DISABLED"], codes
causes = {e["request_id"] for e in rows if e["route"] in ("revoke", "org/disable")}
assert all(k["request_id"] in causes for k in kills), (kills, causes)
PY
note "ok: audit rows"

# remove last: the device cannot come back.
run_case "sleep, remove" /api/v1/devices/remove "$(body)" sleep 600
grep -q 'midshim: denied' "$T/err" && fail "a denial line was written: $(cat "$T/err")"
note "all idle programs halted by push"
