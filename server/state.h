/* SPDX-License-Identifier: MIT */
/*
 * The in-memory picture of every org and device, from which validate is
 * answered without touching the disk. Each org has its own rwlock: readers
 * (validate, list) share it; a state change takes it for writing. A
 * change toward allow reaches memory only after the database committed
 * it; a change toward deny reaches memory first, and is marked
 * unpersisted while the database cannot take it.
 * Orgs and devices are never freed while the table lives, so the handles
 * below stay valid until mid_state_free.
 */
#ifndef MID_STATE_H
#define MID_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "sha256.h"

#define MID_ORG_NAME_MAX 64 /* bytes in an org name */

enum mid_dev_state {
	MID_DEV_NONE = 0, /* not registered */
	MID_DEV_ACTIVE,
	MID_DEV_REVOKED,
	MID_DEV_REMOVED,
};

enum mid_role {
	MID_ROLE_ORG = 1,
	MID_ROLE_ADMIN,
};

struct mid_state;
struct mid_org;

/* The mode a gated process reports with its validates. */
enum mid_proc_mode {
	MID_PROC_UNKNOWN = 0, /* none reported */
	MID_PROC_ENFORCE,
	MID_PROC_AUDIT,
	MID_PROC_MIXED, /* both, from processes within MID_MODE_MIXED_MS */
};

/* Two modes reported this close together (ms) mean the device runs
 * processes in both. */
#define MID_MODE_MIXED_MS 60000

/* A copy of one device's fields, taken under the org's lock. */
struct mid_dev_info {
	char id[MID_DEVICE_MAX + 1];
	enum mid_dev_state state;
	int unpersisted;      /* 'state' is not yet in the database */
	int64_t created_ms;
	int64_t last_seen_ms; /* 0: never validated */
	uint64_t validates;
	enum mid_proc_mode mode; /* kept in memory only */
};

/* "enforce", "audit", "mixed", "unknown"; and back (UNKNOWN for any
 * other text). */
const char *mid_proc_mode_name(enum mid_proc_mode m);
enum mid_proc_mode mid_proc_mode_parse(const char *name);

struct mid_usage {
	uint64_t devices, active, revoked, removed, validates;
	uint64_t limit;
	int disabled;
	int disabled_unpersisted; /* 'disabled' is not yet in the database */
};

/* One device (or, with 'id' NULL, one org total) whose counters changed
 * since the last flush. */
struct mid_dirty {
	int64_t org_id;
	const char *id; /* points into the table; stable */
	uint64_t validates;
	int64_t last_seen_ms;
	void *ref;      /* for mid_state_mark_flushed */
};

const char *mid_dev_state_name(enum mid_dev_state s);
enum mid_dev_state mid_dev_state_parse(const char *name);

enum mid_rc mid_state_new(struct mid_state **out) MID_WUR;
void mid_state_free(struct mid_state *st);

/* Add an org as loaded from the database. */
enum mid_rc mid_state_add_org(struct mid_state *st, int64_t id, const char *name,
			      const unsigned char org_hash[MID_SHA256_LEN],
			      const unsigned char admin_hash[MID_SHA256_LEN],
			      uint64_t limit, int disabled, uint64_t validates,
			      struct mid_org **out) MID_WUR;

/* The org with database id 'id', or NULL. */
struct mid_org *mid_state_org_by_id(struct mid_state *st, int64_t id);
size_t mid_state_org_count(const struct mid_state *st);
/* The org at place 'i' (0 .. count - 1); orgs are only added at start. */
struct mid_org *mid_state_org_at(struct mid_state *st, size_t i);

int64_t mid_org_id(const struct mid_org *org);
/* The org's name; owned by the table. */
const char *mid_org_name(const struct mid_org *org);

/* Find the org whose org or admin key hashes to 'hash'. Every org's
 * hashes are compared in constant time; the scan does not stop early. */
enum mid_rc mid_state_auth(struct mid_state *st, const unsigned char hash[MID_SHA256_LEN],
			   struct mid_org **org, enum mid_role *role) MID_WUR;

/* Add a device or, when it exists, set its state (the caller has already
 * committed the change to the database). */
enum mid_rc mid_state_put(struct mid_org *org, const char *id, enum mid_dev_state state,
			  int64_t created_ms, int64_t last_seen_ms, uint64_t validates) MID_WUR;

/* The validate hot path: the device's state (MID_DEV_NONE if unknown) and
 * whether the org is disabled; counts the call and stamps last_seen. */
void mid_state_validate(struct mid_org *org, const char *id, int64_t now_ms,
			enum mid_dev_state *state, int *org_disabled);
/* The same, noting the 'mode' the caller reported (ENFORCE or AUDIT;
 * UNKNOWN notes nothing). */
void mid_state_validate_mode(struct mid_org *org, const char *id, int64_t now_ms,
			     enum mid_proc_mode mode, enum mid_dev_state *state,
			     int *org_disabled);

/* A copy of one device; MID_ERR_NOT_FOUND when unknown. */
enum mid_rc mid_state_get(struct mid_org *org, const char *id, struct mid_dev_info *info) MID_WUR;

/* Devices that count against the limit (all but removed ones). */
uint64_t mid_state_slots_used(struct mid_org *org);

void mid_state_usage(struct mid_org *org, struct mid_usage *u);

/* Call 'fn' for each device in creation order, under the org's read lock;
 * 'fn' must not call back into the table. A non-zero return stops. */
typedef int (*mid_state_each_fn)(const struct mid_dev_info *info, void *arg);
void mid_state_each(struct mid_org *org, mid_state_each_fn fn, void *arg);
/* The same from place 'from' in creation order (devices are never taken
 * out of it, so a place stays valid): returns the place after the last
 * device seen, and the count of devices in '*total' (when not NULL). */
size_t mid_state_each_from(struct mid_org *org, size_t from, mid_state_each_fn fn, void *arg,
			   size_t *total);

void mid_state_set_disabled(struct mid_org *org, int disabled);
int mid_state_disabled(struct mid_org *org);
/* Mark whether the state of device 'id' (with 'id' NULL: the org switch)
 * is ahead of the database. */
void mid_state_set_unpersisted(struct mid_org *org, const char *id, int on);
void mid_state_set_key(struct mid_org *org, enum mid_role which,
		       const unsigned char hash[MID_SHA256_LEN]);

/* The org key a rotation replaced: valid (as the org key) until
 * 'until_ms', wall clock; NULL or 0 ends the overlap. */
void mid_state_set_grace(struct mid_org *org, const unsigned char hash[MID_SHA256_LEN],
			 int64_t until_ms);
/* A copy of the org key's hash. */
void mid_state_org_hash(struct mid_org *org, unsigned char out[MID_SHA256_LEN]);
/* When the old org key stops working, or 0 when none works now. */
int64_t mid_state_grace_until(struct mid_org *org);

/* Fill '*out' (the caller frees it) with every counter changed since the
 * last mid_state_mark_flushed, '*n' entries. */
enum mid_rc mid_state_dirty(struct mid_state *st, struct mid_dirty **out, size_t *n) MID_WUR;
/* After the database took 'd', remember those values as flushed. */
void mid_state_mark_flushed(struct mid_dirty *d, size_t n);

#endif
