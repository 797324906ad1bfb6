#!/bin/bash
# SPDX-License-Identifier: MIT
# The audit trail pages past its newest 1,000 rows: each answer names the
# cursor of the next page ("next"), null on the last; paging from it
# gives every row once, newest first, even while new rows are written.
# midctl audit --limit N pages by itself, --before starts at a cursor.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
DEV=page:test:a:01
register "$DEV"
validate_many "$DEV" 2500
WANT=2501 # the register and 2,500 validates

"$PY" - "$MIDD_PORT" "$ADMIN_KEY" "$ORG_KEY" "$DEV" "$WANT" <<'PY'
import http.client, json, sys, time
port, admin, org, dev, want = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

def get(path, key=admin):
    c.request("GET", path, headers={"x-admin-key": key})
    r = c.getresponse()
    return r.status, json.loads(r.read(1 << 22))

def validate():
    c.request("POST", "/api/v1/devices/validate", json.dumps({"deviceId": dev}),
              {"x-org-key": org, "content-type": "application/json"})
    r = c.getresponse()
    r.read()

def walk(first_extra=0):
    rows, pages, before = [], 0, None
    while True:
        st, body = get("/api/v1/audit?deviceId=%s&limit=1000%s" % (dev, "&before=" + before if before else ""))
        assert st == 200, (st, body)
        assert "next" in body, "no next member: %r" % list(body)
        rows += body["entries"]
        pages += 1
        if pages == 1:
            for _ in range(first_extra):
                validate()
        before = body["next"]
        if before is None:
            return rows, pages
        assert pages < 10, "more pages than rows allow"

# Validate rows are written by midd's flush thread: wait for all of them.
deadline = time.monotonic() + 10
while True:
    rows, pages = walk()
    if len(rows) >= want or time.monotonic() > deadline:
        break
    time.sleep(0.2)
assert len(rows) == want, "paging gave %d rows, %d were written" % (len(rows), want)
assert pages == 3, pages
ids = [r["request_id"] for r in rows]
assert len(set(ids)) == len(ids), "a row came twice"
times = [r["time"] for r in rows]
assert times == sorted(times, reverse=True), "rows are not newest first"
assert rows[-1]["route"] == "register", rows[-1]

# Rows written while paging do not shift the pages after the first.
rows2, _ = walk(first_extra=20)
assert len(rows2) == want, "with writes meanwhile: %d rows, not %d" % (len(rows2), want)
assert len(set(r["request_id"] for r in rows2)) == want, "a row came twice with writes meanwhile"

for bad in ("x", "1.", ".1", "1.2.3", "-1.2", "1234567890123456789.1"):
    st, body = get("/api/v1/audit?before=" + bad)
    assert st == 400 and body.get("error") == "BAD_REQUEST", (bad, st, body)
print("# %d rows in 3 pages of up to 1,000, every one once, newest first" % want)
PY

note "midctl audit pages by itself"
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
# The 20 validates made while paging reach the trail through midd's flush
# thread: give them its usual few hundred ms, at most 10 s.
for _ in $(seq 50); do
	midctl_expect 0 "audit --limit 2600" audit --url "$MIDSHIM_URL" --device "$DEV" --limit 2600
	rows=$(($(printf '%s\n' "$OUT" | wc -l) - 1))
	[ "$rows" -ge 2521 ] && break
	sleep 0.2
done
[ "$rows" -ge 2521 ] || fail "midctl audit --limit 2600 printed $rows rows, not all 2,521+"
midctl_expect 0 "audit --limit 5" audit --url "$MIDSHIM_URL" --device "$DEV" --limit 5 --json
cursor=$(printf '%s' "$OUT" | jq -r .next)
assert_eq 5 "$(printf '%s' "$OUT" | jq '.entries | length')" "entries of --limit 5"
[[ $cursor =~ ^[0-9]+\.[0-9]+$ ]] || fail "no cursor in midctl audit --json: $OUT"
last=$(printf '%s' "$OUT" | jq -r '.entries[4].request_id')
midctl_expect 0 "audit --before" audit --url "$MIDSHIM_URL" --device "$DEV" --limit 5 --before "$cursor" --json
assert_eq 5 "$(printf '%s' "$OUT" | jq '.entries | length')" "entries after the cursor"
assert_not_contains "$OUT" "$last" "the page after the cursor repeats none of the first"
midctl_expect 0 "audit table" audit --url "$MIDSHIM_URL" --device "$DEV" --limit 3
assert_contains "$ERR" "midctl audit --before " "the table names the cursor of the older entries"
midctl_expect 2 "a bad cursor" audit --url "$MIDSHIM_URL" --before 'x;y'
