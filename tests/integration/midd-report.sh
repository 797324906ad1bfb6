#!/bin/bash
# SPDX-License-Identifier: MIT
# POST /api/v1/report: a client's event lands in the audit trail (route
# "report", decision and code the event, pid, program and detail in the
# peer column); bad bodies, unknown devices and the admin key are
# refused; each device is held to its rate (MID_REPORT_BURST at once).
. "$(dirname "$0")/../lib.sh"
midd_start
DEV=test:int:report:01
api POST /api/v1/devices/register "$ORG_KEY" "{\"deviceId\":\"$DEV\"}" >/dev/null

r=$(api POST /api/v1/report "$ORG_KEY" \
	"{\"deviceId\":\"$DEV\",\"event\":\"ADOPT\",\"pid\":1234,\"program\":\"python3\",\"detail\":\"by root: adopted 2\"}")
assert_contains "$r" '202 {"status":"accepted"' "a good report"
# The row reaches the trail with midd's next batch (about every 100 ms;
# on PostgreSQL one COPY): wait at most 5 s.
for _ in $(seq 1 50); do
	a=$(api GET "/api/v1/audit?deviceId=$DEV" "$ADMIN_KEY")
	[[ $a == *'"route":"report"'* ]] && break
	sleep 0.1
done
assert_contains "$a" '"route":"report","decision":"ADOPT","code":"ADOPT"' "the audit row"
assert_contains "$a" '"peer":"pid 1234 python3: by root: adopted 2"' "pid, program and detail"
grep -q 'report org=default device=test:int:report:01 event=ADOPT pid=1234 program=python3' "$T/midd.log" ||
	fail "no log line"

bad() { # WHAT BODY STATUS
	local r
	r=$(api POST /api/v1/report "$ORG_KEY" "$2")
	assert_contains "$r" "$3 " "$1"
}
bad "no event" "{\"deviceId\":\"$DEV\"}" 400
bad "lower-case event" "{\"deviceId\":\"$DEV\",\"event\":\"adopt\"}" 400
bad "event too long" "{\"deviceId\":\"$DEV\",\"event\":\"$(printf 'A%.0s' $(seq 1 30))\"}" 400
bad "control byte in detail" "{\"deviceId\":\"$DEV\",\"event\":\"X\",\"detail\":\"a\\nb\"}" 400
bad "pid not a number" "{\"deviceId\":\"$DEV\",\"event\":\"X\",\"pid\":\"1\"}" 400
bad "negative pid" "{\"deviceId\":\"$DEV\",\"event\":\"X\",\"pid\":-1}" 400
bad "detail too long" "{\"deviceId\":\"$DEV\",\"event\":\"X\",\"detail\":\"$(head -c 600 /dev/zero | tr '\0' a)\"}" 400
bad "not JSON" "nope" 400
bad "unknown device" '{"deviceId":"test:int:report:nobody","event":"X"}' 404
r=$(api POST /api/v1/report "$ADMIN_KEY" "{\"deviceId\":\"$DEV\",\"event\":\"X\"}")
assert_contains "$r" "403 " "the admin key may not report"
r=$(api GET /api/v1/report "$ORG_KEY")
assert_contains "$r" "405 " "GET"

# The rate: a burst of 40 (one went above), then 10 a second. 100
# reports on one kept-alive connection: those accepted are at most the
# burst plus what the rate refilled while they were sent, and some are
# refused however slow the build.
"$PY" - "$MIDD_PORT" "$ORG_KEY" "$DEV" <<'PY' || fail "the report rate (above)"
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
body = json.dumps({"deviceId": sys.argv[3], "event": "FLOOD"})
codes, t0 = [], time.monotonic()
for _ in range(100):
    c.request("POST", "/api/v1/report", body, {"x-org-key": sys.argv[2], "content-type": "application/json"})
    r = c.getresponse()
    r.read()
    codes.append(r.status)
secs = time.monotonic() - t0
ok, refused = codes.count(202), codes.count(429)
print("# 100 reports in %.2f s: %d accepted, %d refused" % (secs, ok, refused))
assert ok + refused == 100, codes
most = 40 + int(10 * secs) + 1
assert 38 <= ok <= most, "accepted %d, expected 38 to %d" % (ok, most)
assert secs > 6 or refused > 0, "nothing refused in %.2f s" % secs
PY
midd_stop
