#!/bin/bash
# SPDX-License-Identifier: MIT
# The manual pages: the four that the tools and the README point to exist,
# and every page in man/ renders without a single groff or man warning.
. "$(dirname "$0")/../lib.sh"
command -v man >/dev/null || fail "man is not installed (scripts/install-deps.sh installs man-db)"

for p in midshim.1 midctl.1 midd.8 midshim-policy.5; do
	assert_exists "$TOP/man/$p" "manual page $p"
done

n=0
for f in "$TOP"/man/*.[158]; do
	[ -e "$f" ] || continue
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		man --warnings -E UTF-8 -l -Tutf8 -Z "$f" >/dev/null 2>"$T/warn" ||
		fail "${f##*/}: man exited $?: $(head -c 2000 "$T/warn")"
	[ ! -s "$T/warn" ] || fail "${f##*/}: warnings: $(head -c 2000 "$T/warn")"
	# The NAME line is what whatis and apropos index.
	grep -q '^\.SH NAME' "$f" || fail "${f##*/}: no NAME section"
	n=$((n + 1))
done
assert_eq 1 "$([ "$n" -ge 4 ] && echo 1 || echo 0)" "at least four manual pages checked (saw $n)"
