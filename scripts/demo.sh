#!/bin/bash
# SPDX-License-Identifier: MIT
# `make demo`: a runaway program, an operator's revoke, and the program's
# death at its next side effect.
#
# It starts a real midd on 127.0.0.1 with a throwaway database, registers
# a device, and runs an unmodified bash loop under `midshim run` that calls
# a local HTTP endpoint and appends a line to a file about every 200 ms.
# After about 3 s it revokes the device with midctl and shows what
# happened: the program's last lines, the revoke, the shim's denial line,
# the exit status, the time from the revoke's reply to the death, and that
# the file stopped growing. Then it restores the device and shows the same
# program working again. Last, it runs `sleep 600` under `midshim run`
# with push on and a 30 s TTL, an idle program that meets no gate, and
# shows push revocation stopping it at the revoke (not interactive only).
#
# Exits 0 only when the program died by SIGKILL within TTL + 1 s of the
# revoke's reply, its denial line carries DEVICE_REVOKED and a UUID
# request_id, and nothing was appended after its death.
#
# Environment:
#   B                  build directory (default: build)
#   DEMO_DIR           working directory, wiped at start (default: var/demo)
#   DEMO_PORT          port for midd (default: 7070 if free, else any free one)
#   DEMO_INTERACTIVE=1 you revoke, from a second terminal with midctl console,
#                      or from the browser console at URL/console
#   DEMO_PRELOAD       libraries to preload before the shim (sanitizer builds)
set -uo pipefail

# shellcheck disable=SC2034 # read by demo.lib
DEMO_NAME=demo
# shellcheck source=scripts/demo.lib
. "$(dirname "${BASH_SOURCE[0]}")/demo.lib"
INTERACTIVE=${DEMO_INTERACTIVE:-0}
[ "$INTERACTIVE" = 0 ] && INTERACTIVE=
DEVICE=demo:local:runaway:01
TTL_MS=500
RUN_S=3               # the program runs this long before the revoke
DEATH_LIMIT_MS=$((TTL_MS + 1000))
INTERACTIVE_LIMIT_S=600
UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

lines() { if [ -f "$LOG" ]; then wc -l <"$LOG"; else echo 0; fi; }
now_ns() { date +%s%N; }
clock() { # ns since the epoch -> HH:MM:SS.mmm
	printf '%(%H:%M:%S)T.%03d' "$(($1 / 1000000000))" "$((($1 / 1000000) % 1000))"
}

# ---- processes: each in its own process group, all stopped on exit ---------
PROG_PID='' TIMER_PID='' PAUSE_PID=''
# A sleep the shell waits for with `wait`, so a signal's trap runs at once
# rather than when the sleep ends.
pause() {
	sleep "$1" &
	PAUSE_PID=$!
	wait "$PAUSE_PID" 2>/dev/null
	PAUSE_PID=''
}
stop_group() { # pid: TERM its group, then KILL what is left, and reap it
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	trap - INT TERM HUP EXIT
	[ -z "$PAUSE_PID" ] || kill "$PAUSE_PID" 2>/dev/null
	stop_group "$PROG_PID"
	stop_group "$TIMER_PID"
	stop_group "$MIDD_PID"
	PROG_PID='' TIMER_PID='' MIDD_PID=''
}
# shellcheck disable=SC2317 # called by the trap
interrupted() {
	printf '\n%sinterrupted:%s stopping midd and the program\n' "$C_BAD" "$C_0"
	cleanup
	exit "$1"
}
trap cleanup EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM
trap 'interrupted 129' HUP

# ---- preflight --------------------------------------------------------------
demo_preflight midd midctl midshim libmidshim.so
demo_dir
LOG=$D/out.log

printf '%smidshim demo%s: a runaway program, a revoke, and the program stops at its next side effect\n' \
	"$C_B" "$C_0"

# ---- 1. control plane -------------------------------------------------------
heading "control plane"
if [ -n "${DEMO_PORT:-}" ]; then
	demo_midd "$DEMO_PORT" fixed
