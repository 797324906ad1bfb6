#!/bin/bash
# SPDX-License-Identifier: MIT
# The preload's exported symbols. libmidshim.so must export only libc
# function names (anything else would shadow a program's own function);
# every hook must be exported and exist in libc; every variant of a hooked
# call that libc exports under another name (the *64 twin, the fortified
# __*_2 and __*_chk twins, the *_unlocked twin) must be hooked too, or a
# program built with other flags walks around the gate. Last, the preload
# loads nothing but libc at start (libcjson comes with dlopen, when first
# needed).
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

# The three name sets as lookup tables (one grep per name would take
# seconds).
declare -A LIBC_ALL=() LIBC_DEFAULT=() OURS=()
while read -r s; do LIBC_ALL[$s]=1; done <"$T/libc"
while read -r s; do LIBC_DEFAULT[$s]=1; done <"$T/libc.default"
while read -r s; do OURS[$s]=1; done <"$T/ours"

# 1. Every export is a libc function, and a default version of one.
for s in "${!OURS[@]}"; do
	if [ -z "${LIBC_ALL[$s]:-}" ]; then
		bad "exports '$s', which is no libc function"
	elif [ -z "${LIBC_DEFAULT[$s]:-}" ]; then
		bad "hooks '$s', which libc keeps only for old binaries"
	fi
done

# 2. Every hook is exported: a missing MID_EXPORT leaves it hidden and
# never called.
while read -r s; do
	[ -n "${OURS[$s]:-}" ] || bad "hook '$s' is not exported"
done <"$T/hooks"

# 3. Twins of hooked names: X64 (and pwritev64v2, __open64_2), X_unlocked,
# __X_chk, __X_2, and glibc's __X alias. A twin glibc keeps only as an
# old, non-default version still counts: old binaries call it.
twins() { # name -> candidate twin names
	local s=$1
	echo "${s}64" "${s}_unlocked" "__${s}_chk" "__${s}_2" "__${s}"
	case $s in
	__*_2) echo "${s%_2}64_2" ;;
	__*_chk) echo "${s%_chk}64_chk" ;;
	*v2) echo "${s%v2}64v2" ;;
	esac
}
checked=0
for s in "${!OURS[@]}"; do
	for t in $(twins "$s"); do
		[ -n "${LIBC_ALL[$t]:-}" ] || continue
		checked=$((checked + 1))
		[ -n "${OURS[$t]:-}" ] && continue
		[ -n "${ALLOW[$t]:-}" ] && continue
		bad "'$s' is hooked but its twin '$t' is not"
	done
done

for t in "${!ALLOW[@]}"; do
	[ -n "${LIBC_ALL[$t]:-}" ] || bad "allow-list entry '$t' is not in libc any more"
done

# 4. Load-time dependencies.
while read -r lib _; do
	case $lib in
	linux-vdso.so.* | libc.so.6 | /lib64/ld-linux-*.so.* | ld-linux-*.so.*) ;;
	*) bad "$SO loads $lib at start (only libc is allowed; dlopen the rest when needed)" ;;
	esac
done < <(ldd "$SO" | sed 's/^[[:space:]]*//')

echo "# $n exports, $(wc -l <"$T/hooks") hooks, $checked twins checked against $LIBC"
[ "$fails" -eq 0 ] || { echo "$fails problem(s)" >&2; exit 1; }
echo "ok"
