#!/bin/bash
# SPDX-License-Identifier: MIT
# Keys: the org key is refused on admin routes with 403 naming the admin
# key, a missing or wrong key is 401, rotation retires the old key at
# once, and the database never holds a key in plain text.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
# With --write-keys the keys go to the files only, never to stdout.
assert_not_contains "$(cat "$T/init.out")" "$ORG_KEY" "init --write-keys prints the org key"
assert_not_contains "$(cat "$T/init.out")" "$ADMIN_KEY" "init --write-keys prints the admin key"
assert_contains "$(cat "$T/init.out")" "keys written to $T/keys/org.key" "init names the key files"
# Without it, stdout is the one place they appear.
"$BIN/midd" init --db "$T/printed.db" >"$T/printed.out"
grep -Eq "^org key: +mid_org_[0-9a-f]{64} " "$T/printed.out" || fail "init without --write-keys: $(cat "$T/printed.out")"
grep -Eq "^admin key: mid_adm_[0-9a-f]{64} " "$T/printed.out" || fail "init without --write-keys: $(cat "$T/printed.out")"
[[ $ORG_KEY =~ ^mid_org_[0-9a-f]{64}$ ]] || fail "org key format: $ORG_KEY"
[[ $ADMIN_KEY =~ ^mid_adm_[0-9a-f]{64}$ ]] || fail "admin key format: $ADMIN_KEY"
assert_eq 600 "$(stat -c %a "$T/keys/org.key")" "org.key mode"
assert_eq 400 "$(stat -c %a "$T/admin/admin.key")" "admin.key mode"
assert_eq 700 "$(stat -c %a "$T/admin")" "admin key directory mode"
assert_not_contains "$(ls "$T/keys")" "admin.key" "the admin key is not beside the org key"
assert_eq 700 "$(stat -c %a "$T/keys")" "key directory mode"
assert_eq 600 "$(stat -c %a "$T/midd.db")" "database mode"
register k:prod:a:01

note "org key on every admin route: 403 naming the admin key"
for r in "POST /api/v1/devices/revoke" "POST /api/v1/devices/unrevoke" \
	"POST /api/v1/devices/restore" "POST /api/v1/devices/remove" \
	"POST /api/v1/org/disable" "POST /api/v1/org/enable" \
	"POST /api/v1/org/rotate-key" "GET /api/v1/audit"; do
	set -- $r
	body='{"deviceId":"k:prod:a:01"}'
	[ "$2" = /api/v1/org/rotate-key ] && body='{"key":"admin"}'
	[ "$1" = GET ] && body=
	req "$1" "$2" "$ORG_KEY" "$body"
	expect_status 403 "org key on $2"
	assert_eq ADMIN_KEY_REQUIRED "$(jf error)" "error code on $2"
	assert_contains "$(jf message)" "x-admin-key" "403 message on $2"
done
expect_code k:prod:a:01 ALLOW
req GET /api/v1/usage "$ORG_KEY"
assert_eq false "$(jf org_disabled)" "org key could not disable"

note "the admin key works on org routes, but never where a gated program asks"
req GET /api/v1/devices/list "$ADMIN_KEY"
expect_status 200 "admin key on list"
req POST /api/v1/devices/register "$ADMIN_KEY" '{"deviceId":"k:prod:a:02"}'
expect_status 200 "an operator registers with the admin key"
# A gated program holding the admin key could restore its own device:
# validate refuses it, and so does the shim's register (it sends a nonce).
req POST /api/v1/devices/validate "$ADMIN_KEY" '{"deviceId":"k:prod:a:01"}'
expect_status 403 "admin key on validate"
assert_eq ADMIN_KEY_REFUSED "$(jf error)" "admin key on validate: error code"
assert_contains "$(jf message)" "org key" "admin key on validate: the message names the fix"
assert_eq null "$(jf allowed)" "a refusal is no allow"
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST -H "x-admin-key: $ADMIN_KEY" \
	-H "x-mid-nonce: 00112233445566778899aabbccddeeff" \
	--data-binary '{"deviceId":"k:prod:a:03"}' "$MIDSHIM_URL/api/v1/devices/register")
assert_eq 403 "$code" "the shim's register with the admin key"
assert_eq ADMIN_KEY_REFUSED "$(jf error "$(cat "$T/b")")" "shim register: error code"
assert_eq none "$(device_state k:prod:a:03)" "a refused register adds no device"
# Both headers: the admin key is recognised first, and refused.
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST -H "x-admin-key: $ADMIN_KEY" \
	-H "x-org-key: $ORG_KEY" --data-binary '{"deviceId":"k:prod:a:01"}' \
	"$MIDSHIM_URL/api/v1/devices/validate")
assert_eq 403 "$code" "admin and org key together on validate"
grep -q "admin-key-refused route=/api/v1/devices/validate" "$T/midd.log" ||
	fail "midd logs no admin-key refusal: $(tail -n 5 "$T/midd.log")"

note "missing or wrong key: 401"
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST --data-binary '{"deviceId":"k:prod:a:01"}' \
	"$MIDSHIM_URL/api/v1/devices/validate")
