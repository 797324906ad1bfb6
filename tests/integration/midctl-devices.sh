#!/bin/bash
# SPDX-License-Identifier: MIT
# midctl against a real midd: one device's life (register, revoke,
# restore, remove, register again, restore), what each step prints, its
# exit status and the state midd itself reports afterwards; status, list
# and usage in text and --json; status does not count as device traffic.
. "$(dirname "$0")/../lib.sh"
midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
unset MIDSHIM_ADMIN_KEY MIDSHIM_ORG_KEY MIDSHIM_ORG_KEY_FILE
D=tool:test:midctl:01
E=tool:test:midctl-other:02

# ---- register ---------------------------------------------------------------
midctl_expect 0 "register" register "$D"
grep -Eq "^registered $D \(request_id $UUID_RE\)$" <<<"$OUT" || fail "register printed: $OUT"
assert_eq "" "$ERR" "register stderr"
assert_eq active "$(device_state "$D")" "midd's state after register"
midctl_expect 0 "register again" register "$D"
assert_contains "$OUT" "$D is already registered (request_id " "register is idempotent"

# ---- status: active -----------------------------------------------------------
midctl_expect 0 "status active" status "$D"
assert_eq "$D" "$(out_field device)" "status device line"
assert_eq active "$(out_field state)" "status state line"
assert_eq enabled "$(out_field org)" "status org line"
assert_eq allowed "$(out_field validate)" "status validate line"
assert_eq ALLOW "$(validate_code "$D")" "midd agrees the device is allowed"
note "ok: register, status"

# status reads the list: the device's validate count does not move.
midctl_run status "$D"
before=$(out_field validates)
midctl_run status "$D"
midctl_run status "$D"
assert_eq "$before" "$(out_field validates)" "status must not count as a validate"
validate_code "$D" >/dev/null
midctl_run status "$D"
assert_eq "$((before + 1))" "$(out_field validates)" "a real validate is counted"
assert_ne never "$(out_field 'last seen')" "last seen after a validate"

# ---- revoke / restore -----------------------------------------------------------
midctl_expect 0 "revoke" revoke "$D"
grep -Eq "^revoked $D \(request_id $UUID_RE\)$" <<<"$OUT" || fail "revoke printed: $OUT"
assert_eq revoked "$(device_state "$D")" "midd's state after revoke"
midctl_expect 0 "status revoked" status "$D"
assert_eq revoked "$(out_field state)" "status state after revoke"
assert_eq DEVICE_REVOKED "$(out_field validate)" "status validate after revoke"
assert_eq DEVICE_REVOKED "$(validate_code "$D")" "midd's validate after revoke"
midctl_expect 0 "register keeps a revoke" register "$D"
assert_eq revoked "$(device_state "$D")" "register must not restore"

midctl_expect 0 "restore" restore "$D"
grep -Eq "^restored $D \(request_id $UUID_RE\)$" <<<"$OUT" || fail "restore printed: $OUT"
assert_eq active "$(device_state "$D")" "midd's state after restore"
midctl_expect 0 "revoke for unrevoke" revoke "$D"
midctl_expect 0 "unrevoke alias" unrevoke "$D"
assert_contains "$OUT" "restored $D" "unrevoke output"
assert_eq active "$(device_state "$D")" "midd's state after unrevoke"
note "ok: revoke, restore, unrevoke"

# ---- remove ---------------------------------------------------------------------
midctl_expect 0 "remove" remove "$D"
grep -Eq "^removed $D \(request_id $UUID_RE\)$" <<<"$OUT" || fail "remove printed: $OUT"
assert_eq removed "$(device_state "$D")" "midd's state after remove"
midctl_expect 0 "status removed" status "$D"
assert_eq DEVICE_REMOVED "$(out_field validate)" "status validate after remove"
assert_eq DEVICE_REMOVED "$(validate_code "$D")" "midd's validate after remove"
midctl_expect 1 "register a removed device" register "$D"
assert_contains "$ERR" "midctl: register $D: removed" "register of a removed device"
assert_contains "$ERR" "midctl restore $D" "the message says how to undo"
midctl_expect 0 "restore a removed device" restore "$D"
assert_eq active "$(device_state "$D")" "midd's state after restoring a removed device"
note "ok: remove"

# ---- refusals ---------------------------------------------------------------------
U=tool:test:never-registered:09
for cmd in revoke restore remove; do
	midctl_expect 1 "$cmd unknown" "$cmd" "$U"
	assert_contains "$ERR" "midctl: $cmd $U: DEVICE_NOT_FOUND" "$cmd unknown device message"
	assert_eq "" "$OUT" "$cmd unknown device stdout"
	[ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ] || fail "$cmd: message is not one line: $ERR"
done
assert_eq none "$(device_state "$U")" "refused actions create no device"
midctl_expect 1 "status unknown" status "$U"
assert_contains "$ERR" "DEVICE_NOT_FOUND" "status of an unknown device"
note "ok: refusals"

