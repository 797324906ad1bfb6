/* SPDX-License-Identifier: MIT */
/*
 * In-memory org and device table. Per org: an open-addressing hash map
 * from deviceId to device plus a creation-order array for listing, both
 * under one rwlock. Counters (validates, last_seen) are atomics so the
 * validate path only ever takes the read lock.
 */
#define _GNU_SOURCE
#include "state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct dev {
	enum mid_dev_state state;      /* under the org's lock */
	int unpersisted;               /* 'state' is not yet in the database */
	int64_t created_ms;
	_Atomic int64_t last_seen_ms;
	_Atomic uint64_t validates;
	/* When a process last reported each mode (0: never). */
	_Atomic int64_t enforce_ms, audit_ms;
	uint64_t flushed;              /* touched by the flush thread only */
	size_t len;
	char id[];
};

struct mid_org {
	int64_t id;
	char name[MID_ORG_NAME_MAX + 1];
	unsigned char org_hash[MID_SHA256_LEN];
	unsigned char admin_hash[MID_SHA256_LEN];
	/* The org key before the last rotation, valid until grace_until_ms
	 * (wall clock; 0: none). */
	unsigned char grace_hash[MID_SHA256_LEN];
	int64_t grace_until_ms;
	uint64_t limit;
	int disabled;
	int disabled_unpersisted;
	_Atomic uint64_t validates;
	uint64_t flushed;
	pthread_rwlock_t lock;
	struct dev **slots; /* hash map, 'mask' + 1 entries */
	size_t mask;
	struct dev **order; /* creation order, 'ndev' of 'cap' used */
	size_t ndev, cap;
};

struct mid_state {
	struct mid_org **orgs;
	size_t norgs;
};

static const char *const state_names[] = {
	[MID_DEV_NONE] = "not_found",
	[MID_DEV_ACTIVE] = "active",
	[MID_DEV_REVOKED] = "revoked",
	[MID_DEV_REMOVED] = "removed",
};

const char *mid_dev_state_name(enum mid_dev_state s)
{
	if((unsigned)s < MID_ARRAY_LEN(state_names))
		return state_names[s];
	return "unknown";
}

enum mid_dev_state mid_dev_state_parse(const char *name)
{
	size_t i;

	for(i = MID_DEV_ACTIVE; i < MID_ARRAY_LEN(state_names); i++)
		if(!strcmp(name, state_names[i]))
			return (enum mid_dev_state)i;
	return MID_DEV_NONE;
}

static const char *const mode_names[] = {
	[MID_PROC_UNKNOWN] = "unknown",
	[MID_PROC_ENFORCE] = "enforce",
	[MID_PROC_AUDIT] = "audit",
	[MID_PROC_MIXED] = "mixed",
};

const char *mid_proc_mode_name(enum mid_proc_mode m)
{
	if((unsigned)m < MID_ARRAY_LEN(mode_names))
		return mode_names[m];
	return "unknown";
}

enum mid_proc_mode mid_proc_mode_parse(const char *name)
{
	size_t i;

	for(i = MID_PROC_ENFORCE; i < MID_ARRAY_LEN(mode_names); i++)
		if(!strcmp(name, mode_names[i]))
			return (enum mid_proc_mode)i;
	return MID_PROC_UNKNOWN;
}

/* FNV-1a: deviceIds are short and not attacker-chosen in bulk (only a
 * key holder can register), so a simple hash serves. */
static uint64_t hash_id(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603u;
	size_t i;

	for(i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211u;
	}
	return h;
}

static struct dev *find(const struct mid_org *org, const char *id, size_t len)
{
	size_t i;

	if(!org->slots)
		return NULL;
	for(i = hash_id(id, len) & org->mask;; i = (i + 1) & org->mask) {
		struct dev *d = org->slots[i];
		if(!d)
			return NULL;
		if(d->len == len && !memcmp(d->id, id, len))
			return d;
	}
}

static void slot_insert(struct dev **slots, size_t mask, struct dev *d)
{
	size_t i;

	for(i = hash_id(d->id, d->len) & mask; slots[i]; i = (i + 1) & mask)
		;
	slots[i] = d;
}

/* Make room for one more device: the map stays under 70% full. */
static enum mid_rc grow(struct mid_org *org)
{
	size_t i;

	if(org->ndev == org->cap) {
		size_t cap = org->cap ? org->cap * 2 : 64;
		struct dev **o = realloc(org->order, cap * sizeof(*o));
		if(!o)
			return MID_ERR_NOMEM;
		org->order = o;
		org->cap = cap;
	}
	if(!org->slots || (org->ndev + 1) * 10 > (org->mask + 1) * 7) {
		size_t n = org->slots ? (org->mask + 1) * 2 : 128;
		struct dev **s = calloc(n, sizeof(*s));
		if(!s)
			return MID_ERR_NOMEM;
		for(i = 0; i < org->ndev; i++)
			slot_insert(s, n - 1, org->order[i]);
		free(org->slots);
		org->slots = s;
		org->mask = n - 1;
	}
	return MID_OK;
}

