/* SPDX-License-Identifier: MIT */
/*
 * Keys as every part handles them: what a key may hold and how one is
 * read from a key file. midd issues keys of 72 bytes; the shim, the
 * client and midctl accept any key up to MID_KEY_MAX bytes.
 */
#ifndef MID_KEY_H
#define MID_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "mid.h"

/* A key goes into an HTTP header line: 1 to MID_KEY_MAX bytes, none of
 * them a space or a control byte. */
bool mid_key_ok(const char *key);

/*
 * Read the key on the first line of the key file 'path' into 'key'
 * ('keylen' bytes, at least MID_KEY_MAX + 1 for any key). The file must
 * be a regular file; trailing blanks and the line end go; what is left
 * must pass mid_key_ok. '*shared' (may be NULL) tells whether group or
 * others may read the file. Allocates nothing and uses no stdio, so the
 * shim may call it before main. On error 'err' says why, without the
 * path (the caller names its source) and never with key bytes; 'key' is
 * wiped.
 */
MID_WUR enum mid_rc mid_key_read_file(const char *path, char *key, size_t keylen,
                                      bool *shared, char *err, size_t errlen);

#endif
