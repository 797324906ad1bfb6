#!/bin/bash
# SPDX-License-Identifier: MIT
# The org key, which every gated program holds, cannot fill the device
# limit at once: registrations that create a device are limited to
# --register-rate a second after a burst of --register-burst, per org.
# Over it, register answers 429 RATE_LIMITED with Retry-After and creates
# nothing; a register of a known device is never limited; the rate
# refills. By default (20 a second, bursts of 200) 400 registrations in a
# row do not all pass.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

# burst N PREFIX: N registrations on one kept-alive connection, as fast
# as they go; prints "ok K limited L other O seconds S".
burst() {
	"$PY" - "$MIDD_PORT" "$ORG_KEY" "$1" "$2" <<'PY'
import http.client, json, sys, time
port, key, n, prefix = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
ok = limited = other = 0
t0 = time.monotonic()
for i in range(n):
    c.request("POST", "/api/v1/devices/register", json.dumps({"deviceId": "%s:%03d" % (prefix, i)}),
              {"x-org-key": key, "content-type": "application/json"})
    r = c.getresponse()
    body = json.loads(r.read(65536))
    if r.status == 200 and body.get("status") == "ok":
        ok += 1
    elif (r.status == 429 and body.get("error") == "RATE_LIMITED"
          and int(r.getheader("Retry-After", "0")) >= 1):
        limited += 1
    else:
        other += 1
        print("unexpected answer:", r.status, body, file=sys.stderr)
print("ok %d limited %d other %d seconds %.3f" % (ok, limited, other, time.monotonic() - t0))
PY
}

# check OUT RATE BURST: at most BURST + RATE x seconds (+1) passed, and at
# least BURST; the rest were limited, and some were when they came faster.
check() {
	local ok limited other secs
	read -r _ ok _ limited _ other _ secs <<<"$1"
	note "$1"
	assert_eq 0 "$other" "answers other than ok or 429"
	[ "$ok" -ge "$3" ] || fail "only $ok registrations passed, the burst is $3"
	awk -v ok="$ok" -v r="$2" -v b="$3" -v s="$secs" 'BEGIN { exit !(ok <= b + r * s + 1) }' ||
		fail "$ok registrations passed in $secs s at $2 a second after a burst of $3"
	# Registrations that came faster than the bucket refills must have
	# met its bottom (a machine too loaded to send them that fast cannot).
	if awk -v n="$((ok + limited))" -v r="$2" -v b="$3" -v s="$secs" 'BEGIN { exit !(n > b + r * s + 1) }'; then
		[ "$limited" -ge 1 ] || fail "no registration was limited"
	else
		note "registrations came no faster than the rate: none had to be limited"
	fi
}

midd_start --register-rate 5 --register-burst 10
out=$(burst 40 rate:test:a)
check "$out" 5 10
grep -q "register-refused org=default device=rate:test:a:.* reason=rate_limited rate=5/s burst=10" \
	"$T/midd.log" || fail "no rate_limited log line"
req GET /api/v1/usage "$ORG_KEY"
assert_eq "$(awk '{ print $2 }' <<<"$out")" "$(jf devices)" "devices after 40 registrations: the limited ones made none"

note "a known device is never limited; a refused one does not exist"
register rate:test:a:000
assert_eq exists "$(jf status)" "register of a known device while limited"
expect_code rate:test:a:039 DEVICE_NOT_FOUND

note "the rate refills"
sleep 0.5
register rate:test:b:000
assert_eq ok "$(jf status)" "register after the refill"
midd_stop

note "by default: 20 a second after a burst of 200"
midd_start
check "$(burst 400 rate:test:c)" 20 200
