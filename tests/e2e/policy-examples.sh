#!/bin/bash
# SPDX-License-Identifier: MIT
# The shipped example policies run a bash script the way cron does (no
# terminal, stdin from /dev/null, a session of its own): bash opens
# /dev/tty at its start, which is not a side effect to gate. And
# `midshim explain` normalises paths exactly as the runtime does: the same
# fs events go through both and get the same verdict.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:examples:01"
MS=$BIN/midshim
cat >"$T/job.sh" <<'SH'
#!/bin/bash
echo "report start"
n=$((6 * 7))
echo "$n" >"$OUT"
echo "report done" >&2
SH
for p in "$TOP"/policy/examples/*.json; do
	name=${p##*/}
	export OUT=$T/out-$name
	set +e
	setsid "$MS" run --policy "$p" --device "test:e2e:example:${name%.json}" -- \
		bash "$T/job.sh" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "$name: a bash job under cron conditions exited $rc: $(cat "$T/err")"
	assert_eq 42 "$(cat "$OUT")" "$name: the job's output"
	assert_not_contains "$(cat "$T/err")" "midshim:" "$name: no denial or warning"
	note "ok: $name runs a bash job like cron does"
done

# explain and the runtime on the same events.
mkdir -p "$T/x" "$T/keep"
cat >"$T/p.json" <<JSON
{ "version": 1, "default": "validate",
  "rules": [ { "on": "fs", "op": ["delete"], "path": ["$T/victim", "$T/keep/**"], "action": "deny" },
             { "on": "fs", "action": "allow" } ] }
JSON
n=0
for path in "$T/x/../victim" "$T/./victim" "$T//victim" "$T/x/../other" "x/../victim" \
	"./keep/../keep/f" "keep/./f" "x/../../${T##*/}/victim" "$T/x/../keep/../other"; do
	base=${path##*/}
	( cd "$T" && : >"$T/$base" && : >"$T/keep/f" )
	verdict=$(cd "$T" && "$MS" explain --policy "$T/p.json" fs delete "$path" | head -n 1)
	set +e
	(cd "$T" && MIDSHIM_POLICY=$T/p.json MIDSHIM_ON_DENY=errno LD_PRELOAD=$PRELOAD \
		rm -f "$path") 2>"$T/err"
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then runtime=allow; else runtime=deny; fi
	[ "$runtime" = allow ] || grep -q "midshim: denied fs delete" "$T/err" ||
		fail "$path: rm failed without a denial: $(cat "$T/err")"
	[ "$verdict" = "$runtime" ] ||
		fail "$path: explain says '$verdict', the runtime did '$runtime': $(cat "$T/err")"
	n=$((n + 1))
done
assert_eq 9 "$n" "events compared"
note "ok: explain and the runtime agree on $n paths"
