/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4) for hashing keys: midd stores only the hash of each
 * key it issues. Small and allocation-free; not meant for bulk data.
 */
#ifndef MID_SHA256_H
#define MID_SHA256_H

#include <stdbool.h>
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

/* The inverse: exactly 2 * 'n' lowercase hex digits, then the end of the
 * string, into 'n' bytes. False on anything else. */
bool mid_unhex(const char *in, unsigned char *out, size_t n);

/* HMAC-SHA256 (RFC 2104), fed in pieces. */
struct mid_hmac {
	struct mid_sha256 inner, outer;
};

void mid_hmac_init(struct mid_hmac *m, const void *key, size_t klen);
void mid_hmac_update(struct mid_hmac *m, const void *data, size_t n);
void mid_hmac_final(struct mid_hmac *m, unsigned char out[MID_SHA256_LEN]);

#endif
