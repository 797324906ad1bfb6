#!/bin/bash
# SPDX-License-Identifier: MIT
# The control-plane client against a real midd, over TCP and over a unix
# socket: register, validate allowed, revoke, see DEVICE_REVOKED; and 1000
# validates on one kept-alive connection, with their mean latency printed.
. "$(dirname "$0")/../lib.sh"
MC=$BIN/helpers/midclient
[ -x "$BIN/midd" ] || fail "$BIN/midd is not built"
[ -x "$MC" ] || fail "$MC is not built"

midd_start --socket "$T/midd.sock"
KEY=$T/keys/org.key
DEV=test:integration:client:01
UUID_LINE="request_id=$UUID_RE http=200"

# A field of midclient's one-line answer: field NAME LINE
field() { sed -n "s/.* \?$1=\([^ ]*\).*/\1/p" <<<"$2"; }

out=$("$MC" "$MIDSHIM_URL" "$KEY" register "$DEV")
note "register: $out"
assert_eq ok "$(field status "$out")" "first register"
out=$("$MC" "$MIDSHIM_URL" "$KEY" register "$DEV")
assert_eq exists "$(field status "$out")" "second register"

for url in "$MIDSHIM_URL" "unix:$T/midd.sock"; do
	out=$("$MC" "$url" "$KEY" validate "$DEV") || fail "validate over $url denied: $out"
	note "validate over $url: $out"
	assert_eq 1 "$(field allowed "$out")" "allowed over $url"
	assert_eq ALLOW "$(field code "$out")" "code over $url"
	grep -Eq "$UUID_LINE" <<<"$out" || fail "no request_id over $url: $out"
done

# A wrong key is an HTTP error, not an allow.
echo wrong-key >"$T/wrong.key"
set +e
out=$("$MC" "$MIDSHIM_URL" "$T/wrong.key" validate "$DEV" 2>/dev/null)
rc=$?
set -e
assert_eq 1 "$rc" "exit status with a wrong key"
assert_contains "$out" "allowed=0 code=MIDSHIM_HTTP_40" "wrong key"

r=$(api POST /api/v1/devices/revoke "$ADMIN_KEY" "{\"deviceId\":\"$DEV\"}")
assert_contains "$r" "200 " "revoke"
for url in "$MIDSHIM_URL" "unix:$T/midd.sock"; do
	set +e
	out=$("$MC" "$url" "$KEY" validate "$DEV")
	rc=$?
	set -e
	note "after revoke over $url: $out"
	assert_eq 1 "$rc" "exit status after revoke over $url"
	assert_eq 0 "$(field allowed "$out")" "allowed after revoke over $url"
	assert_eq DEVICE_REVOKED "$(field code "$out")" "code after revoke over $url"
	grep -Eq "$UUID_LINE" <<<"$out" || fail "no request_id after revoke over $url: $out"
done
# Registering again does not restore a revoked device.
"$MC" "$MIDSHIM_URL" "$KEY" register "$DEV" >/dev/null || true
out=$("$MC" "$MIDSHIM_URL" "$KEY" validate "$DEV") && fail "register restored a revoked device: $out"

# 1000 validates on one connection; the mean is reported, not asserted.
DEV2=test:integration:client:02
"$MC" "$MIDSHIM_URL" "$KEY" register "$DEV2" >/dev/null
for url in "$MIDSHIM_URL" "unix:$T/midd.sock"; do
	"$MC" "$url" "$KEY" validate "$DEV2" 1000 >"$T/many.out" 2>"$T/many.err" ||
		fail "1000 validates over $url: $(tail -n 3 "$T/many.out" "$T/many.err")"
	assert_eq 1000 "$(grep -c '^allowed=1 code=ALLOW ' "$T/many.out")" "allowed answers over $url"
	summary=$(tail -n 1 "$T/many.err")
	assert_contains "$summary" "calls=1000 connects=1 " "one kept-alive connection over $url"
	note "1000 validates over $url: $summary"
done
