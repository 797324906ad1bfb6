#!/bin/bash
# SPDX-License-Identifier: MIT
# Push revocation over https://: a real midd behind a real TLS terminator
# (socat with a throwaway certificate, trusted through MIDSHIM_CA_FILE).
# `midshim run` holds the device's channel as a TLS session: a revoke
# halts `sleep 600` within PUSH_BOUND_MS (six rounds, each measured),
# midd and midctl status list the channel as launcher-tls, and the
# session tickets TLS 1.3 sends after the handshake kill nothing. A restart of the terminator and
# a kill -9 and restart of midd kill nothing, and a revoke afterwards
# still halts the tree. A terminator whose certificate is not trusted is
# refused with libcurl's one-line reason, and the program never runs.
# `midshim adopt` over https: the keeper's channel is listed as adopt-tls
# (midctl status: "over TLS"), a revoke kills an adopted `sleep 600` (the
# median of three rounds held to PUSH_BOUND_MS), restarts of the
# terminator and midd kill nothing, and an untrusted certificate adopts
# nothing, in one line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/push.lib"
need socat socat
need openssl openssl
midd_start
shim_env "test:e2e:push:https"
DEV=$MIDSHIM_DEVICE_ID
export MIDSHIM_TTL_MS=30000 MIDSHIM_PUSH=on
MS=$BIN/midshim
body() { printf '{"deviceId":"%s"}' "$DEV"; }

cert() { # NAME: a self-signed certificate for 127.0.0.1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$T/$1.key" -out "$T/$1.pem" 2>"$T/openssl.err" ||
		fail "openssl: $(cat "$T/openssl.err")"
}
cert good
cert other
TLS_PORT=$(free_port)
HTTPS=https://127.0.0.1:$TLS_PORT

# tls_start NAME: socat terminating TLS with certificate NAME in front of
# midd, in a process group of its own so that a stop takes the
# connections it forked too.
tls_start() {
	setsid socat "OPENSSL-LISTEN:$TLS_PORT,bind=127.0.0.1,reuseaddr,fork,cert=$T/$1.pem,key=$T/$1.key,verify=0" \
		"TCP:127.0.0.1:$MIDD_PORT" 2>>"$T/socat.log" &
	TLS_PID=$!
	on_exit "kill -KILL -- -$TLS_PID 2>/dev/null"
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $TLS_PORT), 1).close()" \
			2>/dev/null && return 0
		sleep 0.05
	done
	fail "socat did not listen on $TLS_PORT: $(cat "$T/socat.log")"
}
tls_stop() {
	kill -KILL -- "-$TLS_PID" 2>/dev/null || true
	wait "$TLS_PID" 2>/dev/null || true
}

# tree TAG: the launcher over https with an idle sleep, its channel up.
tree() {
	on_exit "kill -KILL \$(tag_pids $1) 2>/dev/null"
	MIDTEST_TAG=$1 MIDSHIM_URL=$HTTPS MIDSHIM_CA_FILE=$T/good.pem "$MS" run --device "$DEV" \
		--org-key-file "$T/keys/org.key" -- sleep 600 >>"$T/out" 2>"$T/err.$1" </dev/null &
	LPID=$!
	on_exit "kill -KILL $LPID 2>/dev/null"
	tag_wait "$1" 2 # the launcher and sleep
	push_wait "$DEV" 1 # the launcher's; sleep's preload has none over https
}

# halt TAG: a revoke halts the tree in the bound; the launcher says why.
halt() {
	local rc
	push_halt "$1" 2 /api/v1/devices/revoke "$(body)" | tee -a "$T/halts" || fail "$1: revoke"
	set +e
	wait "$LPID"
	rc=$?
	set -e
	assert_eq 137 "$rc" "$1: launcher status"
	grep -Eq "killed every process of (/usr/bin/)?sleep \(device $DEV, code DEVICE_REVOKED, request_id $UUID_RE\): pushed" \
		"$T/err.$1" || fail "$1: no launcher line: $(cat "$T/err.$1")"
	api POST /api/v1/devices/unrevoke "$ADMIN_KEY" "$(body)" >/dev/null
	push_wait "$DEV" 0
}

