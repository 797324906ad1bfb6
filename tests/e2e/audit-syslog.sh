#!/bin/bash
# SPDX-License-Identifier: MIT
# MIDSHIM_SYSLOG=1: each denial is also one key=value line to syslog,
# LOG_USER|LOG_WARNING with the ident "midshim" and the pid, as well as on
# stderr. The test binds its own datagram socket and points the shim at it
# with MIDSHIM_SYSLOG_SOCKET (a setting that only adds output); the
# program's own syslog ident is left alone.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:audit-syslog:01"
SOCK=$T/log.sock
"$PY" - "$SOCK" "$T/syslog.out" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(0.2)
out = open(sys.argv[2], "ab", buffering=0)
end = time.time() + 60
while time.time() < end and os.path.exists(sys.argv[1]):
    try:
        out.write(s.recv(4096) + b"\n")
    except socket.timeout:
        pass
PY
LPID=$!
on_exit "rm -f '$SOCK'; kill $LPID 2>/dev/null; wait $LPID 2>/dev/null"
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "the stand-in syslog socket did not appear"
cat >"$T/p.json" <<JSON
{"version": 1, "rules": [{"on": "fs", "op": "delete", "path": "$T/keep", "action": "deny"}]}
JSON
: >"$T/keep"
export MIDSHIM_POLICY=$T/p.json MIDSHIM_SYSLOG_SOCKET=$SOCK

# Without MIDSHIM_SYSLOG nothing is sent.
gated rm -f "$T/keep"
assert_eq 137 "$RC" "rm killed"
sleep 0.3
[ ! -s "$T/syslog.out" ] || fail "sent to syslog without MIDSHIM_SYSLOG=1: $(cat "$T/syslog.out")"

# With it: one line, and the stderr line as before. The program logs to
# syslog itself first, under its own ident, which must stay its own.
MIDSHIM_SYSLOG=1 gated "$PY" -c '
import os, sys, syslog
syslog.openlog("myjob", 0, syslog.LOG_DAEMON)
os.unlink(sys.argv[1])' "$T/keep"
assert_eq 137 "$RC" "python3 killed"
assert_file_contains "$T/err" "midshim: denied fs delete $T/keep" "the stderr line"
for _ in $(seq 1 40); do [ -s "$T/syslog.out" ] && break; sleep 0.05; done
got=$(cat "$T/syslog.out")
n=$(grep -c 'midshim\[' "$T/syslog.out" || true)
assert_eq 1 "$n" "one syslog line per denial: $got"
# <12> is LOG_USER (8) | LOG_WARNING (4).
echo "$got" | grep -Eq "^<12>midshim\[[0-9]+\]: decision=deny event=\"fs delete\" target=\"$T/keep\" device=\"$MIDSHIM_DEVICE_ID\" code=POLICY_DENY request_id=- rule=1 action=\"killed\" mode=enforce exe=\"/usr/bin/python3[.0-9]*\" count=1$" ||
	fail "syslog line: $got"
assert_exists "$T/keep" "the denied delete"

# A relative socket path is a configuration error, like any bad setting.
MIDSHIM_SYSLOG=1 MIDSHIM_SYSLOG_SOCKET=log.sock gated /bin/true
assert_eq 126 "$RC" "relative MIDSHIM_SYSLOG_SOCKET"
assert_file_contains "$T/err" "MIDSHIM_SYSLOG_SOCKET=log.sock: use an absolute path" "its error"
note "ok: one syslog line per denial"
