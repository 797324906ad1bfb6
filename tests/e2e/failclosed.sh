#!/bin/bash
# SPDX-License-Identifier: MIT
# Fail closed against a real midd: while it answers, a gated program runs;
# once it is stopped, or the configured socket does not exist, the program
# is stopped at its startup gate with MIDSHIM_UNREACHABLE and its side
# effect never happens. The replies midd never gives (hangs, bad HTTP,
# bad JSON...) are injected in tests/faults/failclosed.sh.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:failclosed:01"
M=$T/marker
export MIDSHIM_TIMEOUT_MS=400
# A refused connection is tried again until the call's 400 ms deadline
# (a restarting midd comes back): with at most two calls at the startup
# gate, the program may take two deadlines longer than the allowed run of
# the control case, plus a margin of 300 ms.
MARGIN_MS=300

# The control case: a well-formed allow lets the program run.
t0=${EPOCHREALTIME/./}
expect_allowed "midd up" sh -c "touch $M"
base=$(((${EPOCHREALTIME/./} - t0) / 1000))
assert_exists "$M" "allowed run"

midd_stop
for c in "midd stopped:$MIDSHIM_URL" "no unix socket:unix:$T/nothing.sock"; do
	t0=${EPOCHREALTIME/./}
	MIDSHIM_URL=${c#*:} expect_fault "${c%%:*}" MIDSHIM_UNREACHABLE
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	limit=$((base + 2 * MIDSHIM_TIMEOUT_MS + MARGIN_MS))
	note "${c%%:*}: stopped in $ms ms (limit $limit ms: allowed run $base + 2 x $MIDSHIM_TIMEOUT_MS + $MARGIN_MS ms)"
	[ "$ms" -le "$limit" ] || fail "${c%%:*}: took $ms ms, over $limit ms"
done
