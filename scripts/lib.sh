# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# What the tests (tests/lib.sh), the benchmark (bench/common.sh) and the
# demos (scripts/demo.lib) do alike when they run a midd of their own: pick
# a free loopback port and wait until the midd they started answers.
# Sourced, not run; it defines functions and one setting, and changes no
# shell option.

# free_port: a TCP port on 127.0.0.1 that nothing is bound to now (the
# kernel's pick for an ephemeral bind). Another program may take it before
# the caller binds it; a caller that cannot afford that retries.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# How long a midd just started may take to answer /healthz, in seconds.
# On SQLite it answers within some 50 ms here; the bound is for a loaded
# two-core machine and for a replica's first connection to PostgreSQL. A
# caller with a slower start (valgrind, a database of a million devices)
# sets a larger one, and says why.
MIDD_READY_S=${MIDD_READY_S:-10}

# midd_wait_ready WHERE [PID]: poll GET /healthz at WHERE (a base URL
# such as http://127.0.0.1:PORT, or unix:SOCKET) every 50 ms for at most
# MIDD_READY_S seconds. Returns 0 once it answers 200, 1 as soon as the
# midd PID (when given) has exited, 2 when the time ran out.
midd_wait_ready() {
	local url=$1 pid=${2:-} end
	local curl=(curl -fsS --max-time 1)
	case $url in
	unix:*) curl+=(--unix-socket "${url#unix:}") url=http://midd ;;
	esac
	end=$((${EPOCHREALTIME/./} + MIDD_READY_S * 1000000))
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
		"${curl[@]}" "$url/healthz" >/dev/null 2>&1 && return 0
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 2
}
