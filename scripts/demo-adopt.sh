#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo-adopt`: a program that is already running, ungated, is put
# under the kill switch without a restart, and a revoke stops it.
#
# It starts a real midd on 127.0.0.1 with a throwaway database, starts a
# bash loop (with a setsid child) that appends a line to a file every
# 100 ms, adopts it with `midshim adopt`, shows it still working and
# `midctl status` naming the adopted PIDs, then revokes the device and
# shows every process of the tree gone, the time from the revoke's reply
# to the death, the keeper's line and the audit rows (ADOPT, KILLED).
#
# Exits 0 only when every process of the tree died within 1 s of the
# revoke's reply and the file stopped growing.
#
# Environment:
#   B         build directory (default: build)
#   DEMO_DIR  working directory, wiped at start (default: var/demo-adopt)
set -uo pipefail

# shellcheck disable=SC2034 # read by demo.lib
DEMO_NAME=demo-adopt
# shellcheck source=scripts/demo.lib
. "$(dirname "${BASH_SOURCE[0]}")/demo.lib"
DEVICE=demo:local:legacy:01
LIMIT_MS=1000

# any_alive PID...: one of them lives (a zombie does not count).
any_alive() {
	local p s
	for p in "$@"; do
		# builtins only: this runs every 2 ms
		read -r s 2>/dev/null <"/proc/$p/stat" || continue
		s=${s##*) }
		[ "${s:0:1}" = Z ] || return 0
	done
	return 1
}
tree_pids() { grep -lsz "^MIDSHIM_DEMO_TAG=$$\$" /proc/[0-9]*/environ 2>/dev/null | sed 's|/proc/\([0-9]*\)/environ|\1|' | tr '\n' ' '; }

PROG_PID=''
cleanup() {
	# shellcheck disable=SC2046 # one PID a word
	[ -z "$(tree_pids)" ] || kill -KILL $(tree_pids) 2>/dev/null
	[ -z "$MIDD_PID" ] || kill -TERM "$MIDD_PID" 2>/dev/null
}
trap cleanup EXIT

demo_preflight midd midctl midshim
demo_dir
LOG=$D/out.log

heading "control plane"
demo_midd
MIDCTL=("$BIN/midctl" --url "$URL" --admin-key-file "$ADMIN_KEY" --timeout-ms 3000)
"${MIDCTL[@]}" register "$DEVICE" >/dev/null || die "midctl register failed"
say "midd listens on $URL; device $DEVICE registered"

heading "a program that is already running, ungated"
MIDSHIM_DEMO_TAG=$$ setsid bash -c 'setsid sleep 600 & n=0; while :; do n=$((n + 1)); echo "line $n $(date +%T.%N)" >>"$1"; sleep 0.1; done' \
	_ "$LOG" </dev/null >/dev/null 2>&1 &
PROG_PID=$!
disown "$PROG_PID"
sleep 1
say "bash loop PID $PROG_PID (and its setsid child), $(wc -l <"$LOG") lines so far"

heading "adopt it"
cmdline "midshim adopt --device $DEVICE --url $URL --org-key-file keys/org.key $PROG_PID"
"$BIN/midshim" adopt --state-dir "$D/adopt" --device "$DEVICE" --url "$URL" \
	--org-key-file "$ORG_KEY" "$PROG_PID" 2>"$D/adopt.err" | sed 's/^/    /'
[ "${PIPESTATUS[0]}" -eq 0 ] || die "midshim adopt failed" "$D/adopt.err"
n=$(wc -l <"$LOG")
sleep 1
[ "$(wc -l <"$LOG")" -gt "$n" ] || die "the adopted program stopped working"
say "still working: $(wc -l <"$LOG") lines"
cmdline "midctl status $DEVICE"
"${MIDCTL[@]}" status "$DEVICE" | grep -E '^(device|state|adopted)' | shown

heading "revoke"
pids=$(tree_pids)
cmdline "midctl revoke $DEVICE"
out=$("${MIDCTL[@]}" revoke "$DEVICE" 2>&1) || die "midctl revoke failed: $out"
t0=${EPOCHREALTIME/./}
# shellcheck disable=SC2086 # one PID a word
while any_alive $pids && [ $(((${EPOCHREALTIME/./} - t0) / 1000)) -lt $((LIMIT_MS + 2000)) ]; do
	sleep 0.002
done
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
say "$out"
# shellcheck disable=SC2086
! any_alive $pids || die "still alive: $pids"
say "every process of the tree ($pids) was gone within $ms ms of the revoke's reply (polled every 2 ms)"
[ "$ms" -le "$LIMIT_MS" ] || die "that is over ${LIMIT_MS} ms"
n=$(wc -l <"$LOG")
sleep 0.5
[ "$(wc -l <"$LOG")" -eq "$n" ] || die "the file grew after the kill"
say "the file stopped at $n lines"
say "the keeper's log:"
grep -h "killed every process" "$D"/adopt/*.log | cut -c1-220 | shown
cmdline "midctl audit --device $DEVICE"
"${MIDCTL[@]}" audit --device "$DEVICE" 2>/dev/null | grep -E 'report|revoke|push' | cut -c1-160 |
	shown
printf '\ndemo-adopt: ok\n'
