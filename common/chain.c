/* SPDX-License-Identifier: MIT */
/*
 * Hash chain and Ed25519 checkpoints; see chain.h.
 */
#define _GNU_SOURCE
#include "chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mid_signer {
	EVP_PKEY *key;
	unsigned char pub[MID_ED25519_PUB];
};

static void put_num(struct mid_sha256 *h, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRId64 "\n", v);

	mid_sha256_update(h, b, (size_t)n);
}

/* "<length>:<bytes>\n": a field cannot run into the next. */
static void put_str(struct mid_sha256 *h, const char *s)
{
	char b[32];
	size_t len = s ? strlen(s) : 0;
	int n = snprintf(b, sizeof(b), "%zu:", len);

	mid_sha256_update(h, b, (size_t)n);
	if(len)
		mid_sha256_update(h, s, len);
	mid_sha256_update(h, "\n", 1);
}

void mid_chain_hash(const unsigned char prev[MID_SHA256_LEN],
                    const struct mid_chain_row *r, unsigned char out[MID_SHA256_LEN])
{
	struct mid_sha256 h;

	mid_sha256_init(&h);
	mid_sha256_update(&h, prev, MID_SHA256_LEN);
	mid_sha256_update(&h, MID_CHAIN_FORMAT "\n", sizeof(MID_CHAIN_FORMAT));
	put_num(&h, r->seq);
	put_num(&h, r->time_ms);
	put_num(&h, r->org_id);
	put_str(&h, r->device);
	put_str(&h, r->route);
	put_str(&h, r->decision);
	put_str(&h, r->code);
	put_str(&h, r->request_id);
	put_str(&h, r->peer);
	put_str(&h, r->detail);
	mid_sha256_final(&h, out);
}

size_t mid_chain_ckpt_text(int64_t org_id, int64_t seq,
                           const unsigned char hash[MID_SHA256_LEN], int64_t time_ms,
                           char *out, size_t outlen)
{
	char hex[2 * MID_SHA256_LEN + 1];
	int n;

	mid_hex(hash, MID_SHA256_LEN, hex);
	n = snprintf(out, outlen,
	             MID_CHAIN_FORMAT " checkpoint\norg %" PRId64 "\nseq %" PRId64
	                              "\nhash %s\n"
	                              "time %" PRId64 "\n",
	             org_id, seq, hex, time_ms);
	return n < 0 ? 0 : (size_t)n >= outlen ? outlen - 1 : (size_t)n;
}

static int raw_public(EVP_PKEY *k, unsigned char pub[MID_ED25519_PUB])
{
	size_t n = MID_ED25519_PUB;

	return EVP_PKEY_get_raw_public_key(k, pub, &n) == 1 && n == MID_ED25519_PUB;
}

