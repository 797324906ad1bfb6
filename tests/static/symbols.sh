#!/bin/bash
# SPDX-License-Identifier: MIT
# The preload's exported symbols. libmidshim.so must export only libc
# function names (anything else would shadow a program's own function);
# every hook must be exported and exist in libc; every variant of a hooked
# call that libc exports under another name (the *64 twin, the fortified
# __*_2 and __*_chk twins, the *_unlocked twin) must be hooked too, or a
# program built with other flags walks around the gate. Last, the preload
# loads nothing but libc and libcjson.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
SO=$B/libmidshim.so
[ -f "$SO" ] || { echo "FAIL: $SO is not built" >&2; exit 1; }

LIBC=$(ldd "$SO" | awk '$1 == "libc.so.6" { print $3 }')
[ -n "$LIBC" ] || LIBC=/lib/x86_64-linux-gnu/libc.so.6

# Twins that need no hook, each with its reason. An entry must still
# exist in libc, so the list cannot rot silently.
declare -A ALLOW=(
	# glibc's own aliases of hooked calls (__X for X), exported for its
	# internal use by other glibc libraries. No public header declares
	# them, so a program reaches them only by naming them itself; none of
	# the binaries of a Debian 12 system does.
	[__open]="internal alias of open"
	[__open64]="internal alias of open64"
	[__write]="internal alias of write"
	[__pwrite64]="internal alias of pwrite64"
	[__send]="internal alias of send"
	[__sendmmsg]="internal alias of sendmmsg"
	[__connect]="internal alias of connect"
	# The same, for calls that write nothing: they only make, copy or
	# end descriptors.
	[__close]="internal alias of close"
	[__dup2]="internal alias of dup2"
	[__fcntl]="internal alias of fcntl"
	[__pipe]="internal alias of pipe"
	[__socket]="internal alias of socket"
)

T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-symbols.XXXXXX")
trap 'rm -rf "$T"' EXIT

# Function symbols (T, W, i), versions stripped. "@@" marks the default
# version, the one a program linked today gets; "@" alone an old one.
funcs() {
	nm -D --defined-only "$1" | awk '$2 ~ /^[TWi]$/ { print $3 }'
}
funcs "$LIBC" | sed 's/@.*//' | sort -u >"$T/libc"
funcs "$LIBC" | grep '@@' | sed 's/@.*//' | sort -u >"$T/libc.default"
funcs "$SO" | sed 's/@.*//' | sort -u >"$T/ours"
# The names the hook files fetch from libc: each one is a hook.
grep -ho 'REAL_DECL([A-Za-z0-9_]*)' shim/hook_*.c | sed 's/REAL_DECL(\(.*\))/\1/' |
	sort -u >"$T/hooks"

fails=0
bad() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

n=$(wc -l <"$T/ours")
[ "$n" -gt 0 ] || bad "$SO exports no functions"

# 1. Every export is a libc function, and a default version of one.
while read -r s; do
	if ! grep -qxF -- "$s" "$T/libc"; then
		bad "exports '$s', which is no libc function"
	elif ! grep -qxF -- "$s" "$T/libc.default"; then
		bad "hooks '$s', which libc keeps only for old binaries"
	fi
done <"$T/ours"

# 2. Every hook is exported: a missing MID_EXPORT leaves it hidden and
# never called.
while read -r s; do
	grep -qxF -- "$s" "$T/ours" || bad "hook '$s' is not exported"
done <"$T/hooks"

# 3. Twins of hooked names: X64 (and pwritev64v2, __open64_2), X_unlocked,
# __X_chk, __X_2, and glibc's __X alias. A twin glibc keeps only as an
# old, non-default version still counts: old binaries call it.
twins() { # name -> candidate twin names
	local s=$1
	echo "${s}64" "${s}_unlocked" "__${s}_chk" "__${s}_2" "__${s}"
	case $s in
	__*_2) local b=${s%_2}; echo "${b}64_2" ;;
	__*_chk) local b=${s%_chk}; echo "${b}64_chk" ;;
	*v2) echo "${s%v2}64v2" ;;
	esac
}
checked=0
while read -r s; do
	for t in $(twins "$s"); do
		grep -qxF -- "$t" "$T/libc" || continue
		checked=$((checked + 1))
		grep -qxF -- "$t" "$T/ours" && continue
		[ -n "${ALLOW[$t]:-}" ] && continue
		bad "'$s' is hooked but its twin '$t' is not"
	done
done <"$T/ours"

for t in "${!ALLOW[@]}"; do
	grep -qxF -- "$t" "$T/libc" || bad "allow-list entry '$t' is not in libc any more"
done

# 4. Load-time dependencies.
while read -r lib _; do
	case $lib in
	linux-vdso.so.* | libc.so.6 | libcjson.so.* | /lib64/ld-linux-*.so.* | ld-linux-*.so.*) ;;
	*) bad "$SO loads $lib (only libc and libcjson are allowed)" ;;
	esac
done < <(ldd "$SO" | sed 's/^[[:space:]]*//')

echo "# $n exports, $(wc -l <"$T/hooks") hooks, $checked twins checked against $LIBC"
[ "$fails" -eq 0 ] || { echo "$fails problem(s)" >&2; exit 1; }
echo "ok"
