/* SPDX-License-Identifier: MIT */
/*
 * Per-device side-effect budgets in memory (budget.h): a hash table of
 * the devices that have one, each limit with its ring of buckets.
 */
#define _GNU_SOURCE
#include "budget.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct ring {
	int64_t idx[MID_BUDGET_SLOTS]; /* which bucket of time each slot holds */
	uint64_t n[MID_BUDGET_SLOTS];
};

struct entry {
	struct entry *next;
	int64_t org_id;
	struct mid_budget lim;
	struct ring r[MID_BUDGET_KINDS];
	char dev[MID_DEVICE_MAX + 1];
};

struct mid_budgets {
	pthread_mutex_t mu;
	_Atomic size_t count; /* entries: validate skips the lock at 0 */
	struct entry *tab[BUCKETS];
};

static const char *const names[MID_BUDGET_KINDS] = {"execs", "connects", "bytesOut", "writes"};

const char *mid_budget_kind_name(enum mid_budget_kind k)
{
	return (unsigned)k < MID_BUDGET_KINDS ? names[k] : "unknown";
}

int mid_budget_any(const struct mid_budget *b)
{
	for(int k = 0; k < MID_BUDGET_KINDS; k++)
		if(b->k[k].limit)
			return 1;
	return 0;
}

enum mid_rc mid_budgets_new(struct mid_budgets **out)
{
	struct mid_budgets *b = calloc(1, sizeof(*b));

	*out = b;
	if(!b)
		return MID_ERR_NOMEM;
	pthread_mutex_init(&b->mu, NULL);
	return MID_OK;
}

void mid_budgets_free(struct mid_budgets *b)
{
	if(!b)
		return;
	for(size_t i = 0; i < BUCKETS; i++) {
		struct entry *e = b->tab[i], *next;

		for(; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static size_t hash(int64_t org_id, const char *dev)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)org_id;

	for(; *dev; dev++)
		h = (h ^ (unsigned char)*dev) * 1099511628211ull;
	return (size_t)(h % BUCKETS);
}

/* The entry of 'dev', and where the link to it is. */
static struct entry *find(struct mid_budgets *b, int64_t org_id, const char *dev,
			  struct entry ***link)
{
	struct entry **p = &b->tab[hash(org_id, dev)];

	for(; *p; p = &(*p)->next)
		if((*p)->org_id == org_id && !strcmp((*p)->dev, dev))
			break;
	if(link)
		*link = p;
	return *p;
}

enum mid_rc mid_budgets_put(struct mid_budgets *b, int64_t org_id, const char *dev,
			    const struct mid_budget *lim)
{
	struct entry **link, *e;
	enum mid_rc rc = MID_OK;

	pthread_mutex_lock(&b->mu);
	e = find(b, org_id, dev, &link);
	if(!mid_budget_any(lim)) {
		if(e) {
			*link = e->next;
			free(e);
			atomic_fetch_sub(&b->count, 1);
		}
		goto out;
	}
	if(!e) {
		e = calloc(1, sizeof(*e));
		if(!e) {
			rc = MID_ERR_NOMEM;
			goto out;
		}
		e->org_id = org_id;
		mid_strlcpy(e->dev, dev, sizeof(e->dev));
		e->next = NULL;
		*link = e;
		atomic_fetch_add(&b->count, 1);
	}
	for(int k = 0; k < MID_BUDGET_KINDS; k++)
		if(e->lim.k[k].window_ms != lim->k[k].window_ms)
			memset(&e->r[k], 0, sizeof(e->r[k]));
	e->lim = *lim;
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* The width of one bucket of a window. */
static int64_t width(int64_t window_ms)
{
	int64_t w = window_ms / MID_BUDGET_SLOTS;

	return w > 0 ? w : 1;
}

/* The sum of the buckets still inside the window at 'now_ms'. */
static uint64_t used(const struct ring *r, int64_t window_ms, int64_t now_ms)
{
	int64_t cur = now_ms / width(window_ms);
	uint64_t sum = 0;

	for(int i = 0; i < MID_BUDGET_SLOTS; i++)
		if(r->idx[i] > cur - MID_BUDGET_SLOTS && r->idx[i] <= cur)
			sum += r->n[i];
	return sum;
}

static void add(struct ring *r, int64_t window_ms, int64_t now_ms, uint64_t n)
{
	int64_t cur = now_ms / width(window_ms);
	int i = (int)(cur % MID_BUDGET_SLOTS);

	if(r->idx[i] != cur) {
		r->idx[i] = cur;
		r->n[i] = 0;
	}
	r->n[i] = r->n[i] + n < r->n[i] ? UINT64_MAX : r->n[i] + n;
}

int mid_budgets_get(struct mid_budgets *b, int64_t org_id, const char *dev, int64_t now_ms,
		    struct mid_budget *lim, uint64_t u[MID_BUDGET_KINDS])
{
	struct entry *e;

	pthread_mutex_lock(&b->mu);
	e = find(b, org_id, dev, NULL);
	if(e) {
		*lim = e->lim;
		for(int k = 0; k < MID_BUDGET_KINDS; k++)
			u[k] = e->lim.k[k].limit ? used(&e->r[k], e->lim.k[k].window_ms, now_ms) : 0;
	}
	pthread_mutex_unlock(&b->mu);
	return e != NULL;
}

int mid_budgets_add(struct mid_budgets *b, int64_t org_id, const char *dev,
		    const uint64_t n[MID_BUDGET_KINDS], int64_t now_ms,
		    struct mid_budget_over *over)
{
	struct entry *e;
	int hit = 0;

	if(!atomic_load_explicit(&b->count, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&b->mu);
	e = find(b, org_id, dev, NULL);
	for(int k = 0; e && k < MID_BUDGET_KINDS; k++) {
		const struct mid_budget_limit *l = &e->lim.k[k];
		uint64_t before, after;

		if(!l->limit)
			continue;
		before = used(&e->r[k], l->window_ms, now_ms);
		after = before;
		if(n && n[k]) {
			add(&e->r[k], l->window_ms, now_ms, n[k]);
			after = used(&e->r[k], l->window_ms, now_ms);
		}
		/* The first limit passed is the one named. */
		if(after > l->limit && !hit) {
			hit = 1;
			over->kind = (enum mid_budget_kind)k;
			over->used = after;
			over->limit = l->limit;
			over->window_ms = l->window_ms;
			over->crossed = before <= l->limit;
		}
	}
	pthread_mutex_unlock(&b->mu);
	return hit;
}
