#!/bin/bash
# SPDX-License-Identifier: MIT
# Fault injection: a control plane that hangs, is slow, or answers anything
# but a well-formed allow. midd never misbehaves on purpose, so the
# control plane here is the stand-in tests/faults/faultd.py; the real
# shim and real programs are gated by it. Each fault stops the program at
# its startup gate with the code naming it, the side effect never
# happens, and no fault holds the program past its deadlines.
# (tests/e2e/failclosed.sh covers a stopped real midd.)
. "$(dirname "$0")/../lib.sh"
midd_init
shim_env "test:faults:failclosed:01"
# shellcheck disable=SC2034 # expect_fault in tests/lib.sh reads it
M=$T/marker
export MIDSHIM_TIMEOUT_MS=400
# The startup gate makes at most two calls (register, validate), each with
# the 400 ms deadline: a fault may hold the program that much longer than
# the allowed run of the control case, plus a margin of 300 ms.
MARGIN_MS=300

CASES="hang:MIDSHIM_TIMEOUT slow:MIDSHIM_TIMEOUT garbage:MIDSHIM_BAD_HTTP
	notjson:MIDSHIM_NOT_JSON string:MIDSHIM_BAD_REPLY missing:MIDSHIM_BAD_REPLY
	array:MIDSHIM_BAD_REPLY http500:MIDSHIM_HTTP_500 http301:MIDSHIM_HTTP_301
	http429:MIDSHIM_HTTP_429 http401:MIDSHIM_HTTP_401 big:MIDSHIM_TOO_LARGE
	reset:MIDSHIM_TRUNCATED truncated:MIDSHIM_TRUNCATED chunkbad:MIDSHIM_BAD_HTTP"
# One stand-in process serves every mode, each on its own port.
modes=(allow)
for c in $CASES; do modes+=("${c%%:*}"); done
read -r -a ports <<<"$("$PY" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "${#modes[@]}")"
declare -A PORT_OF
pairs=()
for i in "${!modes[@]}"; do
	PORT_OF[${modes[i]}]=${ports[i]}
	pairs+=("${ports[i]}" "${modes[i]}")
done
"$PY" "$TOP/tests/faults/faultd.py" "${pairs[@]}" &
FPID=$!
on_exit "kill $FPID 2>/dev/null"
"$PY" - "${ports[@]}" <<'PY' || fail "the stand-in did not listen on every port"
import socket, sys, time
end = time.time() + 30
for p in sys.argv[1:]:
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(p)), 1).close()
            break
        except OSError:
            if time.time() > end:
                sys.exit(1)
            time.sleep(0.05)
PY

# A well-formed allow from the stand-in proves nothing: the shim binds
# each answer to its request, and only midd can prove one. Answered at
# once, it is stopped as fast as an allowed run would end; that times the
# faults below.
export MIDSHIM_URL=http://127.0.0.1:${PORT_OF[allow]}
t0=${EPOCHREALTIME/./}
expect_fault "an allow without midd's proof" MIDSHIM_BAD_PROOF
base=$(((${EPOCHREALTIME/./} - t0) / 1000))
LIMIT_MS=$((base + 2 * MIDSHIM_TIMEOUT_MS + MARGIN_MS))
note "unproved allow: $base ms; limit for a fault: $LIMIT_MS ms ($base + 2 x $MIDSHIM_TIMEOUT_MS + $MARGIN_MS ms)"

for c in $CASES; do
	export MIDSHIM_URL=http://127.0.0.1:${PORT_OF[${c%%:*}]}
	t0=${EPOCHREALTIME/./}
	expect_fault "${c%%:*}" "${c#*:}"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	note "${c%%:*}: stopped in $ms ms (limit $LIMIT_MS ms)"
	[ "$ms" -le "$LIMIT_MS" ] || fail "${c%%:*}: took $ms ms, over $LIMIT_MS ms"
done
