#!/bin/bash
# SPDX-License-Identifier: MIT
# A rollout that produces a policy: a real bash job runs in audit mode
# under a policy that denies everything; `midshim policy suggest` turns
# its audit log into a policy that `policy check` accepts, under which
# `midshim explain` denies none of the logged events, and under which the
# same job then runs in enforce mode with no denial. The suggestion is no
# allow-all: the job changed to write elsewhere is stopped.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:policy-suggest:01"
MS=$BIN/midshim
W=$T/work
mkdir -p "$W"
echo '{"version": 1, "default": "deny"}' >"$T/deny.json"
cat >"$T/job.sh" <<'SH'
#!/bin/bash
# A nightly job: a few reports in one directory, a log, a scratch file,
# two programs, and a call to a web service.
set -e
W=$1
mkdir -p "$W/out"
for n in a b c d; do echo "report $n" >"$W/out/$n.txt"; done
echo "ran $(date +%s)" >>"$W/job.log"
sort "$W/out/a.txt" "$W/out/b.txt" >"$W/sorted.txt"
echo tmp >"$W/scratch" && rm -f "$W/scratch"
curl -fsS --max-time 5 "$URL/healthz" >/dev/null
echo done
SH
chmod +x "$T/job.sh"
export URL=$MIDSHIM_URL

job() { # extra-run-options...
	set +e
	"$MS" run "$@" -- "$T/job.sh" "$W" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	set -e
}

job --audit --policy "$T/deny.json" --audit-log "$T/audit.jsonl"
assert_eq 0 "$RC" "the job in audit mode; stderr: $(head -c 800 "$T/err")"
assert_file_contains "$T/audit.jsonl" '"decision":"would_deny"' "audit mode logged would-denies"
n=$(wc -l <"$T/audit.jsonl")
note "audit run: $n records"

set +e
"$MS" policy suggest -o "$T/suggested.json" "$T/audit.jsonl" 2>"$T/suggest.err"
rc=$?
set -e
assert_eq 0 "$rc" "policy suggest: $(cat "$T/suggest.err")"
assert_file_contains "$T/suggest.err" "replayed: 0 denied" "suggest checks its own result"
"$MS" policy check "$T/suggested.json" >"$T/check.out" || fail "policy check: $(cat "$T/check.out")"
"$PY" - "$T/suggested.json" "$W" <<'PY' || fail "the suggested policy: $(cat "$T/suggested.json")"
import json, sys
p = json.load(open(sys.argv[1])); w = sys.argv[2]
assert p["default"] == "deny", p["default"]
rules = p["rules"]
assert all(r["action"] == "validate" for r in rules), "validate by default"
assert all(r["comment"].startswith("evidence: ") for r in rules), "each rule names its evidence"
paths = [x for r in rules if r["on"] in ("write", "fs") for x in r.get("path", [])]
# Four reports in one directory fold into a directory glob, and so do the
# log, the sorted file and the scratch file; the job's stdout, alone in
# its directory, stays exact.
assert w + "/out/*" in paths and w + "/*" in paths, paths
assert not any(x.startswith(w + "/out/") and x != w + "/out/*" for x in paths), paths
assert w[:-len("/work")] + "/out" in paths, paths
execs = [x for r in rules if r["on"] == "exec" for x in r["path"]]
assert any(x.endswith("/sort") for x in execs) and any(x.endswith("/curl") for x in execs), execs
conn = [r for r in rules if r["on"] == "connect" and r.get("addr") == "127.0.0.1"]
assert conn, "a rule for the service's address"
PY

# Replay every logged event through explain: none is denied.
"$PY" - "$MS" "$T/suggested.json" "$T/audit.jsonl" <<'PY' || fail "explain replay (above)"
import json, subprocess, sys
ms, pol, log = sys.argv[1:4]
n = 0
for line in open(log):
    r = json.loads(line)
    k = r["kind"]
    if k in ("start", "fork"):
        continue
    if k == "exec":
        ev = ["exec", r["path"]]
    elif k == "fs":
        ev = ["fs", r["op"], r["path"]] + ([r["path2"]] if "path2" in r else [])
    elif k == "write":
        ev = ["write", r.get("path", "fd"), r["fd"]]
    elif "path" in r:
        ev = [k, "unix:" + r["path"], "0"]
    else:
        ev = [k, r["addr"], str(r["port"])] + ([r["host"]] if "host" in r else [])
    out = subprocess.run([ms, "explain", "--policy", pol] + ev, capture_output=True, text=True)
    if out.returncode != 0 or out.stdout.split("\n")[0] == "deny":
        print("FAIL: explain %s: %s %s" % (ev, out.stdout, out.stderr), file=sys.stderr)
        sys.exit(1)
    n += 1
print("# explain: %d events replayed, none denied" % n)
PY

# The same job, enforce mode, the suggested policy: no denial at all.
rm -f "$T/audit2.jsonl"
job --policy "$T/suggested.json" --audit-log "$T/audit2.jsonl"
assert_eq 0 "$RC" "the job under the suggested policy; stderr: $(head -c 800 "$T/err")"
assert_contains "$(cat "$T/out")" "done" "the job ran to its end"
assert_not_contains "$(cat "$T/err")" "denied" "no denial under the suggested policy"
[ ! -s "$T/audit2.jsonl" ] || fail "denials under the suggested policy: $(cat "$T/audit2.jsonl")"

# Not an allow-all: a write the audit run never made is stopped.
sed -i 's#>>"$W/job.log"#>>"$W/../elsewhere.log"#' "$T/job.sh"
job --policy "$T/suggested.json"
assert_eq 137 "$RC" "a new write target under the suggested policy"
assert_file_contains "$T/err" "code POLICY_DENY" "denied by the policy"

# Bad input is reported with its file and line.
printf '{"kind":"fs","op":"delete","path":"/x"}\nnot json\n' >"$T/bad.jsonl"
set +e
"$MS" policy suggest "$T/bad.jsonl" >/dev/null 2>"$T/suggest.err"
rc=$?
set -e
assert_eq 1 "$rc" "a log with a bad line"
assert_file_contains "$T/suggest.err" "$T/bad.jsonl:2: not a JSON object" "the bad line named"
note "ok: audit run -> policy suggest -> check -> explain replay -> enforce run"
