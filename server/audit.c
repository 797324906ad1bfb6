/* SPDX-License-Identifier: MIT */
/*
 * Double-buffered audit queue: producers append a packed row to the
 * active buffer under a mutex held for one memcpy; the consumer swaps
 * buffers and unpacks the other one without the lock while it writes to
 * disk. A packed row is a header (time, org, seven string lengths) followed
 * by the seven strings without terminators.
 */
#define _GNU_SOURCE
#include "audit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hdr {
	int64_t time_ms;
	int64_t org_id;
	uint16_t len[7];
};

struct mid_audit {
	pthread_mutex_t mu;
	unsigned char *buf[2];
	size_t cap;
	size_t used;     /* bytes in buf[active] */
	size_t rows;     /* rows in buf[active] */
	int active;
	uint64_t dropped;       /* since the last take */
	uint64_t dropped_total; /* since the start */
};

enum mid_rc mid_audit_new(size_t cap, struct mid_audit **out)
{
	struct mid_audit *q;

	*out = NULL;
	if(cap < sizeof(struct hdr))
		return MID_ERR_INVAL;
	q = calloc(1, sizeof(*q));
	if(!q)
		return MID_ERR_NOMEM;
	q->buf[0] = malloc(cap);
	q->buf[1] = malloc(cap);
	if(!q->buf[0] || !q->buf[1]) {
		mid_audit_free(q);
		return MID_ERR_NOMEM;
	}
	q->cap = cap;
	pthread_mutex_init(&q->mu, NULL);
	*out = q;
	return MID_OK;
}

void mid_audit_free(struct mid_audit *q)
{
	if(!q)
		return;
	if(q->cap)
		pthread_mutex_destroy(&q->mu);
	free(q->buf[0]);
	free(q->buf[1]);
	free(q);
}

int mid_audit_push(struct mid_audit *q, const struct mid_audit_row *row)
{
	const char *s[7] = {row->device, row->route, row->decision, row->code,
			    row->request_id, row->peer, row->detail};
	struct hdr h;
	size_t need = sizeof(h), i;
	unsigned char *p;
	int r = 0;

	h.time_ms = row->time_ms;
	h.org_id = row->org_id;
	for(i = 0; i < 7; i++) {
		/* Each field is bounded by its array in the row. */
		h.len[i] = (uint16_t)strlen(s[i]);
		need += h.len[i];
	}
	pthread_mutex_lock(&q->mu);
	if(need <= q->cap - q->used) {
		p = q->buf[q->active] + q->used;
		memcpy(p, &h, sizeof(h));
		p += sizeof(h);
		for(i = 0; i < 7; i++) {
			memcpy(p, s[i], h.len[i]);
			p += h.len[i];
		}
		q->used += need;
		q->rows++;
	} else {
		q->dropped++;
		q->dropped_total++;
		r = -1;
	}
	pthread_mutex_unlock(&q->mu);
	return r;
}

size_t mid_audit_take(struct mid_audit *q, struct mid_audit_batch *b, uint64_t *dropped)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->used;
	b->p = q->buf[q->active];
	b->end = b->p + n;
	b->rows = q->rows;
	*dropped = q->dropped;
	q->active ^= 1;
	q->used = 0;
	q->rows = 0;
	q->dropped = 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void mid_audit_depth(struct mid_audit *q, size_t *rows, uint64_t *dropped_total)
{
	pthread_mutex_lock(&q->mu);
	*rows = q->rows;
	*dropped_total = q->dropped_total;
	pthread_mutex_unlock(&q->mu);
}

static void field(const unsigned char **p, size_t len, char *out, size_t outlen)
{
	size_t c = len < outlen ? len : outlen - 1;

	memcpy(out, *p, c);
	out[c] = '\0';
	*p += len;
}

int mid_audit_next(struct mid_audit_batch *b, struct mid_audit_row *row)
{
	const unsigned char *p = b->p;
	struct hdr h;

	if((size_t)(b->end - p) < sizeof(h))
		return 0;
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	row->time_ms = h.time_ms;
	row->org_id = h.org_id;
	field(&p, h.len[0], row->device, sizeof(row->device));
	field(&p, h.len[1], row->route, sizeof(row->route));
	field(&p, h.len[2], row->decision, sizeof(row->decision));
	field(&p, h.len[3], row->code, sizeof(row->code));
	field(&p, h.len[4], row->request_id, sizeof(row->request_id));
	field(&p, h.len[5], row->peer, sizeof(row->peer));
	field(&p, h.len[6], row->detail, sizeof(row->detail));
	b->p = p;
	return 1;
}
