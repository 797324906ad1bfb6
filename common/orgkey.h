/* SPDX-License-Identifier: MIT */
/*
 * The org key a gated program holds is refused when it is an admin key or
 * an admin key lies readable beside it.
 */
#ifndef MID_ORGKEY_H
#define MID_ORGKEY_H

#include <stddef.h>

#include "mid.h"

#define MID_ADMIN_KEY_PREFIX "mid_adm_" /* every admin key midd makes */
#define MID_ADMIN_KEY_NAME "admin.key"  /* the file `midd init` writes */

/* Refuse 'key' (read from 'file', or NULL when it came from the
 * environment) when it is an admin key, or when this process can read an
 * admin key file in the org key file's directory, as named or resolved,
 * or in its admin/ subdirectory. */
MID_WUR enum mid_rc mid_org_key_check(const char *key, const char *file, char *err,
                                      size_t errlen);

#endif
