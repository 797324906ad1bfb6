#!/bin/bash
# SPDX-License-Identifier: MIT
# One configuration file: with midshim.conf naming the URL, key file,
# policy, TTL and audit log, `midshim run --device D -- CMD` is enough;
# the environment and flags win over it; relative paths (in the file, or
# given as flags) still work after the program changes directory; an
# audit log that cannot be written, a CA file that is missing or not a
# regular file, a missing --config file or an unknown key is a
# configuration error (126) before the program starts.
. "$(dirname "$0")/../lib.sh"
midd_start
midd_init
MS=$BIN/midshim
D=test:e2e:config:01
URL=$MIDSHIM_URL
unset MIDSHIM_URL MIDSHIM_ORG_KEY_FILE MIDSHIM_DEVICE_ID MIDSHIM_TTL_MS MIDSHIM_CONFIG
mkdir -p "$T/etc/keys" "$T/work/sub" "$T/log"
cp "$T/keys/org.key" "$T/etc/keys/org.key"
cat >"$T/etc/policy.json" <<'JSON'
{ "version": 1, "default": "validate",
  "rules": [ { "on": "fs", "op": ["delete"], "path": ["/tmp/**"], "action": "deny" } ] }
JSON
cat >"$T/etc/midshim.conf" <<EOF2
# the defaults of every gated program on this machine
url = $URL
org_key_file = keys/org.key
policy = policy.json
ttl_ms = 200
timeout_ms = 1500
audit_log = $T/log/midshim.jsonl
on_deny = kill
mode = enforce
EOF2

run() { # expected-rc what args...
	local want=$1 what=$2 rc
	shift 2
	set +e
	"$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "$what: exit $rc, expected $want; stderr: $(cat "$T/err")"
}

# Only --device: everything else comes from the file. The program
# changes directory first; the relative key and policy paths still work.
run 0 "config file" env MIDSHIM_CONFIG="$T/etc/midshim.conf" "$MS" run --device "$D" -- \
	bash -c 'cd / && touch "$0/made"' "$T/work"
assert_exists "$T/work/made" "the program ran"
# The policy from the file is in force: a delete under /tmp is denied,
# and the audit log from the file gets the line.
: >"$T/victim"
run 137 "policy from the file" env MIDSHIM_CONFIG="$T/etc/midshim.conf" "$MS" run --device "$D" -- \
	rm -f "$T/victim"
assert_exists "$T/victim" "the denied delete"
assert_file_contains "$T/log/midshim.jsonl" '"code":"POLICY_DENY"' "the audit log named in the file"
note "ok: midshim run --device D -- CMD with midshim.conf"

# --config wins over MIDSHIM_CONFIG; flags and the environment win over the file.
sed "s#^url = .*#url = http://127.0.0.1:1#" "$T/etc/midshim.conf" >"$T/etc/bad-url.conf"
run 0 "--config" env MIDSHIM_CONFIG=/nonexistent "$MS" run --config "$T/etc/midshim.conf" \
	--device "$D" -- /bin/true
run 137 "the file's unreachable URL" "$MS" run --config "$T/etc/bad-url.conf" --device "$D" \
	--timeout-ms 300 -- /bin/true
assert_contains "$(cat "$T/err")" "MIDSHIM_UNREACHABLE" "the URL came from the file"
run 0 "the environment wins" env MIDSHIM_URL="$URL" "$MS" run --config "$T/etc/bad-url.conf" \
	--device "$D" -- /bin/true
run 0 "a flag wins" "$MS" run --config "$T/etc/bad-url.conf" --url "$URL" --device "$D" -- /bin/true
note "ok: --config, environment and flags over the file"

# Relative flags, then a cd in the program.
cp "$T/etc/policy.json" "$T/work/p.json"
run 0 "relative --policy and --org-key-file" bash -c 'cd "$1" && exec "$2" run --url "$3" \
	--device "$4" --policy ./p.json --org-key-file ../etc/keys/org.key \
	--audit-log log.jsonl -- bash -c "cd / && /bin/true"' _ "$T/work" "$MS" "$URL" "$D"
assert_exists "$T/work/log.jsonl" "a relative --audit-log is made absolute"
note "ok: relative paths survive a cd in the program"

# Configuration errors, before the program starts.
run 126 "unwritable audit log" "$MS" run --config "$T/etc/midshim.conf" --device "$D" \
	--audit-log "$T/nodir/x.jsonl" -- touch "$T/work/never"
assert_contains "$(cat "$T/err")" "configuration error: audit log $T/nodir/x.jsonl: No such file or directory" \
	"unwritable audit log message"
run 126 "unwritable audit log, plain preload" env LD_PRELOAD="$PRELOAD" MIDSHIM_URL="$URL" \
	MIDSHIM_DEVICE_ID="$D" MIDSHIM_ORG_KEY_FILE="$T/keys/org.key" \
	MIDSHIM_AUDIT_LOG="$T/nodir/x.jsonl" touch "$T/work/never"
assert_contains "$(cat "$T/err")" "MIDSHIM_AUDIT_LOG=$T/nodir/x.jsonl" "plain preload names the variable"
assert_absent "$T/work/never" "nothing ran"
run 126 "missing --ca-file" "$MS" run --config "$T/etc/midshim.conf" --device "$D" \
	--ca-file "$T/none.pem" -- touch "$T/work/never"
assert_eq "midshim: configuration error: MIDSHIM_CA_FILE=$T/none.pem: No such file or directory; point it at a readable PEM file of CA certificates" \
	"$(cat "$T/err")" "missing --ca-file: one line naming the variable and the cause"
run 126 "a directory as MIDSHIM_CA_FILE, plain preload" env LD_PRELOAD="$PRELOAD" \
	MIDSHIM_URL="$URL" MIDSHIM_DEVICE_ID="$D" MIDSHIM_ORG_KEY_FILE="$T/keys/org.key" \
	MIDSHIM_CA_FILE="$T/etc" touch "$T/work/never"
assert_contains "$(cat "$T/err")" "MIDSHIM_CA_FILE=$T/etc: not a regular file" "directory CA file message"
assert_eq 1 "$(wc -l <"$T/err")" "directory CA file: one line"
assert_absent "$T/work/never" "nothing ran"
run 126 "missing --config" "$MS" run --config "$T/none.conf" --device "$D" -- /bin/true
assert_contains "$(cat "$T/err")" "configuration $T/none.conf: No such file" "missing file message"
printf 'url = %s\ncolour = blue\n' "$URL" >"$T/etc/typo.conf"
run 126 "unknown key" "$MS" run --config "$T/etc/typo.conf" --device "$D" -- /bin/true
assert_contains "$(cat "$T/err")" "typo.conf:2: unknown key 'colour'" "unknown key message"
note "ok: configuration errors"
