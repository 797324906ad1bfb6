/* SPDX-License-Identifier: MIT */
/*
 * Keys midd issues: "mid_org_" or "mid_adm_" followed by 64 hex digits
 * (32 random bytes). Only their SHA-256 hashes are ever stored.
 */
#ifndef MID_KEYS_H
#define MID_KEYS_H

#include <stddef.h>
#include <sys/types.h>

#include "mid.h"
#include "orgkey.h"
#include "sha256.h"

#define MID_KEY_ORG_PREFIX "mid_org_"
#define MID_KEY_ADMIN_PREFIX MID_ADMIN_KEY_PREFIX
#define MID_KEY_LEN (8 + 64)  /* prefix + hex, without the NUL */
#define MID_KEY_HEADER_MAX 256 /* longest key header midd will hash */

enum mid_key_kind {
	MID_KEY_ORG,
	MID_KEY_ADMIN,
};

/* Fill 'out' with a fresh key of 'kind' from getrandom(2). */
enum mid_rc mid_keys_generate(enum mid_key_kind kind, char out[MID_KEY_LEN + 1]) MID_WUR;

/* The stored form of 'key': its SHA-256. */
void mid_keys_hash(const char *key, unsigned char out[MID_SHA256_LEN]);

/* Write 'org_key' to 'dir'/org.key and 'admin_key' to 'admin_dir'/admin.key,
 * each followed by a newline, creating missing directories 0700. The org
 * key is 0600, or 0640 in group 'gid' (and a 'dir' made here 0750 in that
 * group) when 'gid' is not -1, so the gated programs' group can read it;
 * the admin key is 0400, readable by its owner (the operator) alone.
 * Refuses to replace existing key files; writes both or neither. */
enum mid_rc mid_keys_write(const char *dir, const char *admin_dir, gid_t gid,
			   const char *org_key, const char *admin_key, char *err,
			   size_t errlen) MID_WUR;

#endif