assert_eq 401 "$code" "no key"
assert_eq UNAUTHORIZED "$(jf error "$(cat "$T/b")")" "no key error"
assert_eq "missing or unknown key (send x-org-key or x-admin-key)" "$(jf message "$(cat "$T/b")")" "401 message"
req POST /api/v1/devices/validate "mid_org_0000000000000000000000000000000000000000000000000000000000000000" '{"deviceId":"k:prod:a:01"}'
expect_status 401 "wrong org key"
# The real key with its last digit changed (to 1 if it is 0 already).
wrong=${ADMIN_KEY%?}0
[ "$wrong" = "$ADMIN_KEY" ] && wrong=${ADMIN_KEY%?}1
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST -H "x-admin-key: $wrong" \
	--data-binary '{"deviceId":"k:prod:a:01"}' "$MIDSHIM_URL/api/v1/devices/revoke")
assert_eq 401 "$code" "wrong admin key"
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST -H "x-org-key: $(head -c 3000 /dev/zero | tr '\0' a)" \
	--data-binary '{"deviceId":"k:prod:a:01"}' "$MIDSHIM_URL/api/v1/devices/validate")
assert_eq 401 "$code" "overlong key"
midd_alive

note "rotate the org key"
old_org=$ORG_KEY
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"org"}'
expect_status 200 "rotate org key"
assert_eq org "$(jf which)" "rotate which"
new_org=$(jf key)
[[ $new_org =~ ^mid_org_[0-9a-f]{64}$ ]] || fail "rotated org key format: $new_org"
req POST /api/v1/devices/validate "$old_org" '{"deviceId":"k:prod:a:01"}'
expect_status 401 "old org key after rotation"
ORG_KEY=$new_org
expect_code k:prod:a:01 ALLOW
if grep -qF "$new_org" "$T/midd.log"; then fail "the new key is in the log"; fi

note "rotate the admin key"
old_admin=$ADMIN_KEY
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"admin"}'
expect_status 200 "rotate admin key"
new_admin=$(jf key)
[[ $new_admin =~ ^mid_adm_[0-9a-f]{64}$ ]] || fail "rotated admin key format: $new_admin"
code=$(curl -sS -o "$T/b" -w '%{http_code}' -X POST -H "x-admin-key: $old_admin" \
	--data-binary '{"deviceId":"k:prod:a:01"}' "$MIDSHIM_URL/api/v1/devices/revoke")
assert_eq 401 "$code" "old admin key after rotation"
ADMIN_KEY=$new_admin
admin revoke k:prod:a:01
expect_status 200 "revoke with the new admin key"

note "rotate the org key with an overlap"
prev_org=$ORG_KEY
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"org","grace_seconds":600}'
expect_status 200 "rotate org key with grace"
[[ $(jf previous_valid_until) =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$ ]] ||
	fail "rotate answer has no previous_valid_until: $(cat "$T/b" 2>/dev/null)"
grace_org=$(jf key)
expect_code k:prod:a:01 DEVICE_REVOKED
ORG_KEY=$grace_org
expect_code k:prod:a:01 DEVICE_REVOKED
req GET /api/v1/org/keys "$ADMIN_KEY"
expect_status 200 "keys"
req GET /api/v1/org/keys "$ORG_KEY"
expect_status 403 "keys with the org key"
note "the overlap survives kill -9"
midd_kill9
midd_start
ORG_KEY=$prev_org
expect_code k:prod:a:01 DEVICE_REVOKED
note "a rotation without grace ends the overlap"
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"org","grace_seconds":0}'
expect_status 200 "rotate org key without grace"
assert_eq null "$(jf previous_valid_until)" "no overlap"
new_org=$(jf key)
req POST /api/v1/devices/validate "$prev_org" '{"deviceId":"k:prod:a:01"}'
expect_status 401 "the overlapped key after a rotation without grace"
req POST /api/v1/devices/validate "$grace_org" '{"deviceId":"k:prod:a:01"}'
expect_status 401 "the old key after a rotation without grace"
ORG_KEY=$new_org
expect_code k:prod:a:01 DEVICE_REVOKED

note "bad rotate bodies"
for g in -1 1.5 '"60"' 604801; do
	req POST /api/v1/org/rotate-key "$ADMIN_KEY" "{\"key\":\"org\",\"grace_seconds\":$g}"
	expect_status 400 "grace_seconds $g"
done
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"admin","grace_seconds":60}'
expect_status 400 "grace for the admin key"
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"root"}'
expect_status 400 "rotate unknown key kind"
req POST /api/v1/org/rotate-key "$ADMIN_KEY" '{}'
expect_status 400 "rotate without key"

note "rotation survives kill -9"
midd_kill9
midd_start
req POST /api/v1/devices/validate "$old_org" '{"deviceId":"k:prod:a:01"}'
expect_status 401 "old org key after restart"
expect_code k:prod:a:01 DEVICE_REVOKED

note "no key in the database or the log, in any form we handed out"
midd_stop
for k in "$old_org" "$old_admin" "$new_org" "$new_admin"; do
	for f in "$T"/midd.db*; do
		if grep -qaF "$k" "$f"; then fail "plain key found in $f"; fi
	done
	if grep -qF "$k" "$T/midd.log"; then fail "key found in the log"; fi
done
