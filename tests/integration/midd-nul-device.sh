#!/bin/bash
# SPDX-License-Identifier: MIT
# A deviceId with an embedded NUL (the JSON escape \u0000, a raw NUL byte
# in the body, or %00 in a query) is refused with 400 BAD_DEVICE_ID on
# every route, never read as the part before the NUL: a gated program
# holding only the org key must not pass as another device, and an admin
# must not revoke or list a device it did not name.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
register nul:prod:a:01

for route in validate register; do
	req POST "/api/v1/devices/$route" "$ORG_KEY" '{"deviceId":"nul:prod:a:01\u0000-evil"}'
	expect_status 400 "$route of a deviceId with \\u0000"
	assert_eq BAD_DEVICE_ID "$(jf error)" "$route with \\u0000: error code"
	assert_contains "$(jf message)" "NUL" "$route with \\u0000: message"
done
for route in revoke remove; do
	admin "$route" $'nul:prod:a:01\\u0000x'
	expect_status 400 "$route of a deviceId with \\u0000"
done
expect_code nul:prod:a:01 ALLOW

# A raw NUL byte in the body.
printf '{"deviceId":"nul:prod:a:01\0x"}' >"$T/raw.json"
code=$(curl -sS --max-time 5 -o "$T/raw.out" -w '%{http_code}' -H "x-org-key: $ORG_KEY" \
	-H 'content-type: application/json' --data-binary @"$T/raw.json" \
	"$MIDSHIM_URL/api/v1/devices/validate")
assert_eq 400 "$code" "validate with a raw NUL byte (body: $(cat "$T/raw.out"))"

# An escaped backslash before u0000 is text, not a NUL: no such device.
req POST /api/v1/devices/validate "$ORG_KEY" '{"deviceId":"nul:prod:a:01\\u0000"}'
expect_status 200 "validate of a deviceId with a backslash"
assert_eq DEVICE_NOT_FOUND "$(jf code)" "a backslash and u0000 are not a NUL"

for path in "/api/v1/devices/list?deviceId=nul:prod:a:01%00x" \
	"/api/v1/audit?deviceId=nul:prod:a:01%00x"; do
	req GET "$path" "$ADMIN_KEY"
	expect_status 400 "GET $path"
	assert_eq BAD_DEVICE_ID "$(jf error)" "GET $path: error code"
done
assert_eq active "$(device_state nul:prod:a:01)" "the device is untouched"
