#!/bin/bash
# SPDX-License-Identifier: MIT
# A device's life: register, validate, revoke, survive restarts (clean and
# kill -9), unrevoke, the /restore alias, remove; register never restores.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
D=tool:prod:payment-runner:01

register "$D"
assert_eq ok "$(jf status)" "first register"
assert_eq "$D" "$(jf deviceId)" "register echoes deviceId"
register "$D"
assert_eq exists "$(jf status)" "second register is idempotent"

expect_code "$D" ALLOW
assert_eq allowed "$(jf status)" "validate status"
[[ $(jf request_id) =~ ^$UUID_RE$ ]] || fail "request_id is not a UUID v4: $(jf request_id)"
assert_ne "" "$(jf reason)" "validate gives a reason"
first_rid=$(jf request_id)
expect_code "$D" ALLOW
assert_ne "$first_rid" "$(jf request_id)" "each reply has its own request_id"

admin revoke "$D"
expect_status 200 revoke
assert_eq revoked "$(jf state)" "revoke answer"
assert_eq ok "$(jf status)" "revoke status"
expect_code "$D" DEVICE_REVOKED
assert_eq revoked "$(jf status)" "revoked validate status"
grep -Eq "^midd: revoke org=default device=$D peer=127.0.0.1 request_id=$UUID_RE state=revoked was=active persisted=yes$" \
	"$T/midd.log" || fail "no revoke log line: $(cat "$T/midd.log")"

note "a revoke survives a clean restart"
midd_stop
midd_start
expect_code "$D" DEVICE_REVOKED

note "a revoke survives kill -9 right after its answer"
register tool:prod:other:01
admin revoke tool:prod:other:01
expect_status 200 "revoke other"
midd_kill9
midd_start
expect_code "$D" DEVICE_REVOKED
expect_code tool:prod:other:01 DEVICE_REVOKED

note "register does not restore a revoked device"
register "$D"
assert_eq exists "$(jf status)" "register of a revoked device"
expect_code "$D" DEVICE_REVOKED

admin unrevoke "$D"
expect_status 200 unrevoke
assert_eq active "$(jf state)" "unrevoke answer"
expect_code "$D" ALLOW

note "/restore is an alias of /unrevoke"
admin revoke "$D"
expect_code "$D" DEVICE_REVOKED
admin restore "$D"
expect_status 200 restore
assert_eq active "$(jf state)" "restore answer"
expect_code "$D" ALLOW

note "remove, and register does not bring a removed device back"
admin remove "$D"
expect_status 200 remove
assert_eq removed "$(jf state)" "remove answer"
expect_code "$D" DEVICE_REMOVED
assert_eq removed "$(jf status)" "removed validate status"
register "$D"
assert_eq removed "$(jf status)" "register of a removed device"
expect_code "$D" DEVICE_REMOVED
midd_kill9
midd_start
expect_code "$D" DEVICE_REMOVED
admin restore "$D"
assert_eq active "$(jf state)" "restore of a removed device"
expect_code "$D" ALLOW

note "list and usage agree"
req GET "/api/v1/devices/list?deviceId=$D" "$ORG_KEY"
expect_status 200 list
n=$(printf '%s' "$BODY" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)["devices"]
assert len(d) == 1, d
d = d[0]
assert d["state"] == "active", d
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", d["created"]), d
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", d["last_seen"]), d
print(d["validates"])')
# Counts are flushed every 2 s, so kill -9 may lose some; the two
# validates since the last restart are certainly there.
[ "$n" -ge 2 ] || fail "validates counted $n, expected at least 2"
req GET /api/v1/usage "$ORG_KEY"
expect_status 200 usage
assert_eq 2 "$(jf devices)" "usage devices"
assert_eq 1 "$(jf active)" "usage active"
assert_eq 1 "$(jf revoked)" "usage revoked"
assert_eq 0 "$(jf removed)" "usage removed"
assert_eq 1000 "$(jf limit)" "usage limit"
assert_eq false "$(jf org_disabled)" "usage org_disabled"

note "validate counts survive a clean restart"
midd_stop
midd_start
req GET "/api/v1/devices/list?deviceId=$D" "$ORG_KEY"
m=$(printf '%s' "$BODY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["devices"][0]["validates"])')
assert_eq "$n" "$m" "validates after restart"

note "a device never validated has last_seen null"
register tool:prod:never:01
req GET /api/v1/devices/list?deviceId=tool:prod:never:01 "$ORG_KEY"
printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.load(sys.stdin)["devices"][0]
assert d["last_seen"] is None and d["validates"] == 0, d' || fail "never-validated device: $BODY"
