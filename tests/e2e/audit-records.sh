#!/bin/bash
# SPDX-License-Identifier: MIT
# Structured audit records: each denial is one JSON line in
# MIDSHIM_AUDIT_LOG with kind, op, path, addr, port, host, exe, argv0,
# pid, rule (or "default"), code and decision; an event repeated in a loop
# is written once and then counted ("repeat": true, "count": N), also when
# more events than the table holds take turns; MIDSHIM_QUIET=1 silences
# the "would deny" lines of audit mode but not a denial that kills.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:audit-records:01"
listener_start "$T/listener.log"
export LISTEN_PORT
cat >"$T/p.json" <<JSON
{"version": 1, "default": "validate",
 "rules": [
  {"on": "fs", "op": "delete", "path": "$T/keep/*", "action": "deny"},
  {"on": "connect", "port": $LISTEN_PORT, "action": "deny"}]}
JSON
export MIDSHIM_POLICY=$T/p.json MIDSHIM_AUDIT_LOG=$T/audit.jsonl MIDSHIM_MODE=audit
mkdir -p "$T/keep"
LOOP='
import os, socket, sys
d = sys.argv[1]
for i in range(50):
    try: os.unlink(d + "/same")
    except OSError: pass
for i in range(3):
    for k in range(40):
        try: os.unlink("%s/f%02d" % (d, k))
        except OSError: pass
s = socket.create_connection(("localhost", int(os.environ["LISTEN_PORT"])), 5)
s.close()
'
gated "$PY" -c "$LOOP" "$T/keep"
assert_eq 0 "$RC" "the audit-mode loop ran to its end; stderr: $(head -c 600 "$T/err")"

# Check the records with a JSON parser, not with patterns.
"$PY" - "$T/audit.jsonl" "$T/keep" "$LISTEN_PORT" "$MIDSHIM_DEVICE_ID" <<'PY' || fail "audit records (above)"
import json, sys
log, keep, port, dev = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
recs = [json.loads(l) for l in open(log)]
def fail(m):
    print("FAIL:", m, file=sys.stderr)
    for r in recs[:5]: print(r, file=sys.stderr)
    sys.exit(1)
need = {"time", "pid", "device", "mode", "decision", "event", "kind", "code", "request_id",
        "rule", "action", "exe", "argv0", "count", "target"}
for r in recs:
    if need - r.keys(): fail("missing %s in %s" % (need - r.keys(), r))
    if r["decision"] != "would_deny" or r["mode"] != "audit" or r["device"] != dev:
        fail("decision/mode/device: %s" % r)
    if not r["exe"].startswith("/usr/bin/python3") or r["argv0"] != "/usr/bin/python3":
        fail("exe/argv0: %s" % r)
same = [r for r in recs if r.get("path") == keep + "/same"]
if len(same) != 2 or same[0]["count"] != 1 or "repeat" in same[0] or \
   same[1]["count"] != 49 or same[1].get("repeat") is not True:
    fail("50 deletes of one file: want a line with count 1 and a repeat line with 49: %s" % same)
r = same[0]
if (r["kind"], r["op"], r["event"], r["code"], r["rule"]) != ("fs", "delete", "fs delete", "POLICY_DENY", 1):
    fail("fields of the delete: %s" % r)
# 40 files deleted 3 times each, round-robin: more than the table's 16
# slots, so counts are written as slots are reused; none is lost.
for k in range(40):
    p = "%s/f%02d" % (keep, k)
    n = sum(x["count"] for x in recs if x.get("path") == p)
    if n != 3: fail("%s: counts sum to %d, want 3" % (p, n))
c = [x for x in recs if x["kind"] == "connect"]
if len(c) != 1: fail("one connect record, got %s" % c)
c = c[0]
if c["port"] != port or c["addr"] not in ("127.0.0.1", "::1") or c["host"] != "localhost" or \
   c["rule"] != 2 or c["count"] != 1:
    fail("connect record: %s" % c)
if len(recs) > 2 + 40 * 3 + 1 + 2:
    fail("%d lines for 171 events: repeats were written, not counted" % len(recs))
print("# %d records for 171 events" % len(recs))
PY
n=$(grep -c "would deny fs delete $T/keep/same " "$T/err" || true)
assert_eq 2 "$n" "stderr: one line for the first delete and one with its repeat count"
assert_file_contains "$T/err" "(repeated 49 more times)" "the repeat count on stderr"

# --quiet: no would-deny line on stderr, the audit log still gets them.
: >"$T/audit.jsonl"
MIDSHIM_QUIET=1 gated "$PY" -c "$LOOP" "$T/keep"
assert_eq 0 "$RC" "quiet loop"
assert_not_contains "$(cat "$T/err")" "would deny" "MIDSHIM_QUIET=1 stderr"
assert_file_contains "$T/audit.jsonl" "\"path\":\"$T/keep/same\"" "quiet still writes the audit log"
# The launcher's --quiet is the same setting (the launcher itself runs
# ungated: a gated one would hand its child only its own settings).
set +e
MIDSHIM_MODE=enforce "$BIN/midshim" run --quiet --audit -- "$PY" -c "$LOOP" "$T/keep" \
	>"$T/out" 2>"$T/err" </dev/null
RC=$?
set -e
assert_eq 0 "$RC" "midshim run --quiet --audit; stderr: $(head -c 600 "$T/err")"
assert_file_contains "$T/audit.jsonl" '"argv0":"' "midshim run --quiet still writes the audit log"
assert_not_contains "$(cat "$T/err")" "would deny" "midshim run --quiet stderr"

# A denial that kills keeps its line under --quiet.
: >"$T/audit.jsonl"
MIDSHIM_QUIET=1 MIDSHIM_MODE=enforce gated "$PY" -c 'import os,sys; os.unlink(sys.argv[1] + "/same")' "$T/keep"
assert_eq 137 "$RC" "enforce mode kills"
assert_file_contains "$T/err" "denied fs delete $T/keep/same" "the kill's line under --quiet"
assert_file_contains "$T/audit.jsonl" '"decision":"deny"' "the kill's record"

# A bad value is a configuration error.
MIDSHIM_QUIET=yes gated /bin/true
assert_eq 126 "$RC" "MIDSHIM_QUIET=yes"
assert_file_contains "$T/err" "MIDSHIM_QUIET=yes: use 1 or 0" "the error names the setting"
note "ok: structured, counted audit records; quiet"