# chan_kinds: the kinds of the device's channels, as midd lists them.
chan_kinds() {
	api GET "/api/v1/devices/list?deviceId=$DEV" "$ORG_KEY" | python3 -c '
import json, sys
_, _, body = sys.stdin.read().partition(" ")
print(" ".join(p.get("channel", "?") for p in json.loads(body)["devices"][0]["processes"]))'
}

tls_start good

# The channel is listed with its kind; a while on it (the server's
# session tickets came and went) kills nothing.
tree kind.$$
kinds=$(chan_kinds)
assert_eq "launcher-tls" "$kinds" "channel kinds midd lists"
MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key midctl_run status "$DEV"
assert_eq 0 "$RC" "midctl status: $ERR"
assert_contains "$OUT" " sleep launcher-tls " "midctl status names the channel's kind"
before=$(tag_pids kind.$$)
sleep 0.5
assert_eq "$before" "$(tag_pids kind.$$)" "the tree lives on an idle TLS channel"
halt kind.$$
for i in 1 2 3 4 5; do
	tree round$i.$$
	halt round$i.$$
done
note "revoke -> halt over https, 6 rounds (ms after midd's reply): $(sed -n 's/^# [0-9]* processes halted \([0-9.]*\) ms after.*/\1/p' "$T/halts" | tr '\n' ' ')"
note "ok: revoke over https"

# Restart the terminator, then midd, under a running tree.
tree restart.$$
before=$(tag_pids restart.$$)
tls_stop
sleep 0.3
assert_eq "$before" "$(tag_pids restart.$$)" "the tree lives through the terminator's stop"
tls_start good
push_wait "$DEV" 1
midd_kill9
sleep 0.3
assert_eq "$before" "$(tag_pids restart.$$)" "the tree lives through midd's kill -9"
midd_start
push_wait "$DEV" 1
sleep 0.3
assert_eq "$before" "$(tag_pids restart.$$)" "the tree lives through the restarts"
halt restart.$$
note "ok: terminator and midd restarts kill nothing; a revoke afterwards halts the tree"

# ---- midshim adopt over https: the keeper's channel is a TLS session ----
AD=("$MS" adopt --state-dir "$T/adopt" --url "$HTTPS" --ca-file "$T/good.pem" --device "$DEV"
	--org-key-file "$T/keys/org.key")

# adopted TAG: an ungated `sleep 600` (APID) adopted over https, its
# keeper (KEEPER) holding the channel.
adopted() {
	env -u LD_PRELOAD MIDTEST_TAG="$1" sleep 600 </dev/null >/dev/null 2>&1 &
	APID=$!
	on_exit "kill -KILL \$(tag_pids $1) 2>/dev/null"
	tag_wait "$1" 1
	env -u LD_PRELOAD "${AD[@]}" "$APID" >"$T/adopt.out" 2>"$T/adopt.err" ||
		fail "adopt over https: $(cat "$T/adopt.err")"
	KEEPER=$(sed -n 's/.*keeper \([0-9]*\) .*/\1/p' "$T/adopt.out")
	[ -n "$KEEPER" ] || fail "no keeper PID in: $(cat "$T/adopt.out")"
	on_exit "kill -KILL $KEEPER 2>/dev/null"
	push_wait "$DEV" 1
}

# adopt_halt TAG: a revoke kills the adopted sleep; the keeper exits.
# Each round is bounded loosely and printed; the median is held below.
adopt_halt() {
	local out
	out=$(PUSH_BOUND_MS=5000 push_halt "$1" 1 /api/v1/devices/revoke "$(body)" 2>&1) ||
		fail "$1: $out"
	echo "$out"
	ADOPT_MS+=("$(echo "$out" | sed -n 's/.*halted \([0-9.]*\) ms after.*/\1/p')")
	keeper_gone "$KEEPER"
	assert_eq "" "$(tag_pids "$1")" "$1: the adopted sleep is gone"
	grep -Eq "killed every process of the adopted tree .*code DEVICE_REVOKED, request_id $UUID_RE\): pushed" \
		"$T/adopt/$KEEPER.log" || fail "$1: no keeper line: $(cat "$T/adopt/$KEEPER.log")"
	api POST /api/v1/devices/unrevoke "$ADMIN_KEY" "$(body)" >/dev/null
	push_wait "$DEV" 0
}

