#!/bin/bash
# SPDX-License-Identifier: MIT
# The audit trail is hash-chained and signed: an untouched trail, and an
# export of it checked on its own with only the public key, verify; a
# row edited, removed or inserted directly in the database (sqlite3,
# behind midd's back) makes `midctl audit verify` fail and name it; a
# checkpoint signed with another key is refused; removing the rows at the
# end is caught by the checkpoint midd signs at stop.
. "$(dirname "$0")/../lib.sh"
need sqlite3 sqlite3
midd_start --audit-checkpoint 5
pub=$(sed -n 's/.*its public key, to verify exports elsewhere: \([0-9a-f]\{64\}\)$/\1/p' "$T/init.out")
[ ${#pub} -eq 64 ] || fail "midd init printed no public key: $(cat "$T/init.out")"
[ "$(stat -c %a "$DB_FILE.audit-key")" = 400 ] || fail "the signing key is not mode 0400"
CTL=(env MIDSHIM_ADMIN_KEY_FILE="$T/admin/admin.key" "${OURS[@]}" "$BIN/midctl" --url "$MIDSHIM_URL")
DEV=test:int:chain:01

# Some rows: register, validates, a revoke and a restore, a report.
api POST /api/v1/devices/register "$ORG_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null
for _ in 1 2 3 4 5 6 7 8; do
	api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null
done
"${CTL[@]}" revoke "$DEV" >/dev/null
"${CTL[@]}" restore "$DEV" >/dev/null
api POST /api/v1/report "$ORG_KEY" "{\"deviceId\":\"$DEV\",\"event\":\"POLICY_DENY\",\"pid\":42,\"program\":\"rm\",\"rule\":\"2\",\"detail\":\"fs delete /x\"}" >/dev/null
sleep 0.3 # the flush (every 100 ms) writes the validate rows

# verify_fails WHAT NEEDLE: midctl audit verify exits 1 naming NEEDLE.
verify_fails() {
	set +e
	"${CTL[@]}" audit verify >"$T/v.out" 2>"$T/v.err"
	local rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "$1: verify exited $rc, not 1: $(cat "$T/v.out" "$T/v.err")"
	assert_file_contains "$T/v.err" "$2" "$1: the fault named"
	note "ok: $1: $(cat "$T/v.err")"
}
verify_ok() {
	"${CTL[@]}" audit verify --public-key "$pub" >"$T/v.out" 2>"$T/v.err" ||
		fail "$1: verify failed: $(cat "$T/v.out" "$T/v.err")"
	assert_file_contains "$T/v.out" "audit chain verified" "$1"
}
verify_ok "untouched trail"
n=$(sqlite3 "$DB_FILE" "SELECT count(*) FROM audit WHERE chain_seq IS NOT NULL")
[ "$n" -ge 12 ] || fail "only $n chained rows"
# midd signs the chain's head once 5 rows have passed since the last
# checkpoint, after they are committed: rows that arrive together get one
# checkpoint at their head, so the last one lies within 5 of the head.
for _ in $(seq 1 100); do
	c=$(sqlite3 "$DB_FILE" "SELECT coalesce(max(seq), 0) FROM audit_checkpoints")
	[ "$c" -gt $((n - 5)) ] && break
	sleep 0.1
done
[ "$c" -gt $((n - 5)) ] || fail "the last checkpoint covers row $c of $n at --audit-checkpoint 5"

# An export verifies on its own, with only the public key, and without midd.
"${CTL[@]}" audit export >"$T/export.jsonl"
"${OURS[@]}" "$BIN/midctl" audit verify --from "$T/export.jsonl" --public-key "$pub" >"$T/f.out" 2>&1 ||
	fail "export: verify --from failed: $(cat "$T/f.out")"
assert_file_contains "$T/f.out" "audit chain verified" "export verifies"
# file_fails WHAT FILE KEY NEEDLE: verify --from FILE against KEY exits 1 naming NEEDLE.
file_fails() {
	set +e
	"${OURS[@]}" "$BIN/midctl" audit verify --from "$2" --public-key "$3" >"$T/f.out" 2>&1
	local rc=$?
	set -e
	assert_eq 1 "$rc" "$1: exit status"
	assert_file_contains "$T/f.out" "$4" "$1: the fault named"
}
# ... and not with another key.
file_fails "export against another key" "$T/export.jsonl" "$(printf '%064x' 7)" "not signed by this public key"
# An export edited on the way is caught too.
sed 's/"decision":"revoked"/"decision":"active"/' "$T/export.jsonl" >"$T/edited.jsonl"
file_fails "edited export" "$T/edited.jsonl" "$pub" "was edited"

# Edit one row in the database: named by its id.
id=$(sqlite3 "$DB_FILE" "SELECT id FROM audit WHERE route = 'revoke' LIMIT 1")
sqlite3 "$DB_FILE" "UPDATE audit SET decision = 'active' WHERE id = $id"
verify_fails "edited row" "row id $id"
assert_file_contains "$T/v.err" "was edited" "edited row: called edited"
sqlite3 "$DB_FILE" "UPDATE audit SET decision = 'revoked' WHERE id = $id"
verify_ok "edit undone"

# Delete one row: named by its place.
row=$(sqlite3 "$DB_FILE" "SELECT id, chain_seq FROM audit WHERE route = 'validate' AND chain_seq IS NOT NULL LIMIT 1 OFFSET 2")
id=${row%%|*} seq=${row##*|}
sqlite3 "$DB_FILE" ".mode insert audit" "SELECT * FROM audit WHERE id = $id" >"$T/row.sql"
sqlite3 "$DB_FILE" "DELETE FROM audit WHERE id = $id"
verify_fails "deleted row" "the row at seq $seq was removed"
sqlite3 "$DB_FILE" <"$T/row.sql"
verify_ok "deleted row put back"

# Insert one row: named by its id.
sqlite3 "$DB_FILE" "INSERT INTO audit(time, org_id, device_id, route, decision, code, request_id, peer) SELECT time + 1, org_id, device_id, 'validate', 'allow', 'ALLOW', request_id, peer FROM audit WHERE chain_seq = 3"
id=$(sqlite3 "$DB_FILE" "SELECT max(id) FROM audit")
verify_fails "inserted row" "row id $id was inserted"
sqlite3 "$DB_FILE" "DELETE FROM audit WHERE id = $id"
verify_ok "inserted row taken out"

# The end: midd signs a checkpoint at stop; rows removed after it are caught.
api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null
midd_stop
last=$(sqlite3 "$DB_FILE" "SELECT max(chain_seq) FROM audit")
assert_eq "$last" "$(sqlite3 "$DB_FILE" "SELECT max(seq) FROM audit_checkpoints")" "a checkpoint at stop covers the last row"
midd_start
sqlite3 "$DB_FILE" "DELETE FROM audit WHERE chain_seq = $last"
verify_fails "last row removed" "after seq $((last - 1)) were removed"
midd_stop
