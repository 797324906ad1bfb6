#!/bin/bash
# SPDX-License-Identifier: MIT
# midctl's admin commands against a real midd: the org switch (and what
# status says validate answers, checked against midd's own validate),
# audit, key rotation; and what the org key alone may do: register, list,
# status and usage work, an admin command fails with the server's 403.
. "$(dirname "$0")/../lib.sh"
midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
unset MIDSHIM_ADMIN_KEY MIDSHIM_ORG_KEY MIDSHIM_ORG_KEY_FILE
D=tool:test:admin:01
R=tool:test:admin-revoked:02

ORIG_ADMIN=$ADMIN_KEY ORIG_ORG=$ORG_KEY
midctl_expect 0 "register" register "$D"
midctl_expect 0 "register" register "$R"
midctl_expect 0 "revoke" revoke "$R"

# ---- org disable / enable -------------------------------------------------------
midctl_expect 0 "org disable" org disable
grep -Eq "^org disabled: every validate now answers ORG_DISABLED \(request_id $UUID_RE\)$" <<<"$OUT" ||
	fail "org disable printed: $OUT"
midctl_expect 0 "status while disabled" status "$D"
assert_eq disabled "$(out_field org)" "status org line while disabled"
assert_eq active "$(out_field state)" "the device state is kept"
assert_eq "$(validate_code "$D")" "$(out_field validate)" "status agrees with midd's validate (active, org off)"
assert_eq ORG_DISABLED "$(out_field validate)" "an active device of a disabled org"
midctl_expect 0 "status revoked while disabled" status "$R"
assert_eq "$(validate_code "$R")" "$(out_field validate)" "status agrees with midd's validate (revoked, org off)"
midctl_expect 0 "usage while disabled" usage
assert_eq disabled "$(out_field org)" "usage org line"
midctl_expect 0 "list while disabled" list
assert_contains "$OUT" "org disabled: every validate answers ORG_DISABLED" "list footer"
midctl_expect 0 "--json org disable" --json org disable
assert_json "--json org disable" "$OUT"

midctl_expect 0 "org enable" org enable
grep -Eq "^org enabled \(request_id $UUID_RE\)$" <<<"$OUT" || fail "org enable printed: $OUT"
midctl_expect 0 "status after enable" status "$D"
assert_eq allowed "$(out_field validate)" "allowed again after org enable"
assert_eq ALLOW "$(validate_code "$D")" "midd allows again"
midctl_expect 2 "org without a verb" org
midctl_expect 2 "org with a bad verb" org pause
note "ok: org disable/enable"

# ---- audit ------------------------------------------------------------------------
for _ in 1 2 3; do validate_code "$D" >/dev/null; done
validate_code "$R" >/dev/null
midctl_expect 0 "audit" audit
assert_eq "TIME DEVICE ROUTE DECISION CODE REQUEST_ID PEER DETAIL" "$(head -n 1 <<<"$OUT" | tr -s ' ')" "audit header"
# Newest first: the last decision made was the revoked device's.
second=$(sed -n 2p <<<"$OUT")
assert_contains "$second" "$R" "newest audit entry first"
assert_contains "$second" "DEVICE_REVOKED" "newest entry's code"
midctl_expect 0 "audit --device --limit" audit --device "$D" --limit 2
assert_eq 3 "$(wc -l <<<"$OUT")" "audit --limit 2: header and two entries"
assert_not_contains "$OUT" "$R" "audit --device filters"
grep -Eq "$UUID_RE" <<<"$(sed -n 2p <<<"$OUT")" || fail "audit entry lacks a request_id: $OUT"
midctl_expect 0 "--json audit" --json audit --limit 5
assert_json "--json audit" "$OUT"
python3 -c 'import json, sys; assert 1 <= len(json.loads(sys.argv[1])["entries"]) <= 5' "$OUT" ||
	fail "--json audit --limit 5: $OUT"
midctl_expect 2 "audit --limit 0" audit --limit 0
midctl_expect 2 "--device for list" list --device "$D"
note "ok: audit"

# ---- the org key alone ----------------------------------------------------------------
unset MIDSHIM_ADMIN_KEY_FILE
export MIDSHIM_ORG_KEY_FILE=$T/keys/org.key
O=tool:test:org-key:03
midctl_expect 0 "org key: register" register "$O"
assert_contains "$OUT" "registered $O" "org key: register output"
midctl_expect 0 "org key: list" list
assert_contains "$OUT" "$O" "org key: list output"
midctl_expect 0 "org key: status" status "$O"
midctl_expect 0 "org key: usage" usage
for args in "revoke $O" "restore $O" "remove $O" "org disable" "audit" "rotate-key org"; do
	# shellcheck disable=SC2086
	midctl_expect 1 "org key: $args" $args
	assert_contains "$ERR" "midctl: " "org key: $args message prefix"
	assert_contains "$ERR" "ADMIN_KEY_REQUIRED" "org key: $args names the server's code"
	assert_contains "$ERR" "admin key" "org key: $args says what is missing"
