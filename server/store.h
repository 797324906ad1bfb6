/* SPDX-License-Identifier: MIT */
/*
 * midd's database: orgs (name, key hashes, limit, disabled flag), devices
 * (state, created, last_seen, validates) and the audit table, behind one
 * set of operations whatever the backend (store_backend.h): SQLite for a
 * --db value that is a path, the default; PostgreSQL for a postgresql://
 * URL, shared by several midd replicas. Every function that changes
 * state has committed durably when it returns MID_OK. Serialised inside
 * the store; callers need no lock of their own. A failing statement is
 * logged by the backend, with the engine's message.
 */
#ifndef MID_STORE_H
#define MID_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "budget.h"
#include "chain.h"
#include "mid.h"
#include "sha256.h"
#include "state.h"

#define MID_PEER_MAX 64
#define MID_AUDIT_DETAIL_MAX 1024 /* a report's details: compact JSON */

struct mid_store;

/* One audit row. An empty 'device' means the action concerned the org. */
struct mid_audit_row {
	int64_t id;      /* set by a query: the row's place for paging */
	int64_t time_ms;
	int64_t org_id;
	char device[MID_DEVICE_MAX + 1];
	char route[24];
	char decision[24];
	char code[MID_CODE_MAX];
	char request_id[MID_REQUEST_ID_MAX];
	char peer[MID_PEER_MAX];
	char detail[MID_AUDIT_DETAIL_MAX]; /* "" or a JSON object (a shim's report) */
	/* Its place in the org's hash chain (chain.h), set by the store as
	 * the row is written; 0 for a row outside the chain. */
	int64_t seq;
	unsigned char hash[MID_SHA256_LEN];
};

struct mid_store_org {
	int64_t id;
	const char *name;
	const unsigned char *org_hash;   /* MID_SHA256_LEN bytes */
	const unsigned char *admin_hash; /* MID_SHA256_LEN bytes */
	uint64_t limit;                  /* 0: unlimited */
	int disabled;
	uint64_t validates;
	const unsigned char *grace_hash; /* the org key before the last rotation, or NULL */
	int64_t grace_until_ms;          /* ... valid until then (ms since the epoch) */
};

/* Open the database 'target' names (a --db value), with the backend it
 * names. With 'create' a missing SQLite file is created and the schema is
 * added; without it a missing file is an error. */
enum mid_rc mid_store_open(const char *target, int create, struct mid_store **out,
			   char *err, size_t errlen) MID_WUR;
void mid_store_free(struct mid_store *s);

/* The backend's name: "sqlite" or "postgresql". Static storage. */
const char *mid_store_backend(const struct mid_store *s);

/* midd's secret for the keys of the shim's sessions (see bind.h): made
 * from getrandom(2) at the first call and kept in the database. */
enum mid_rc mid_store_secret(struct mid_store *s, unsigned char out[MID_SHA256_LEN], char *err,
			     size_t errlen) MID_WUR;

/* Add an org; its id in '*id'. A name already taken is MID_ERR_INVAL. */
enum mid_rc mid_store_org_create(struct mid_store *s, const char *name,
				 const unsigned char org_hash[MID_SHA256_LEN],
				 const unsigned char admin_hash[MID_SHA256_LEN],
				 uint64_t limit, int64_t *id, char *err, size_t errlen) MID_WUR;

/* Call 'fn' for each org, then (second function) for each device in
 * creation order. A non-zero return from 'fn' stops with MID_ERR_INVAL. */
typedef int (*mid_store_org_fn)(const struct mid_store_org *org, void *arg);
typedef int (*mid_store_dev_fn)(int64_t org_id, const struct mid_dev_info *dev, void *arg);
enum mid_rc mid_store_each_org(struct mid_store *s, mid_store_org_fn fn, void *arg,
			       char *err, size_t errlen) MID_WUR;
enum mid_rc mid_store_each_device(struct mid_store *s, mid_store_dev_fn fn, void *arg,
				  char *err, size_t errlen) MID_WUR;

/* State changes, each committed together with its audit row 'a'. */
enum mid_rc mid_store_device_add(struct mid_store *s, int64_t org_id, const char *id,
				 enum mid_dev_state state, int64_t created_ms,
				 const struct mid_audit_row *a) MID_WUR;
enum mid_rc mid_store_device_set(struct mid_store *s, int64_t org_id, const char *id,
				 enum mid_dev_state state, const struct mid_audit_row *a) MID_WUR;
enum mid_rc mid_store_org_set_disabled(struct mid_store *s, int64_t org_id, int disabled,
				       const struct mid_audit_row *a) MID_WUR;

/* Replace the org's key 'which' by 'hash'. For the org key, 'old' (when
 * not NULL and 'until_ms' > 0) stays valid until 'until_ms', replacing an
 * earlier overlap; otherwise any overlap ends now. One transaction with
 * the audit row 'a'. */
enum mid_rc mid_store_org_rotate(struct mid_store *s, int64_t org_id, enum mid_role which,
				 const unsigned char hash[MID_SHA256_LEN],
				 const unsigned char old[MID_SHA256_LEN], int64_t until_ms,
				 const struct mid_audit_row *a) MID_WUR;