elif ! (exec 3<>/dev/tcp/127.0.0.1/7070) 2>/dev/null; then
	demo_midd 7070
else
	demo_midd
fi
MIDCTL=("$BIN/midctl" --url "$URL" --admin-key-file "$ADMIN_KEY" --timeout-ms 3000)
say "midd listens on $URL (database $(rel "$D/midd.db"))"
say "org key   $(rel "$ORG_KEY")   for gated programs: register, validate"
say "admin key $(rel "$ADMIN_KEY")   for the operator: revoke, restore"
say "console   $URL/console   in a browser; log in with the admin key"
say "midctl below stands for: $(rel "$BIN/midctl") --url $URL --admin-key-file $(rel "$ADMIN_KEY")"
out=$("${MIDCTL[@]}" register "$DEVICE" 2>&1) || die "midctl register failed: $out"
cmdline "midctl register $DEVICE"
say "$out"

# ---- 2. the program ---------------------------------------------------------
# An ordinary bash loop, not written for midshim. It does its work in its
# own process, as a long-running agent or daemon does: builtins append to
# the file and bash's /dev/tcp talks to the endpoint. (A command it forked
# would be stopped too, but alone; the loop would go on and start the next.)
# Its stdin is a FIFO that never has input, so `read -t` is its pause.
cat >"$D/runaway.sh" <<'EOF'
#!/bin/bash
# Forever: ask a local HTTP endpoint, append a line to a file, pause 200 ms.
log=$1 port=$2 n=0
while :; do
	exec {web}<>"/dev/tcp/127.0.0.1/$port"
	printf 'GET /healthz HTTP/1.0\r\n\r\n' >&"$web"
	read -r -t 2 _ code _ <&"$web"
	exec {web}>&-
	t=$EPOCHREALTIME
	printf '%(%T)T.%.3s  tick %-3d  healthz %s\n' "${t%.*}" "${t#*.}" $((++n)) "$code" >>"$log"
	read -r -t 0.2 _
done
EOF
# Push is off here: this part shows the gate at the next side effect (a
# push would stop the program at the revoke itself, before it acts).
PROG=(env MIDSHIM_PUSH=off "$BIN/midshim" run --ttl-ms "$TTL_MS" --device "$DEVICE" --url "$URL"
	--org-key-file "$ORG_KEY" -- bash "$D/runaway.sh" "$LOG" "$PORT")

