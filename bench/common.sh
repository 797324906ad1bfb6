# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Helpers the benchmark scripts share (sourced by bench/run.sh,
# bench/devices.sh and bench/live.sh; not run on its own). The script
# names itself first with msg_prefix.

# msg_prefix WORD: say and die start their lines with "WORD: ".
msg_prefix() { ME=$1; }
say() { echo "$ME: $*" >&2; }
die() { echo "$ME: $*" >&2; exit 1; }

# need_built FILE...: stop unless each FILE is there (a program, or the
# preload), with the make target that builds it.
need_built() {
	local f
	for f; do
		[ -x "$f" ] || [ -f "$f" ] || die "$f is missing; run 'make bench'"
	done
}

# midd_rss_kib: the resident memory of midd (MIDD_PID) in KiB.
midd_rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$MIDD_PID/status"; }

# midd_kill: stop the midd this script started (MIDD_PID, when set) and
# reap it.
midd_kill() {
	[ -z "${MIDD_PID:-}" ] || { kill -TERM "$MIDD_PID" 2>/dev/null; wait "$MIDD_PID" 2>/dev/null; } || true
}
