#!/bin/bash
# SPDX-License-Identifier: MIT
# Durability: rounds of random revokes and unrevokes of a few devices,
# each round ended by kill -9 of midd at a random moment (right after an
# answer, or while a request is in flight). After each restart every
# acknowledged change is there: a device's listed state and its validate
# answer equal its last acknowledged state. A change whose request was cut
# off by the kill may or may not have landed; either state is accepted
# for it, and the state found becomes the known one.
# MIDSHIM_TEST_SEED repeats a run (the seed is printed).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/midd.lib"

SEED=${MIDSHIM_TEST_SEED:-$$}
RANDOM=$SEED
note "seed $SEED"
ROUNDS=20
# A bound on the whole run; under valgrind every midd start is slower.
BOUND=38
[ -n "${MIDSHIM_TEST_VALGRIND:-}" ] && BOUND=240
DEADLINE=$((SECONDS + BOUND))
midd_start
DEVS=(dur:test:a:01 dur:test:b:01 dur:test:c:01 dur:test:d:01 dur:test:e:01)
# want[i]: the states device i may be in; one word once it is known.
want=()
for i in "${!DEVS[@]}"; do
	register "${DEVS[$i]}"
	want[i]=active
done
acked=() # "round device state" for every acknowledged change
n_acked=0 n_cut=0 n_refused=0
inflight_res=() # curl's status for each request a kill was aimed at

# change I ACTION: POST ACTION for device I with curl; print curl's exit
# status and the HTTP status, and keep the body in $T/change.body.
change() {
	local rc=0 code
	code=$(curl -sS --max-time 5 -X POST -H "x-admin-key: $ADMIN_KEY" \
		-H 'content-type: application/json' -o "$T/change.body" -w '%{http_code}' \
		--data-binary "{\"deviceId\":\"${DEVS[$1]}\"}" \
		"$MIDSHIM_URL/api/v1/devices/$2" 2>/dev/null) || rc=$?
	echo "$rc ${code:-000}"
}

# record ROUND I ACTION "CURLRC HTTP": update what device I may be in.
record() {
	local round=$1 i=$2 state=active r
	read -r -a r <<<"$4"
	[ "$3" = revoke ] && state=revoked
	if [ "${r[0]}" = 0 ]; then
		assert_eq 200 "${r[1]}" "round $round: ${3} ${DEVS[$i]} (body: $(cat "$T/change.body"))"
		[[ $(cat "$T/change.body") =~ \"state\":\"([a-z]+)\" ]] ||
			fail "round $round: $3 answer has no state: $(cat "$T/change.body")"
		assert_eq "$state" "${BASH_REMATCH[1]}" "round $round: $3 answer"
		want[i]=$state
		acked+=("$round ${DEVS[$i]} $state")
		n_acked=$((n_acked + 1))
	elif [ "${r[0]}" = 7 ]; then
		# Connection refused: nothing reached midd.
		n_refused=$((n_refused + 1))
	else
		# Cut off by the kill: it may have landed.
		case " ${want[i]} " in *" $state "*) ;; *) want[i]="${want[i]} $state" ;; esac
		n_cut=$((n_cut + 1))
	fi
}

for round in $(seq 1 "$ROUNDS"); do
	[ "$SECONDS" -lt "$DEADLINE" ] || fail "round $round: over the time bound"
	n=$((RANDOM % 5 + 2))
	kill_at=$((RANDOM % n))
	inflight=$((round % 2))
	for j in $(seq 0 $((n - 1))); do
		i=$((RANDOM % ${#DEVS[@]}))
		act=revoke
		((RANDOM % 2)) && act=unrevoke
		if [ "$j" -eq "$kill_at" ] && [ "$inflight" -eq 1 ]; then
			# Kill while this request may be on its way: curl
			# starts, and midd dies 0-59 ms later, which is before,
			# during or after the request, as curl's start-up and
			# midd's answer vary.
			change "$i" "$act" >"$T/inflight.res" &
			cpid=$!
			sleep "0.0$(printf '%02d' $((RANDOM % 60)))"
			midd_kill9
			wait "$cpid" || true
			res=$(cat "$T/inflight.res")
			record "$round" "$i" "$act" "$res"
			inflight_res+=("${res%% *}")
			break
		fi
		record "$round" "$i" "$act" "$(change "$i" "$act")"
		if [ "$j" -eq "$kill_at" ]; then
			# Kill right after the answer.
			midd_kill9
			break
		fi
	done
	midd_kill9
	midd_start
	req GET /api/v1/devices/list "$ADMIN_KEY"
	expect_status 200 "round $round: list"
	declare -A listed=()
	while read -r d st; do
		listed[$d]=$st
	done < <(printf '%s' "$BODY" | jq -r '.devices[] | "\(.deviceId) \(.state)"')
	for i in "${!DEVS[@]}"; do
		got=${listed[${DEVS[$i]}]:-}
		case " ${want[i]} " in
		*" $got "*) ;;
		*) fail "round $round: ${DEVS[$i]} is '$got' after kill -9, expected '${want[i]}' (acknowledged: ${acked[*]})" ;;
		esac
		want[i]=$got
	done
	# The validate answer agrees with the listed state (one device a
	# round, to keep the test short).
	i=$((RANDOM % ${#DEVS[@]}))
	if [ "${want[i]}" = revoked ]; then
		expect_code "${DEVS[$i]}" DEVICE_REVOKED
	else
		expect_code "${DEVS[$i]}" ALLOW
	fi
done
note "$ROUNDS rounds in $SECONDS s: $n_acked changes acknowledged and found after kill -9," \
	"$n_cut cut off in flight, $n_refused refused"
k_after=0 k_cut=0 k_before=0
for r in "${inflight_res[@]}"; do
	case $r in
	0) k_after=$((k_after + 1)) ;;
	7) k_before=$((k_before + 1)) ;;
	*) k_cut=$((k_cut + 1)) ;;
	esac
done
note "kills aimed at a request: $k_after after its answer, $k_cut cut it off, $k_before before it connected"
[ "$n_acked" -ge "$ROUNDS" ] || fail "only $n_acked acknowledged changes were checked"