mkfifo "$D/idle" || die "cannot make the FIFO $D/idle"
exec {IDLE}<>"$D/idle"
start_program() { # stderr file
	if [ -n "${DEMO_PRELOAD:-}" ]; then
		LD_PRELOAD=$DEMO_PRELOAD setsid "${PROG[@]}" <&"$IDLE" >/dev/null 2>"$1" &
	else
		setsid "${PROG[@]}" <&"$IDLE" >/dev/null 2>"$1" &
	fi
	PROG_PID=$!
}
wait_lines() { # n seconds: until the file has n lines
	for _ in $(seq 1 $(($2 * 20))); do
		[ "$(lines)" -ge "$1" ] && return 0
		kill -0 "$PROG_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

heading "the program"
say "every ~200 ms: GET $URL/healthz, then append a line to $(rel "$LOG")"
sed -n '/^while/,/^done/{s/\t/  /g;p}' "$D/runaway.sh" | shown
cmdline "MIDSHIM_PUSH=off $(rel "$BIN/midshim") run --ttl-ms $TTL_MS --device $DEVICE \\"
printf '    %s        --url %s --org-key-file %s \\%s\n' "$C_DIM" "$URL" "$(rel "$ORG_KEY")" "$C_0"
printf '    %s        -- bash %s %s %s%s\n' "$C_DIM" "$(rel "$D/runaway.sh")" "$(rel "$LOG")" "$PORT" "$C_0"
start_program "$D/program.err"
wait_lines 1 5 || die "the program did not start working" "$D/program.err"
say "running as pid $PROG_PID; an allow from midd is cached for $TTL_MS ms (the TTL)"

# ---- 3. revoke --------------------------------------------------------------
REVOKE_NS='' REVOKE_SEEN=''
if [ -z "$INTERACTIVE" ]; then
	pause "$RUN_S"
	kill -0 "$PROG_PID" 2>/dev/null || die "the program ended before the revoke" "$D/program.err"
	say "after ${RUN_S} s, $(lines) lines; the last ones:"
	tail -n 3 "$LOG" | shown

	heading "revoke"
	cmdline "midctl revoke $DEVICE"
	out=$("${MIDCTL[@]}" revoke "$DEVICE" 2>&1)
	rc=$?
	REVOKE_NS=$(now_ns)
	[ "$rc" -eq 0 ] || die "midctl revoke failed (exit $rc): $out"
	say "$out"
	limit_s=$(((DEATH_LIMIT_MS + 2000) / 1000))
else
	heading "your turn"
	say "In a second terminal, run:"
	echo
	printf '      %s%s --url %s --admin-key-file %s console --device %s%s\n' "$C_B" \
		"$BIN/midctl" "$URL" "$ADMIN_KEY" "$DEVICE" "$C_0"
	echo
	say "and type 'revoke' (or 'disable' to stop the whole organisation)."
	say "Or revoke from the browser: open $URL/console, log in with the admin key"
	say "(the line in $(rel "$ADMIN_KEY")), and press Revoke next to $DEVICE;"
	say "its denial then shows in the console's audit trail as it happens."
	say "Waiting for the program to stop (at most $((INTERACTIVE_LIMIT_S / 60)) minutes; Ctrl-C ends the demo)."
	limit_s=$INTERACTIVE_LIMIT_S
fi

# ---- 4. wait for the death --------------------------------------------------
# A plain sleep is the deadline; whichever of the two ends first wakes us.
setsid sleep "$limit_s" </dev/null >/dev/null 2>&1 &
TIMER_PID=$!
# A one-second tick keeps a waiting terminal informed.
while :; do
	# A death between two turns (during a fork of our own) is reaped
	# before the next wait -n, which then would not see it.
	if ! kill -0 "$PROG_PID" 2>/dev/null; then
		DEATH_NS=$(now_ns)
		wait "$PROG_PID" 2>/dev/null
		rc=$?
		who=$PROG_PID
		break
	fi
	sleep 1 &
	PAUSE_PID=$!
	wait -n -p who "$PROG_PID" "$TIMER_PID" "$PAUSE_PID" 2>/dev/null
	rc=$?
	DEATH_NS=$(now_ns)
	[ "$who" = "$PAUSE_PID" ] || break
	if [ -n "$INTERACTIVE" ] && [ -t 1 ]; then
		printf '\r    %s%s lines in %s so far%s ' "$C_DIM" "$(lines)" "$(rel "$LOG")" "$C_0"
	fi
done
kill "$PAUSE_PID" 2>/dev/null
wait "$PAUSE_PID" 2>/dev/null
PAUSE_PID=''
[ -n "$INTERACTIVE" ] && [ -t 1 ] && printf '\r\e[K'
if [ -n "$INTERACTIVE" ] && [ "$who" = "$PROG_PID" ]; then
	# When the stop landed, from midd's audit trail (newest first): the
	# device's revoke or the org-wide disable.
	stop=$("${MIDCTL[@]}" audit --limit 200 2>/dev/null |
		awk -v d="$DEVICE" '($2 == d && $3 == "revoke") || $3 == "org/disable" { print; exit }')
	if [ -n "$stop" ]; then
		REVOKE_NS=$(date -d "${stop%% *}" +%s%N)
		REVOKE_SEEN=$(awk '{ print $3 }' <<<"$stop")
	fi
fi
if [ "$who" = "$TIMER_PID" ]; then
	TIMER_PID=''
	if [ -n "$INTERACTIVE" ]; then
		die "no revoke within $((INTERACTIVE_LIMIT_S / 60)) minutes; stopped the program"
	fi
	die "the program still runs $limit_s s after the revoke: the revoke did not stop it" "$D/program.err"
fi
stop_group "$TIMER_PID"
TIMER_PID=''
AT_DEATH=$(lines)
# The program had no children; anything left in its group is a fault.
left=$(pgrep -g "$PROG_PID" 2>/dev/null | tr '\n' ' ')
kill -KILL -- "-$PROG_PID" 2>/dev/null
PROG_PID=''

heading "the program stopped"
denial=$(grep 'midshim: denied' "$D/program.err" | tail -n 1)
if [ -n "$denial" ]; then
	say "its stderr, from the shim:"
	printf '      %s%s%s\n' "$C_B" "$denial" "$C_0"
else
	say "no denial line on its stderr; it said:"
	tail -n 3 "$D/program.err" | cut -c1-300 | shown
fi
rid=$(sed -n 's/.*, request_id \([0-9a-f-]*\)).*/\1/p' <<<"$denial")
if [ -n "$rid" ]; then
	trail=$("${MIDCTL[@]}" audit --device "$DEVICE" --limit 50 2>/dev/null | grep -F -- "$rid")
	if [ -n "$trail" ]; then
		say "midd's audit trail (midctl audit) has the same request_id:"
		shown <<<"$trail"
	fi
fi
if [ "$rc" -eq 137 ]; then
	say "exit status 137 (killed by SIGKILL)"
else
	say "exit status $rc"
fi
if [ -n "$REVOKE_NS" ]; then
	ms=$(((DEATH_NS - REVOKE_NS) / 1000000))
	if [ -n "$INTERACTIVE" ]; then
		say "midd's audit trail: $REVOKE_SEEN at $(clock "$REVOKE_NS"), program died at $(clock "$DEATH_NS"): ${ms} ms (TTL $TTL_MS ms)"
	else
		say "revoke replied at $(clock "$REVOKE_NS"), program died at $(clock "$DEATH_NS"): ${ms} ms (TTL $TTL_MS ms)"
	fi
fi
say "its last lines:"
tail -n 2 "$LOG" | shown
pause 1
AFTER=$(lines)
if [ "$AFTER" -eq "$AT_DEATH" ]; then
	say "$(rel "$LOG"): $AT_DEATH lines at its death, still $AFTER lines 1 s later"
else
	say "$(rel "$LOG"): $AT_DEATH lines at its death, but $AFTER lines 1 s later"
fi

# ---- verdict on the stop ----------------------------------------------------
problems=()
[ "$rc" -eq 137 ] || problems+=("the program ended with status $rc, not by SIGKILL (137)")
if [ -n "$INTERACTIVE" ]; then
	codes='DEVICE_REVOKED|ORG_DISABLED'
else
	codes='DEVICE_REVOKED'
fi
if [ -z "$denial" ]; then
	problems+=("the shim printed no denial line")
elif ! [[ $denial =~ code\ ($codes),\ request_id\ $UUID_RE ]]; then
	problems+=("the denial line lacks ${codes//|/ or } with a UUID request_id")
fi
[ "$AFTER" -eq "$AT_DEATH" ] || problems+=("$((AFTER - AT_DEATH)) lines were appended after the death")
[ -z "$left" ] || problems+=("processes of the program outlived it: $left")
if [ -n "$REVOKE_NS" ] && [ "$ms" -gt "$DEATH_LIMIT_MS" ]; then
	problems+=("it died ${ms} ms after the revoke, over TTL + 1 s ($DEATH_LIMIT_MS ms)")
fi
if [ -n "$INTERACTIVE" ] && [ -z "$REVOKE_SEEN" ] && [ -n "$denial" ]; then
	say "(no revoke or org disable in midd's audit trail; the denial line says why the program stopped)"
fi

# ---- 5. restore and run again -----------------------------------------------
heading "restore, and run the same program again"
if ! curl -fsS --max-time 1 "$URL/healthz" >/dev/null 2>&1; then
	problems+=("midd no longer answers on $URL")
	say "midd no longer answers: skipped"
else
	if [[ $denial == *ORG_DISABLED* ]]; then
		cmdline "midctl org enable"
		say "$("${MIDCTL[@]}" org enable 2>&1)"
	fi
	cmdline "midctl restore $DEVICE"
	if out=$("${MIDCTL[@]}" restore "$DEVICE" 2>&1); then
		say "$out"
	else
		# Not revoked (e.g. only the organisation was disabled).
		say "${out#midctl: }"
	fi
	before=$(lines)
	start_program "$D/program2.err"
	if wait_lines $((before + 3)) 5; then
		pause 1
		grown=$(lines)
		if kill -0 "$PROG_PID" 2>/dev/null; then
			say "it runs again: $(rel "$LOG") grew from $before to $grown lines"
			tail -n 2 "$LOG" | shown
		else
			problems+=("the program did not keep running after the restore")
		fi
	else
		problems+=("the program did not work after the restore (see $(rel "$D/program2.err"))")
		say "it did not work; its stderr ends:"
		tail -n 3 "$D/program2.err" | cut -c1-300 | shown
	fi
	stop_group "$PROG_PID"
	PROG_PID=''
	say "stopped it"
fi

# ---- 5. an idle program: push revocation ------------------------------------
# A program that does nothing meets no gate; with push on (the default),
# midshim run holds the device's channel and kills the tree at the revoke.
if [ -z "$INTERACTIVE" ] && curl -fsS --max-time 1 "$URL/healthz" >/dev/null 2>&1; then
	heading "an idle program, stopped by push revocation"
	cmdline "$(rel "$BIN/midshim") run --ttl-ms 30000 --device $DEVICE ... -- sleep 600"
	setsid "$BIN/midshim" run --ttl-ms 30000 --device "$DEVICE" --url "$URL" \
		--org-key-file "$ORG_KEY" -- sleep 600 </dev/null >/dev/null 2>"$D/idle.err" &
	PROG_PID=$!
	listed=''
	for _ in $(seq 1 100); do
		curl -fsS --max-time 1 -H "x-org-key: $(cat "$ORG_KEY")" \
			"$URL/api/v1/devices/list?deviceId=$DEVICE" 2>/dev/null | grep -q '"pid"' && listed=1 && break
		sleep 0.05
	done
	if [ -z "$listed" ]; then
		problems+=("the idle program's push channel never showed in midd (see $(rel "$D/idle.err"))")
	else
		say "asleep for 10 minutes with a 30 s TTL: no side effect, no gate to meet"
		cmdline "midctl revoke $DEVICE"
		say "$("${MIDCTL[@]}" revoke "$DEVICE" 2>&1)"
		t0=${EPOCHREALTIME/./}
		(sleep 2 && kill -KILL "$PROG_PID" 2>/dev/null && touch "$D/idle.overdue") &
		dog=$!
		wait "$PROG_PID" 2>/dev/null
		t1=${EPOCHREALTIME/./}
		kill "$dog" 2>/dev/null
		wait "$dog" 2>/dev/null
		PROG_PID=''
		if [ -e "$D/idle.overdue" ]; then
			problems+=("the idle program still ran 2 s after the revoke")
		else
			say "midd pushed the kill to the launcher, which killed its tree:"
			say "midshim run and its tree were gone $(((t1 - t0) / 1000)) ms after midctl revoke returned"
		fi
		"${MIDCTL[@]}" restore "$DEVICE" >/dev/null 2>&1
	fi
	[ -z "$PROG_PID" ] || { stop_group "$PROG_PID"; PROG_PID=''; }
fi
cleanup

echo
if [ ${#problems[@]} -eq 0 ]; then
	code=$(sed -n 's/.*, code \([A-Z_]*\),.*/\1/p' <<<"$denial")
	what=revoke
	[ "$code" = ORG_DISABLED ] && what="org disable"
	printf '%sPASS%s  killed by SIGKILL%s (%s), nothing written after\n' \
		"$C_OK" "$C_0" "${REVOKE_NS:+ ${ms} ms after the $what}" "$code"
	say "files: $(rel "$D")/ (out.log, program.err, midd.log)"
	exit 0
fi
printf '%sFAIL%s\n' "$C_BAD" "$C_0"
for p in "${problems[@]}"; do say "- $p"; done
exit 1
