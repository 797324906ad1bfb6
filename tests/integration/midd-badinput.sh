#!/bin/bash
# SPDX-License-Identifier: MIT
# Bad input gets its 4xx with a JSON error and changes nothing: oversized,
# non-JSON and wrongly shaped bodies, bad deviceIds, unknown routes, wrong
# methods, missing keys. midd stays up and the state stays as it was.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
register bad:prod:a:01
register bad:prod:b:01
admin revoke bad:prod:b:01
req GET /api/v1/devices/list "$ORG_KEY"
before_list=$(printf '%s' "$BODY" | python3 -c '
import json, sys
print(json.dumps([(d["deviceId"], d["state"]) for d in json.load(sys.stdin)["devices"]]))')
req GET /api/v1/usage "$ORG_KEY"
before_usage=$(printf '%s' "$BODY" | python3 -c '
import json, sys
u = json.load(sys.stdin)
print(u["devices"], u["active"], u["revoked"], u["removed"], u["org_disabled"])')

# check_error WHAT STATUS CODE: the last req answered STATUS with a JSON
# error CODE and a message.
check_error() {
	expect_status "$2" "$1"
	printf '%s' "$BODY" | jq -e --arg c "$3" '.error == $c and (.message | type == "string" and
		length > 0) and (.request_id | type == "string" and length == 36)' >/dev/null ||
		fail "$1: not the JSON error $3: $BODY"
	midd_alive
}

for route in register validate revoke; do
	key=$ORG_KEY
	[ "$route" = revoke ] && key=$ADMIN_KEY
	p=/api/v1/devices/$route
	note "$route"
	python3 -c 'import sys; sys.stdout.write("{\"deviceId\":\"" + "a" * (4097 - 15) + "\"}")' >"$T/big"
	assert_eq 4097 "$(stat -c %s "$T/big")" "oversized body size"
	req POST "$p" "$key" "@$T/big"
	check_error "$route 4097-byte body" 413 BODY_TOO_LARGE
	req POST "$p" "$key" 'this is not json'
	check_error "$route non-JSON" 400 BAD_JSON
	req POST "$p" "$key" '["bad:prod:a:01"]'
	check_error "$route array body" 400 BAD_JSON
	req POST "$p" "$key" '"bad:prod:a:01"'
	check_error "$route string body" 400 BAD_JSON
	req POST "$p" "$key" '{"device":"bad:prod:a:01"}'
	check_error "$route missing deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":""}'
	check_error "$route empty deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" "{\"deviceId\":\"$(head -c 257 /dev/zero | tr '\0' x)\"}"
	check_error "$route 257-byte deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":42}'
	check_error "$route numeric deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":null}'
	check_error "$route null deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":"has space"}'
	check_error "$route deviceId with a space" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":"tab\there"}'
	check_error "$route deviceId with a control char" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":"caf\u00e9"}'
	check_error "$route non-ASCII deviceId" 400 BAD_DEVICE_ID
	req POST "$p" "$key" '{"deviceId":"bad:prod:a:01"'
	check_error "$route truncated JSON" 400 BAD_JSON
done

note "a 256-byte deviceId is fine"
long=$(head -c 256 /dev/zero | tr '\0' y)
expect_code "$long" DEVICE_NOT_FOUND

note "an oversized chunked body is refused without being stored"
code=$(python3 -c 'import sys; sys.stdout.write("{\"deviceId\":\"" + "a" * 6000 + "\"}")' |
	curl -sS -o "$T/b" -w '%{http_code}' -H "x-org-key: $ORG_KEY" -H 'Transfer-Encoding: chunked' \
		--data-binary @- "$MIDSHIM_URL/api/v1/devices/register")
assert_eq 413 "$code" "chunked oversized body"
midd_alive
note "a huge body does not grow midd"
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$MIDD_PID/status")
head -c 20000000 /dev/zero | curl -sS -o /dev/null -H "x-org-key: $ORG_KEY" \
	-H 'Transfer-Encoding: chunked' --data-binary @- --max-time 10 \
	"$MIDSHIM_URL/api/v1/devices/validate" 2>/dev/null || true
