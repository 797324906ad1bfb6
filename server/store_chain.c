/* SPDX-License-Identifier: MIT */
/*
 * The audit trail's hash chain, above every backend: each row written
 * gets its org's next place and the hash chaining it to the row before
 * (chain.h), under one mutex held across the backend's transaction, so
 * the places follow the order the rows are written in. A transaction
 * that fails puts the heads back. Every 'every' rows of an org, and at
 * shutdown, a checkpoint is signed. All of it runs where rows are
 * written (the flush thread, a state change): never on validate.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_backend.h"
#include "wire.h"

#define HEADS_MAX 256 /* orgs with a chain; midd init makes one */

struct head {
	int64_t org, seq, ckpt_seq;
	unsigned char hash[MID_SHA256_LEN];
};

struct mid_chainer {
	pthread_mutex_t mu;
	struct mid_signer *signer;
	unsigned every;
	struct head h[HEADS_MAX], saved[HEADS_MAX];
	size_t n, nsaved;
};

static struct head *head_of(struct mid_chainer *c, int64_t org)
{
	size_t i;

	for(i = 0; i < c->n; i++)
		if(c->h[i].org == org)
			return &c->h[i];
	if(c->n == HEADS_MAX)
		return NULL;
	memset(&c->h[c->n], 0, sizeof(c->h[0]));
	c->h[c->n].org = org;
	return &c->h[c->n++];
}

static void load_head(void *arg, int64_t org, int64_t seq, const unsigned char hash[MID_SHA256_LEN],
		      int64_t ckpt_seq)
{
	struct head *h = head_of(arg, org);

	if(!h)
		return;
	h->seq = seq;
	h->ckpt_seq = ckpt_seq;
	memcpy(h->hash, hash, MID_SHA256_LEN);
}

enum mid_rc mid_store_chain_start(struct mid_store *s, struct mid_signer *signer, unsigned every,
				  char *err, size_t errlen)
{
	struct mid_chainer *c;
	enum mid_rc rc;

	if(!s->ops->chain_heads || !s->ops->checkpoint_add) {
		snprintf(err, errlen, "the %s backend does not keep the audit hash chain yet",
			 s->ops->name);
		return MID_ERR_INVAL;
	}
	c = calloc(1, sizeof(*c));
	if(!c)
		return MID_ERR_NOMEM;
	pthread_mutex_init(&c->mu, NULL);
	c->signer = signer;
	c->every = every ? every : MID_CHAIN_EVERY;
	rc = s->ops->chain_heads(s, load_head, c);
	if(rc) {
		snprintf(err, errlen, "cannot read the audit chain's last rows");
		pthread_mutex_destroy(&c->mu);
		free(c);
		return rc;
	}
	s->chain = c;
	return MID_OK;
}

void mid_store_chain_every(struct mid_store *s, unsigned every)
{
	if(!s->chain || !every)
		return;
	pthread_mutex_lock(&s->chain->mu);
	s->chain->every = every;
	pthread_mutex_unlock(&s->chain->mu);
}

void mid_chain_free(struct mid_store *s)
{
	if(!s->chain)
		return;
	pthread_mutex_destroy(&s->chain->mu);
	free(s->chain);
	s->chain = NULL;
}

void mid_chain_lock(struct mid_store *s)
{
	struct mid_chainer *c = s->chain;

	if(!c)
		return;
	pthread_mutex_lock(&c->mu);
	memcpy(c->saved, c->h, c->n * sizeof(c->h[0]));
	c->nsaved = c->n;
}

void mid_chain_fill(struct mid_store *s, struct mid_audit_row *row)
{
	struct mid_chain_row r;
	struct head *h;

	row->seq = 0;
	if(!s->chain || !(h = head_of(s->chain, row->org_id)))
		return;
	r = (struct mid_chain_row){
		.seq = h->seq + 1, .time_ms = row->time_ms, .org_id = row->org_id,
		.device = row->device, .route = row->route, .decision = row->decision,
		.code = row->code, .request_id = row->request_id, .peer = row->peer,
		.detail = row->detail,
	};
	mid_chain_hash(h->hash, &r, row->hash);
	row->seq = h->seq = r.seq;
	memcpy(h->hash, row->hash, MID_SHA256_LEN);
}

/* Sign and write a checkpoint at 'h'; called with the mutex held. */
static enum mid_rc checkpoint(struct mid_store *s, struct head *h)
{
	struct mid_checkpoint cp = {.org_id = h->org, .seq = h->seq, .time_ms = mid_wire_now_ms()};
	char text[256];
	size_t n;
	enum mid_rc rc;

	memcpy(cp.hash, h->hash, MID_SHA256_LEN);
	n = mid_chain_ckpt_text(cp.org_id, cp.seq, cp.hash, cp.time_ms, text, sizeof(text));
	rc = mid_signer_sign(s->chain->signer, text, n, cp.sig);
	if(!rc)
		rc = s->ops->checkpoint_add(s, &cp);
	if(rc)
		mid_log("audit chain: cannot write the checkpoint of org %lld at seq %lld; the"
			" next one covers it", (long long)cp.org_id, (long long)cp.seq);
	else
		h->ckpt_seq = h->seq;
	return rc;
}

void mid_chain_unlock(struct mid_store *s, enum mid_rc rc)
{
	struct mid_chainer *c = s->chain;
	size_t i;

	if(!c)
		return;
	if(rc) {
		memcpy(c->h, c->saved, c->nsaved * sizeof(c->h[0]));
		c->n = c->nsaved;
	} else {
		for(i = 0; i < c->n; i++)
			if(c->h[i].seq - c->h[i].ckpt_seq >= (int64_t)c->every)
				(void)!checkpoint(s, &c->h[i]);
	}
	pthread_mutex_unlock(&c->mu);
}

enum mid_rc mid_store_chain_checkpoint(struct mid_store *s)
{
	struct mid_chainer *c = s->chain;
	enum mid_rc rc = MID_OK;
	size_t i;

	if(!c)
		return MID_OK;
	pthread_mutex_lock(&c->mu);
	for(i = 0; i < c->n; i++)
		if(c->h[i].seq > c->h[i].ckpt_seq && checkpoint(s, &c->h[i]))
			rc = MID_ERR_IO;
	pthread_mutex_unlock(&c->mu);
	return rc;
}

enum mid_rc mid_store_chain_rows(struct mid_store *s, int64_t org_id, int64_t after_id,
				 unsigned limit, mid_store_audit_fn fn, void *arg)
{
	if(!s->ops->chain_rows)
		return MID_ERR_INVAL;
	return s->ops->chain_rows(s, org_id, after_id, limit, fn, arg);
}

enum mid_rc mid_store_checkpoints(struct mid_store *s, int64_t org_id, mid_store_ckpt_fn fn,
				  void *arg)
{
	if(!s->ops->checkpoints)
		return MID_ERR_INVAL;
	return s->ops->checkpoints(s, org_id, fn, arg);
}
