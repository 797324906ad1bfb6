#!/bin/bash
# SPDX-License-Identifier: MIT
# The console's server side without a browser: its files and security
# headers; login refusals (org key, wrong key, key in the URL, no key);
# the session cookie's attributes; the CSRF token on every state change
# and a foreign Origin refused; the long poll answering when the audit
# trail grows and after its bound; logout; key rotation ending every
# session; login attempts rate-limited (429 with Retry-After);
# --console-tls adds Secure; --no-console serves nothing at /console.
. "$(dirname "$0")/../lib.sh"
midd_start
C=$T/cookies
U=$MIDSHIM_URL

# hcurl ARGS...: "STATUS" on stdout, headers in $T/h, body in $T/b.
hcurl() { curl -sS --max-time 30 -D "$T/h" -o "$T/b" -w '%{http_code}' "$@"; }
header() { tr -d '\r' <"$T/h" | sed -n "s/^$1: //Ip" | head -n 1; }
login() { hcurl -c "$C" -X POST --data-urlencode "key=$1" "$U/console/login"; }
csrf() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["csrf"])' "$T/b"; }

# ---- files and headers ----
assert_eq 200 "$(hcurl "$U/console")" "GET /console"
assert_contains "$(cat "$T/b")" '<script src="/console/app.js"' "the page loads its script"
assert_not_contains "$(cat "$T/b")" '<script>' "no inline script"
assert_not_contains "$(cat "$T/b")" 'style=' "no inline style"
assert_contains "$(header content-security-policy)" "script-src 'self'" "CSP"
assert_contains "$(header content-security-policy)" "frame-ancestors 'none'" "CSP frames"
assert_eq DENY "$(header x-frame-options)" "X-Frame-Options"
assert_eq nosniff "$(header x-content-type-options)" "nosniff"
assert_eq no-referrer "$(header referrer-policy)" "Referrer-Policy"
assert_eq 200 "$(hcurl "$U/console/app.js")" "GET app.js"
assert_contains "$(header content-type)" "text/javascript" "app.js type"
assert_eq 200 "$(hcurl "$U/console/app.css")" "GET app.css"
assert_contains "$(header content-type)" "text/css" "app.css type"
assert_eq 404 "$(hcurl "$U/console/nothing.js")" "an unknown file"
assert_eq 404 "$(hcurl --path-as-is "$U/console/../console/app.js/x")" "a path below a file"
assert_eq 405 "$(hcurl -X POST "$U/console/app.js")" "POST to a file"
assert_eq 405 "$(hcurl "$U/console/login")" "GET /console/login"

# ---- refusals ----
assert_eq 403 "$(login "$ORG_KEY")" "the org key"
assert_contains "$(cat "$T/b")" "org key cannot open the console" "the org key's message"
assert_eq "" "$(header set-cookie)" "no cookie for the org key"
assert_eq 401 "$(login "mid_adm_$(printf '%064d' 0)")" "a wrong key"
assert_eq "" "$(header set-cookie)" "no cookie for a wrong key"
assert_eq 400 "$(hcurl -X POST -d 'nokey=1' "$U/console/login")" "no key field"
assert_eq 400 "$(hcurl -X POST "$U/console/login?key=$ADMIN_KEY")" "the key in the URL is not read"
if grep -q "$ADMIN_KEY" "$T/midd.log"; then fail "the admin key is in midd's log"; fi

# ---- a session ----
assert_eq 200 "$(login "$ADMIN_KEY")" "the admin key"
ck=$(header set-cookie)
for want in 'midsession=' '; Path=/' '; HttpOnly' '; SameSite=Strict' '; Max-Age=28800'; do
	assert_contains "$ck" "$want" "session cookie"
done
assert_not_contains "$ck" Secure "no Secure without --console-tls"
TOK=$(csrf)
sid=$(sed -n 's/.*midsession=\([0-9a-f]*\);.*/\1/p' <<<"$ck")
assert_eq 64 "${#sid}" "the session ID's length"
assert_eq 200 "$(hcurl -b "$C" "$U/console/session")" "session"
assert_eq "$TOK" "$(csrf)" "the session gives its CSRF token again"
assert_eq 200 "$(hcurl -b "$C" "$U/api/v1/usage")" "a read with the session"
assert_eq 401 "$(hcurl -b "midsession=$(printf '%064d' 0)" "$U/api/v1/usage")" "an unknown session"
assert_eq 401 "$(hcurl -b "$C" "$U/api/v1/org/keys")" "a route the console does not use"

api POST /api/v1/devices/register "$ORG_KEY" '{"deviceId":"svc:prod:one"}' >/dev/null
body='{"deviceId":"svc:prod:one"}'
assert_eq 403 "$(hcurl -b "$C" -H 'content-type: application/json' -d "$body" "$U/api/v1/devices/revoke")" \
	"a change without the CSRF token"
assert_contains "$(cat "$T/b")" CSRF_REQUIRED "its code"
# The token with its last digit changed (to 1 when it was 0).
BAD=${TOK%?}0
[ "$BAD" != "$TOK" ] || BAD=${TOK%?}1
assert_eq 403 "$(hcurl -b "$C" -H "x-csrf-token: $BAD" -d "$body" "$U/api/v1/devices/revoke")" \
	"a wrong CSRF token"
