#!/bin/bash
# SPDX-License-Identifier: MIT
# The control-plane tests again with midd on PostgreSQL: a representative
# set of them (a device's life across restarts and kill -9, the org
# switch, key rotation, audit paging, a shim's reports), each on a fresh
# database of one throwaway cluster. The tests that work on the SQLite
# file itself (locked, unlinked, full) have no PostgreSQL counterpart.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pg.lib"

pg_start
n=0
for t in midd-lifecycle midd-org midd-audit-paging midd-report; do
	n=$((n + 1))
	url=$(pg_url "suite$n")
	t0=${EPOCHREALTIME/./}
	if ! MIDSHIM_TEST_DB_URL=$url bash "$TOP/tests/integration/$t.sh" >"$T/$t.log" 2>&1; then
		cat "$T/$t.log" >&2
		fail "$t on PostgreSQL"
	fi
	note "$t on PostgreSQL: passed in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
done
