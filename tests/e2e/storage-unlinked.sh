#!/bin/bash
# SPDX-License-Identifier: MIT
# The kill switch with the database file unlinked under a running midd
# (rm of the file, its log and shared memory): SQLite would go on
# committing into the deleted inode, acknowledging changes that vanish at
# the next start. midd sees st_nlink 0: revoke, remove and org disable
# still stop running gated programs within the TTL, answered as not
# persisted; restore is refused; after kill -9 of midd, an older copy of
# the database put back in place and a restart, the revocations are still
# in force, from the deny journal (see storage.lib).
. "$(dirname "$0")/storage.lib"
. "$(dirname "$0")/../lib.sh"

mkdir -p "$T/db"
DB_FILE=$T/db/midd.db

storage_break() {
	sqlite3 "$DB_FILE" ".backup '$T/saved.db'"
	rm "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm"
	# shellcheck disable=SC2034 # storage_run in storage.lib reads it
	STORAGE_FAULT="the database file is unlinked (a copy taken before is kept)"
}

storage_mend() {
	cp "$T/saved.db" "$DB_FILE"
}

storage_run
