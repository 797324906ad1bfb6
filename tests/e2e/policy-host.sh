#!/bin/bash
# SPDX-License-Identifier: MIT
# Host-name rules: the shim remembers what getaddrinfo resolved, so a rule
# on "localhost" matches the later connect to 127.0.0.1/::1 made by that
# name, and not a connect to the same address given as a number.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:policy-host:01"
LOG=$T/listener.log
listener_start "$LOG"
export LISTEN_PORT
cat >"$T/p.json" <<JSON
{"version": 1,
 "rules": [{"on": "connect", "host": "local*", "port": $LISTEN_PORT, "action": "deny"}]}
JSON
export MIDSHIM_POLICY=$T/p.json

# By number: no name was resolved, the rule does not apply.
expect_allowed "python3 by address" "$PY" -c '
import os, socket
socket.create_connection(("127.0.0.1", int(os.environ["LISTEN_PORT"])), 5).close()'
sleep 0.2
assert_file_contains "$LOG" connected "connect by address reached the listener"

# By name: denied by the rule, before the connect happens.
: >"$LOG"
gated "$PY" -c '
import os, socket
socket.create_connection(("localhost", int(os.environ["LISTEN_PORT"])), 5).close()'
assert_eq 137 "$RC" "connect by name killed"
grep -Eq "midshim: denied connect localhost/(127\.0\.0\.1|\[::1\]):$LISTEN_PORT \(device $MIDSHIM_DEVICE_ID, code POLICY_DENY, request_id -, rule 1\): killed" "$T/err" ||
	fail "host rule denial line: $(cat "$T/err")"
sleep 0.2
[ ! -s "$LOG" ] || fail "connect by name reached the listener: $(cat "$LOG")"

# The same from C with on_deny errno: the call fails with EPERM.
MIDSHIM_ON_DENY=errno gated "$BIN/helpers/sidefx" connect localhost "$LISTEN_PORT"
[ "$RC" -ne 0 ] || fail "C connect by name succeeded"
assert_file_contains "$T/err" "Operation not permitted" "C connect by name fails with EPERM"
assert_file_contains "$T/err" "denied connect localhost/" "C denial names the host"
note "ok: host rules follow resolved names"