assert_eq 403 "$(hcurl -b "$C" -H "x-csrf-token: $TOK" -H 'origin: http://evil.example' -d "$body" \
	"$U/api/v1/devices/revoke")" "a foreign Origin"
assert_eq active "$(device_state svc:prod:one)" "refused changes change nothing"

# ---- the long poll ----
assert_eq 200 "$(hcurl -b "$C" "$U/console/wait")" "wait without gen answers at once"
g=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gen"])' "$T/b")
assert_eq 401 "$(hcurl "$U/console/wait?gen=$g")" "wait without a session"
( sleep 0.5; curl -sS --max-time 5 -b "$C" -H "x-csrf-token: $TOK" -d "$body" \
	"$U/api/v1/devices/revoke" >"$T/revoke.out" ) &
bg=$!
t0=${EPOCHREALTIME/./}
assert_eq 200 "$(hcurl -b "$C" "$U/console/wait?gen=$g")" "wait"
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
wait "$bg"
assert_contains "$(cat "$T/revoke.out")" '"revoked"' "the revoke with the session and token"
assert_eq revoked "$(device_state svc:prod:one)" "revoked through the session"
g2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gen"])' "$T/b")
assert_ne "$g" "$g2" "the generation moved"
# It answered on the change (0.5 s in), not at its 20 s bound.
[ "$ms" -lt 10000 ] || fail "the long poll answered after $ms ms, not on the change"
note "the long poll answered $ms ms after it began (the change came at 500 ms)"
# An audit row the shim's validate writes moves it too (the flush).
( sleep 0.3; api POST /api/v1/devices/validate "$ORG_KEY" "$body" >/dev/null ) &
bg=$!
assert_eq 200 "$(hcurl -b "$C" "$U/console/wait?gen=$g2")" "wait for a validate"
wait "$bg"
assert_ne "$g2" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gen"])' "$T/b")" \
	"a validate's audit row moved the generation"
note "ok: the long poll"

# ---- logout ----
assert_eq 403 "$(hcurl -b "$C" -X POST "$U/console/logout")" "logout without the token"
assert_eq 200 "$(hcurl -b "$C" -c "$C" -H "x-csrf-token: $TOK" -X POST "$U/console/logout")" "logout"
assert_contains "$(header set-cookie)" "Max-Age=0" "logout clears the cookie"
assert_eq 401 "$(hcurl -b "midsession=$sid" "$U/console/session")" "the session is over"

# ---- key rotation ends every session ----
assert_eq 200 "$(login "$ADMIN_KEY")" "log in again"
assert_eq 200 "$(hcurl -b "$C" "$U/console/session")" "a live session"
r=$(api POST /api/v1/org/rotate-key "$ADMIN_KEY" '{"key":"org","grace_seconds":0}')
assert_contains "$r" '200 ' "rotate the org key"
assert_eq 401 "$(hcurl -b "$C" "$U/console/session")" "a key rotation ended the session"
assert_contains "$(cat "$T/midd.log")" "console-sessions-ended org=default sessions=1" "logged"

# ---- login attempts are rate-limited ----
# A burst of 10 attempts, refilled one per 3 s: however many the test
# used so far, no more than the burst (and one refilled while the loop
# runs, on a slow machine) may pass before the 429.
n=0
for i in $(seq 1 20); do
	t0=${EPOCHREALTIME/./}
	s=$(login "mid_adm_$(printf '%064d' "$i")")
	[ "$s" = 429 ] && break
	assert_eq 401 "$s" "wrong key $i"
	n=$((n + 1))
done
assert_eq 429 "$s" "login attempts over the limit"
[ "$n" -le 11 ] || fail "$n more attempts passed before the limit"
ra=$(header retry-after)
[ "${ra:-0}" -ge 1 ] || fail "429 without Retry-After: $(cat "$T/h")"
# The right key waits out the limit too. The next token comes back
# within Retry-After seconds (rounded up) of the 429, so only an answer
# that came more than a second before then (counted from when the
# refused attempt was sent, t0) is judged.
s=$(login "$ADMIN_KEY")
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
if [ "$ra" -ge 2 ] && [ "$ms" -lt $(((ra - 1) * 1000)) ]; then
	assert_eq 429 "$s" "even the right key waits out the limit (${ms} ms after, Retry-After $ra)"
else
	note "the right key's attempt came ${ms} ms after a 429 with Retry-After $ra: a token may have come back; not judged"
fi
note "ok: rate limit after $n more attempts, Retry-After $ra"
midd_stop

# ---- --console-tls and --no-console ----
midd_start --console-tls
assert_eq 200 "$(login "$ADMIN_KEY")" "log in (tls)"
assert_contains "$(header set-cookie)" "; Secure" "--console-tls: Secure cookie"
midd_stop
midd_start --no-console
assert_eq 404 "$(hcurl "$U/console")" "--no-console"
assert_eq 404 "$(login "$ADMIN_KEY")" "--no-console login"
midd_stop
note "ok: the console's server side"
