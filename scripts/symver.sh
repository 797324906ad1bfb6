#!/bin/sh
# SPDX-License-Identifier: MIT
# symver.sh LIBC OBJECT...: the preload's linker version script. Each
# function the objects export gets the version libc gives it by default
# (write@@GLIBC_2.2.5, fcntl64@@GLIBC_2.28), so a lookup that names the
# version (dlvsym, or a program linked against libc) finds the hook as
# surely as a plain one; everything else is local. An export libc does not
# have stops the build: it would be no hook at all. mid_* names are the
# shim's own handles on an old version it also defines (mid_dlsym_old is
# dlsym@GLIBC_2.2.5): they stay local.
set -eu
LIBC=$1
shift
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-symver.XXXXXX")
trap 'rm -rf "$T"' EXIT
readelf -sW "$@" 2>/dev/null |
	awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" && $4 == "FUNC" { print $8 }' |
	grep -v '@' | grep -v '^mid_' | sort -u >"$T/all"
# A name given its default version by hand (name@@VERSION in the object)
# is left out here.
readelf -sW "$@" 2>/dev/null | awk '$8 ~ /@@/ && $7 != "UND" { sub(/@@.*/, "", $8); print $8 }' |
	sort -u >"$T/byhand"
comm -23 "$T/all" "$T/byhand" >"$T/exports"
nm -D --defined-only "$LIBC" | awk '$3 ~ /@@/ { split($3, a, "@@"); print a[1], a[2] }' |
	sort -u >"$T/versions"
join -a 1 "$T/exports" "$T/versions" >"$T/joined"
missing=$(awk 'NF == 1 { print $1 }' "$T/joined")
if [ -n "$missing" ]; then
	echo "symver.sh: exported but not a function of $LIBC: $missing" >&2
	exit 1
fi
# The old versions some hooks also define (posix_spawn@GLIBC_2.2.5) need
# their node even when no default-version export has it.
readelf -sW "$@" 2>/dev/null | awk '$8 ~ /@/ && $7 != "UND" { sub(/^[^@]*@+/, "", $8); print $8 }' |
	sort -u >"$T/old"
awk '{ print $2 }' "$T/joined" | cat - "$T/old" | sort -u | awk -v joined="$T/joined" '
	BEGIN { while ((getline l < joined) > 0) { split(l, f, " "); names[f[2]] = names[f[2]] "\t\t" f[1] ";\n" } }
	{
		printf "%s {\n", $1
		if (names[$1] != "")
			printf "\tglobal:\n%s", names[$1]
		if (NR == 1)
			printf "\tlocal: *;\n"
		printf "};\n"
	}'
