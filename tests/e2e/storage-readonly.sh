#!/bin/bash
# SPDX-License-Identifier: MIT
# The kill switch with a read-only database: midd's database lives on a
# small ext4 file system (a loop-mounted image, in a private mount
# namespace); the database file and its write-ahead log are made
# immutable with chattr +i, which ext4 enforces even on descriptors
# already open and even for root (file modes would not stop root).
# Revoke, remove and org disable still stop running gated programs within
# the TTL, restore is refused, and after kill -9 of midd, the files made
# writable again and a restart, the revocations are still in force (see
# storage.lib).
. "$(dirname "$0")/storage.lib"
storage_private_ns "$0" "$@"
. "$(dirname "$0")/../lib.sh"
need mkfs.ext4 e2fsprogs
need chattr e2fsprogs

M=$T/mnt
mkdir -p "$M"
truncate -s 16M "$T/fs.img"
mkfs.ext4 -q -F "$T/fs.img" || fail "mkfs.ext4 failed"
mount -o loop "$T/fs.img" "$M" ||
	skip "cannot loop-mount an ext4 image on $M (this test needs root and a loop device)"
on_exit "chattr -i '$M/midd.db' '$M/midd.db-wal' 2>/dev/null; umount -l '$M'"
DB_FILE=$M/midd.db

storage_break() {
	chattr +i "$DB_FILE" "$DB_FILE-wal"
	if echo x 2>/dev/null >>"$DB_FILE-wal"; then fail "chattr +i did not make $DB_FILE-wal read-only"; fi
	# shellcheck disable=SC2034 # storage_run in storage.lib reads it
	STORAGE_FAULT="the database file and its log are immutable (chattr +i)"
}

storage_mend() {
	chattr -i "$DB_FILE" "$DB_FILE-wal"
}

storage_run
