#!/bin/bash
# SPDX-License-Identifier: MIT
# midctl audit --since TIME (RFC 3339 or how long ago) shows the entries
# since then, oldest first, paging back past midd's 1,000-row pages;
# --follow then prints each new entry once, in order, as midd records it,
# and stops cleanly on SIGINT and when its reader goes away.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
OLD=since:test:old:01
register "$OLD"
sleep 1.1
MARK=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.1
DEV=since:test:new:01
register "$DEV"
# 1,050 rows after the mark: --since must page back past the first page.
validate_many "$DEV" 1050
# midd writes validate rows in batches (about every 100 ms): wait, at
# most 10 s, until all of them are in the trail.
for _ in $(seq 1 100); do
	midctl_expect 0 "audit --since RFC 3339" --json audit --since "$MARK"
	[ "$(wc -l <"$T/midctl.out")" -ge 1051 ] && break
	sleep 0.1
done
"$PY" - "$T/midctl.out" "$MARK" "$DEV" <<'PY' || fail "audit --since (above)"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mark, dev = sys.argv[2], sys.argv[3]
assert len(rows) == 1051, "1 register and 1050 validates since the mark, got %d" % len(rows)
assert all(r["deviceId"] == dev for r in rows), "nothing from before the mark"
assert all(r["time"] >= mark for r in rows)
assert [r["time"] for r in rows] == sorted(r["time"] for r in rows), "oldest first"
assert rows[0]["route"] == "register"
PY
midctl_expect 0 "audit --since 1h" audit --since 1h
n=$(grep -c "$OLD" "$T/midctl.out" || true)
assert_eq 1 "$n" "--since 1h shows the register from before the mark"
midctl_expect 0 "audit --since 5m --limit 3" audit --since 5m --limit 3
assert_eq 3 "$(wc -l <"$T/midctl.out")" "--limit caps --since"
midctl_expect 2 "bad --since" audit --since yesterday
assert_contains "$ERR" "--since wants a time" "the usage error"
midctl_expect 2 "--since with --before" audit --since 1h --before 1.1
midctl_expect 2 "--follow on list" list --follow

# --follow: the last two entries, then each new one as it comes.
"$BIN/midctl" --json audit --follow --limit 2 >"$T/follow.out" 2>"$T/follow.err" &
FPID=$!
on_exit "kill $FPID 2>/dev/null"
for _ in $(seq 1 100); do [ "$(wc -l <"$T/follow.out")" -ge 2 ] && break; sleep 0.05; done
assert_eq 2 "$(wc -l <"$T/follow.out")" "--follow starts with --limit entries"
for i in 1 2 3; do register "since:test:follow:0$i"; done
# Polls are 1 s apart: 3 s is the poll, the call and a loaded machine's slack.
for _ in $(seq 1 60); do [ "$(wc -l <"$T/follow.out")" -ge 5 ] && break; sleep 0.05; done
sleep 1.2 # one more poll: nothing may be printed twice
kill -INT "$FPID"
rc=0
wait "$FPID" || rc=$?
assert_eq 0 "$rc" "--follow exits 0 on SIGINT; stderr: $(cat "$T/follow.err")"
"$PY" - "$T/follow.out" <<'PY' || fail "--follow output: $(cat "$T/follow.out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
new = [r["deviceId"] for r in rows[2:]]
assert new == ["since:test:follow:01", "since:test:follow:02", "since:test:follow:03"], new
assert len(rows) == 5, len(rows)
PY

# A reader that goes away ends it too (SIGPIPE is no crash).
set +e
timeout 10 "$BIN/midctl" audit --follow --limit 50 2>"$T/pipe.err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
set -e
assert_eq 0 "$rc" "--follow into a closed pipe; stderr: $(cat "$T/pipe.err")"
note "ok: audit --since, --follow"
