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
# A refused connection is answered at once: the program may take no
# longer than the allowed run of the control case plus a margin of 300 ms.
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
	note "${c%%:*}: stopped in $ms ms (limit: allowed run $base + $MARGIN_MS ms)"
	[ "$ms" -le $((base + MARGIN_MS)) ] || fail "${c%%:*}: took $ms ms"
done