enum mid_rc mid_state_new(struct mid_state **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? MID_OK : MID_ERR_NOMEM;
}

void mid_state_free(struct mid_state *st)
{
	size_t i, j;

	if(!st)
		return;
	for(i = 0; i < st->norgs; i++) {
		struct mid_org *org = st->orgs[i];
		for(j = 0; j < org->ndev; j++)
			free(org->order[j]);
		free(org->order);
		free(org->slots);
		pthread_rwlock_destroy(&org->lock);
		free(org);
	}
	free(st->orgs);
	free(st);
}

enum mid_rc mid_state_add_org(struct mid_state *st, int64_t id, const char *name,
			      const unsigned char org_hash[MID_SHA256_LEN],
			      const unsigned char admin_hash[MID_SHA256_LEN],
			      uint64_t limit, int disabled, uint64_t validates,
			      struct mid_org **out)
{
	struct mid_org *org, **v;

	v = realloc(st->orgs, (st->norgs + 1) * sizeof(*v));
	if(!v)
		return MID_ERR_NOMEM;
	st->orgs = v;
	org = calloc(1, sizeof(*org));
	if(!org)
		return MID_ERR_NOMEM;
	if(pthread_rwlock_init(&org->lock, NULL)) {
		free(org);
		return MID_ERR_NOMEM;
	}
	org->id = id;
	mid_strlcpy(org->name, name, sizeof(org->name));
	memcpy(org->org_hash, org_hash, MID_SHA256_LEN);
	memcpy(org->admin_hash, admin_hash, MID_SHA256_LEN);
	org->limit = limit;
	org->disabled = disabled;
	atomic_init(&org->validates, validates);
	org->flushed = validates;
	st->orgs[st->norgs++] = org;
	if(out)
		*out = org;
	return MID_OK;
}

struct mid_org *mid_state_org_by_id(struct mid_state *st, int64_t id)
{
	size_t i;

	for(i = 0; i < st->norgs; i++)
		if(st->orgs[i]->id == id)
			return st->orgs[i];
	return NULL;
}

size_t mid_state_org_count(const struct mid_state *st)
{
	return st->norgs;
}

struct mid_org *mid_state_org_at(struct mid_state *st, size_t i)
{
	return i < st->norgs ? st->orgs[i] : NULL;
}

int64_t mid_org_id(const struct mid_org *org)
{
	return org->id;
}

