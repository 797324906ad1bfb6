#!/bin/bash
# SPDX-License-Identifier: MIT
# What a gated start costs: a child that inherits its parent's fresh allow
# asks nobody, so it maps no libcjson and opens no connection, yet it is
# gated (its next side effect after the allow runs out asks midd). A
# process that does validate loads libcjson then, on first use. Such a
# child reads the org key only at its first call to midd, so a key file
# gone bad meanwhile stops it then, and not before.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:light:01"
export MIDSHIM_TTL_MS=10000

# The parent validates at start; its child (sleep) inherits the allow.
LD_PRELOAD="$PRELOAD" bash -c 'sleep 3 & echo $! > "$1"/child; echo $$ > "$1"/parent; wait' _ "$T" &
BG=$!
on_exit "kill $BG 2>/dev/null"
for _ in $(seq 100); do
	[ -s "$T/child" ] && [ -s "$T/parent" ] && break
	sleep 0.05
done
sleep 0.3
child=$(cat "$T/child") parent=$(cat "$T/parent")
cmaps=$(cat "/proc/$child/maps")
pmaps=$(cat "/proc/$parent/maps")
assert_contains "$cmaps" "libmidshim.so" "the child is gated"
assert_not_contains "$cmaps" "libcjson" "a child within its parent's TTL maps no libcjson"
assert_contains "$pmaps" "libcjson" "the parent, which validated, loaded libcjson"
# Only the parent talked to midd: the child has no socket open.
socks=$(find "/proc/$child/fd" -lname 'socket:*' 2>/dev/null | wc -l)
assert_eq 0 "$socks" "the child opened no connection"
wait "$BG"
n=$(api GET "/api/v1/devices/list?deviceId=$MIDSHIM_DEVICE_ID" "$ORG_KEY" | cut -d' ' -f2- |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["validates"])')
[ "$n" -ge 1 ] || fail "midd counted no validate of $MIDSHIM_DEVICE_ID"

# The parent reads the key and validates, then spoils its key file. A
# child within the TTL (/bin/true) starts and ends without reading it; one
# that outlives the allow reads it at its first call (the write after its
# sleep) and is stopped with exit 126 and the configuration error.
cp "$T/keys/org.key" "$T/keys/light.key"
MIDSHIM_ORG_KEY_FILE=$T/keys/light.key MIDSHIM_TTL_MS=5000 LD_PRELOAD="$PRELOAD" bash -c '
	echo "not a key" >"$1/keys/light.key"
	/bin/true || { echo "true=$?" >"$1/light.out"; exit 0; }
	bash -c "sleep 6; echo late >\"\$1/late\"" _ "$1"
	echo "child=$?" >"$1/light.out"' _ "$T" 2>"$T/light.err"
assert_eq "child=126" "$(cat "$T/light.out")" "a child on an inherited allow, at its first call with a bad key"
assert_absent "$T/late" "the write of the child whose key went bad"
assert_file_contains "$T/light.err" "configuration error: MIDSHIM_ORG_KEY_FILE=$T/keys/light.key" \
	"the line saying why"
echo ok
