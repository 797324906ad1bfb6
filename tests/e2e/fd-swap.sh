#!/bin/bash
# SPDX-License-Identifier: MIT
# A gated program that replaces the shim's control-plane connection with
# a server of its own choosing (closing the shim's descriptor through
# stdio, which the close hooks do not see, and putting its own socket at
# that number) gains nothing: after a revoke its side effect is still
# stopped, and the impostor, which answers every request with an allow,
# never hears from the shim, let alone its org key.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:fdswap:01"
M=$T/marker

# The impostor: a server that answers every request with a well-formed
# allow and logs what it receives.
FPORT=$(free_port)
: >"$T/fake.log"
FAULTD_LOG=$T/fake.log "$PY" "$TOP/tests/faults/faultd.py" "$FPORT" allow &
FAKE_PID=$!
on_exit "kill $FAKE_PID 2>/dev/null"
for _ in $(seq 1 100); do
	[ -s "$T/fake.log" ] && break
	"$PY" -c "import socket; socket.create_connection(('127.0.0.1', $FPORT), 1).close()" 2>/dev/null || true
	sleep 0.05
done
[ -s "$T/fake.log" ] || fail "the impostor did not start"

for how in fclose pclose; do
	rm -f "$M"
	: >"$T/fake.log"
	# Death at the create means the swap landed (swapfd exits 3 if not).
	expect_revoked "swap by $how" "fs create" "$BIN/helpers/swapfd" "$how" "$MIDD_PORT" "$FPORT" "$M"
	assert_absent "$M" "$how: the file was created after the revoke"
	assert_eq "connected" "$(cat "$T/fake.log")" "$how: the impostor heard only the program's own connect"
	! grep -qF -- "$ORG_KEY" "$T/fake.log" || fail "$how: the impostor received the org key"
	note "ok: swap by $how: stopped, the impostor heard nothing"
done

# The session outlives a midd restart (its secret is in the database): a
# program that opened it before the restart acts after it.
rm -f "$M"
GO=$T/go2
mkfifo "$GO"
GO=$GO LD_PRELOAD=$PRELOAD "$BIN/helpers/sidefx" creat "$M" >"$T/out" 2>"$T/err" </dev/null &
pid=$!
for _ in $(seq 1 200); do
	grep -q ready "$T/out" 2>/dev/null && break
	sleep 0.05
done
grep -q ready "$T/out" || fail "restart: the program never got ready: $(cat "$T/err")"
midd_stop
midd_start
sleep "$(((MIDSHIM_TTL_MS + 150) / 1000)).$(printf '%03d' "$(((MIDSHIM_TTL_MS + 150) % 1000))")"
timeout 5 sh -c 'echo go > "$1"' _ "$GO" || true
set +e
wait "$pid"
RC=$?
set -e
[ "$RC" -eq 0 ] || fail "restart: the program was stopped ($RC): $(cat "$T/err")"
assert_exists "$M" "restart: the side effect after the restart"
note "ok: a session outlives a midd restart"
