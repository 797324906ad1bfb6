/* SPDX-License-Identifier: MIT */
/*
 * What midd does, apart from HTTP: authenticate a key, register, validate,
 * change a device's or an org's state, rotate a key. Durability is
 * asymmetric. A change toward allow (register, restore, org enable, key
 * rotation) is committed to the database, with its audit row, before
 * memory is updated and before the caller may answer; it is refused
 * while a change toward deny still waits for the database. A change
 * toward deny (revoke, remove, org disable) takes effect in memory at
 * once, whatever the storage says; when the database cannot take it, it
 * is kept in the deny journal beside the database, answered as not
 * persisted, and retried with a bounded backoff until it is durable.
 * Validate only reads memory. Changes are serialised by one writer
 * mutex; validate never takes it.
 */
#ifndef MID_SERVICE_H
#define MID_SERVICE_H

#include <stddef.h>

#include "keeper.h"
#include "budget.h"
#include "keys.h"
#include "mid.h"
#include "state.h"
#include "store.h"

struct mid_service;

/* Who asked: for the audit table and the log. */
struct mid_caller {
	const char *peer;       /* "127.0.0.1", "::1", "unix" */
	const char *request_id; /* UUID v4 */
	enum mid_proc_mode mode; /* what a validating process reported */
	const uint64_t *counts;  /* a shim's side-effect counts (budget.h); NULL: none */
};

enum mid_reg_status {
	MID_REG_OK,
	MID_REG_EXISTS,
	MID_REG_LIMIT,
	MID_REG_REMOVED,
	MID_REG_RATE, /* over the org's rate of new devices: try again later */
};

/* A validate answer. All strings are static. */
struct mid_verdict {
	int allowed;
	const char *code;   /* ALLOW, DEVICE_REVOKED, ... */
	const char *status; /* allowed, revoked, ... */
	const char *reason; /* one sentence for humans */
};

/* How far a change toward deny got. */
struct mid_change {
	int persisted; /* the database holds it */
	int journaled; /* it does not, but the deny journal does: it survives a restart */
};

/* Storage as /healthz shows it. */
struct mid_health {
	size_t pending;           /* deny changes not yet in the database */
	int64_t pending_since_ms; /* wall clock of the oldest; 0 when none */
	enum mid_store_health db;
	int journal;              /* the deny journal is open */
	size_t journal_used;      /* its slots in use */
	const char *backend;      /* "sqlite", "postgresql" */
	const char *replica;      /* this replica's name; NULL: not one of several */
	int64_t lost_ms;          /* how long the database has been out of reach; 0: it is not */
	int stale;                /* longer than --max-stale: validates are denied */
	int64_t max_stale_ms;
};

/* What /metrics reads at a scrape: totals over every org. */
struct mid_gauges {
	uint64_t devices[4]; /* by enum mid_dev_state: active, revoked, removed */
	uint64_t orgs, orgs_disabled;
	uint64_t push_channels;
	size_t audit_queued;
	uint64_t audit_dropped;
};
void mid_service_gauges(struct mid_service *svc, struct mid_gauges *g);

#define MID_REPLICA_MAX 65     /* bytes in a replica name, with its NUL */

#define MID_RETRY_MIN_MS 100   /* first retry of a pending change */
#define MID_RETRY_MAX_MS 5000  /* backoff bound */

const char *mid_reg_status_name(enum mid_reg_status s);

/* Open the database at 'db', load it into memory, open (or create) the
 * deny journal 'db'-pending and replay it, and start flushing. A database
 * without an org is refused with a message saying to run `midd init`; so
 * is a journal that exists but cannot be read. A journal that cannot be
 * created is logged, and midd serves without one. */
enum mid_rc mid_service_open(const char *db, struct mid_service **out,
			     char *err, size_t errlen) MID_WUR;
/* The same with the deny journal beside 'local' instead of 'db' (for a
 * database that is not a file). */
enum mid_rc mid_service_open_at(const char *db, const char *local, struct mid_service **out,
				char *err, size_t errlen) MID_WUR;

/* Serve as the replica 'replica' of several on one database: apply what
 * the others change to memory and to the push channels. Once the database
 * has been out of reach 'max_stale_ms', validates are denied with
 * MIDD_STALE until it is back and reloaded. Meanwhile a change toward
 * deny applies here and waits in the deny journal, to be committed (and
 * so announced to the others) once the database is back and reloaded;
 * register and the other changes fail with MID_ERR_IO. MID_ERR_INVAL for
 * a SQLite database. */
enum mid_rc mid_service_follow(struct mid_service *svc, const char *replica,
			       int64_t max_stale_ms, char *err, size_t errlen) MID_WUR;

/* Flush what is pending, stop the flush thread, close the database. */
void mid_service_close(struct mid_service *svc);

/* The org and role a presented key belongs to; MID_ERR_DENIED if none. */
enum mid_rc mid_service_auth(struct mid_service *svc, const char *key,
			     struct mid_org **org, enum mid_role *role) MID_WUR;

/* Register 'dev'. MID_REG_RATE, with '*retry_ms', when the org may not
 * create another device yet (see mid_service_set_register_rate). */
enum mid_rc mid_service_register(struct mid_service *svc, struct mid_org *org, const char *dev,
				 const struct mid_caller *c, enum mid_reg_status *status,
				 unsigned *retry_ms) MID_WUR;

/* New devices an org may create: 'rate' a second (0 = any number) in
 * bursts of 'burst'. The default is MID_QUOTA_RATE and MID_QUOTA_BURST. */
