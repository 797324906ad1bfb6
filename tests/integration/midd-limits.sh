#!/bin/bash
# SPDX-License-Identifier: MIT
# Unknown devices are DEVICE_NOT_FOUND; the org's device limit stops the
# third registration when set to 2, and a removed device frees its slot.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_init --device-limit 2
assert_contains "$(cat "$T/init.out")" "device limit 2" "init reports the limit"
midd_start

expect_code lim:prod:ghost:01 DEVICE_NOT_FOUND
assert_eq not_found "$(jf status)" "unknown device status"
admin revoke lim:prod:ghost:01
expect_status 404 "revoke of an unknown device"
assert_eq DEVICE_NOT_FOUND "$(jf error)" "revoke unknown error"
for a in unrevoke restore remove; do
	admin "$a" lim:prod:ghost:01
	expect_status 404 "$a of an unknown device"
done
expect_code lim:prod:ghost:01 DEVICE_NOT_FOUND

register lim:prod:a:01
assert_eq ok "$(jf status)" "first device"
register lim:prod:b:01
assert_eq ok "$(jf status)" "second device"
register lim:prod:c:01
assert_eq limit_reached "$(jf status)" "third device over the limit"
expect_code lim:prod:c:01 DEVICE_NOT_FOUND
grep -q "register-refused org=default device=lim:prod:c:01 reason=limit_reached limit=2" \
	"$T/midd.log" || fail "no limit log line"
register lim:prod:a:01
assert_eq exists "$(jf status)" "existing device at the limit"

note "a revoked device still holds its slot"
admin revoke lim:prod:b:01
register lim:prod:c:01
assert_eq limit_reached "$(jf status)" "revoked device counts"

note "a removed device frees its slot"
admin remove lim:prod:b:01
register lim:prod:c:01
assert_eq ok "$(jf status)" "slot freed by remove"
expect_code lim:prod:c:01 ALLOW
register lim:prod:d:01
assert_eq limit_reached "$(jf status)" "limit again"

req GET /api/v1/usage "$ORG_KEY"
assert_eq 2 "$(jf limit)" "usage limit"
assert_eq 3 "$(jf devices)" "usage devices"
assert_eq 1 "$(jf removed)" "usage removed"

note "the limit holds across a restart"
midd_kill9
midd_start
register lim:prod:e:01
assert_eq limit_reached "$(jf status)" "limit after restart"

note "init rejects a bad limit and a taken name"
set +e
"${OURS[@]}" "$BIN/midd" init --db "$T/midd.db" --device-limit -1 >/dev/null 2>"$T/e1"
rc1=$?
"${OURS[@]}" "$BIN/midd" init --db "$T/midd.db" --name default >/dev/null 2>"$T/e2"
rc2=$?
set -e
assert_eq 2 "$rc1" "negative device limit is a usage error"
assert_eq 1 "$rc2" "a taken org name is a runtime error"
assert_file_contains "$T/e2" "already exists" "taken name message"
