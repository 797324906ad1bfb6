#!/bin/bash
# SPDX-License-Identifier: MIT
# --help on every subcommand of midd, midctl and midshim: each subcommand
# the tool's own --help lists answers SUB --help with its usage on stdout
# and exit 0, touching no key, database or network.
. "$(dirname "$0")/../lib.sh"

check() { # what cmd...
	local what=$1 rc
	shift
	set +e
	env -u MIDSHIM_URL -u MIDSHIM_ORG_KEY_FILE -u MIDSHIM_ADMIN_KEY_FILE "$@" \
		>"$T/out" 2>"$T/err" </dev/null
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "$what: exit $rc; stderr: $(cat "$T/err")"
	grep -qi "^usage:" "$T/out" || fail "$what: no usage on stdout: $(head -c 500 "$T/out")"
	assert_eq "" "$(cat "$T/err")" "$what: stderr"
	n=$((n + 1))
}

n=0
# midctl: the commands its overview lists.
"$BIN/midctl" --help >"$T/top"
cmds=$(sed -n '/^commands:/,/^$/p' "$T/top" | awk '/^  [a-z]/ { print $1 }')
[ "$(wc -w <<<"$cmds")" -ge 10 ] || fail "midctl --help lists too few commands: $cmds"
for c in $cmds; do
	check "midctl $c --help" "$BIN/midctl" "$c" --help
done
# midshim: the commands of its usage lines, and policy's own subcommand.
"$BIN/midshim" --help >"$T/top"
cmds=$(grep -Eo '^(usage:)? +midshim [a-z]+' "$T/top" | awk '{ print $NF }' | sort -u)
[ "$(wc -w <<<"$cmds")" -ge 3 ] || fail "midshim --help lists too few commands: $cmds"
for c in $cmds; do
	check "midshim $c --help" "$BIN/midshim" "$c" --help
done
check "midshim policy check --help" "$BIN/midshim" policy check --help
# midd: serving and init.
check "midd --help" "$BIN/midd" --help
"$BIN/midd" --help >"$T/top"
for c in $(grep -Eo '^(Usage:)? +midd [a-z]+' "$T/top" | awk '{ print $NF }' | sort -u); do
	check "midd $c --help" "$BIN/midd" "$c" --help
done
note "ok: --help on $n commands"