enum mid_rc mid_signer_create(const char *path, char *err, size_t errlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	enum mid_rc rc = MID_ERR_IO;
	FILE *f = NULL;
	int fd = -1;

	if(!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &k) != 1) {
		snprintf(err, errlen, "cannot make an Ed25519 key (libcrypto)");
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if(fd < 0) {
		snprintf(err, errlen, "cannot create the audit signing key %s: %s", path,
		         strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if(!f) {
		close(fd);
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	if(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) ||
	   fsync(fileno(f))) {
		snprintf(err, errlen, "cannot write %s", path);
		goto out;
	}
	rc = MID_OK;
out:
	if(f && fclose(f) && rc == MID_OK) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		rc = MID_ERR_IO;
	}
	if(rc && fd >= 0)
		unlink(path);
	EVP_PKEY_free(k);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

enum mid_rc mid_signer_load(const char *path, struct mid_signer **out, char *err,
                            size_t errlen)
{
	struct mid_signer *s;
	FILE *f;

	*out = NULL;
	f = fopen(path, "re");
	if(!f) {
		snprintf(err, errlen, "cannot read the audit signing key %s: %s", path,
		         strerror(errno));
		return errno == ENOENT ? MID_ERR_NOT_FOUND : MID_ERR_IO;
	}
	s = calloc(1, sizeof(*s));
	if(!s) {
		fclose(f);
		return MID_ERR_NOMEM;
	}
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if(!s->key || EVP_PKEY_get_base_id(s->key) != EVP_PKEY_ED25519 ||
	   !raw_public(s->key, s->pub)) {
		snprintf(err, errlen, "%s is not an Ed25519 private key in PEM", path);
		mid_signer_free(s);
		return MID_ERR_PARSE;
	}
	*out = s;
	return MID_OK;
}

void mid_signer_free(struct mid_signer *s)
{
	if(!s)
		return;
	EVP_PKEY_free(s->key);
	free(s);
}

void mid_signer_public(const struct mid_signer *s, unsigned char pub[MID_ED25519_PUB])
{
	memcpy(pub, s->pub, MID_ED25519_PUB);
}

enum mid_rc mid_signer_sign(struct mid_signer *s, const void *msg, size_t len,
                            unsigned char sig[MID_ED25519_SIG])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n = MID_ED25519_SIG;
	int ok;

	ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, s->key) == 1 &&
	     EVP_DigestSign(md, sig, &n, msg, len) == 1 && n == MID_ED25519_SIG;
	EVP_MD_CTX_free(md);
	return ok ? MID_OK : MID_ERR_IO;
}

int mid_chain_sig_ok(const unsigned char pub[MID_ED25519_PUB], const void *msg,
                     size_t len, const unsigned char sig[MID_ED25519_SIG])
{
	EVP_PKEY *k =
	    EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, MID_ED25519_PUB);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok;

	ok = k && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
	     EVP_DigestVerify(md, sig, MID_ED25519_SIG, msg, len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

void mid_chain_check_init(struct mid_chain_check *v)
{
	memset(v, 0, sizeof(*v));
	v->next_seq = 1;
}

int mid_chain_check_row(struct mid_chain_check *v, int64_t id, int has_seq,
                        const struct mid_chain_row *r, const unsigned char *hash)
{
	unsigned char h[MID_SHA256_LEN];

	if(v->bad)
		return 0;
	v->rows++;
	if(!has_seq || !hash) {
		if(!v->chained) {
			v->prefix++; /* written before the chain began */
			return 1;
		}
		snprintf(v->why, sizeof(v->why),
		         "row id %" PRId64
		         " was inserted: it is not part of the chain (no place"
		         " or hash), after seq %" PRId64,
		         id, v->next_seq - 1);
		v->bad = 1;
		return 0;
	}
	v->chained = 1;
	if(r->seq > v->next_seq) {
		if(r->seq == v->next_seq + 1)
			snprintf(v->why, sizeof(v->why),
			         "the row at seq %" PRId64 " was removed (row id %" PRId64
			         " has seq %" PRId64 ")",
			         v->next_seq, id, r->seq);
		else
			snprintf(v->why, sizeof(v->why),
			         "the rows at seq %" PRId64 " to %" PRId64
			         " were removed (row id %" PRId64 " has seq %" PRId64 ")",
			         v->next_seq, r->seq - 1, id, r->seq);
		v->bad = 1;
		return 0;
	}
	if(r->seq < v->next_seq) {
		snprintf(v->why, sizeof(v->why),
		         "row id %" PRId64 " was inserted: its seq %" PRId64
		         " repeats or goes back"
		         " (seq %" PRId64 " expected)",
		         id, r->seq, v->next_seq);
		v->bad = 1;
		return 0;
	}
	mid_chain_hash(v->prev, r, h);
	if(memcmp(h, hash, MID_SHA256_LEN)) {
		snprintf(v->why, sizeof(v->why),
		         "row id %" PRId64 " (seq %" PRId64
		         ") was edited: its content does not"
		         " match its hash",
		         id, r->seq);
		v->bad = 1;
		return 0;
	}
	memcpy(v->prev, h, MID_SHA256_LEN);
	v->next_seq++;
	return 1;
}
