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

# Twins and aliases that need no hook, each with its reason. An entry must
# still exist in libc, so the list cannot rot silently.
declare -A ALLOW=()

# Entry points that are no alias of a hooked function but move bytes,
# open, flush or look up a hook by another road; each must be hooked.
REQUIRED=(
	fcloseall _flushlbf _IO_flush_all _IO_flush_all_linebuffered
	_IO_do_write _IO_file_write _IO_file_xsputn _IO_file_overflow _IO_file_sync
	_IO_wdo_write _IO_wfile_xsputn _IO_wfile_overflow _IO_wfile_sync
	_IO_default_xsputn _IO_wdefault_xsputn _IO_padn
	_IO_file_fopen _IO_file_open _IO_proc_open
	dlsym dlvsym
)

T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-symbols.XXXXXX")
trap 'rm -rf "$T"' EXIT

# Function symbols (T, W, i): "name@@version" (the default version, the
# one a program linked today gets) or "name@version" (an old one).
funcs() {
	nm -D --defined-only "$1" | awk '$2 ~ /^[TWi]$/ { print $3 }'
}
funcs "$LIBC" | sort -u >"$T/libc.versioned"
sed 's/@.*//' "$T/libc.versioned" | sort -u >"$T/libc"
grep '@@' "$T/libc.versioned" | sed 's/@.*//' | sort -u >"$T/libc.default"
funcs "$SO" | sort -u >"$T/ours.versioned"
sed 's/@.*//' "$T/ours.versioned" | sort -u >"$T/ours"
# libc's aliases: every name (any version) at each address.
nm -D --defined-only "$LIBC" | awk '$2 ~ /^[TWi]$/ { n = $3; sub(/@.*/, "", n); print $1, n }' |
	sort -u >"$T/libc.addr"
# The names the hook files declare: REAL_DECL(fn), the shape macros'
# name lists (OPEN_HOOK((open, open64), ...)) and MID_ALIAS(fn, other).
{
	grep -ho 'REAL_DECL([A-Za-z0-9_]*)' shim/preload/hook_*.c | sed 's/REAL_DECL(\(.*\))/\1/' | grep -vxE 'name|fn'
	grep -hoE '^[A-Z_]+_HOOK\(\([A-Za-z0-9_, ]+\)' shim/preload/hook_*.c |
		sed -E 's/^[A-Z_]+_HOOK\(\(//; s/\)$//' | tr ',' '\n' | tr -d ' '
	grep -hoE '^MID_ALIAS\([A-Za-z0-9_]+, *[A-Za-z0-9_]+\)' shim/preload/hook_*.c |
		sed -E 's/.*, *([A-Za-z0-9_]+)\)/\1/'
} | sort -u >"$T/hooks"

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

declare -A LIBC_VERSIONED=()
while read -r s; do LIBC_VERSIONED[$s]=1; done <"$T/libc.versioned"

# 1. Every export is a libc function, a default version of one, under
# libc's own version tag (so dlvsym and versioned binaries find it); an
# old version only where libc has that old version too.
for s in "${!OURS[@]}"; do
	if [ -z "${LIBC_ALL[$s]:-}" ]; then
		bad "exports '$s', which is no libc function"
	elif [ -z "${LIBC_DEFAULT[$s]:-}" ]; then
		bad "hooks '$s', which libc keeps only for old binaries"
	fi
done
while read -r v; do
	[ -n "${LIBC_VERSIONED[$v]:-}" ] || bad "exports '$v', a version libc does not give that name"
done <"$T/ours.versioned"

# 1b. Every version libc has of a hooked name: a binary built against an
# old glibc asks for posix_spawn@GLIBC_2.2.5, which a hook exported only
# as posix_spawn@@GLIBC_2.15 would not answer.
declare -A OURS_VERSIONED=()
while read -r v; do OURS_VERSIONED[${v/@@/@}]=1; done <"$T/ours.versioned"
while read -r v; do
	[ -n "${OURS[${v%%@*}]:-}" ] || continue
	[ -n "${OURS_VERSIONED[${v/@@/@}]:-}" ] || bad "'${v%%@*}' is hooked but not its version '$v'"
done <"$T/libc.versioned"

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

# 3b. Aliases: every other name libc gives the address of a hooked
# function (__write for write, _IO_fputs for fputs, __libc_system for
# system) must be hooked too.
declare -A ADDR_OF=()
while read -r addr name; do
	[ -n "${OURS[$name]:-}" ] && ADDR_OF[$addr]=1
done <"$T/libc.addr"
aliases=0
while read -r addr name; do
	[ -n "${ADDR_OF[$addr]:-}" ] || continue
	aliases=$((aliases + 1))
	[ -n "${OURS[$name]:-}" ] && continue
	[ -n "${ALLOW[$name]:-}" ] && continue
	bad "'$name' is libc's other name of a hooked function (address $addr) but is not hooked"
done <"$T/libc.addr"

# 3c. The other roads.
for r in "${REQUIRED[@]}"; do
	[ -n "${LIBC_ALL[$r]:-}" ] || continue
	[ -n "${OURS[$r]:-}" ] || bad "'$r' is not hooked: $(printf '%s' "$r") reaches a gated effect by another road"
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

echo "# $n exports, $(wc -l <"$T/hooks") hooks, $checked twins and $aliases alias names checked against $LIBC"
[ "$fails" -eq 0 ] || { echo "$fails problem(s)" >&2; exit 1; }
echo "ok"