/* Replace the side-effect budget of device 'dev' by 'b' (one without a
 * limit removes it), in one transaction with the audit row 'a'. */
enum mid_rc mid_store_budget_set(struct mid_store *s, int64_t org_id, const char *dev,
				 const struct mid_budget *b, const struct mid_audit_row *a) MID_WUR;

/* Call 'fn' for each device's budget. A non-zero return stops with
 * MID_ERR_INVAL. */
typedef int (*mid_store_budget_fn)(int64_t org_id, const char *dev, const struct mid_budget *b,
				   void *arg);
enum mid_rc mid_store_each_budget(struct mid_store *s, mid_store_budget_fn fn, void *arg,
				  char *err, size_t errlen) MID_WUR;

/* Make changes toward deny that memory already holds durable, in one
 * transaction with the audit rows 'audit'. Each change is an audit row:
 * a device's ('device' set, 'decision' "revoked" or "removed"; a device
 * the database lacks is added in that state) or the org switch's ('device'
 * empty: the org is disabled). */
enum mid_rc mid_store_apply_denies(struct mid_store *s, const struct mid_audit_row *changes,
				   size_t n, const struct mid_audit_row *audit,
				   size_t na) MID_WUR;

enum mid_store_health {
	MID_STORE_OK = 0,   /* the last write committed */
	MID_STORE_FAILING,  /* the last write failed: full, read-only, locked... */
	MID_STORE_UNLINKED, /* the file is gone from the file system: writes are refused */
	MID_STORE_UNREACHABLE, /* the database server cannot be reached */
};

/* How the database fared at its last write; an unlinked file is seen at
 * once, even before a write. */
enum mid_store_health mid_store_health(struct mid_store *s);

/* Append the rows 'next' yields (until it returns 0) in one transaction.
 * These rows, like the counters below, are written with synchronous=NORMAL:
 * they survive a crash of midd, and only the last batches may be lost if
 * the machine itself goes down. */
typedef int (*mid_store_row_fn)(void *arg, struct mid_audit_row *row);
enum mid_rc mid_store_audit_append(struct mid_store *s, mid_store_row_fn next, void *arg) MID_WUR;

/* Write the counters in 'd' (absolute values) in one transaction. */
enum mid_rc mid_store_counters(struct mid_store *s, const struct mid_dirty *d, size_t n) MID_WUR;

/* Where a page of the audit trail starts: rows older than (time_ms, id);
 * { INT64_MAX, INT64_MAX } for the newest. */
struct mid_audit_cursor {
	int64_t time_ms, id;
};

/* Call 'fn' for the newest 'limit' audit rows of 'org_id' below 'from',
 * newest first, only those of 'device' unless it is NULL. */
typedef int (*mid_store_audit_fn)(const struct mid_audit_row *row, void *arg);
enum mid_rc mid_store_audit_query(struct mid_store *s, int64_t org_id, const char *device,
				  const struct mid_audit_cursor *from, unsigned limit,
				  mid_store_audit_fn fn, void *arg) MID_WUR;

/* ---- the hash chain (chain.h) -------------------------------------------- */

/* A signed checkpoint of an org's chain. */
struct mid_checkpoint {
	int64_t org_id, seq, time_ms;
	unsigned char hash[MID_SHA256_LEN];
	unsigned char sig[MID_ED25519_SIG];
};

#define MID_CHAIN_EVERY 1000 /* default rows between checkpoints */

/* From now on chain every audit row written, per org, on from the last
 * chained row the database holds, and sign a checkpoint with 'signer'
 * (borrowed until mid_store_free) every 'every' rows. A backend that
 * does not keep the chain is MID_ERR_INVAL with 'err' saying so. */
enum mid_rc mid_store_chain_start(struct mid_store *s, struct mid_signer *signer, unsigned every,
				  char *err, size_t errlen) MID_WUR;

/* Change the number of rows between checkpoints. */
void mid_store_chain_every(struct mid_store *s, unsigned every);

/* Sign a checkpoint for each org whose chain moved since its last one
 * (at shutdown). */
enum mid_rc mid_store_chain_checkpoint(struct mid_store *s) MID_WUR;

/* Call 'fn' for the audit rows of 'org_id' after row id 'after_id', in
 * the order they were written, at most 'limit', with their chain place
 * and hash (seq 0 for none). */
enum mid_rc mid_store_chain_rows(struct mid_store *s, int64_t org_id, int64_t after_id,
				 unsigned limit, mid_store_audit_fn fn, void *arg) MID_WUR;

/* Call 'fn' for each checkpoint of 'org_id', by seq. */
typedef int (*mid_store_ckpt_fn)(const struct mid_checkpoint *c, void *arg);
enum mid_rc mid_store_checkpoints(struct mid_store *s, int64_t org_id, mid_store_ckpt_fn fn,
				  void *arg) MID_WUR;

/* ---- webhook alerts (alert.h) ------------------------------------------- */