midd_alive
rss1=$(awk '/VmRSS/ {print $2}' "/proc/$MIDD_PID/status")
[ $((rss1 - rss0)) -lt 8192 ] || fail "RSS grew from $rss0 kB to $rss1 kB on a 20 MB body"

note "unknown routes and wrong methods"
req GET /api/v1/nothing "$ORG_KEY"
check_error "unknown route" 404 NOT_FOUND
req POST /api/v2/devices/validate "$ORG_KEY" '{"deviceId":"bad:prod:a:01"}'
check_error "unknown version" 404 NOT_FOUND
req GET / ""
check_error "root" 404 NOT_FOUND
for r in "GET /api/v1/devices/validate POST" "GET /api/v1/devices/register POST" \
	"DELETE /api/v1/devices/list GET" "POST /api/v1/usage GET" "PUT /api/v1/org/disable POST" \
	"POST /healthz GET" "POST /api/v1/audit GET"; do
	set -- $r
	curl -sS -D "$T/h" -o "$T/b" -X "$1" -H "x-org-key: $ORG_KEY" "$MIDSHIM_URL$2" >/dev/null
	CODE=$(awk 'NR == 1 {print $2}' "$T/h")
	BODY=$(cat "$T/b")
	check_error "$1 $2" 405 METHOD_NOT_ALLOWED
	grep -qi "^allow: $3" "$T/h" || fail "$1 $2: no 'Allow: $3' header: $(cat "$T/h")"
	grep -qi '^content-type: application/json' "$T/h" || fail "$1 $2: not application/json"
done

note "missing key"
code=$(curl -sS -o "$T/b" -w '%{http_code}' --data-binary '{"deviceId":"bad:prod:a:01"}' \
	"$MIDSHIM_URL/api/v1/devices/register")
# shellcheck disable=SC2034 # expect_status in midd.lib reads CODE
BODY=$(cat "$T/b") CODE=$code
check_error "register without a key" 401 UNAUTHORIZED
code=$(curl -sS -o "$T/b" -w '%{http_code}' "$MIDSHIM_URL/api/v1/devices/list")
# shellcheck disable=SC2034 # expect_status in midd.lib reads CODE
BODY=$(cat "$T/b") CODE=$code
check_error "list without a key" 401 UNAUTHORIZED

note "bad query parameters"
req GET "/api/v1/devices/list?deviceId=a%20b" "$ORG_KEY"
check_error "list with a bad deviceId" 400 BAD_DEVICE_ID
req GET "/api/v1/audit?limit=abc" "$ADMIN_KEY"
check_error "audit with a bad limit" 400 BAD_REQUEST

note "keep-alive: many requests over one connection"
urls=()
for _ in $(seq 1 20); do urls+=(-H "x-org-key: $ORG_KEY" --data-binary '{"deviceId":"bad:prod:a:01"}' "$MIDSHIM_URL/api/v1/devices/validate"); done
n=$(curl -sS -v "${urls[@]}" 2>"$T/v" | grep -o '"code":"ALLOW"' | wc -l)
assert_eq 20 "$n" "keep-alive answers"
grep -q 'Re-using existing connection' "$T/v" || fail "curl did not reuse the connection"

note "state unchanged"
req GET /api/v1/devices/list "$ORG_KEY"
after_list=$(printf '%s' "$BODY" | python3 -c '
import json, sys
print(json.dumps([(d["deviceId"], d["state"]) for d in json.load(sys.stdin)["devices"]]))')
assert_eq "$before_list" "$after_list" "device list after bad input"
req GET /api/v1/usage "$ORG_KEY"
after_usage=$(printf '%s' "$BODY" | python3 -c '
import json, sys
u = json.load(sys.stdin)
print(u["devices"], u["active"], u["revoked"], u["removed"], u["org_disabled"])')
assert_eq "$before_usage" "$after_usage" "usage after bad input"
