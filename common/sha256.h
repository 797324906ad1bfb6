/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4) for hashing keys: midd stores only the hash of each
 * key it issues. Small and allocation-free; not meant for bulk data.
 */
#ifndef MID_SHA256_H
#define MID_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define MID_SHA256_LEN 32

struct mid_sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes fed so far */
	unsigned char buf[64];
	size_t fill; /* bytes waiting in 'buf' */
};

void mid_sha256_init(struct mid_sha256 *s);
void mid_sha256_update(struct mid_sha256 *s, const void *data, size_t n);
void mid_sha256_final(struct mid_sha256 *s, unsigned char out[MID_SHA256_LEN]);

/* One-shot hash of 'n' bytes at 'data'. */
void mid_sha256(const void *data, size_t n, unsigned char out[MID_SHA256_LEN]);

/* Lowercase hex of 'n' bytes into 'out', which holds 2 * 'n' + 1 bytes. */
void mid_hex(const unsigned char *in, size_t n, char *out);

#endif