done
assert_eq active "$(device_state "$O")" "the org key revoked nothing"
# The same through MIDSHIM_ORG_KEY.
unset MIDSHIM_ORG_KEY_FILE
MIDSHIM_ORG_KEY=$ORG_KEY midctl_expect 0 "org key from the environment" list
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
# An unknown key is the server's 401.
bad=$T/bad.key
echo "not-a-key-$$" >"$bad"
chmod 600 "$bad"
midctl_expect 1 "unknown key" --admin-key-file "$bad" list
assert_contains "$ERR" "HTTP 401" "unknown key message"
note "ok: org key"

# ---- rotate-key ------------------------------------------------------------------------
# With the default overlap, both org keys work, and keys says until when.
midctl_expect 0 "rotate-key org" rotate-key org
assert_eq 1 "$(wc -l <<<"$OUT")" "rotate-key prints one line"
GRACE_ORG=$OUT
assert_contains "$ERR" "the old one works until " "rotate-key names the overlap"
assert_contains "$ERR" "(600 s)" "the default overlap is 10 minutes"
for k in "$ORG_KEY" "$GRACE_ORG"; do
	code=$(api GET /api/v1/usage "$k" | cut -d' ' -f1)
	assert_eq 200 "$code" "both org keys work during the overlap"
done
midctl_expect 0 "keys" keys
grep -Eq "^org key +current, and the previous one until [0-9T:.-]+Z \((59[0-9]|600) s left\)$" <<<"$OUT" ||
	fail "keys during the overlap: $OUT"
midctl_expect 0 "--json keys" --json keys
assert_json "--json keys" "$OUT"
midctl_expect 2 "--grace on admin" rotate-key admin --grace 5m
midctl_expect 2 "--grace bad" rotate-key org --grace 5d
midctl_expect 2 "--grace too long" rotate-key org --grace 169h
ORG_KEY=$GRACE_ORG
# --grace 0: the old key stops at once, and so does the earlier overlap.
midctl_expect 0 "rotate-key org --grace 0" rotate-key org --grace 0
assert_eq 1 "$(wc -l <<<"$OUT")" "rotate-key prints one line"
NEW_ORG=$OUT
code=$(api GET /api/v1/usage "$ORIG_ORG" | cut -d' ' -f1)
assert_eq 401 "$code" "a second rotation ends the first one's overlap"
assert_ne "$ORG_KEY" "$NEW_ORG" "a new org key"
assert_contains "$ERR" "new org key issued" "rotate-key note on stderr"
assert_not_contains "$ERR" "$NEW_ORG" "the key is not repeated on stderr"
code=$(api GET /api/v1/usage "$ORG_KEY" | cut -d' ' -f1)
assert_eq 401 "$code" "the old org key stops working"
code=$(api GET /api/v1/usage "$NEW_ORG" | cut -d' ' -f1)
assert_eq 200 "$code" "the new org key works"
ORG_KEY=$NEW_ORG
midctl_expect 0 "keys" keys
assert_contains "$OUT" "org key    current only" "keys without an overlap"

midctl_expect 0 "rotate-key admin" rotate-key admin
NEW_ADMIN=$OUT
assert_ne "$ADMIN_KEY" "$NEW_ADMIN" "a new admin key"
midctl_expect 1 "old admin key" list
assert_contains "$ERR" "HTTP 401" "the old admin key stops working"
printf '%s\n' "$NEW_ADMIN" >"$T/keys/admin.new"
chmod 600 "$T/keys/admin.new"
midctl_expect 0 "new admin key" --admin-key-file "$T/keys/admin.new" revoke "$D"
assert_eq "" "$ERR" "no warning for a private key file"
midctl_expect 0 "--json rotate-key" --admin-key-file "$T/keys/admin.new" --json rotate-key org
assert_json "--json rotate-key" "$OUT"
midctl_expect 2 "rotate-key without which" rotate-key
midctl_expect 2 "rotate-key bad which" rotate-key everything
note "ok: rotate-key"

# Keys show up only where rotate-key printed a new one.
! grep -qF -- "$ORIG_ADMIN" "$T/midctl.all" || fail "the admin key was printed"
! grep -qF -- "$ORIG_ORG" "$T/midctl.all" || fail "the org key was printed"
[ "$(grep -cF -- "$NEW_ADMIN" "$T/midctl.all")" -eq 1 ] ||
	fail "the new admin key was printed more than once"
note "ok: midctl admin commands"
