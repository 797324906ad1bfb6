#!/bin/bash
# SPDX-License-Identifier: MIT
# The shim's re-entrancy guard (mid_in_shim) is raised only through
# mid_shim_enter(), which blocks every signal first: a signal handler that
# ran while the guard is up would have its calls go through ungated.
set -euo pipefail
cd "$(dirname "$0")/../.."
bad=$(grep -nE 'mid_in_shim *(\+\+|--|\+=|-=|=[^=])|(\+\+|--) *mid_in_shim' shim/*.c shim/preload/*.c client/*.c common/*.c policy/*.c || true)
if [ -n "$bad" ]; then
	echo "FAIL: the guard is raised or lowered outside mid_shim_enter/leave:" >&2
	echo "$bad" >&2
	exit 1
fi
n=$(grep -c 'mid_shim_enter(' shim/*.c shim/preload/*.c | awk -F: '{ s += $2 } END { print s }')
[ "$n" -gt 0 ] || { echo "FAIL: no mid_shim_enter call found" >&2; exit 1; }
echo "# $n guarded sections, each with signals blocked"
echo ok
