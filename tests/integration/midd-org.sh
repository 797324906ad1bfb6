#!/bin/bash
# SPDX-License-Identifier: MIT
# Org-wide stop: disable denies every device with ORG_DISABLED, enable
# brings back exactly the states the devices had; both survive kill -9.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
register svc:prod:a:01
register svc:prod:b:01
register svc:prod:c:01
admin revoke svc:prod:b:01
admin remove svc:prod:c:01
expect_code svc:prod:a:01 ALLOW

req POST /api/v1/org/disable "$ADMIN_KEY"
expect_status 200 "org disable"
assert_eq ok "$(jf status)" "disable status"
assert_eq true "$(jf org_disabled)" "disable answer"
grep -Eq "^midd: org-disable org=default peer=127.0.0.1 request_id=$UUID_RE" "$T/midd.log" ||
	fail "no org-disable log line"

for d in svc:prod:a:01 svc:prod:b:01 svc:prod:c:01 svc:prod:unknown:01; do
	expect_code "$d" ORG_DISABLED
	assert_eq org_disabled "$(jf status)" "status of $d while disabled"
done
req GET /api/v1/usage "$ORG_KEY"
assert_eq true "$(jf org_disabled)" "usage shows the org disabled"
req GET /api/v1/devices/list "$ORG_KEY"
assert_eq true "$(jf org_disabled)" "list shows the org disabled"

note "register still records devices while disabled; validate still denies"
register svc:prod:d:01
assert_eq ok "$(jf status)" "register while disabled"
expect_code svc:prod:d:01 ORG_DISABLED

note "disabled survives kill -9"
midd_kill9
midd_start
expect_code svc:prod:a:01 ORG_DISABLED

req POST /api/v1/org/enable "$ADMIN_KEY"
expect_status 200 "org enable"
assert_eq false "$(jf org_disabled)" "enable answer"
expect_code svc:prod:a:01 ALLOW
expect_code svc:prod:b:01 DEVICE_REVOKED
expect_code svc:prod:c:01 DEVICE_REMOVED
expect_code svc:prod:d:01 ALLOW
expect_code svc:prod:unknown:01 DEVICE_NOT_FOUND

midd_kill9
midd_start
expect_code svc:prod:a:01 ALLOW
expect_code svc:prod:b:01 DEVICE_REVOKED
req GET /api/v1/usage "$ORG_KEY"
assert_eq false "$(jf org_disabled)" "usage after enable and restart"