void mid_service_set_register_rate(struct mid_service *svc, unsigned rate, unsigned burst);

void mid_service_validate(struct mid_service *svc, struct mid_org *org, const char *dev,
			  const struct mid_caller *c, struct mid_verdict *v);

/* Set a device's state on behalf of the admin route 'action' (revoke,
 * unrevoke, restore, remove). MID_ERR_NOT_FOUND for an unknown device;
 * MID_ERR_IO when a change toward allow cannot be made durable now. A
 * change toward deny is MID_OK once in memory; 'res' says how durable. */
enum mid_rc mid_service_set_state(struct mid_service *svc, struct mid_org *org, const char *dev,
				  const char *action, enum mid_dev_state to,
				  const struct mid_caller *c, struct mid_change *res) MID_WUR;

/* Record an operator's change made outside the device and org tables
 * (a webhook added or removed): an audit row of 'route' with 'decision',
 * code OK and the details 'detail' (a JSON object or NULL), written with
 * the next batch. */
void mid_service_note(struct mid_service *svc, struct mid_org *org, const char *route,
		      const char *decision, const char *detail, const struct mid_caller *c);

/* Disable (deny) or enable (allow) the org, as mid_service_set_state. */
enum mid_rc mid_service_set_disabled(struct mid_service *svc, struct mid_org *org, int disabled,
				     const struct mid_caller *c, struct mid_change *res) MID_WUR;

/* Replace the org's key 'which' with a fresh one, returned in 'key'. For
 * the org key, a 'grace_ms' > 0 keeps the old one working that much
 * longer, so running programs are not cut off ('*grace_until_ms', when
 * not NULL, gets the end, 0 for none). */
enum mid_rc mid_service_rotate(struct mid_service *svc, struct mid_org *org, enum mid_role which,
			       int64_t grace_ms, const struct mid_caller *c,
			       char key[MID_KEY_LEN + 1], int64_t *grace_until_ms) MID_WUR;

void mid_service_health(struct mid_service *svc, struct mid_health *h);

/* The key of the shim's session 'sid' for 'dev' (see bind.h). */
void mid_service_session_key(const struct mid_service *svc, const struct mid_org *org,
			     const char *dev, const char *sid, unsigned char key[MID_SHA256_LEN]);

/* Start push channels: the registry, with its keeper on 'keeper_path'
 * (the program 'exe' is started as the keeper when none runs). Channels
 * the keeper gives back whose device is no longer allowed are killed at
 * once. A keeper that cannot be had is logged; push then works without
 * surviving a restart. */
enum mid_rc mid_service_push_start(struct mid_service *svc, const char *keeper_path,
				   const char *exe, size_t limit, char *err, size_t errlen) MID_WUR;

/* Hold, or give back, a place for one more push channel under the
 * start's 'limit' (mid_push_reserve); mid_service_push_add takes it. */
int mid_service_push_reserve(struct mid_service *svc);
void mid_service_push_unreserve(struct mid_service *svc);

/* Register a push channel 'fd' (taken) of 'ch->device' in 'org'. A device
 * that is already denied has its channel killed at once. Revoke, remove
 * and org disable kill the channels of what they deny, after the change
 * in memory, each with an audit row (route "push", decision "kill") under
 * the change's request ID. */
enum mid_rc mid_service_push_add(struct mid_service *svc, struct mid_org *org, int fd,
				 struct mid_push_chan *ch, const struct mid_caller *c) MID_WUR;

/* One event a client reported (report.h): an audit row with route
 * "report", decision and code the event, and in the peer column the pid,
 * program and as much of the detail as fits; the whole report goes to
 * the log. */
struct mid_report;
void mid_service_report(struct mid_service *svc, struct mid_org *org,
			const struct mid_report *r, const struct mid_caller *c);

/* Each live channel of 'dev' (NULL: all) in 'org'; 'fn' must not call
 * back into the service. */
void mid_service_push_each(struct mid_service *svc, struct mid_org *org, const char *dev,
			   void (*fn)(void *arg, const struct mid_push_chan *ch), void *arg);

/* Sign a checkpoint of the audit chain every 'every' rows of an org
 * (default MID_CHAIN_EVERY); midd's --audit-checkpoint. */
void mid_service_set_chain_every(struct mid_service *svc, unsigned every);

/* The key that signs the chain's checkpoints (its public half is served
 * to verifiers). */
const struct mid_signer *mid_service_signer(const struct mid_service *svc);

/* Set the side-effect budget of 'dev': the limits 'b' gives (those with
 * a window) replace the device's, the others stay; with 'replace' the
 * whole budget is 'b' (none: it is cleared). Committed with its audit
 * row before memory changes; '*now' gets the budget in force.
 * MID_ERR_NOT_FOUND for an unknown device, MID_ERR_IO when the database
 * cannot take it. */
enum mid_rc mid_service_budget_set(struct mid_service *svc, struct mid_org *org, const char *dev,
				   const struct mid_budget *b, int replace,
				   const struct mid_caller *c, struct mid_budget *now) MID_WUR;

/* The budget of 'dev' and its use; 0 when it has none. */
int mid_service_budget_get(struct mid_service *svc, struct mid_org *org, const char *dev,
			   struct mid_budget *lim, uint64_t used[MID_BUDGET_KINDS]);

/* Read access for the list, usage and audit routes. */
struct mid_state *mid_service_state(struct mid_service *svc);
struct mid_store *mid_service_store(struct mid_service *svc);

#endif
