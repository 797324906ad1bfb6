/* SPDX-License-Identifier: MIT */
/*
 * The storage backends' side of store.h: each backend fills one table of
 * operations, and every handle it returns starts with struct mid_store,
 * whose 'ops' names that table. store.c picks the backend by the --db
 * value and calls through the table; nothing else includes this header.
 * The operations promise what the mid_store_* function of the same name
 * promises in store.h.
 */
#ifndef MID_STORE_BACKEND_H
#define MID_STORE_BACKEND_H

#include "store.h"

struct mid_store_ops {
	const char *name; /* "sqlite", "postgresql": for /healthz and logs */
	enum mid_rc (*open)(const char *target, int create, struct mid_store **out, char *err,
			    size_t errlen);
	void (*free)(struct mid_store *s);
	enum mid_rc (*secret)(struct mid_store *s, unsigned char out[MID_SHA256_LEN], char *err,
			      size_t errlen);
	enum mid_rc (*org_create)(struct mid_store *s, const char *name,
				  const unsigned char org_hash[MID_SHA256_LEN],
				  const unsigned char admin_hash[MID_SHA256_LEN], uint64_t limit,
				  int64_t *id, char *err, size_t errlen);
	enum mid_rc (*each_org)(struct mid_store *s, mid_store_org_fn fn, void *arg, char *err,
				size_t errlen);
	enum mid_rc (*each_device)(struct mid_store *s, mid_store_dev_fn fn, void *arg, char *err,
				   size_t errlen);
	enum mid_rc (*device_add)(struct mid_store *s, int64_t org_id, const char *id,
				  enum mid_dev_state state, int64_t created_ms,
				  const struct mid_audit_row *a);
	enum mid_rc (*device_set)(struct mid_store *s, int64_t org_id, const char *id,
				  enum mid_dev_state state, const struct mid_audit_row *a);
	enum mid_rc (*org_set_disabled)(struct mid_store *s, int64_t org_id, int disabled,
					const struct mid_audit_row *a);
	enum mid_rc (*org_rotate)(struct mid_store *s, int64_t org_id, enum mid_role which,
				  const unsigned char hash[MID_SHA256_LEN],
				  const unsigned char old[MID_SHA256_LEN], int64_t until_ms,
				  const struct mid_audit_row *a);
	enum mid_rc (*apply_denies)(struct mid_store *s, const struct mid_audit_row *changes,
				    size_t n, const struct mid_audit_row *audit, size_t na);
	enum mid_rc (*budget_set)(struct mid_store *s, int64_t org_id, const char *dev,
				  const struct mid_budget *b, const struct mid_audit_row *a);
	enum mid_rc (*each_budget)(struct mid_store *s, mid_store_budget_fn fn, void *arg,
				   char *err, size_t errlen);
	enum mid_store_health (*health)(struct mid_store *s);
	enum mid_rc (*audit_append)(struct mid_store *s, mid_store_row_fn next, void *arg);
	enum mid_rc (*counters)(struct mid_store *s, const struct mid_dirty *d, size_t n);
	enum mid_rc (*audit_query)(struct mid_store *s, int64_t org_id, const char *device,
				   const struct mid_audit_cursor *from, unsigned limit,
				   mid_store_audit_fn fn, void *arg);
	/* The hash chain (store_chain.c); NULL in a backend without it.
	 * chain_heads calls 'fn' per org with the place and hash of its last
	 * chained row and the place of its last checkpoint (0 for none). */
	enum mid_rc (*chain_heads)(struct mid_store *s,
				   void (*fn)(void *arg, int64_t org_id, int64_t seq,
					      const unsigned char hash[MID_SHA256_LEN],
					      int64_t ckpt_seq),
				   void *arg);
	enum mid_rc (*checkpoint_add)(struct mid_store *s, const struct mid_checkpoint *c);
	enum mid_rc (*chain_rows)(struct mid_store *s, int64_t org_id, int64_t after_id,
				  unsigned limit, mid_store_audit_fn fn, void *arg);
	enum mid_rc (*checkpoints)(struct mid_store *s, int64_t org_id, mid_store_ckpt_fn fn,
				   void *arg);
	/* Webhook alerts (alert.h). */
	enum mid_rc (*alert_hook_add)(struct mid_store *s, const struct mid_alert_hook *h,
				      int64_t *id);
	enum mid_rc (*alert_hook_remove)(struct mid_store *s, int64_t org_id, int64_t id);
	enum mid_rc (*alert_hooks)(struct mid_store *s, int64_t org_id, mid_store_hook_fn fn,
				   void *arg);
	enum mid_rc (*alert_claim)(struct mid_store *s, int64_t now_ms, int64_t lease_ms,
				   unsigned max, mid_store_item_fn fn, void *arg);
	enum mid_rc (*alert_result)(struct mid_store *s, const struct mid_alert_item *it,
				    enum mid_alert_outcome out, int64_t now_ms, int64_t next_ms,
				    const char *error);
	enum mid_rc (*alert_depth)(struct mid_store *s, uint64_t *pending, uint64_t *failed);
	/* NULL: one midd alone serves this backend. */
	enum mid_rc (*follow)(struct mid_store *s, mid_store_event_fn fn, void *arg, char *err,
			      size_t errlen);
};

struct mid_chainer;

struct mid_store {
	const struct mid_store_ops *ops;
	struct mid_chainer *chain; /* NULL until mid_store_chain_start */
};

/* The chain's side of the store (store_chain.c). Around each operation
 * that writes audit rows: chain_lock, then chain_fill on each row (in
 * the order the backend writes them), then chain_unlock with the
 * operation's result, which keeps the heads or puts them back. Without
 * a chain they do nothing. */
void mid_chain_lock(struct mid_store *s);
void mid_chain_fill(struct mid_store *s, struct mid_audit_row *row);
void mid_chain_unlock(struct mid_store *s, enum mid_rc rc);
void mid_chain_free(struct mid_store *s);

extern const struct mid_store_ops mid_store_sqlite;
extern const struct mid_store_ops mid_store_postgresql;

#endif
