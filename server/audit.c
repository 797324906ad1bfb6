/* SPDX-License-Identifier: MIT */
/*
 * Double-buffered audit queue: producers append to the active buffer
 * under a mutex held for one memcpy; the consumer swaps buffers and reads
 * the other one without holding the lock while it writes to disk.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mid_audit {
	pthread_mutex_t mu;
	struct mid_audit_row *buf[2];
	size_t cap;
	size_t used;     /* rows in buf[active] */
	int active;
	uint64_t dropped;
};

enum mid_rc mid_audit_new(size_t cap, struct mid_audit **out)
{
	struct mid_audit *q = calloc(1, sizeof(*q));

	*out = NULL;
	if(!q || cap == 0)
		goto fail;
	q->buf[0] = calloc(cap, sizeof(struct mid_audit_row));
	q->buf[1] = calloc(cap, sizeof(struct mid_audit_row));
	if(!q->buf[0] || !q->buf[1])
		goto fail;
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	*out = q;
	return MID_OK;
fail:
	if(q) {
		free(q->buf[0]);
		free(q->buf[1]);
	}
	free(q);
	return cap ? MID_ERR_NOMEM : MID_ERR_INVAL;
}

void mid_audit_free(struct mid_audit *q)
{
	if(!q)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q->buf[0]);
	free(q->buf[1]);
	free(q);
}

int mid_audit_push(struct mid_audit *q, const struct mid_audit_row *row)
{
	int r = 0;

	pthread_mutex_lock(&q->mu);
	if(q->used < q->cap)
		q->buf[q->active][q->used++] = *row;
	else {
		q->dropped++;
		r = -1;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

size_t mid_audit_take(struct mid_audit *q, const struct mid_audit_row **rows,
		      uint64_t *dropped)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->used;
	*rows = q->buf[q->active];
	*dropped = q->dropped;
	q->active ^= 1;
	q->used = 0;
	q->dropped = 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}
