#!/bin/bash
# SPDX-License-Identifier: MIT
# GET /metrics answers in the Prometheus text format (checked with the
# Prometheus client library's own parser) without a key, with totals
# only: validates by code and their latency histogram, HTTP answers by
# status, devices by state, live push channels, connections. /healthz
# names the version and the uptime.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"
"$PY" -c 'import prometheus_client' 2>/dev/null ||
	skip "prometheus parser: the python3 module prometheus_client is not installed (Debian package python3-prometheus-client)"

midd_start
register met:prod:a:01
register met:prod:b:01
register met:prod:c:01
for _ in 1 2 3; do expect_code met:prod:a:01 ALLOW; done
admin revoke met:prod:b:01
expect_status 200 "revoke"
for _ in 1 2; do expect_code met:prod:b:01 DEVICE_REVOKED; done
expect_code met:prod:zz:01 DEVICE_NOT_FOUND
req POST /api/v1/devices/validate "$ORG_KEY" '{"deviceId":'
expect_status 400 "a malformed validate"

# scrape FILE: GET /metrics, no key; the body into FILE, headers in FILE.h.
scrape() {
	local code
	code=$(curl -sS --max-time 5 -D "$1.h" -o "$1" -w '%{http_code}' "$MIDSHIM_URL/metrics")
	assert_eq 200 "$code" "GET /metrics without a key"
}
scrape "$T/m1"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/m1.h" ||
	fail "/metrics content type: $(grep -i content-type "$T/m1.h")"
! grep -q 'met:prod' "$T/m1" || fail "/metrics names a device"
! grep -qF "$ORG_KEY" "$T/m1" || fail "/metrics shows the org key"

# metric FILE NAME [LABEL=VALUE...]: the sample's value, parsed by the
# Prometheus client's parser (which fails on malformed text).
metric() {
	"$PY" - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name, labels = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
found = [s.value for f in text_string_to_metric_families(open(path).read())
         for s in f.samples if s.name == name and s.labels == labels]
if len(found) != 1:
    sys.exit("%s%s: %d samples" % (name, labels, len(found)))
v = found[0]
print(int(v) if v == int(v) else v)
PY
}
m() { metric "$T/m1" "$@" || fail "parse $*"; }

assert_eq 3 "$(m midd_validates_total code=ALLOW)" "validates ALLOW"
assert_eq 2 "$(m midd_validates_total code=DEVICE_REVOKED)" "validates DEVICE_REVOKED"
assert_eq 1 "$(m midd_validates_total code=DEVICE_NOT_FOUND)" "validates DEVICE_NOT_FOUND"
assert_eq 0 "$(m midd_validates_total code=ORG_DISABLED)" "validates ORG_DISABLED"
assert_eq 6 "$(m midd_validate_duration_seconds_count)" "histogram count: every answered validate"
assert_eq 6 "$(m midd_validate_duration_seconds_bucket le=+Inf)" "histogram +Inf bucket"
# Buckets are cumulative and the sum is a positive duration under 6 s.
"$PY" - "$T/m1" <<'PY' || fail "histogram shape"
import sys
from prometheus_client.parser import text_string_to_metric_families
fam = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
h = fam["midd_validate_duration_seconds"]
assert h.type == "histogram", h.type
b = [(float(s.labels["le"]), s.value) for s in h.samples if s.name.endswith("_bucket")]
assert b == sorted(b), b
assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), b
s = [x.value for x in h.samples if x.name.endswith("_sum")][0]
assert 0 < s < 6, s
assert fam["midd_validates"].type == "counter"
PY
assert_eq 2 "$(m midd_devices state=active)" "devices active"
assert_eq 1 "$(m midd_devices state=revoked)" "devices revoked"
assert_eq 0 "$(m midd_devices state=removed)" "devices removed"
assert_eq 1 "$(m midd_orgs)" "orgs"
assert_eq 1 "$(m midd_database_up)" "database up"
assert_eq 0 "$(m midd_pending_persistence)" "pending persistence"
assert_eq 1 "$(m midd_http_responses_total status=400)" "one 400 answer"
n200=$(m midd_http_responses_total status=200)
[ "$n200" -ge 10 ] || fail "200 answers: $n200, expected at least 10"
[ "$(m midd_connections)" -ge 1 ] || fail "connections: the scrape's own is open"
start=$(m midd_start_time_seconds)
now=$(date +%s)
[ "$start" -le "$now" ] && [ "$start" -ge $((now - 120)) ] || fail "start time $start, now $now"
assert_eq 1 "$(m midd_build_info version="$("$BIN/midd" --version | awk '{ print $2 }')")" "build info"
assert_eq 0 "$(m midd_push_channels)" "push channels before any"

# A gated idle program holds a push channel while it lives.
MIDSHIM_DEVICE_ID=met:prod:c:01 MIDSHIM_ORG_KEY_FILE=$T/keys/org.key MIDSHIM_PUSH=on \
	MIDSHIM_TTL_MS=30000 LD_PRELOAD=$PRELOAD sleep 30 >/dev/null 2>"$T/sleep.err" &
SLEEPER=$!
on_exit "kill -KILL $SLEEPER 2>/dev/null"
# chan_wait N WHAT: scrape until midd_push_channels is N (at most 5 s).
chan_wait() {
	local chan=
	for _ in $(seq 1 100); do
		scrape "$T/m2"
		chan=$(metric "$T/m2" midd_push_channels) || fail "parse push channels"
		[ "$chan" -eq "$1" ] && return 0
		sleep 0.05
	done
	assert_eq "$1" "$chan" "$2"
}
chan_wait 1 "push channels while a gated program lives"
kill -KILL "$SLEEPER"
wait "$SLEEPER" 2>/dev/null || true
chan_wait 0 "push channels after the program died"

# Only GET; /healthz has the version and the uptime.
code=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -X POST "$MIDSHIM_URL/metrics")
assert_eq 405 "$code" "POST /metrics"
h=$(curl -fsS --max-time 5 "$MIDSHIM_URL/healthz")
assert_eq "$("$BIN/midd" --version | awk '{ print $2 }')" "$(jq -r .version <<<"$h")" "/healthz version"
up=$(jq -r .uptime_seconds <<<"$h")
[ "$up" -ge 0 ] && [ "$up" -le 120 ] || fail "/healthz uptime_seconds $up"
note "ok: /metrics parses, counts and gauges match"
