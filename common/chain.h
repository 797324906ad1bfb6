/* SPDX-License-Identifier: MIT */
/*
 * The audit trail's hash chain and its signed checkpoints, shared by the
 * writer (midd) and the verifier (midctl audit verify).
 *
 * Each row of an org's trail has a place 'seq' (1, 2, ...) and a hash:
 * SHA-256 over the previous row's hash (32 zero bytes for seq 1) and the
 * row's canonical form, a text that states every field with its length,
 * so no two different rows share one. Every N rows, and when midd stops,
 * a checkpoint (org, seq, hash, time) is signed with midd's Ed25519 key;
 * a verifier that holds only the public key can then tell whether the
 * rows up to a checkpoint are the ones midd wrote. The signatures are
 * OpenSSL's (libcrypto), the only part of this file that is not pure.
 */
#ifndef MID_CHAIN_H
#define MID_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "sha256.h"

#define MID_CHAIN_FORMAT "midshim-audit-v1"
#define MID_ED25519_PUB 32
#define MID_ED25519_SIG 64
/* The signing key lives beside an SQLite database: DB + this suffix. */
#define MID_CHAIN_KEY_SUFFIX ".audit-key"

/* One row as the chain sees it; NULL strings count as "". */
struct mid_chain_row {
	int64_t seq, time_ms, org_id;
	const char *device, *route, *decision, *code, *request_id, *peer, *detail;
};

/* The hash of 'r' chained to 'prev' (the row before it). */
void mid_chain_hash(const unsigned char prev[MID_SHA256_LEN],
                    const struct mid_chain_row *r, unsigned char out[MID_SHA256_LEN]);

/* The text a checkpoint's signature covers, into 'out' (at least 160
 * bytes); its length. */
size_t mid_chain_ckpt_text(int64_t org_id, int64_t seq,
                           const unsigned char hash[MID_SHA256_LEN], int64_t time_ms,
                           char *out, size_t outlen);

/* A signing key: made, written and read as PEM (PKCS#8), 0400. */
struct mid_signer;

/* Make a new key and write it to 'path' (mode 0400, created: an existing
 * file is an error). */
enum mid_rc mid_signer_create(const char *path, char *err, size_t errlen) MID_WUR;
/* Read the key at 'path'; it must be an Ed25519 private key. */
enum mid_rc mid_signer_load(const char *path, struct mid_signer **out, char *err,
                            size_t errlen) MID_WUR;
void mid_signer_free(struct mid_signer *s);
/* Its public key. */
void mid_signer_public(const struct mid_signer *s, unsigned char pub[MID_ED25519_PUB]);
/* Sign 'len' bytes of 'msg'. */
enum mid_rc mid_signer_sign(struct mid_signer *s, const void *msg, size_t len,
                            unsigned char sig[MID_ED25519_SIG]) MID_WUR;

/* 1 when 'sig' is the signature of 'msg' under the public key 'pub'. */
int mid_chain_sig_ok(const unsigned char pub[MID_ED25519_PUB], const void *msg,
                     size_t len, const unsigned char sig[MID_ED25519_SIG]);

/*
 * Verification, fed in the order rows were written (the table's id
 * order). A row with 'has_seq' 0 was never part of the chain (written
 * outside midd, or before the chain began: 'prefix' rows at the start
 * are allowed and counted). Stops at the first fault and names it in
 * 'why'.
 */
struct mid_chain_check {
	unsigned char prev[MID_SHA256_LEN];
	int64_t next_seq; /* the place the next row must have */
	int chained;      /* a chained row was seen */
	uint64_t rows, prefix;
	int bad;
	char why[512];
};

void mid_chain_check_init(struct mid_chain_check *v);
/* 'id' names the row in 'why'; 'hash' is what the row stores (NULL when
 * it stores none). 0 once the chain is broken. */
int mid_chain_check_row(struct mid_chain_check *v, int64_t id, int has_seq,
                        const struct mid_chain_row *r, const unsigned char *hash);

#endif
