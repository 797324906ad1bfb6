#!/bin/bash
# SPDX-License-Identifier: MIT
# A supervised open with write intent names what the target would open,
# never the launcher's own objects, though the launcher makes it (a policy
# with a file rule: the path is checked, then opened by the launcher).
# /proc/self, /dev/stdout, /proc/self/fd/N and a symbolic link to
# /proc/self/mem are the program's, as in a run without midshim; the
# launcher's /proc directory, named outright or as the working directory,
# is refused (EACCES); a
# symbolic link to a descriptor link fails (ELOOP), as the README says.
# Without a file rule the kernel makes the open: the same answers.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:supervise-paths:01"
MS=$BIN/midshim
RO=$BIN/helpers/static_reopen
[ -x "$RO" ] || fail "$RO is not built"
export MIDSHIM_PUSH=off
cat >"$T/rule.json" <<JSON
{"version": 1, "rules": [{"on": "fs", "path": "$T/denied*", "action": "deny"}]}
JSON
ln -s /proc/self/mem "$T/memlink"
ln -s /proc/self/fd/1 "$T/fdlink"

# reopen WAY PATH [OUT]: the helper plain, supervised by the kernel's
# open (no rule) or by the launcher's (rule); its line into LINE, with
# its own PID written as "ME".
reopen() {
	local way=$1 err
	shift
	case $way in
	plain) "$RO" "$@" 2>"$T/err" || fail "plain $*: exit $?" ;;
	kernel) "$MS" run --supervise -- "$RO" "$@" 2>"$T/err" || fail "kernel $*: exit $?" ;;
	rule) "$MS" run --supervise --policy "$T/rule.json" -- "$RO" "$@" 2>"$T/err" ||
		fail "rule $*: exit $?" ;;
	esac
	err=$(grep '^me ' "$T/err") || fail "$way $*: no answer: $(cat "$T/err")"
	LINE=$(echo "$err" | awk '{ pid = $2; $1 = ""; $2 = ""; sub(/^  /, ""); gsub("/proc/" pid "/", "/proc/ME/"); print }')
}

for way in plain kernel rule; do
	reopen $way /proc/self/mem
	assert_eq "opened /proc/ME/mem" "$LINE" "$way: /proc/self/mem is the program's"
	reopen $way "$T/memlink"
	assert_eq "opened /proc/ME/mem" "$LINE" "$way: a link to /proc/self/mem is the program's"
	reopen $way /proc/self/fd/1 "$T/out.$way"
	assert_eq "opened $T/out.$way" "$LINE" "$way: /proc/self/fd/1 is the program's standard output"
	assert_eq "through PATH" "$(cat "$T/out.$way")" "$way: written through /proc/self/fd/1"
	reopen $way /dev/stdout "$T/std.$way"
	assert_eq "opened $T/std.$way" "$LINE" "$way: /dev/stdout is the program's standard output"
	assert_eq "through PATH" "$(cat "$T/std.$way")" "$way: written through /dev/stdout"
	reopen $way /proc/thread-self/comm
	assert_eq "opened /proc/ME/task/ME/comm" "$(echo "$LINE" | sed -E 's|/task/[0-9]+/|/task/ME/|')" \
		"$way: /proc/thread-self is the program's"
done
note "ok: /proc/self, a link to it, /proc/self/fd/1, /dev/stdout and /proc/thread-self name the program's own, supervised or not"

# The launcher's memory, named by its PID, and a link to a descriptor link.
reopen rule @parent/mem
assert_eq "error 13" "$LINE" "the launcher's /proc/PID/mem is refused"
reopen rule @inparent/mem
assert_eq "error 13" "$LINE" "the launcher's mem, relative to its /proc directory, is refused"
reopen rule "$T/fdlink"
assert_eq "error 40" "$LINE" "a link to a descriptor link: ELOOP"
reopen kernel "$T/fdlink" "$T/fdl.kernel"
assert_eq "opened $T/fdl.kernel" "$LINE" "without a file rule the kernel follows the link"
note "ok: the launcher's /proc is refused; a link to a descriptor link fails with ELOOP under a file rule"