const char *mid_org_name(const struct mid_org *org)
{
	return org->name;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum mid_rc mid_state_auth(struct mid_state *st, const unsigned char hash[MID_SHA256_LEN],
			   struct mid_org **org, enum mid_role *role)
{
	struct mid_org *found = NULL;
	enum mid_role r = MID_ROLE_ORG;
	int64_t now = wall_ms();
	size_t i;

	for(i = 0; i < st->norgs; i++) {
		struct mid_org *o = st->orgs[i];
		int is_org, is_admin, is_old;

		pthread_rwlock_rdlock(&o->lock);
		is_org = mid_ct_equal(o->org_hash, hash, MID_SHA256_LEN);
		/* Compared whether or not its time is up, so the timing
		 * does not tell. */
		is_old = mid_ct_equal(o->grace_hash, hash, MID_SHA256_LEN);
		is_org |= is_old & (now < o->grace_until_ms);
		is_admin = mid_ct_equal(o->admin_hash, hash, MID_SHA256_LEN);
		pthread_rwlock_unlock(&o->lock);
		if((is_org | is_admin) && !found) {
			found = o;
			r = is_admin ? MID_ROLE_ADMIN : MID_ROLE_ORG;
		}
	}
	if(!found)
		return MID_ERR_DENIED;
	*org = found;
	*role = r;
	return MID_OK;
}

enum mid_rc mid_state_put(struct mid_org *org, const char *id, enum mid_dev_state state,
			  int64_t created_ms, int64_t last_seen_ms, uint64_t validates)
{
	size_t len = strlen(id);
	enum mid_rc rc = MID_OK;
	struct dev *d;

	if(!mid_device_ok(id, len))
		return MID_ERR_INVAL;
	pthread_rwlock_wrlock(&org->lock);
	d = find(org, id, len);
	if(d) {
		d->state = state;
		goto out;
	}
	rc = grow(org);
	if(rc)
		goto out;
	d = calloc(1, sizeof(*d) + len + 1);
	if(!d) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	d->state = state;
	d->created_ms = created_ms;
	atomic_init(&d->last_seen_ms, last_seen_ms);
	atomic_init(&d->validates, validates);
	atomic_init(&d->enforce_ms, 0);
	atomic_init(&d->audit_ms, 0);
	d->flushed = validates;
	d->len = len;
	memcpy(d->id, id, len + 1);
	slot_insert(org->slots, org->mask, d);
	org->order[org->ndev++] = d;
out:
	pthread_rwlock_unlock(&org->lock);
	return rc;
}

void mid_state_validate(struct mid_org *org, const char *id, int64_t now_ms,
			enum mid_dev_state *state, int *org_disabled)
{
	mid_state_validate_mode(org, id, now_ms, MID_PROC_UNKNOWN, state, org_disabled);
}

void mid_state_validate_mode(struct mid_org *org, const char *id, int64_t now_ms,
			     enum mid_proc_mode mode, enum mid_dev_state *state,
			     int *org_disabled)
{
	struct dev *d;

	atomic_fetch_add_explicit(&org->validates, 1, memory_order_relaxed);
	pthread_rwlock_rdlock(&org->lock);
	d = find(org, id, strlen(id));
	*org_disabled = org->disabled;
	if(d) {
		*state = d->state;
		atomic_fetch_add_explicit(&d->validates, 1, memory_order_relaxed);
		atomic_store_explicit(&d->last_seen_ms, now_ms, memory_order_relaxed);
		if(mode == MID_PROC_ENFORCE)
			atomic_store_explicit(&d->enforce_ms, now_ms, memory_order_relaxed);
		else if(mode == MID_PROC_AUDIT)
			atomic_store_explicit(&d->audit_ms, now_ms, memory_order_relaxed);
	} else {
		*state = MID_DEV_NONE;
	}
	pthread_rwlock_unlock(&org->lock);
}

/* The later of the two modes reported, or "mixed" when both came
 * within MID_MODE_MIXED_MS of each other. */
static enum mid_proc_mode dev_mode(const struct dev *d)
{
	int64_t e = atomic_load_explicit(&d->enforce_ms, memory_order_relaxed);
	int64_t a = atomic_load_explicit(&d->audit_ms, memory_order_relaxed);

	if(!e && !a)
		return MID_PROC_UNKNOWN;
	if(e && a && (e > a ? e - a : a - e) <= MID_MODE_MIXED_MS)
		return MID_PROC_MIXED;
	return e > a ? MID_PROC_ENFORCE : MID_PROC_AUDIT;
}

static void copy_info(const struct dev *d, struct mid_dev_info *info)
{
	memcpy(info->id, d->id, d->len + 1);
	info->state = d->state;
	info->unpersisted = d->unpersisted;
	info->created_ms = d->created_ms;
	info->last_seen_ms = atomic_load_explicit(&d->last_seen_ms, memory_order_relaxed);
	info->validates = atomic_load_explicit(&d->validates, memory_order_relaxed);
	info->mode = dev_mode(d);
}

enum mid_rc mid_state_get(struct mid_org *org, const char *id, struct mid_dev_info *info)
{
	enum mid_rc rc = MID_ERR_NOT_FOUND;
	struct dev *d;

	pthread_rwlock_rdlock(&org->lock);
	d = find(org, id, strlen(id));
	if(d) {
		copy_info(d, info);
		rc = MID_OK;
	}
	pthread_rwlock_unlock(&org->lock);
	return rc;
}

uint64_t mid_state_slots_used(struct mid_org *org)
{
	uint64_t n = 0;
	size_t i;

	pthread_rwlock_rdlock(&org->lock);
	for(i = 0; i < org->ndev; i++)
		n += org->order[i]->state != MID_DEV_REMOVED;
	pthread_rwlock_unlock(&org->lock);
	return n;
}

void mid_state_usage(struct mid_org *org, struct mid_usage *u)
{
	size_t i;

	memset(u, 0, sizeof(*u));
	pthread_rwlock_rdlock(&org->lock);
	for(i = 0; i < org->ndev; i++) {
		switch(org->order[i]->state) {
		case MID_DEV_ACTIVE: u->active++; break;
		case MID_DEV_REVOKED: u->revoked++; break;
		case MID_DEV_REMOVED: u->removed++; break;
		case MID_DEV_NONE: break;
		}
	}
	u->devices = org->ndev;
	u->limit = org->limit;
	u->disabled = org->disabled;
	u->disabled_unpersisted = org->disabled_unpersisted;
	u->validates = atomic_load_explicit(&org->validates, memory_order_relaxed);
	pthread_rwlock_unlock(&org->lock);
}

size_t mid_state_each_from(struct mid_org *org, size_t from, mid_state_each_fn fn, void *arg,
			   size_t *total)
{
	struct mid_dev_info info;
	size_t i;

	pthread_rwlock_rdlock(&org->lock);
	for(i = from; i < org->ndev; i++) {
		copy_info(org->order[i], &info);
		if(fn(&info, arg)) {
			i++;
			break;
		}
	}
	if(total)
		*total = org->ndev;
	pthread_rwlock_unlock(&org->lock);
	return i;
}

void mid_state_each(struct mid_org *org, mid_state_each_fn fn, void *arg)
{
	mid_state_each_from(org, 0, fn, arg, NULL);
}

void mid_state_set_disabled(struct mid_org *org, int disabled)
{
	pthread_rwlock_wrlock(&org->lock);
	org->disabled = disabled;
	pthread_rwlock_unlock(&org->lock);
}

void mid_state_set_unpersisted(struct mid_org *org, const char *id, int on)
{
	struct dev *d;

	pthread_rwlock_wrlock(&org->lock);
	if(!id)
		org->disabled_unpersisted = on;
	else if((d = find(org, id, strlen(id))))
		d->unpersisted = on;
	pthread_rwlock_unlock(&org->lock);
}

int mid_state_disabled(struct mid_org *org)
{
	int d;

	pthread_rwlock_rdlock(&org->lock);
	d = org->disabled;
	pthread_rwlock_unlock(&org->lock);
	return d;
}

void mid_state_set_grace(struct mid_org *org, const unsigned char hash[MID_SHA256_LEN],
			 int64_t until_ms)
{
	pthread_rwlock_wrlock(&org->lock);
	if(hash && until_ms > 0) {
		memcpy(org->grace_hash, hash, MID_SHA256_LEN);
		org->grace_until_ms = until_ms;
	} else {
		memset(org->grace_hash, 0, MID_SHA256_LEN);
		org->grace_until_ms = 0;
	}
	pthread_rwlock_unlock(&org->lock);
}

void mid_state_org_hash(struct mid_org *org, unsigned char out[MID_SHA256_LEN])
{
	pthread_rwlock_rdlock(&org->lock);
	memcpy(out, org->org_hash, MID_SHA256_LEN);
	pthread_rwlock_unlock(&org->lock);
}

int64_t mid_state_grace_until(struct mid_org *org)
{
	int64_t until;

	pthread_rwlock_rdlock(&org->lock);
	until = org->grace_until_ms;
	pthread_rwlock_unlock(&org->lock);
	return until > wall_ms() ? until : 0;
}

void mid_state_set_key(struct mid_org *org, enum mid_role which,
		       const unsigned char hash[MID_SHA256_LEN])
{
	pthread_rwlock_wrlock(&org->lock);
	memcpy(which == MID_ROLE_ADMIN ? org->admin_hash : org->org_hash, hash, MID_SHA256_LEN);
	pthread_rwlock_unlock(&org->lock);
}

enum mid_rc mid_state_dirty(struct mid_state *st, struct mid_dirty **out, size_t *n)
{
	struct mid_dirty *v = NULL;
	size_t used = 0, cap = 0, i, j;
	enum mid_rc rc = MID_OK;

	for(i = 0; i < st->norgs && !rc; i++) {
		struct mid_org *org = st->orgs[i];

		pthread_rwlock_rdlock(&org->lock);
		/* One entry per changed device plus one for the org total. */
		for(j = 0; j <= org->ndev; j++) {
			struct mid_dirty e = {.org_id = org->id};
			if(j == org->ndev) {
				e.validates = atomic_load(&org->validates);
				if(e.validates == org->flushed)
					continue;
				e.ref = org;
			} else {
				struct dev *d = org->order[j];
				e.validates = atomic_load(&d->validates);
				if(e.validates == d->flushed)
					continue;
				e.id = d->id;
				e.last_seen_ms = atomic_load(&d->last_seen_ms);
				e.ref = d;
			}
			if(used == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct mid_dirty *nv = realloc(v, nc * sizeof(*nv));
				if(!nv) {
					rc = MID_ERR_NOMEM;
					break;
				}
				v = nv;
				cap = nc;
			}
			v[used++] = e;
		}
		pthread_rwlock_unlock(&org->lock);
	}
	if(rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = used;
	return MID_OK;
}

void mid_state_mark_flushed(struct mid_dirty *d, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++) {
		if(d[i].id)
			((struct dev *)d[i].ref)->flushed = d[i].validates;
		else
			((struct mid_org *)d[i].ref)->flushed = d[i].validates;
	}
}
