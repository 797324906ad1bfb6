#!/bin/bash
# SPDX-License-Identifier: MIT
# Revoke to halt: a gated process writes a file as fast as it can; the
# device is revoked; we time from the moment the revoke's reply arrives
# to the moment the process is dead (reaped by `wait`). With an allow
# cached for TTL ms, the gate must stop it within TTL plus one validate.
# The process runs with MIDSHIM_PUSH=off, so that the gate stops it.
#
#   bench/halt.sh TTL_MS REPS
#
# Needs BIN (build dir), MIDD_PORT, KEYS (dir with org.key), DEVICE and
# ADMIN_KEY_FILE (default KEYS/../admin/admin.key, where midd init
# --write-keys puts it) in the environment; run.sh sets them. Each
# repetition waits a random part of TTL before the revoke, so the revoke
# falls anywhere in the cache's lifetime, and restores the device after.
# Prints one line per repetition ("halt ttl T rep I ms X") and a summary
# "halt ttl T reps N median X max Y" (ms). Exit 1 when a process was not
# killed or did not die within TTL + 2 s.
set -euo pipefail

TTL=${1:?usage: halt.sh TTL_MS REPS}
REPS=${2:?usage: halt.sh TTL_MS REPS}
: "${BIN:?}" "${MIDD_PORT:?}" "${KEYS:?}" "${DEVICE:?}"
[ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ] || { echo "halt.sh: REPS must be 1..50" >&2; exit 2; }
[ "$TTL" -ge 1 ] && [ "$TTL" -le 30000 ] || { echo "halt.sh: TTL_MS must be 1..30000" >&2; exit 2; }
ADMIN_KEY=$(cat "${ADMIN_KEY_FILE:-$KEYS/../admin/admin.key}")
W=$(mktemp -d "${TMPDIR:-/tmp}/midshim-halt.XXXXXX")
VICTIM=
cleanup() {
	[ -z "$VICTIM" ] || kill -KILL "$VICTIM" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

# POST with the admin key over a raw connection, so the time of the
# reply is taken in this shell and not after a client program's exit.
# Sets CODE (the status) and REPLY_AT (when the status line came).
admin_post() { # path
	local body="{\"deviceId\":\"$DEVICE\"}" line
	CODE=0
	exec 3<>"/dev/tcp/127.0.0.1/$MIDD_PORT"
	printf 'POST %s HTTP/1.1\r\nHost: midd\r\nx-admin-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "$ADMIN_KEY" "${#body}" "$body" >&3
	read -r -t 5 line <&3
	REPLY_AT=$EPOCHREALTIME
	cat <&3 >/dev/null
	exec 3<&-
	line=${line#HTTP/1.? }
	CODE=${line%% *}
}

restore() {
	admin_post /api/v1/devices/unrevoke
	[ "$CODE" = 200 ] || { echo "halt.sh: restore answered $CODE" >&2; exit 1; }
}

results=()
for rep in $(seq 1 "$REPS"); do
	# Push off: this row measures the gate at the next side effect; the
	# push, which kills at once, has its own row (halt_idle.py).
	LD_PRELOAD=$BIN/libmidshim.so MIDSHIM_TTL_MS=$TTL MIDSHIM_DEVICE_ID=$DEVICE MIDSHIM_PUSH=off \
		"$BIN/bench/hotpath" busy 30 "$W" >"$W/out" 2>"$W/err" </dev/null &
	VICTIM=$!
	delay=$((RANDOM % TTL))
	for _ in $(seq 1 500); do
		grep -q ready "$W/out" 2>/dev/null && break
		kill -0 "$VICTIM" 2>/dev/null || break
		sleep 0.01
	done
	if ! grep -q ready "$W/out"; then
		echo "halt.sh: victim never got ready (wchan $(cat "/proc/$VICTIM/wchan" 2>/dev/null)," \
			"state $(awk '/^State/ { print $2 }' "/proc/$VICTIM/status" 2>/dev/null)): $(cat "$W/err")" >&2
		exit 1
	fi
	# A watchdog: a victim that outlives the revoke by TTL + 2 s fails
	# the benchmark. Started now so no fork sits between the two clocks.
	(sleep $((delay / 1000 + (TTL + 2000) / 1000 + 1)); kill -KILL "$VICTIM" 2>/dev/null && touch "$W/overdue") &
	dog=$!
	# Land the revoke anywhere in the cached allow's lifetime.
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	admin_post /api/v1/devices/revoke
	t0=${REPLY_AT/./}
	[ "$CODE" = 200 ] || { echo "halt.sh: revoke answered $CODE" >&2; exit 1; }
	set +e
	wait "$VICTIM"
	rc=$?
	t1=${EPOCHREALTIME/./}
	set -e
	VICTIM=
	kill "$dog" 2>/dev/null || true
	wait "$dog" 2>/dev/null || true
	restore
	if [ -e "$W/overdue" ] || [ "$rc" -ne 137 ] || ! grep -q DEVICE_REVOKED "$W/err"; then
		echo "halt.sh: rep $rep: exit $rc, expected a kill for DEVICE_REVOKED: $(cat "$W/err")" >&2
		exit 1
	fi
	ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
	echo "halt ttl $TTL rep $rep ms $ms"
	results+=("$ms")
done
printf '%s\n' "${results[@]}" | sort -g | awk -v ttl="$TTL" '
	{ v[NR] = $1 }
	END { printf "halt ttl %d reps %d median %.3f max %.3f\n", ttl, NR,
		(NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[NR] }'
