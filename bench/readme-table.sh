#!/bin/bash
# SPDX-License-Identifier: MIT
# Copy the summary table of bench/results.md into README.md, between the
# lines "<!-- bench:begin -->" and "<!-- bench:end -->". Nothing else in
# the README changes; without both markers it is left alone (exit 1).
#
#   bench/readme-table.sh [RESULTS [README]]
set -euo pipefail
cd "$(dirname "$0")/.."
RES=${1:-bench/results.md}
README=${2:-README.md}

[ -f "$RES" ] || { echo "readme-table: $RES does not exist; run 'make bench'" >&2; exit 1; }
[ -f "$README" ] || { echo "readme-table: $README does not exist" >&2; exit 1; }
if ! grep -qx '<!-- bench:begin -->' "$README" || ! grep -qx '<!-- bench:end -->' "$README"; then
	echo "readme-table: $README has no <!-- bench:begin --> / <!-- bench:end --> lines" >&2
	exit 1
fi

table=$(awk '/^<!-- summary:end -->$/ { on = 0 } on { print } /^<!-- summary:begin -->$/ { on = 1 }' "$RES")
[ -n "$table" ] || { echo "readme-table: no summary table in $RES" >&2; exit 1; }
when=$(sed -n 's/^Measured by .* on \(.*\), commit .*/\1/p' "$RES" | head -n 1)
cpu=$(sed -n 's/^| CPU | \(.*\) |$/\1/p' "$RES" | head -n 1)
cores=$(sed -n 's/^| cores | \(.*\) |$/\1/p' "$RES" | head -n 1)

tmp=$(mktemp "$README.XXXXXX")
trap 'rm -f "$tmp"' EXIT
TABLE=$table NOTE="Measured on $cpu, $cores cores, $when; how, and the comparison with a ptrace-based gate: [bench/results.md](bench/results.md)." \
	awk '
	/^<!-- bench:end -->$/ { skip = 0 }
	!skip { print }
	/^<!-- bench:begin -->$/ {
		print ENVIRON["TABLE"]
		print ""
		print ENVIRON["NOTE"]
		skip = 1
	}' "$README" >"$tmp"
if cmp -s "$tmp" "$README"; then
	echo "readme-table: $README is up to date" >&2
else
	cat "$tmp" >"$README"
	echo "readme-table: updated the table in $README" >&2
fi
