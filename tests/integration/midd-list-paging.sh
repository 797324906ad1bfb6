#!/bin/bash
# SPDX-License-Identifier: MIT
# The device list comes in pages: at most ?limit= devices (1,000 unless
# asked, 10,000 at most) in creation order, with "next", the cursor for
# ?after= of the following page, null after the last. Pages put together
# give every device once; `midctl list` pages through all of them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"
need sqlite3 sqlite3

# 6,543 devices written before midd starts (register is rate-limited),
# the way midd writes a registered device.
N=6543
midd_init
sqlite3 "$DB_FILE" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
	INSERT INTO devices(org_id, device_id, state, created)
	SELECT 1, printf('page:prod:d:%05d', i), 'active', 1700000000000 + i FROM n;" ||
	fail "cannot write the devices into $DB_FILE"
midd_start

req GET /api/v1/devices/list "$ORG_KEY"
expect_status 200 "a list without limit"
assert_eq 1000 "$(jq '.devices | length' <<<"$BODY")" "the default page"
assert_eq 1000 "$(jf next)" "the default page's cursor"

# Pages of 2,500: 2,500, 2,500, 1,543, in creation order.
after=0 pages=0
: >"$T/ids"
while :; do
	req GET "/api/v1/devices/list?limit=2500&after=$after" "$ORG_KEY"
	expect_status 200 "page after $after"
	jq -r '.devices[].deviceId' <<<"$BODY" >>"$T/ids"
	pages=$((pages + 1))
	[ "$pages" -le 4 ] || fail "more pages than 6,543 / 2,500 allows"
	after=$(jf next)
	[ "$after" = null ] && break
done
assert_eq 3 "$pages" "pages of 2,500"
assert_eq "$N" "$(wc -l <"$T/ids")" "devices over all pages"
assert_eq "$N" "$(sort -u "$T/ids" | wc -l)" "each device once"
seq -f 'page:prod:d:%05g' 1 "$N" | cmp -s - "$T/ids" || fail "pages are not in creation order"

# A cursor at or past the end: an empty last page.
req GET "/api/v1/devices/list?after=$N" "$ORG_KEY"
expect_status 200 "a page at the end"
assert_eq 0 "$(jq '.devices | length' <<<"$BODY")" "the page at the end"
assert_eq null "$(jf next)" "no page after the end"

# ?deviceId= ignores the cursor and finds the device wherever it is.
req GET "/api/v1/devices/list?deviceId=page:prod:d:06000&after=5" "$ORG_KEY"
assert_eq page:prod:d:06000 "$(jq -r '.devices[0].deviceId' <<<"$BODY")" "one device by id"

for bad in limit=0 limit=10001 limit=x limit=-1 after=y 'after=1e3'; do
	req GET "/api/v1/devices/list?$bad" "$ORG_KEY"
	expect_status 400 "list?$bad"
done
req GET "/api/v1/devices/list?limit=10000" "$ORG_KEY"
assert_eq "$N" "$(jq '.devices | length' <<<"$BODY")" "the largest page: all of them"

# midctl list pages through all of them (5,000 a call).
"$BIN/midctl" --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" list --json >"$T/all.json" ||
	fail "midctl list --json"
assert_eq "$N" "$(jq '.devices | length' "$T/all.json")" "midctl list --json: every device"
assert_eq null "$(jq '.next' "$T/all.json")" "midctl list --json: the whole list"
"$BIN/midctl" --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" list >"$T/all.txt" ||
	fail "midctl list"
assert_eq $((N + 1)) "$(wc -l <"$T/all.txt")" "midctl list: a header and a line a device"
note "ok: $N devices in pages"
