#!/bin/bash
# SPDX-License-Identifier: MIT
# How midd serves: a unix socket (alone or beside TCP), refusal of a
# non-loopback address without --allow-remote, of a database without an
# org, of a second midd on the same socket; SIGTERM and SIGINT exit 0.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_init
S=$T/midd.sock

note "TCP and a unix socket over the same state"
midd_start --socket "$S"
assert_eq 660 "$(stat -c %a "$S")" "socket mode"
register sock:prod:a:01
out=$(curl -sS --max-time 5 --unix-socket "$S" -H "x-org-key: $ORG_KEY" \
	--data-binary '{"deviceId":"sock:prod:a:01"}' http://midd/api/v1/devices/validate)
assert_eq ALLOW "$(jf code "$out")" "validate over the unix socket"
admin revoke sock:prod:a:01
out=$(curl -sS --max-time 5 --unix-socket "$S" -H "x-org-key: $ORG_KEY" \
	--data-binary '{"deviceId":"sock:prod:a:01"}' http://midd/api/v1/devices/validate)
assert_eq DEVICE_REVOKED "$(jf code "$out")" "unix socket sees the TCP revoke"

note "a second midd on a live socket is refused"
"${OURS[@]}" "$BIN/midd" init --db "$T/other.db" >/dev/null
set +e
"${OURS[@]}" "$BIN/midd" --db "$T/other.db" --listen none --socket "$S" 2>"$T/e" &
p=$!
for _ in $(seq 1 50); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
kill -0 $p 2>/dev/null && { kill $p; fail "second midd kept running on a live socket"; }
wait $p
rc=$?
set -e
assert_eq 1 "$rc" "second midd on a live socket"
assert_file_contains "$T/e" "another server answers on $S" "live socket message"
midd_alive

note "a second midd on the same database is refused"
set +e
timeout 10 "${OURS[@]}" "$BIN/midd" --db "$T/midd.db" --listen "127.0.0.1:$(free_port)" 2>"$T/e"
rc=$?
set -e
assert_eq 1 "$rc" "second midd on one database"
assert_file_contains "$T/e" "another midd already serves $T/midd.db" "second midd message"
midd_alive

note "SIGTERM: clean exit 0, socket removed"
pid=$MIDD_PID
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
MIDD_PID=
assert_eq 0 "$rc" "exit status after SIGTERM"
assert_absent "$S" "socket after clean stop"
assert_file_contains "$T/midd.log" "midd: stopping signal=TERM" "stop log line"
assert_file_contains "$T/midd.log" "midd: stop" "stop log line"

note "unix socket only; a stale socket file is replaced"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$S"
[ -S "$S" ] || fail "could not make a stale socket"
"${OURS[@]}" "$BIN/midd" --db "$T/midd.db" --listen none --socket "$S" >>"$T/midd.log" 2>&1 &
pid=$!
midd_wait_ready "unix:$S" "$pid" || fail "midd on a unix socket only did not answer"
out=$(curl -sS --max-time 5 --unix-socket "$S" -H "x-admin-key: $ADMIN_KEY" \
	--data-binary '{"deviceId":"sock:prod:a:01"}' http://midd/api/v1/devices/unrevoke)
assert_eq active "$(jf state "$out")" "unrevoke over the unix socket"
sleep 0.3
out=$(curl -sS --max-time 5 --unix-socket "$S" -H "x-admin-key: $ADMIN_KEY" \
	'http://midd/api/v1/audit?limit=1')
printf '%s' "$out" | python3 -c '
import json, sys
e = json.load(sys.stdin)["entries"][0]
assert e["peer"] == "unix" and e["route"] == "unrevoke", e' || fail "audit peer over unix: $out"
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 0 "$rc" "exit status after SIGINT"

# refuse ARGS...: midd ARGS must exit 2 at once, naming the fix.
refuse() {
	set +e
	timeout 10 "${OURS[@]}" "$BIN/midd" --db "$T/midd.db" "$@" >"$T/o" 2>"$T/e"
	RC=$?
	set -e
}

note "non-loopback addresses need --allow-remote"
port=$(free_port)
refuse --listen "0.0.0.0:$port"
assert_eq 2 "$RC" "0.0.0.0 without --allow-remote"
assert_file_contains "$T/e" "--allow-remote" "refusal names --allow-remote"
assert_eq 1 "$(grep -c 'midd:' "$T/e")" "refusal is one line"
refuse --listen "[::]:$port"
assert_eq 2 "$RC" ":: without --allow-remote"
refuse --listen "10.1.2.3:$port"
assert_eq 2 "$RC" "10.1.2.3 without --allow-remote"
refuse --listen "example.com:$port"
assert_eq 2 "$RC" "host name"
refuse --listen "127.0.0.1:99999"
assert_eq 2 "$RC" "bad port"
refuse --listen none
assert_eq 2 "$RC" "--listen none without --socket"
refuse --threads 0
assert_eq 2 "$RC" "zero threads"
refuse --bogus
assert_eq 2 "$RC" "unknown option"

note "loopback forms are accepted"
for l in "localhost:$port" "[::1]:$port"; do
	"${OURS[@]}" "$BIN/midd" --db "$T/midd.db" --listen "$l" >>"$T/midd.log" 2>&1 &
	pid=$!
	host=${l%:*}
	[ "$host" = localhost ] && host=127.0.0.1
	ok=
	midd_wait_ready "http://$host:$port" "$pid" && ok=1
	kill -TERM "$pid"
	wait "$pid" || fail "midd on $l did not exit 0"
	[ -n "$ok" ] || fail "midd on $l did not answer"
done

note "a database without an org, or none at all, is refused"
refuse --db "$T/none.db" --listen "127.0.0.1:$port"
assert_eq 1 "$RC" "missing database"
assert_file_contains "$T/e" "run \`midd init --db $T/none.db\` first" "missing database message"
sqlite3 "$T/empty.db" 'CREATE TABLE x(y);'
refuse --db "$T/empty.db" --listen "127.0.0.1:$port"
assert_eq 1 "$RC" "database without an org"
assert_file_contains "$T/e" "run \`midd init --db $T/empty.db\` first" "no-org message"
MIDD_DB=$T/midd.db "${OURS[@]}" "$BIN/midd" --listen none --socket "$S" >>"$T/midd.log" 2>&1 &
pid=$!
ok=
midd_wait_ready "unix:$S" "$pid" && ok=1
kill -TERM "$pid"
wait "$pid" || fail "midd with MIDD_DB did not exit 0 at SIGTERM"
[ -n "$ok" ] || fail "MIDD_DB was not used as the default database"

note "--help and --version"
"${OURS[@]}" "$BIN/midd" --help >"$T/o"
assert_file_contains "$T/o" "midd init" "help names init"
assert_file_contains "$T/o" "--allow-remote" "help names --allow-remote"
"${OURS[@]}" "$BIN/midd" --version | grep -q '^midd [0-9]' || fail "--version"