# ---- list and usage -----------------------------------------------------------------
midctl_expect 0 "register second" register "$E"
midctl_expect 0 "revoke second" revoke "$E"
midctl_expect 0 "list" list
assert_eq "DEVICE STATE MODE CREATED LAST SEEN VALIDATES" "$(head -n 1 <<<"$OUT" | tr -s ' ')" "list header"
assert_eq 3 "$(wc -l <<<"$OUT")" "list: header and two devices"
grep -Eq "^$D +active " <<<"$OUT" || fail "list lacks $D active: $OUT"
grep -Eq "^$E +revoked " <<<"$OUT" || fail "list lacks $E revoked: $OUT"
# Columns are aligned: every line has the STATE column at the same offset.
col=$(head -n 1 <<<"$OUT" | awk '{ print index($0, "STATE") }')
while IFS= read -r line; do
	[ "${line:col-2:1}" = " " ] && [ "${line:col-1:1}" != " " ] ||
		fail "list column not aligned at $col: '$line'"
done <<<"$OUT"

# --state: only the devices in that state, in text and in JSON.
midctl_expect 0 "list --state revoked" list --state revoked
assert_eq 2 "$(wc -l <<<"$OUT")" "list --state revoked: header and one device"
grep -Eq "^$E +revoked " <<<"$OUT" || fail "list --state revoked lacks $E: $OUT"
midctl_expect 0 "list --state active" --json list --state active
assert_json "list --state active --json" "$OUT"
assert_contains "$OUT" "\"$D\"" "list --state active --json has $D"
assert_not_contains "$OUT" "\"$E\"" "list --state active --json leaves $E out"
midctl_expect 0 "list --state removed" list --state removed
assert_eq "no devices" "$OUT" "list --state removed"
midctl_expect 2 "list --state bogus" list --state bogus
midctl_expect 2 "--state on usage" usage --state active

midctl_expect 0 "usage" usage
assert_eq 2 "$(out_field devices)" "usage devices"
assert_eq 1 "$(out_field active)" "usage active"
assert_eq 1 "$(out_field revoked)" "usage revoked"
assert_eq 0 "$(out_field removed)" "usage removed"
assert_eq enabled "$(out_field org)" "usage org"
note "ok: list, usage"

# ---- --json ---------------------------------------------------------------------------
for args in "list" "usage" "status $D" "register $D" "revoke $E" "restore $E"; do
	# shellcheck disable=SC2086
	midctl_expect 0 "--json $args" --json $args
	assert_json "--json $args" "$OUT"
	assert_contains "$OUT" '"request_id"' "--json $args carries the request_id"
done
midctl_run --json list
python3 -c '
import json, sys
j = json.loads(sys.argv[1])
ids = sorted(d["deviceId"] for d in j["devices"])
assert ids == sorted(sys.argv[2:]), ids
assert j["org_disabled"] is False' "$OUT" "$D" "$E" || fail "--json list content: $OUT"
midctl_run status "$D" --json
python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["deviceId"] == sys.argv[2] and j["state"] == "active", j
assert j["registered"] is True and j["org_disabled"] is False, j
assert j["validate"] == {"allowed": True, "code": "ALLOW"}, j' "$OUT" "$D" ||
	fail "--json status content: $OUT"
midctl_expect 1 "--json revoke unknown" --json revoke "$U"
assert_json "--json error body" "$OUT"
assert_contains "$OUT" DEVICE_NOT_FOUND "--json error body names the code"
note "ok: --json"

# ---- the longest device ID ----------------------------------------------------------
# 256 bytes is what the shim and midd accept, so midctl must be able to act
# on such a device; one byte more is a usage error before anything is sent.
L=tool:test:long:$(printf 'x%.0s' $(seq 1 241))
assert_eq 256 "${#L}" "length of the longest device ID"
midctl_expect 0 "register a 256-byte device" register "$L"
midctl_expect 0 "revoke a 256-byte device" revoke "$L"
grep -Eq "^revoked $L \(request_id $UUID_RE\)$" <<<"$OUT" || fail "revoke of the long ID printed: $OUT"
assert_eq revoked "$(device_state "$L")" "midd's state after revoking the long ID"
midctl_expect 0 "status of a 256-byte device" status "$L"
assert_eq "$L" "$(out_field device)" "status shows the whole long ID"
midctl_expect 0 "restore a 256-byte device" restore "$L"
assert_eq active "$(device_state "$L")" "midd's state after restoring the long ID"
midctl_expect 2 "a 257-byte device" revoke "${L}x"
assert_contains "$ERR" "1 to 256 bytes" "the overlong ID message names the limit"
midctl_expect 2 "a device with a space" revoke "tool:test:with space:01"
note "ok: a 256-byte device ID"

# Keys never show up in anything midctl printed.
assert_exists "$T/midctl.all" "midctl transcript"
! grep -qF -- "$ADMIN_KEY" "$T/midctl.all" || fail "the admin key was printed"
! grep -qF -- "$ORG_KEY" "$T/midctl.all" || fail "the org key was printed"
note "ok: midctl device commands"
