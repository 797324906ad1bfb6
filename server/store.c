/* SPDX-License-Identifier: MIT */
/*
 * The storage interface: picks the backend a --db value names and calls
 * through its table of operations (store_backend.h).
 */
#include <stdlib.h>
#include <string.h>

#include "store_backend.h"

#include <stdio.h>
#include <string.h>

int mid_store_is_url(const char *target)
{
	return !strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11);
}

/* The backend for 'target'. */
static const struct mid_store_ops *backend_for(const char *target)
{
	return mid_store_is_url(target) ? &mid_store_postgresql : &mid_store_sqlite;
}

enum mid_rc mid_store_open(const char *target, int create, struct mid_store **out,
			   char *err, size_t errlen)
{
	return backend_for(target)->open(target, create, out, err, errlen);
}

void mid_store_free(struct mid_store *s)
{
	if(!s)
		return;
	mid_chain_free(s);
	s->ops->free(s);
}

/* The audit row 'a' chained into 'copy' (chain lock held); NULL stays NULL. */
static const struct mid_audit_row *chained(struct mid_store *s, const struct mid_audit_row *a,
					   struct mid_audit_row *copy)
{
	if(!a)
		return NULL;
	*copy = *a;
	mid_chain_fill(s, copy);
	return copy;
}

const char *mid_store_backend(const struct mid_store *s)
{
	return s->ops->name;
}

enum mid_rc mid_store_secret(struct mid_store *s, unsigned char out[MID_SHA256_LEN], char *err,
			     size_t errlen)
{
	return s->ops->secret(s, out, err, errlen);
}

enum mid_rc mid_store_org_create(struct mid_store *s, const char *name,
				 const unsigned char org_hash[MID_SHA256_LEN],
				 const unsigned char admin_hash[MID_SHA256_LEN],
				 uint64_t limit, int64_t *id, char *err, size_t errlen)
{
	return s->ops->org_create(s, name, org_hash, admin_hash, limit, id, err, errlen);
}

enum mid_rc mid_store_each_org(struct mid_store *s, mid_store_org_fn fn, void *arg,
			       char *err, size_t errlen)
{
	return s->ops->each_org(s, fn, arg, err, errlen);
}

enum mid_rc mid_store_each_device(struct mid_store *s, mid_store_dev_fn fn, void *arg,
				  char *err, size_t errlen)
{
	return s->ops->each_device(s, fn, arg, err, errlen);
}

