#!/bin/bash
# SPDX-License-Identifier: MIT
# Every decision lands in the audit table: validates (queued, flushed
# within about 100 ms), registers and admin actions (written with their
# change), newest first, filtered by device, bounded by limit.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
D=aud:prod:a:01
register "$D"
reg_rid=$(jf request_id)
expect_code "$D" ALLOW
allow_rid=$(jf request_id)
admin revoke "$D"
revoke_rid=$(jf request_id)
expect_code "$D" DEVICE_REVOKED
deny_rid=$(jf request_id)
expect_code aud:prod:ghost:01 DEVICE_NOT_FOUND
ghost_rid=$(jf request_id)
req POST /api/v1/org/disable "$ADMIN_KEY"
disable_rid=$(jf request_id)
req POST /api/v1/org/enable "$ADMIN_KEY"

# audit_has QUERY JQ-CONDITION WHAT: poll the audit route (bounded) until
# an entry satisfies the condition.
audit_has() {
	for _ in $(seq 1 40); do
		req GET "/api/v1/audit$1" "$ADMIN_KEY"
		expect_status 200 "audit$1"
		printf '%s' "$BODY" | jq -e "any(.entries[]; $2)" >/dev/null && return 0
		sleep 0.05
	done
	fail "$3: no audit entry matching $2 in: $BODY"
}

audit_has "" ".request_id == \"$reg_rid\" and .route == \"register\" and .decision == \"ok\"" register
audit_has "" ".request_id == \"$allow_rid\" and .route == \"validate\" and .code == \"ALLOW\" and
	.decision == \"allow\" and .deviceId == \"$D\" and .peer == \"127.0.0.1\"" "validate allow"
audit_has "" ".request_id == \"$revoke_rid\" and .route == \"revoke\" and .decision == \"revoked\"" revoke
audit_has "" ".request_id == \"$deny_rid\" and .code == \"DEVICE_REVOKED\" and .decision == \"deny\"" \
	"validate deny"
audit_has "" ".request_id == \"$ghost_rid\" and .code == \"DEVICE_NOT_FOUND\"" "validate unknown"
audit_has "" ".request_id == \"$disable_rid\" and .route == \"org/disable\" and .deviceId == null" \
	"org disable"

note "shape, order, filter, limit"
req GET /api/v1/audit "$ADMIN_KEY"
printf '%s' "$BODY" | python3 -c '
import json, re, sys
b = json.load(sys.stdin)
es = b["entries"]
assert len(es) == 7, len(es)
keys = {"time", "deviceId", "route", "decision", "code", "request_id", "peer"}
uuid = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
for e in es:
    assert set(e) == keys, e
    assert uuid.match(e["request_id"]), e
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["time"]), e
times = [e["time"] for e in es]
assert times == sorted(times, reverse=True), times
assert es[0]["route"] == "org/enable", es[0]
' || fail "audit listing: $BODY"

req GET "/api/v1/audit?deviceId=$D" "$ADMIN_KEY"
printf '%s' "$BODY" | python3 -c '
import json, sys
es = json.load(sys.stdin)["entries"]
assert len(es) == 4 and all(e["deviceId"] == sys.argv[1] for e in es), es
assert [e["route"] for e in es] == ["validate", "revoke", "validate", "register"], es' "$D" ||
	fail "audit filtered by device: $BODY"

req GET "/api/v1/audit?deviceId=$D&limit=2" "$ADMIN_KEY"
assert_eq 2 "$(printf '%s' "$BODY" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["entries"]))')" "limit=2"
req GET "/api/v1/audit?limit=100000" "$ADMIN_KEY"
expect_status 200 "a limit over 1000 is capped"

note "queued validate rows are flushed at a clean stop"
for _ in $(seq 1 30); do expect_code "$D" DEVICE_REVOKED; done
last=$(jf request_id)
midd_stop
assert_eq 1 "$(sqlite3 "$T/midd.db" "SELECT count(*) FROM audit WHERE request_id = '$last'")" "last validate in the db"
assert_eq 32 "$(sqlite3 "$T/midd.db" "SELECT count(*) FROM audit WHERE route = 'validate' AND device_id = '$D'")" "all validates in the db"