#define MID_ALERT_URL_MAX 512
#define MID_ALERT_EVENTS_MAX 64
#define MID_ALERT_SECRET_HEX 64   /* the HMAC key, 32 random bytes in hex */
#define MID_ALERT_DETAIL_MAX 3072 /* an event's details: compact JSON */
#define MID_ALERT_ERROR_MAX 256

/* A registered webhook and how its deliveries fare. */
struct mid_alert_hook {
	int64_t id, org_id;
	char url[MID_ALERT_URL_MAX];
	char events[MID_ALERT_EVENTS_MAX];
	char format[8];                         /* "json" or "slack" */
	char secret[MID_ALERT_SECRET_HEX + 1]; /* only to mid_store_alert_hook_add */
	int64_t created_ms;
	uint64_t pending, delivered, failed;
	int64_t last_ok_ms, last_error_ms;      /* 0: never */
	char last_error[MID_ALERT_ERROR_MAX];
};

/* One queued event for one hook, as the delivery thread takes it. */
struct mid_alert_item {
	int64_t id, hook_id;
	char event_id[37];
	char kind[16];
	char org[MID_ORG_NAME_MAX + 1];
	char device[MID_DEVICE_MAX + 1];
	int64_t time_ms;
	char detail[MID_ALERT_DETAIL_MAX];
	unsigned attempts; /* made before this one */
	char url[MID_ALERT_URL_MAX];
	char format[8];
	char secret[MID_ALERT_SECRET_HEX + 1];
};

/* Register 'h' (org_id, url, events, format, secret, created_ms); its id
 * in '*id'. More than MID_ALERT_HOOKS_MAX for one org is MID_ERR_TOO_BIG. */
enum mid_rc mid_store_alert_hook_add(struct mid_store *s, const struct mid_alert_hook *h,
				     int64_t *id) MID_WUR;

/* Remove hook 'id' of 'org_id' and its queued events; MID_ERR_NOT_FOUND
 * when the org has no such hook. */
enum mid_rc mid_store_alert_hook_remove(struct mid_store *s, int64_t org_id, int64_t id) MID_WUR;

/* Call 'fn' for each hook of 'org_id' by id, with its counts (no secret). */
typedef int (*mid_store_hook_fn)(const struct mid_alert_hook *h, void *arg);
enum mid_rc mid_store_alert_hooks(struct mid_store *s, int64_t org_id, mid_store_hook_fn fn,
				  void *arg) MID_WUR;

/* Take up to 'max' pending events due at 'now_ms', oldest first, and
 * keep them from being taken again for 'lease_ms' (another replica, or
 * this one before the attempt ends); 'fn' is called for each after the
 * transaction. */
typedef void (*mid_store_item_fn)(const struct mid_alert_item *it, void *arg);
enum mid_rc mid_store_alert_claim(struct mid_store *s, int64_t now_ms, int64_t lease_ms,
				  unsigned max, mid_store_item_fn fn, void *arg) MID_WUR;

/* What became of an attempt at event 'it': delivered (the event leaves
 * the queue), to retry at 'next_ms', or failed for good ('next_ms' 0).
 * 'error' is "" when delivered. */
enum mid_alert_outcome {
	MID_ALERT_DELIVERED,
	MID_ALERT_RETRY,
	MID_ALERT_FAILED,
};
enum mid_rc mid_store_alert_result(struct mid_store *s, const struct mid_alert_item *it,
				   enum mid_alert_outcome out, int64_t now_ms, int64_t next_ms,
				   const char *error) MID_WUR;

/* Events pending and failed in the queue over every org. */
enum mid_rc mid_store_alert_depth(struct mid_store *s, uint64_t *pending,
				  uint64_t *failed) MID_WUR;

/* What another replica changed, or what became of the connection that
 * follows them (see mid_store_follow). */
enum mid_store_event_kind {
	MID_STORE_EV_DEVICE, /* 'dev' as the database holds it now */
	MID_STORE_EV_ORG,    /* 'org' as the database holds it now */
	MID_STORE_EV_LOST,   /* no word from the database since 'since_ms' (monotonic) */
	MID_STORE_EV_LOADED, /* back: every org and device was handed on again */
};

struct mid_store_event {
	enum mid_store_event_kind kind;
	int64_t org_id;
	const char *request_id; /* of the change, "-" when unknown */
	const struct mid_dev_info *dev;
	const struct mid_store_org *org;
	int64_t since_ms;
};

/* Called on the follower's thread; the pointers live for the call. */
typedef void (*mid_store_event_fn)(const struct mid_store_event *ev, void *arg);

/* Hand every change another midd commits to this database to 'fn', from
 * a thread of the store's, until mid_store_free. The rows are read after
 * the change committed. A lost connection is an EV_LOST event; once it is
 * back, every org and device is handed on again and EV_LOADED follows.
 * MID_ERR_INVAL for a backend that one midd alone serves (SQLite). */
enum mid_rc mid_store_follow(struct mid_store *s, mid_store_event_fn fn, void *arg, char *err,
			     size_t errlen) MID_WUR;

/* Whether 'target' names a PostgreSQL database (postgresql:// or
 * postgres://) rather than a SQLite file. */
int mid_store_is_url(const char *target);

#endif
