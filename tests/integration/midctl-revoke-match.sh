#!/bin/bash
# SPDX-License-Identifier: MIT
# Revoke by pattern: the route counts (dryRun) without changing anything,
# refuses a count that no longer holds (409 MATCH_CHANGED), revokes only
# the active devices that match, all under one request_id with one audit
# row each; midctl revoke --match lists them, wants --yes without a
# terminal, and refuses a pattern without a wildcard or with a DEVICE.
. "$(dirname "$0")/../lib.sh"
midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
unset MIDSHIM_ADMIN_KEY MIDSHIM_ORG_KEY MIDSHIM_ORG_KEY_FILE

# jget "STATUS BODY" KEY: the member KEY of the answer's body, as Python prints it.
jget() { python3 -c 'import json,sys; print(json.loads(sys.argv[1].partition(" ")[2])[sys.argv[2]])' "$1" "$2"; }

for d in svc:prod:a svc:prod:b svc:prod:c svc:dev:a other:prod:x; do
	midctl_expect 0 "register $d" register "$d"
done
midctl_expect 0 "revoke one first" revoke svc:prod:c

# A dry run counts the active matches and changes nothing.
r=$(api POST /api/v1/devices/revoke-match "$ADMIN_KEY" '{"match":"svc:prod:*","dryRun":true}')
assert_contains "$r" '200 ' "dry run status"
assert_eq 2 "$(jget "$r" matched)" "dry run count (svc:prod:c is already revoked)"
assert_eq "['svc:prod:a', 'svc:prod:b']" "$(jget "$r" devices)" "dry run names"
assert_eq active "$(device_state svc:prod:a)" "a dry run changes nothing"

# The org key may not; a bad pattern is a 400.
r=$(api POST /api/v1/devices/revoke-match "$ORG_KEY" '{"match":"svc:prod:*"}')
assert_contains "$r" '403 ' "org key refused"
r=$(api POST /api/v1/devices/revoke-match "$ADMIN_KEY" '{"match":"svc:prod:a"}')
assert_contains "$r" '400 ' "a pattern without a wildcard"
r=$(api POST /api/v1/devices/revoke-match "$ADMIN_KEY" '{"match":"svc:*","dryRun":"yes"}')
assert_contains "$r" '400 ' "dryRun must be a boolean"

# A count that no longer holds is refused, and nothing changes.
r=$(api POST /api/v1/devices/revoke-match "$ADMIN_KEY" '{"match":"svc:prod:*","expect":3}')
assert_contains "$r" '409 ' "a stale count"
assert_contains "$r" 'MATCH_CHANGED' "a stale count's code"
assert_eq active "$(device_state svc:prod:b)" "a refused bulk revoke changes nothing"

# midctl: without a terminal it wants --yes, and revokes nothing.
midctl_expect 2 "revoke --match without --yes" revoke --match 'svc:prod:*'
assert_contains "$OUT" "2 active devices match svc:prod:*:" "listed before asking"
assert_contains "$ERR" "give --yes" "says what to do"
assert_eq active "$(device_state svc:prod:a)" "nothing revoked without --yes"
midctl_expect 2 "a DEVICE and --match" revoke svc:prod:a --match 'svc:*'
midctl_expect 2 "--match without a wildcard" revoke --match svc:prod:a
midctl_expect 2 "--yes alone" revoke --yes svc:prod:a
midctl_expect 2 "--match on another command" list --match 'svc:*'

midctl_expect 0 "revoke --match --yes" revoke --match 'svc:prod:*' --yes
grep -Eq "^revoked 2 devices matching svc:prod:\* \(request_id ($UUID_RE)\)$" <<<"$OUT" ||
	fail "revoke --match printed: $OUT"
rid=$(grep -Eo "$UUID_RE" <<<"$OUT" | tail -n 1)
for d in svc:prod:a svc:prod:b svc:prod:c; do
	assert_eq revoked "$(device_state "$d")" "$d after the bulk revoke"
done
assert_eq active "$(device_state svc:dev:a)" "svc:dev:a does not match"
assert_eq active "$(device_state other:prod:x)" "other:prod:x does not match"

# One audit row per revoked device, under the one request_id.
midctl_expect 0 "audit" --json audit --limit 50
n=$(python3 -c 'import json,sys; rid=sys.argv[1]; e=json.loads(sys.stdin.read())["entries"]
print(sorted(x["deviceId"] for x in e if x["request_id"]==rid and x["route"]=="revoke"))' "$rid" <<<"$OUT")
assert_eq "['svc:prod:a', 'svc:prod:b']" "$n" "audit rows of the bulk revoke"

midctl_expect 0 "nothing left to match" revoke --match 'svc:prod:*' --yes
assert_contains "$OUT" "no active device matches svc:prod:*; nothing revoked" "empty match"
midd_stop
note "ok: revoke by pattern"
