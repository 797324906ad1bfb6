#!/bin/bash
# SPDX-License-Identifier: MIT
# The control-plane tests again with midd on PostgreSQL: a representative
# set of them (a device's life across restarts and kill -9, the org
# switch, key rotation, audit paging, a shim's reports, webhook alerts
# across kill -9), each on a fresh
# database of one throwaway cluster. The tests that work on the SQLite
# file itself (locked, unlinked, full) have no PostgreSQL counterpart.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pg.lib"

pg_start
n=0
for t in integration/midd-lifecycle integration/midd-org integration/midd-audit-paging \
	integration/midd-report e2e/midd-alerts; do
	n=$((n + 1))
	url=$(pg_url "suite$n")
	t0=${EPOCHREALTIME/./}
	log=$T/${t#*/}.log
	if ! MIDSHIM_TEST_DB_URL=$url bash "$TOP/tests/$t.sh" >"$log" 2>&1; then
		cat "$log" >&2
		fail "$t on PostgreSQL"
	fi
	note "$t on PostgreSQL: passed in $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
done
