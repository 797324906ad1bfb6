#!/bin/bash
# SPDX-License-Identifier: MIT
# The kill switch on a full disk: midd's database lives on a small tmpfs
# that this test mounts (in a private mount namespace) and then fills.
# Revoke, remove and org disable still stop running gated programs within
# the TTL, restore is refused, and after kill -9 of midd, space freed and
# a restart, the revocations are still in force (see storage.lib).
. "$(dirname "$0")/storage.lib"
storage_private_ns "$0" "$@"
. "$(dirname "$0")/../lib.sh"

M=$T/mnt
mkdir -p "$M"
mount -t tmpfs -o size=4m,mode=0700 midshim-test "$M" ||
	skip "cannot mount a tmpfs on $M (this test needs root and mount namespaces)"
on_exit "umount -l '$M'"
# shellcheck disable=SC2034 # midd_start in tests/lib.sh reads it
DB_FILE=$M/midd.db

storage_break() {
	dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null || true
	assert_eq 0 "$(df --output=avail -k "$M" | tail -n 1 | tr -d ' ')" "free space on $M"
	# shellcheck disable=SC2034 # storage_run in storage.lib reads it
	STORAGE_FAULT="the file system of the database is full"
}

storage_mend() {
	rm -f "$M/fill"
}

storage_run