enum mid_rc mid_store_device_add(struct mid_store *s, int64_t org_id, const char *id,
				 enum mid_dev_state state, int64_t created_ms,
				 const struct mid_audit_row *a)
{
	struct mid_audit_row c;
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->device_add(s, org_id, id, state, created_ms, chained(s, a, &c));
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_device_set(struct mid_store *s, int64_t org_id, const char *id,
				 enum mid_dev_state state, const struct mid_audit_row *a)
{
	struct mid_audit_row c;
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->device_set(s, org_id, id, state, chained(s, a, &c));
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_budget_set(struct mid_store *s, int64_t org_id, const char *dev,
				 const struct mid_budget *b, const struct mid_audit_row *a)
{
	struct mid_audit_row c;
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->budget_set(s, org_id, dev, b, chained(s, a, &c));
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_each_budget(struct mid_store *s, mid_store_budget_fn fn, void *arg,
				  char *err, size_t errlen)
{
	return s->ops->each_budget(s, fn, arg, err, errlen);
}

enum mid_rc mid_store_org_set_disabled(struct mid_store *s, int64_t org_id, int disabled,
				       const struct mid_audit_row *a)
{
	struct mid_audit_row c;
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->org_set_disabled(s, org_id, disabled, chained(s, a, &c));
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_org_rotate(struct mid_store *s, int64_t org_id, enum mid_role which,
				 const unsigned char hash[MID_SHA256_LEN],
				 const unsigned char old[MID_SHA256_LEN], int64_t until_ms,
				 const struct mid_audit_row *a)
{
	struct mid_audit_row c;
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->org_rotate(s, org_id, which, hash, old, until_ms, chained(s, a, &c));
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_apply_denies(struct mid_store *s, const struct mid_audit_row *changes,
				   size_t n, const struct mid_audit_row *audit, size_t na)
{
	struct mid_audit_row *c = NULL;
	enum mid_rc rc;
	size_t i;

	if(s->chain && na) {
		c = malloc(na * sizeof(*c));
		if(!c)
			return MID_ERR_NOMEM;
	}
	mid_chain_lock(s);
	for(i = 0; c && i < na; i++)
		chained(s, &audit[i], &c[i]);
	rc = s->ops->apply_denies(s, changes, n, c ? c : audit, na);
	mid_chain_unlock(s, rc);
	free(c);
	return rc;
}

enum mid_store_health mid_store_health(struct mid_store *s)
{
	return s->ops->health(s);
}

/* The rows of an append, each chained as the backend takes it. */
struct chained_rows {
	struct mid_store *s;
	mid_store_row_fn next;
	void *arg;
};

static int next_chained(void *arg, struct mid_audit_row *row)
{
	struct chained_rows *w = arg;

	if(!w->next(w->arg, row))
		return 0;
	mid_chain_fill(w->s, row);
	return 1;
}

enum mid_rc mid_store_audit_append(struct mid_store *s, mid_store_row_fn next, void *arg)
{
	struct chained_rows w = {s, next, arg};
	enum mid_rc rc;

	mid_chain_lock(s);
	rc = s->ops->audit_append(s, next_chained, &w);
	mid_chain_unlock(s, rc);
	return rc;
}

enum mid_rc mid_store_counters(struct mid_store *s, const struct mid_dirty *d, size_t n)
{
	return s->ops->counters(s, d, n);
}

enum mid_rc mid_store_audit_query(struct mid_store *s, int64_t org_id, const char *device,
				  const struct mid_audit_cursor *from, unsigned limit,
				  mid_store_audit_fn fn, void *arg)
{
	return s->ops->audit_query(s, org_id, device, from, limit, fn, arg);
}

enum mid_rc mid_store_alert_hook_add(struct mid_store *s, const struct mid_alert_hook *h,
				     int64_t *id)
{
	return s->ops->alert_hook_add(s, h, id);
}

enum mid_rc mid_store_alert_hook_remove(struct mid_store *s, int64_t org_id, int64_t id)
{
	return s->ops->alert_hook_remove(s, org_id, id);
}

enum mid_rc mid_store_alert_hooks(struct mid_store *s, int64_t org_id, mid_store_hook_fn fn,
				  void *arg)
{
	return s->ops->alert_hooks(s, org_id, fn, arg);
}

enum mid_rc mid_store_alert_claim(struct mid_store *s, int64_t now_ms, int64_t lease_ms,
				  unsigned max, mid_store_item_fn fn, void *arg)
{
	return s->ops->alert_claim(s, now_ms, lease_ms, max, fn, arg);
}

enum mid_rc mid_store_alert_result(struct mid_store *s, const struct mid_alert_item *it,
				   enum mid_alert_outcome out, int64_t now_ms, int64_t next_ms,
				   const char *error)
{
	return s->ops->alert_result(s, it, out, now_ms, next_ms, error);
}

enum mid_rc mid_store_alert_depth(struct mid_store *s, uint64_t *pending, uint64_t *failed)
{
	return s->ops->alert_depth(s, pending, failed);
}

enum mid_rc mid_store_follow(struct mid_store *s, mid_store_event_fn fn, void *arg, char *err,
			     size_t errlen)
{
	if(!s->ops->follow) {
		snprintf(err, errlen, "the %s backend has no other midd to follow", s->ops->name);
		return MID_ERR_INVAL;
	}
	return s->ops->follow(s, fn, arg, err, errlen);
}
