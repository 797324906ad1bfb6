#!/bin/bash
# SPDX-License-Identifier: MIT
# Webhook alerts against a real midd and a receiver on 127.0.0.1 that
# checks each post's HMAC-SHA256 signature: `midctl alert add` prints the
# secret once; a revoke and a policy kill (a shim's report) arrive as
# signed JSON, a restore and an org switch too, a slack hook gets
# {"text": ...}; with the receiver down, a revoke waits in the queue
# across a `kill -9` of midd and a restart and arrives afterwards with
# its event ID (duplicates allowed, never a loss); status, /metrics,
# list and remove show and change what they should, and the audit trail
# records who added and removed a webhook; bad URLs and event lists are
# refused.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:alerts:01"
# ctl RC WHAT ARGS...: midctl with the admin key, as midctl_expect.
ctl() { MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key midctl_expect "$@"; }

# The receiver: answers 200 to each POST and writes one JSON line per post
# to $T/recv.log with the signature checked against the secret in
# $T/secret (hook 1) or $T/secret2 (hook 2, by path).
cat >"$T/recv.py" <<'PY'
import hashlib, hmac, json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, top = int(sys.argv[1]), sys.argv[2]

class H(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        name = "secret2" if self.path == "/slack" else "secret"
        secret = open("%s/%s" % (top, name)).read().strip().encode()
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        got = self.headers.get("X-Midd-Signature", "")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        rec = {"path": self.path, "sig_ok": hmac.compare_digest(want, got),
               "event_id": self.headers.get("X-Midd-Event-Id", ""), "body": doc}
        with open(top + "/recv.log", "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200 if rec["sig_ok"] else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
RECV_PORT=$(free_port)
RECV_PID=
# On a loaded machine python3 takes seconds to import http.server: wait
# up to 60 s for the port (bash's /dev/tcp costs no process).
recv_start() {
	"$PY" "$T/recv.py" "$RECV_PORT" "$T" &
	RECV_PID=$!
	for _ in $(seq 1 600); do
		(exec 3<>"/dev/tcp/127.0.0.1/$RECV_PORT") 2>/dev/null && return 0
		kill -0 "$RECV_PID" 2>/dev/null || fail "the receiver exited at start"
		sleep 0.1
	done
	fail "the receiver did not listen within 60 s"
}
recv_stop() {
	[ -z "$RECV_PID" ] || { kill "$RECV_PID" 2>/dev/null; wait "$RECV_PID" 2>/dev/null; } || true
	RECV_PID=
}
on_exit recv_stop
: >"$T/recv.log"

# got KIND DEVICE [PATH]: the first post of KIND for DEVICE (org events:
# DEVICE "-") as "sig_ok|event_id header|event_id body|body", or "".
got() {
	"$PY" - "$T/recv.log" "$1" "$2" "${3:-/hook}" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = r["body"] or {}
    if r["path"] != sys.argv[4]:
        continue
    if sys.argv[4] == "/slack":
        if sys.argv[2] in b.get("text", "") and sys.argv[3] in b.get("text", ""):
            print("%s|%s|-|%s" % (r["sig_ok"], r["event_id"], json.dumps(b)))
            break
        continue
    if b.get("kind") == sys.argv[2] and (b.get("device") or "-") == sys.argv[3]:
        print("%s|%s|%s|%s" % (r["sig_ok"], r["event_id"], b.get("event_id"), json.dumps(b)))
        break
PY
}
# wait_got KIND DEVICE [PATH] [SECONDS]: wait for that post (30 s unless
# told: a first try that failed waits 1 s, then 2 s, ...); print it.
wait_got() {
	local r
	for _ in $(seq 1 $((${4:-30} * 20))); do
		r=$(got "$1" "$2" "${3:-/hook}")
		[ -z "$r" ] || { echo "$r"; return 0; }
		sleep 0.05
	done
	fail "no $1 alert for $2 at ${3:-/hook} in ${4:-30} s; received: $(cat "$T/recv.log")"
}

# 1. Refusals: the URL, the kinds, the format, the key.
ctl 1 "plain http to a remote host" alert add http://192.0.2.1/x --events revoke
assert_contains "$ERR" "loopback" "remote http refused: the reason"
ctl 1 "user info" alert add https://u:p@example.org/x --events revoke
ctl 1 "unknown kind" alert add https://example.org/x --events revoke,reboot
assert_contains "$ERR" "revoke, restore, remove, org, deny, budget" "unknown kind: the kinds named"
ctl 1 "repeated kind" alert add https://example.org/x --events deny,deny
ctl 2 "no --events" alert add https://example.org/x
ctl 2 "bad --format" alert add https://example.org/x --events deny --format xml
ctl 2 "remove without an ID" alert remove x1
for b in '{}' '{"id":"1"}' '{"id":1.5}' '{"id":-1}' '{"id":1e30}' 'nope'; do
	r=$(api POST /api/v1/alerts/remove "$ADMIN_KEY" "$b")
	assert_contains "$r" "400 " "alert remove with the body $b"
done
r=$(api GET /api/v1/alerts "$ORG_KEY")
assert_contains "$r" "403 " "the org key may not list webhooks"
r=$(api POST /api/v1/alerts/add "$ORG_KEY" '{"url":"https://example.org/","events":"deny"}')
assert_contains "$r" "403 " "the org key may not add a webhook"

# 2. Add: the secret once on stdout, never in the list or midd's log.
ctl 0 "alert add" alert add "http://127.0.0.1:$RECV_PORT/hook" \
	--events revoke,restore,deny,org
printf '%s\n' "$OUT" >"$T/secret"
[[ $OUT =~ ^[0-9a-f]{64}$ ]] || fail "alert add: stdout is not the secret alone: $OUT"
SECRET=$OUT
assert_contains "$ERR" "not shown again" "alert add: the secret is shown once"
ctl 0 "alert add slack" alert add "http://localhost:$RECV_PORT/slack" \
	--events revoke --format slack
printf '%s\n' "$OUT" >"$T/secret2"
ctl 0 "alert list" alert list
assert_contains "$OUT" "http://127.0.0.1:$RECV_PORT/hook" "alert list: the URL"
assert_contains "$OUT" "revoke,restore,deny,org" "alert list: the kinds"
assert_contains "$OUT" "slack" "alert list: the format"
ctl 0 "alert list --json" --json alert list
assert_not_contains "$OUT" "$SECRET" "alert list --json: no secret"
assert_not_contains "$(cat "$T/midd.log")" "$SECRET" "midd's log: no secret"
recv_start

# 3. A revoke: signed JSON, the event ID in the header and the body; the
# slack hook gets a line of text.
r=$(api POST /api/v1/devices/register "$ORG_KEY" '{"deviceId":"test:e2e:alerts:02"}')
assert_contains "$r" "200 " "register device 2"
device_revoke "test:e2e:alerts:02"
row=$(wait_got revoke test:e2e:alerts:02)
IFS='|' read -r ok hid bid body <<<"$row"
assert_eq True "$ok" "revoke alert: the signature verifies"
[[ $hid =~ ^$UUID_RE$ ]] || fail "revoke alert: X-Midd-Event-Id is not a UUID: $hid"
assert_eq "$hid" "$bid" "revoke alert: the header names the body's event_id"
assert_contains "$body" '"org": "' "revoke alert: the org"
assert_contains "$body" '"code": "OK"' "revoke alert: the detail's code"
assert_contains "$body" '"route": "revoke"' "revoke alert: the detail's route"
row=$(wait_got revoke test:e2e:alerts:02 /slack)
assert_eq True "${row%%|*}" "slack alert: the signature verifies"
assert_contains "$row" '{"text": "midd: revoke of device test:e2e:alerts:02' "slack alert: the text"
device_restore "test:e2e:alerts:02"
row=$(wait_got restore test:e2e:alerts:02)
assert_eq True "${row%%|*}" "restore alert: the signature verifies"

# 4. A policy kill by the shim: its report arrives as a deny alert.
cat >"$T/policy.json" <<EOF2
{"version": 1, "default": "validate", "rules": [
  {"on": "fs", "op": ["delete"], "path": "$T/keep/**", "action": "deny"}
]}
EOF2
mkdir -p "$T/keep"
: >"$T/keep/precious"
LD_PRELOAD=$PRELOAD MIDSHIM_POLICY=$T/policy.json bash -c 'echo $$ >"$1/pid"; exec rm -f "$1/keep/precious"' _ "$T" >"$T/out" 2>"$T/err" </dev/null &
wait $! && RC=0 || RC=$?
assert_eq 137 "$RC" "policy kill: exit status"
pid=$(cat "$T/pid")
row=$(wait_got deny test:e2e:alerts:01)
IFS='|' read -r ok hid bid body <<<"$row"
assert_eq True "$ok" "deny alert: the signature verifies"
assert_contains "$body" '"code": "POLICY_DENY"' "deny alert: the event"
assert_contains "$body" "\"pid\": $pid" "deny alert: the pid"
assert_contains "$body" '"program": "rm"' "deny alert: the program"

# 5. The org switch.
ctl 0 "org disable" org disable
ctl 0 "org enable" org enable
row=$(wait_got org -)
assert_eq True "${row%%|*}" "org alert: the signature verifies"

# 6. Receiver down, a revoke, midd killed with SIGKILL and started again,
# receiver back: the revoke still arrives, under one event ID.
recv_stop
r=$(api POST /api/v1/devices/register "$ORG_KEY" '{"deviceId":"test:e2e:alerts:03"}')
device_revoke "test:e2e:alerts:03"
for _ in $(seq 1 100); do
	ctl 0 "alert status" --json alert status
	[[ $OUT == *'"last_error":"'* && $OUT != *'"pending":0,'*'"pending":0,'* ]] && break
	sleep 0.1
done
assert_contains "$OUT" '"last_error":"' "receiver down: a failed try is shown"
ctl 0 "alert status" alert status
assert_contains "$OUT" "LAST ERROR" "alert status: the table"
m=$(curl -fsS "$MIDSHIM_URL/metrics")
assert_contains "$m" "midd_alert_queue_events" "/metrics: the queue depth"
assert_contains "$m" "midd_alert_attempt_errors_total" "/metrics: failed tries"
[[ $m =~ midd_alert_attempt_errors_total\ [1-9] ]] || fail "/metrics: no failed try counted: $m"
midd_kill9
recv_start
midd_start
row=$(wait_got revoke test:e2e:alerts:03 /hook 90)
IFS='|' read -r ok hid bid body <<<"$row"
assert_eq True "$ok" "revoke across kill -9: the signature verifies"
assert_eq "$hid" "$bid" "revoke across kill -9: one event ID"
row=$(wait_got revoke test:e2e:alerts:03 /slack 90)
# Every post was signed right, and every repeat carries its first ID.
"$PY" - "$T/recv.log" <<'PY' || fail "receiver log: $(cat "$T/recv.log")"
import json, sys
seen = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["sig_ok"], r
    b = r["body"]
    if r["path"] == "/hook":
        assert r["event_id"] == b["event_id"], r
        key = (b["kind"], b["device"], b["detail"]["request_id"])
        assert seen.setdefault(key, r["event_id"]) == r["event_id"], ("two IDs for one event", r)
PY
note "ok: $(wc -l <"$T/recv.log") posts, all signed; the revoke queued before kill -9 arrived after the restart"

# 7. Status after delivery, then remove.
for _ in $(seq 1 100); do
	ctl 0 "alert status" --json alert status
	[[ $OUT == *'"pending":0,'*'"pending":0,'* ]] && break
	sleep 0.1
done
assert_contains "$OUT" '"pending":0,' "alert status: nothing left pending"
[[ $OUT =~ \"delivered\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 5 ] ||
	fail "alert status: fewer than 5 deliveries counted: $OUT"
ctl 0 "alert remove" alert remove 2
ctl 1 "alert remove again" alert remove 2
assert_contains "$ERR" "NOT_FOUND" "alert remove of a removed hook"
ctl 0 "alert list" alert list
assert_not_contains "$OUT" "/slack" "alert list after remove"
# Both changes are in the audit trail, without the secret or the path.
for _ in $(seq 1 50); do
	r=$(api GET "/api/v1/audit?limit=1000" "$ADMIN_KEY")
	[[ $r == *'"route":"alert/remove"'* ]] && break
	sleep 0.1
done
assert_contains "$r" '"route":"alert/add","decision":"added"' "audit: the webhook added"
assert_contains "$r" '"host":"localhost:'"$RECV_PORT"'"' "audit: the webhook's host"
assert_contains "$r" '"route":"alert/remove","decision":"removed"' "audit: the webhook removed"
assert_not_contains "$r" "$SECRET" "audit: no secret"
assert_not_contains "$r" "/slack" "audit: no URL path"
midd_stop