ADOPT_MS=()
adopted akind.$$
kinds=$(chan_kinds)
assert_eq "adopt-tls" "$kinds" "adopt: channel kinds midd lists"
MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key midctl_run status "$DEV"
assert_eq 0 "$RC" "midctl status: $ERR"
assert_contains "$OUT" "adopted     PIDs $APID, keeper $KEEPER, since " "midctl status shows the tree"
assert_contains "$OUT" ", over TLS" "midctl status says the keeper's channel is TLS"
sleep 0.5
assert_eq "$APID " "$(tag_pids akind.$$)" "the adopted sleep lives on an idle TLS channel"
adopt_halt akind.$$
for i in 1 2; do
	adopted around$i.$$
	adopt_halt around$i.$$
done
median=$(printf '%s\n' "${ADOPT_MS[@]}" | sort -n | sed -n 2p)
note "adopt over https, revoke -> halt (ms after midd's reply): ${ADOPT_MS[*]}; median $median (bound $PUSH_BOUND_MS)"
awk -v m="$median" -v b="$PUSH_BOUND_MS" 'BEGIN { exit !(m <= b) }' ||
	fail "adopt over https: median $median ms over the bound of $PUSH_BOUND_MS ms"

# The terminator, then midd, restarted under an adopted tree.
adopted arestart.$$
tls_stop
sleep 0.3
assert_eq "$APID " "$(tag_pids arestart.$$)" "adopt: the sleep lives through the terminator's stop"
kill -0 "$KEEPER" || fail "adopt: the keeper died with the terminator"
tls_start good
push_wait "$DEV" 1
midd_kill9
sleep 0.3
assert_eq "$APID " "$(tag_pids arestart.$$)" "adopt: the sleep lives through midd's kill -9"
midd_start
push_wait "$DEV" 1
assert_eq "$APID " "$(tag_pids arestart.$$)" "adopt: the sleep lives through the restarts"
adopt_halt arestart.$$
note "ok: adopt over https; terminator and midd restarts kill nothing, a revoke afterwards halts the tree"

# A certificate --ca-file does not trust: nothing adopted, one line
# with libcurl's reason, the process runs on unchanged.
env -u LD_PRELOAD MIDTEST_TAG=auntrusted.$$ sleep 600 </dev/null >/dev/null 2>&1 &
APID=$!
on_exit "kill -KILL $APID 2>/dev/null"
set +e
env -u LD_PRELOAD "$MS" adopt --state-dir "$T/adopt" --url "$HTTPS" --ca-file "$T/other.pem" \
	--device "$DEV" --org-key-file "$T/keys/org.key" "$APID" >"$T/out.auntrusted" 2>"$T/err.auntrusted"
rc=$?
set -e
assert_eq 126 "$rc" "adopt untrusted: status"
assert_eq 1 "$(wc -l <"$T/err.auntrusted")" "adopt untrusted: one line: $(cat "$T/err.auntrusted")"
assert_file_contains "$T/err.auntrusted" "nothing adopted" "adopt untrusted: nothing adopted"
assert_file_contains "$T/err.auntrusted" "certificate" "adopt untrusted: libcurl's reason"
kill -0 "$APID" || fail "adopt untrusted: the process died"
assert_eq "" "$(ls "$T/adopt"/*.state 2>/dev/null)" "adopt untrusted: no keeper state"
note "adopt untrusted: $(cat "$T/err.auntrusted")"
kill -KILL "$APID"

# A terminator whose certificate is not the one --ca-file trusts: the
# program is stopped at its start gate, its one line giving libcurl's
# reason, and the launcher adds none.
set +e
"$MS" run --url "$HTTPS" --ca-file "$T/other.pem" --device "$DEV" \
	--org-key-file "$T/keys/org.key" -- touch "$T/ran" 2>"$T/err.untrusted"
rc=$?
set -e
assert_eq 137 "$rc" "untrusted: status"
assert_absent "$T/ran" "untrusted: the program ran"
assert_eq 1 "$(wc -l <"$T/err.untrusted")" "untrusted: one line: $(cat "$T/err.untrusted")"
assert_file_contains "$T/err.untrusted" "MIDSHIM_UNREACHABLE" "untrusted: code"
assert_file_contains "$T/err.untrusted" "certificate" "untrusted: libcurl's reason"
note "untrusted: $(cat "$T/err.untrusted")"
