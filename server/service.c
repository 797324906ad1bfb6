/* SPDX-License-Identifier: MIT */
/*
 * midd's operations over the database and the in-memory table. A change
 * toward allow: decide under the writer mutex, make every pending deny
 * change durable, commit to SQLite, then update memory, then log; a
 * failed commit changes nothing anywhere. A change toward deny: decide,
 * update memory, then commit together with whatever deny changes are
 * pending; when that fails, write it to the deny journal and leave it
 * pending for the flush thread's tick to retry.
 */
#define _GNU_SOURCE
#include "service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "alert.h"
#include "audit.h"
#include "bind.h"
#include "flush.h"
#include "journal.h"
#include "log.h"
#include "report.h"
#include "quota.h"
#include "push.h"
#include "wire.h"

/* A change toward deny that memory holds and the database does not yet:
 * the latest one per device, and per org for its switch. */
struct pend {
	struct mid_audit_row row; /* 'device' empty: the org switch; 'decision': the state */
	int slot;                 /* in the journal; -1: not journaled */
	int announced;            /* answered or replayed as not persisted */
	int stored;               /* in the database; its journal slot still to clear */
};

struct mid_service {
	struct mid_quota quota; /* under wmu */
	uint64_t rate_logged;   /* ms: the last rate_limited log line */
	struct mid_store *db;
	struct mid_state *st;
	struct mid_audit *q;
	struct mid_flush *flush;
	struct mid_journal *jr; /* NULL: it could not be opened */
	struct mid_push *push; /* NULL until mid_service_push_start */
	struct mid_budgets *budgets;
	pthread_mutex_t wmu;
	/* Under wmu. */
	struct pend *pend;
	size_t npend, cap;
	unsigned backoff_ms;
	uint64_t next_try_ms;
	unsigned failures;
	/* Copies for /healthz, which does not take wmu. */
	_Atomic size_t pending_n;
	_Atomic int64_t pending_since_ms;
	_Atomic size_t journal_used;
	unsigned char secret[MID_SHA256_LEN]; /* of the shim's sessions */
	struct mid_signer *signer;            /* of the audit chain's checkpoints */
	/* Replicas (PostgreSQL): set by mid_service_follow. */
	char replica[MID_REPLICA_MAX];
	int following;
	int64_t max_stale_ms;
	_Atomic int64_t lost_since_ms; /* monotonic; 0: the database is reachable */
};

const char *mid_reg_status_name(enum mid_reg_status s)
{
	switch(s) {
	case MID_REG_OK: return "ok";
	case MID_REG_EXISTS: return "exists";
	case MID_REG_LIMIT: return "limit_reached";
	case MID_REG_REMOVED: return "removed";
	case MID_REG_RATE: return "rate_limited";
	}
	return "unknown";
}

static int load_org(const struct mid_store_org *o, void *arg)
{
	struct mid_state *st = arg;
	struct mid_org *org;

	if(mid_state_add_org(st, o->id, o->name, o->org_hash, o->admin_hash, o->limit,
			     o->disabled, o->validates, &org) != MID_OK)
		return 1;
	mid_state_set_grace(org, o->grace_hash, o->grace_until_ms);
	return 0;
}

static int load_budget(int64_t org_id, const char *dev, const struct mid_budget *b, void *arg)
{
	return mid_budgets_put(arg, org_id, dev, b) != MID_OK;
}

static int load_dev(int64_t org_id, const struct mid_dev_info *d, void *arg)
{
	struct mid_org *org = mid_state_org_by_id(arg, org_id);

	return !org || mid_state_put(org, d->id, d->state, d->created_ms, d->last_seen_ms,
				     d->validates) != MID_OK;
}

/* A replica that has lost its database takes no change toward allow:
 * it could not be made durable, and another replica could not learn of
 * it. A change toward deny it takes (see deny()), as a SQLite midd does
 * when its writes fail: in force here at once, journaled, and retried
 * into the database, whose NOTIFY then tells the others. */
static int unreachable(struct mid_service *svc)
{
	return svc->following && atomic_load(&svc->lost_since_ms) != 0;
}

/* Whether memory is too old to answer from: the database has been out of
 * reach for longer than --max-stale. */
static int stale(struct mid_service *svc)
{
	int64_t since = svc->following ? atomic_load(&svc->lost_since_ms) : 0;

	return since && (int64_t)mid_now_ms() - since >= svc->max_stale_ms;
}

/* ---- pending deny changes (all under wmu) ----------------------------- */

static void publish(struct mid_service *svc)
{
	int64_t since = 0;
	size_t i;

	for(i = 0; i < svc->npend; i++)
		if(!since || svc->pend[i].row.time_ms < since)
			since = svc->pend[i].row.time_ms;
	atomic_store(&svc->pending_since_ms, since);
	atomic_store(&svc->pending_n, svc->npend);
	atomic_store(&svc->journal_used, svc->jr ? mid_journal_used(svc->jr) : 0);
}

static struct pend *pend_find(struct mid_service *svc, int64_t org_id, const char *dev)
{
	size_t i;

	for(i = 0; i < svc->npend; i++)
		if(svc->pend[i].row.org_id == org_id && !strcmp(svc->pend[i].row.device, dev))
			return &svc->pend[i];
	return NULL;
}

/* Add the change 'a', or let it replace the pending one of the same
 * device or org switch (its journal slot is reused). */
static struct pend *pend_put(struct mid_service *svc, const struct mid_audit_row *a)
{
	struct pend *p = pend_find(svc, a->org_id, a->device);

	if(p) {
		/* The replaced change's pending moment goes to the audit
		 * queue; the latest change is the one the database will get. */
		if(p->announced) {
			mid_strlcpy(p->row.code, "PERSIST_PENDING", sizeof(p->row.code));
			mid_audit_push(svc->q, &p->row);
		}
	} else {
		if(svc->npend == svc->cap) {
			size_t cap = svc->cap ? svc->cap * 2 : 16;
			struct pend *v = realloc(svc->pend, cap * sizeof(*v));
			if(!v)
				return NULL;
			svc->pend = v;
			svc->cap = cap;
		}
		p = &svc->pend[svc->npend++];
		p->slot = -1;
	}
	p->row = *a;
	p->announced = 0;
	p->stored = 0;
	publish(svc);
	return p;
}

static void mark(struct mid_service *svc, const struct mid_audit_row *a, int on)
{
	struct mid_org *org = mid_state_org_by_id(svc->st, a->org_id);

	if(org)
		mid_state_set_unpersisted(org, a->device[0] ? a->device : NULL, on);
}

/* Commit every pending change not yet in the database, in one
 * transaction with its audit rows: one "OK" row for a change made durable
 * by its own request, or its pending moment and its persisted moment for
 * one that was answered as not persisted. Then empty their journal
 * slots. MID_OK when nothing is left pending. */
static enum mid_rc persist(struct mid_service *svc)
{
	struct mid_audit_row *ch = NULL, *au = NULL;
	int64_t now = mid_wire_now_ms();
	size_t i, n = 0, na = 0, keep = 0;
	enum mid_rc rc = MID_OK;

	if(!svc->npend)
		return MID_OK;
	ch = malloc(svc->npend * sizeof(*ch));
	au = malloc(2 * svc->npend * sizeof(*au));
	if(!ch || !au) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	for(i = 0; i < svc->npend; i++) {
		const struct pend *p = &svc->pend[i];
		if(p->stored)
			continue;
		ch[n++] = p->row;
		au[na] = p->row;
		mid_strlcpy(au[na++].code, p->announced ? "PERSIST_PENDING" : "OK", MID_CODE_MAX);
		if(p->announced) {
			au[na] = p->row;
			au[na].time_ms = now;
			mid_strlcpy(au[na++].code, "PERSISTED", MID_CODE_MAX);
		}
	}
	if(n) {
		rc = mid_store_apply_denies(svc->db, ch, n, au, na);
		if(rc)
			goto out;
	}
	for(i = 0; i < svc->npend; i++) {
		struct pend *p = &svc->pend[i];
		p->stored = 1;
		if(p->slot >= 0 && svc->jr && mid_journal_clear(svc->jr, p->slot)) {
			mid_log("deny journal: cannot empty slot %d: the change is in the database;"
				" will retry", p->slot);
			svc->pend[keep++] = *p;
			continue;
		}
		mark(svc, &p->row, 0);
		if(p->announced)
			mid_log("persisted %s org_id=%lld device=%s request_id=%s after=%lldms",
				p->row.route, (long long)p->row.org_id,
				p->row.device[0] ? p->row.device : "-", p->row.request_id,
				(long long)(now - p->row.time_ms));
	}
	svc->npend = keep;
	if(keep)
		rc = MID_ERR_IO;
out:
	free(ch);
	free(au);
	publish(svc);
	return rc;
}

/* A change toward deny, already in memory: make it durable, or keep it
 * pending and in the journal. Under wmu. */
static enum mid_rc deny(struct mid_service *svc, const struct mid_audit_row *a,
			struct mid_change *res)
{
	struct pend *p = pend_put(svc, a);
	enum mid_rc rc;

	res->persisted = 0;
	res->journaled = 0;
	if(!p) {
		mid_log("out of memory: %s request_id=%s is in memory only", a->route,
			a->request_id);
		return MID_ERR_NOMEM;
	}
	/* Out of reach, the database is not even tried: the follower has
	 * yet to reload it, and a commit made before that reload could be
	 * undone in memory by the reload's older rows. */
	if(!unreachable(svc) && persist(svc) == MID_OK) {
		svc->backoff_ms = MID_RETRY_MIN_MS;
		res->persisted = 1;
		return MID_OK;
	}
	p = pend_find(svc, a->org_id, a->device);
	if(!p || p->stored) {
		res->persisted = 1;
		return MID_OK;
	}
	p->announced = 1;
	mark(svc, a, 1);
	if(!svc->jr) {
		mid_log("deny journal: none is open: %s request_id=%s will not survive a restart"
			" until the database takes it", a->route, a->request_id);
	} else {
		rc = mid_journal_put(svc->jr, &p->slot, &p->row);
		res->journaled = rc == MID_OK;
		if(rc)
			mid_log("deny journal: cannot keep %s request_id=%s (%s): it will not"
				" survive a restart until the database takes it", a->route,
				a->request_id, rc == MID_ERR_TOO_BIG ? "journal full" : mid_rc_str(rc));
	}
	if(!svc->next_try_ms) {
		svc->backoff_ms = MID_RETRY_MIN_MS;
		svc->next_try_ms = mid_now_ms() + svc->backoff_ms;
	}
	publish(svc);
	return MID_OK;
}

/* A change toward allow may be made only once no deny change waits. */
static enum mid_rc allow_ready(struct mid_service *svc)
{
	return persist(svc) == MID_OK ? MID_OK : MID_ERR_IO;
}

/* The flush thread's tick: retry pending changes, backing off from
 * MID_RETRY_MIN_MS to MID_RETRY_MAX_MS; a replica waits until it has
 * its database back and reloaded (then it retries at once, see
 * on_event). */
static void retry(void *arg)
{
	struct mid_service *svc = arg;
	uint64_t now;

	if(!atomic_load(&svc->pending_n) || unreachable(svc))
		return;
	pthread_mutex_lock(&svc->wmu);
	now = mid_now_ms();
	if(svc->npend && now >= svc->next_try_ms) {
		size_t n = svc->npend;
		if(persist(svc) == MID_OK) {
			mid_log("storage: all %zu pending deny changes are persisted after %u retries",
				n, svc->failures + 1);
			svc->failures = 0;
			svc->backoff_ms = MID_RETRY_MIN_MS;
			svc->next_try_ms = 0;
		} else {
			/* One line at first, then about one a minute. */
			if(svc->failures++ % 12 == 0)
				mid_log("storage: %zu deny changes still pending persistence; next try"
					" in %u ms", svc->npend, svc->backoff_ms);
			svc->next_try_ms = now + svc->backoff_ms;
			svc->backoff_ms = svc->backoff_ms * 2 > MID_RETRY_MAX_MS ?
						  MID_RETRY_MAX_MS : svc->backoff_ms * 2;
		}
	}
	pthread_mutex_unlock(&svc->wmu);
}

/* Put one journaled change back into memory, pending. */
static void replay_one(int slot, const struct mid_audit_row *row, void *arg)
{
	struct mid_service *svc = arg;
	struct mid_org *org = mid_state_org_by_id(svc->st, row->org_id);
	enum mid_dev_state to = mid_dev_state_parse(row->decision);
	struct pend *p;

	if(!org || (row->device[0] && to != MID_DEV_REVOKED && to != MID_DEV_REMOVED)) {
		mid_log("deny journal: slot %d names org %lld, which this database lacks, or an"
			" unknown state; dropped", slot, (long long)row->org_id);
		if(mid_journal_clear(svc->jr, slot))
			mid_log("deny journal: cannot empty slot %d", slot);
		return;
	}
	if(row->device[0]) {
		struct mid_dev_info info;
		int64_t created = mid_state_get(org, row->device, &info) == MID_OK ?
					  info.created_ms : row->time_ms;
		if(mid_state_put(org, row->device, to, created, 0, 0))
			mid_log("deny journal: out of memory at slot %d", slot);
	} else {
		mid_state_set_disabled(org, 1);
	}
	p = pend_put(svc, row);
	if(!p) {
		mid_log("deny journal: out of memory at slot %d", slot);
		return;
	}
	p->slot = slot;
	p->announced = 1;
	mark(svc, row, 1);
	mid_log("deny journal: replayed %s org=%s device=%s state=%s request_id=%s", row->route,
		mid_org_name(org), row->device[0] ? row->device : "-", row->decision,
		row->request_id);
}

/* Open the journal beside 'db' and put its changes back in memory. */
static enum mid_rc journal_open(struct mid_service *svc, const char *db, char *err,
				size_t errlen)
{
	char path[4200];
	enum mid_rc rc;

	snprintf(path, sizeof(path), "%s" MID_JOURNAL_SUFFIX, db);
	rc = mid_journal_open(path, &svc->jr, err, errlen);
	if(rc == MID_ERR_IO) {
		mid_log("warning: deny journal unavailable: %s; a revoke the database cannot"
			" take will still apply, but not survive a restart", err);
		err[0] = '\0';
		return MID_OK;
	}
	if(rc)
		return rc;
	pthread_mutex_lock(&svc->wmu);
	mid_journal_each(svc->jr, replay_one, svc);
	publish(svc);
	if(svc->npend && persist(svc))
		mid_log("storage: %zu replayed deny changes wait for the database", svc->npend);
	svc->backoff_ms = MID_RETRY_MIN_MS;
	svc->next_try_ms = mid_now_ms() + svc->backoff_ms;
	pthread_mutex_unlock(&svc->wmu);
	return MID_OK;
}

void mid_service_health(struct mid_service *svc, struct mid_health *h)
{
	h->pending = atomic_load(&svc->pending_n);
	h->pending_since_ms = h->pending ? atomic_load(&svc->pending_since_ms) : 0;
	h->db = mid_store_health(svc->db);
	h->journal = svc->jr != NULL;
	h->journal_used = atomic_load(&svc->journal_used);
	h->backend = mid_store_backend(svc->db);
	h->replica = svc->following ? svc->replica : NULL;
	h->lost_ms = 0;
	if(svc->following && atomic_load(&svc->lost_since_ms)) {
		h->lost_ms = (int64_t)mid_now_ms() - atomic_load(&svc->lost_since_ms);
		h->db = MID_STORE_UNREACHABLE;
	}
	h->stale = svc->following && stale(svc);
	h->max_stale_ms = svc->max_stale_ms;
}

static void count_chan(void *arg, const struct mid_push_chan *ch)
{
	(void)ch;
	(*(uint64_t *)arg)++;
}

void mid_service_gauges(struct mid_service *svc, struct mid_gauges *g)
{
	size_t i;

	memset(g, 0, sizeof(*g));
	g->orgs = mid_state_org_count(svc->st);
	for(i = 0; i < g->orgs; i++) {
		struct mid_org *org = mid_state_org_at(svc->st, i);
		struct mid_usage u;

		mid_state_usage(org, &u);
		g->devices[MID_DEV_ACTIVE] += u.active;
		g->devices[MID_DEV_REVOKED] += u.revoked;
		g->devices[MID_DEV_REMOVED] += u.removed;
		g->orgs_disabled += u.disabled != 0;
	}
	if(svc->push)
		mid_push_each(svc->push, 0, NULL, count_chan, &g->push_channels);
	mid_audit_depth(svc->q, &g->audit_queued, &g->audit_dropped);
}

/* ---- open, close -------------------------------------------------------- */

/* Chain the audit rows from now on, signing checkpoints with the key
 * beside the database (made here for a database older than the chain).
 * A backend without the chain is logged, and midd serves without it. */
static enum mid_rc chain_open(struct mid_service *svc, const char *db, char *err, size_t errlen)
{
	char path[4200], hex[2 * MID_ED25519_PUB + 1];
	unsigned char pub[MID_ED25519_PUB];
	enum mid_rc rc;

	snprintf(path, sizeof(path), "%s" MID_CHAIN_KEY_SUFFIX, db);
	rc = mid_signer_load(path, &svc->signer, err, errlen);
	if(rc == MID_ERR_NOT_FOUND) {
		rc = mid_signer_create(path, err, errlen);
		if(!rc)
			rc = mid_signer_load(path, &svc->signer, err, errlen);
		if(!rc) {
			mid_signer_public(svc->signer, pub);
			mid_hex(pub, sizeof(pub), hex);
			mid_log("audit chain: made a signing key at %s; public key %s", path, hex);
		}
	}
	if(rc)
		return rc;
	err[0] = '\0';
	rc = mid_store_chain_start(svc->db, svc->signer, MID_CHAIN_EVERY, err, errlen);
	if(rc == MID_ERR_INVAL) {
		mid_log("audit chain: %s; audit rows are written without it", err);
		err[0] = '\0';
		return MID_OK;
	}
	return rc;
}

void mid_service_set_chain_every(struct mid_service *svc, unsigned every)
{
	mid_store_chain_every(svc->db, every);
}

const struct mid_signer *mid_service_signer(const struct mid_service *svc)
{
	return svc->signer;
}

enum mid_rc mid_service_open(const char *db, struct mid_service **out, char *err, size_t errlen)
{
	return mid_service_open_at(db, db, out, err, errlen);
}

enum mid_rc mid_service_open_at(const char *db, const char *local, struct mid_service **out,
				char *err, size_t errlen)
{
	struct mid_service *svc = calloc(1, sizeof(*svc));
	enum mid_rc rc = MID_ERR_NOMEM;

	*out = NULL;
	err[0] = '\0';
	if(!svc)
		return rc;
	pthread_mutex_init(&svc->wmu, NULL);
	mid_quota_init(&svc->quota, MID_QUOTA_RATE, MID_QUOTA_BURST);
	rc = mid_store_open(db, 0, &svc->db, err, errlen);
	if(rc)
		goto out;
	rc = mid_store_secret(svc->db, svc->secret, err, errlen);
	if(rc)
		goto out;
	rc = mid_state_new(&svc->st);
	if(rc)
		goto out;
	rc = mid_store_each_org(svc->db, load_org, svc->st, err, errlen);
	if(rc)
		goto out;
	if(mid_state_org_count(svc->st) == 0) {
		if(mid_store_is_url(db))
			snprintf(err, errlen, "the PostgreSQL database holds no org: run `midd init`"
				 " with the same --db or --db-file first");
		else
			snprintf(err, errlen, "database %s holds no org: run `midd init --db %s`"
				 " first", db, db);
		rc = MID_ERR_NOT_FOUND;
		goto out;
	}
	rc = mid_store_each_device(svc->db, load_dev, svc->st, err, errlen);
	if(rc)
		goto out;
	rc = mid_budgets_new(&svc->budgets);
	if(!rc)
		rc = mid_store_each_budget(svc->db, load_budget, svc->budgets, err, errlen);
	if(rc)
		goto out;
	rc = mid_audit_new(MID_AUDIT_QUEUE_BYTES, &svc->q);
	if(rc)
		goto out;
	rc = chain_open(svc, local, err, errlen);
	if(rc)
		goto out;
	rc = journal_open(svc, local, err, errlen);
	if(rc)
		goto out;
	rc = mid_flush_start(svc->st, svc->db, svc->q, retry, svc, &svc->flush);
out:
	if(rc) {
		if(err[0] == '\0')
			snprintf(err, errlen, "cannot open %s: %s",
				 mid_store_is_url(db) ? "the PostgreSQL database" : db, mid_rc_str(rc));
		mid_service_close(svc);
		svc = NULL;
	}
	*out = svc;
	return rc;
}

void mid_service_close(struct mid_service *svc)
{
	if(!svc)
		return;
	mid_push_free(svc->push);
	mid_flush_stop(svc->flush);
	/* Everything is written: the chain's end is signed. */
	if(svc->db && mid_store_chain_checkpoint(svc->db))
		mid_log("audit chain: the checkpoint at stop could not be written");
	if(svc->npend)
		mid_log("storage: %zu deny changes still pending persistence at stop; %s",
			svc->npend, svc->jr ? "the deny journal keeps them for the next start" :
					      "without a deny journal they are lost");
	mid_journal_free(svc->jr);
	mid_audit_free(svc->q);
	mid_store_free(svc->db);
	mid_signer_free(svc->signer);
	mid_state_free(svc->st);
	mid_budgets_free(svc->budgets);
	pthread_mutex_destroy(&svc->wmu);
	free(svc->pend);
	explicit_bzero(svc->secret, sizeof(svc->secret));
	free(svc);
}

enum mid_rc mid_service_auth(struct mid_service *svc, const char *key,
			     struct mid_org **org, enum mid_role *role)
{
	unsigned char h[MID_SHA256_LEN];

	if(!key || !*key || strlen(key) > MID_KEY_HEADER_MAX)
		return MID_ERR_DENIED;
	mid_keys_hash(key, h);
	return mid_state_auth(svc->st, h, org, role);
}

static void audit_fill(struct mid_audit_row *a, struct mid_org *org, const char *dev,
		       const char *route, const char *decision, const char *code,
		       const struct mid_caller *c)
{
	a->time_ms = mid_wire_now_ms();
	a->org_id = mid_org_id(org);
	mid_strlcpy(a->device, dev ? dev : "", sizeof(a->device));
	mid_strlcpy(a->route, route, sizeof(a->route));
	mid_strlcpy(a->decision, decision, sizeof(a->decision));
	mid_strlcpy(a->code, code, sizeof(a->code));
	mid_strlcpy(a->request_id, c->request_id, sizeof(a->request_id));
	mid_strlcpy(a->peer, c->peer, sizeof(a->peer));
	a->detail[0] = '\0';
}

void mid_service_set_register_rate(struct mid_service *svc, unsigned rate, unsigned burst)
{
	pthread_mutex_lock(&svc->wmu);
	mid_quota_init(&svc->quota, rate, burst);
	pthread_mutex_unlock(&svc->wmu);
}

enum mid_rc mid_service_register(struct mid_service *svc, struct mid_org *org, const char *dev,
				 const struct mid_caller *c, enum mid_reg_status *status,
				 unsigned *retry_ms)
{
	static const char *const codes[] = {
		[MID_REG_OK] = "REGISTERED",
		[MID_REG_EXISTS] = "EXISTS",
		[MID_REG_LIMIT] = "LIMIT_REACHED",
		[MID_REG_REMOVED] = "DEVICE_REMOVED",
		[MID_REG_RATE] = "RATE_LIMITED",
	};
	struct mid_audit_row a;
	struct mid_dev_info info;
	struct mid_usage u;
	enum mid_reg_status s;
	enum mid_rc rc = MID_OK;
	int64_t now;

	*retry_ms = 0;
	pthread_mutex_lock(&svc->wmu);
	if(mid_state_get(org, dev, &info) == MID_OK) {
		s = info.state == MID_DEV_REMOVED ? MID_REG_REMOVED : MID_REG_EXISTS;
	} else {
		mid_state_usage(org, &u);
		s = u.limit && u.devices - u.removed >= u.limit ? MID_REG_LIMIT : MID_REG_OK;
		if(s == MID_REG_OK &&
		   !mid_quota_take(&svc->quota, mid_org_id(org), mid_now_ms(), retry_ms))
			s = MID_REG_RATE;
	}
	audit_fill(&a, org, dev, "register", mid_reg_status_name(s), codes[s], c);
	if(s != MID_REG_OK) {
		/* Nothing changes, so the row may wait for the flush. */
		mid_audit_push(svc->q, &a);
		if(s == MID_REG_LIMIT)
			mid_log("register-refused org=%s device=%s reason=limit_reached limit=%llu"
				" peer=%s request_id=%s", mid_org_name(org), dev,
				(unsigned long long)u.limit, c->peer, c->request_id);
		/* A flood would flood the log: one line a second tells. */
		if(s == MID_REG_RATE && mid_now_ms() >= svc->rate_logged + 1000) {
			svc->rate_logged = mid_now_ms();
			mid_log("register-refused org=%s device=%s reason=rate_limited rate=%u/s"
				" burst=%u peer=%s request_id=%s", mid_org_name(org), dev,
				svc->quota.rate, svc->quota.burst, c->peer, c->request_id);
		}
		goto out;
	}
	now = a.time_ms;
	rc = unreachable(svc) ? MID_ERR_IO : allow_ready(svc);
	if(rc)
		goto out;
	rc = mid_store_device_add(svc->db, mid_org_id(org), dev, MID_DEV_ACTIVE, now, &a);
	if(rc)
		goto out;
	rc = mid_state_put(org, dev, MID_DEV_ACTIVE, now, 0, 0);
	if(rc)
		goto out;
	mid_log("register org=%s device=%s peer=%s request_id=%s", mid_org_name(org), dev,
		c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	if(rc == MID_OK)
		*status = s;
	return rc;
}

static void push_fire(struct mid_service *svc, struct mid_org *org, const char *dev,
		      const char *code, const struct mid_caller *c);

/* "1m", "90s", "1h", "2d": a window for people. */
static void window_text(int64_t ms, char *out, size_t n)
{
	static const struct {
		int64_t ms;
		char unit;
	} units[] = {{86400000, 'd'}, {3600000, 'h'}, {60000, 'm'}, {1000, 's'}};

	for(size_t i = 0; i < MID_ARRAY_LEN(units); i++)
		if(ms >= units[i].ms && ms % units[i].ms == 0) {
			snprintf(out, n, "%lld%c", (long long)(ms / units[i].ms), units[i].unit);
			return;
		}
	snprintf(out, n, "%lldms", (long long)ms);
}

/* The moment a device passes a limit: the budget alert (alert.h), whose
 * audit row (route budget, decision alert) carries the numbers and the
 * validate's request ID; a log line; and its push channels killed. */
static void budget_exceeded(struct mid_service *svc, struct mid_org *org, const char *dev,
			    const struct mid_caller *c, const struct mid_budget_over *o)
{
	char win[32], detail[256];

	window_text(o->window_ms, win, sizeof(win));
	snprintf(detail, sizeof(detail),
		 "{\"kind\":\"%s\",\"used\":%llu,\"limit\":%llu,\"window\":\"%s\","
		 "\"request_id\":\"%s\"}", mid_budget_kind_name(o->kind),
		 (unsigned long long)o->used, (unsigned long long)o->limit, win, c->request_id);
	if(mid_alert_event(svc->q, mid_org_id(org), "budget", dev, "BUDGET_EXCEEDED", detail))
		mid_log("budget-exceeded: the audit queue is full: no alert for device %s", dev);
	mid_log("budget-exceeded org=%s device=%s kind=%s used=%llu limit=%llu window=%s"
		" peer=%s request_id=%s", mid_org_name(org), dev, mid_budget_kind_name(o->kind),
		(unsigned long long)o->used, (unsigned long long)o->limit, win, c->peer,
		c->request_id);
	push_fire(svc, org, dev, "BUDGET_EXCEEDED", c);
}

/* An allowed validate: add the counts it brought, and deny it when the
 * device is past a limit of its budget. */
static void budget_check(struct mid_service *svc, struct mid_org *org, const char *dev,
			 const struct mid_caller *c, struct mid_verdict *v)
{
	struct mid_budget_over o;

	if(!mid_budgets_add(svc->budgets, mid_org_id(org), dev, c->counts,
			    (int64_t)mid_now_ms(), &o))
		return;
	v->allowed = 0;
	v->code = "BUDGET_EXCEEDED";
	v->status = "budget_exceeded";
	v->reason = "the device passed a limit of its side-effect budget; it is denied until"
		    " its use in the window falls back under the limit";
	if(o.crossed)
		budget_exceeded(svc, org, dev, c, &o);
}

void mid_service_validate(struct mid_service *svc, struct mid_org *org, const char *dev,
			  const struct mid_caller *c, struct mid_verdict *v)
{
	struct mid_audit_row a;
	enum mid_dev_state s;
	int disabled;

	mid_state_validate_mode(org, dev, mid_wire_now_ms(), c->mode, &s, &disabled);
	v->allowed = 0;
	if(stale(svc)) {
		v->code = "MIDD_STALE";
		v->status = "stale";
		v->reason = "this midd has lost its database for longer than --max-stale; every"
			    " device is denied until it is back";
	} else if(disabled) {
		v->code = "ORG_DISABLED";
		v->status = "org_disabled";
		v->reason = "the organisation is disabled; every device is denied";
	} else if(s == MID_DEV_ACTIVE) {
		v->allowed = 1;
		v->code = "ALLOW";
		v->status = "allowed";
		v->reason = "device is registered and active";
	} else if(s == MID_DEV_REVOKED) {
		v->code = "DEVICE_REVOKED";
		v->status = "revoked";
		v->reason = "device was revoked by an operator";
	} else if(s == MID_DEV_REMOVED) {
		v->code = "DEVICE_REMOVED";
		v->status = "removed";
		v->reason = "device was removed by an operator";
	} else {
		v->code = "DEVICE_NOT_FOUND";
		v->status = "not_found";
		v->reason = "device is not registered in this organisation";
	}
	if(v->allowed)
		budget_check(svc, org, dev, c, v);
	audit_fill(&a, org, dev, "validate", v->allowed ? "allow" : "deny", v->code, c);
	mid_audit_push(svc->q, &a);
}

struct kill_ctx {
	struct mid_service *svc;
	struct mid_org *org;
	const char *code;
	const char *request_id;
};

/* Each channel a push kill reaches: an audit row under the request ID of
 * the change that caused it, and a log line. */
static void audit_kill(void *arg, const struct mid_push_chan *ch)
{
	struct kill_ctx *k = arg;
	struct mid_caller c = {.peer = "push", .request_id = k->request_id};
	struct mid_audit_row a;

	audit_fill(&a, k->org, ch->device, "push", "kill", k->code, &c);
	snprintf(a.peer, sizeof(a.peer), "pid %lld %.40s", (long long)ch->pid, ch->program);
	mid_audit_push(k->svc->q, &a);
	mid_log("push-kill org=%s device=%s pid=%lld program=%s kind=%s code=%s request_id=%s",
		mid_org_name(k->org), ch->device, (long long)ch->pid, ch->program, ch->kind,
		k->code, k->request_id);
}

/* After the in-memory change that denies 'dev' (NULL: the whole org)
 * with 'code' (NULL: nothing denied), kill its live channels. */
static void push_fire(struct mid_service *svc, struct mid_org *org, const char *dev,
		      const char *code, const struct mid_caller *c)
{
	struct kill_ctx k = {svc, org, code, c->request_id};

	if(code)
		mid_push_kill(svc->push, mid_org_id(org), dev, code, c->request_id, audit_kill, &k);
}

/* The code a validate of 'dev' would deny with now, or NULL for allow. */
static const char *deny_code(struct mid_service *svc, struct mid_org *org, const char *dev)
{
	struct mid_budget_over o;
	struct mid_dev_info info;

	if(mid_state_disabled(org))
		return "ORG_DISABLED";
	if(mid_state_get(org, dev, &info))
		return "DEVICE_NOT_FOUND";
	if(info.state == MID_DEV_ACTIVE &&
	   mid_budgets_add(svc->budgets, mid_org_id(org), dev, NULL, (int64_t)mid_now_ms(), &o))
		return "BUDGET_EXCEEDED";
	return info.state == MID_DEV_ACTIVE ? NULL :
	       info.state == MID_DEV_REVOKED ? "DEVICE_REVOKED" : "DEVICE_REMOVED";
}

enum mid_rc mid_service_push_add(struct mid_service *svc, struct mid_org *org, int fd,
				 struct mid_push_chan *ch, const struct mid_caller *c)
{
	struct kill_ctx k = {svc, org, NULL, c->request_id};
	enum mid_rc rc;

	ch->org_id = mid_org_id(org);
	rc = mid_push_add(svc->push, fd, ch);
	if(rc) {
		mid_log("push-refused org=%s device=%s pid=%lld reason=%s request_id=%s",
			mid_org_name(org), ch->device, (long long)ch->pid, mid_rc_str(rc),
			c->request_id);
		return rc;
	}
	mid_log("push-open org=%s device=%s pid=%lld program=%s kind=%s peer=%s request_id=%s",
		mid_org_name(org), ch->device, (long long)ch->pid, ch->program, ch->kind, c->peer,
		c->request_id);
	/* A change that raced with this channel's arrival may have missed
	 * it: the state is read after the channel is in the table, so one
	 * of the two sees the other. */
	k.code = deny_code(svc, org, ch->device);
	if(k.code)
		mid_push_kill_id(svc->push, ch->id, k.code, c->request_id, audit_kill, &k);
	return MID_OK;
}

/* The report whole, for the row's detail column: {"program", "pid",
 * "rule", "detail"}, each only when given; "" when none is. Every part
 * is bounded (report.h), so the object fits MID_AUDIT_DETAIL_MAX unless
 * escapes grow it past, when the free text is left out. */
static void report_detail(const struct mid_report *r, char *out, size_t n)
{
	char prog[6 * MID_REPORT_PROGRAM_MAX], rule[6 * MID_REPORT_RULE_MAX];
	char text[6 * MID_REPORT_DETAIL_MAX], pid[32] = "";
	int len;

	out[0] = '\0';
	if(!r->program[0] && !r->pid && !r->rule[0] && !r->detail[0])
		return;
	if(!mid_json_str(prog, sizeof(prog), r->program) ||
	   !mid_json_str(rule, sizeof(rule), r->rule) ||
	   !mid_json_str(text, sizeof(text), r->detail))
		return;
	if(r->pid)
		snprintf(pid, sizeof(pid), ",\"pid\":%lld", (long long)r->pid);
	len = snprintf(out, n, "{\"program\":%s%s,\"rule\":%s,\"detail\":%s}", prog, pid, rule,
		       text);
	if(len >= 0 && (size_t)len < n)
		return;
	len = snprintf(out, n, "{\"program\":%s%s,\"rule\":%s}", prog, pid, rule);
	if(len < 0 || (size_t)len >= n)
		out[0] = '\0';
}

void mid_service_report(struct mid_service *svc, struct mid_org *org,
			const struct mid_report *r, const struct mid_caller *c)
{
	char who[MID_REPORT_PROGRAM_MAX + MID_REPORT_DETAIL_MAX + 32];
	struct mid_audit_row a;

	audit_fill(&a, org, r->device, "report", r->event, r->event, c);
	snprintf(who, sizeof(who), "%s%.0lld%s%s%s%s", r->pid ? "pid " : "", (long long)r->pid,
		 r->pid && r->program[0] ? " " : "", r->program,
		 r->detail[0] && (r->pid || r->program[0]) ? ": " : "", r->detail);
	mid_strlcpy(a.peer, who, sizeof(a.peer));
	report_detail(r, a.detail, sizeof(a.detail));
	mid_audit_push(svc->q, &a);
	mid_log("report org=%s device=%s event=%s pid=%lld program=%s rule=%s detail=\"%s\""
		" peer=%s request_id=%s", mid_org_name(org), r->device, r->event,
		(long long)r->pid, r->program[0] ? r->program : "-", r->rule[0] ? r->rule : "-",
		r->detail, c->peer, c->request_id);
}

void mid_service_note(struct mid_service *svc, struct mid_org *org, const char *route,
		      const char *decision, const char *detail, const struct mid_caller *c)
{
	struct mid_audit_row a;

	audit_fill(&a, org, NULL, route, decision, "OK", c);
	if(detail)
		mid_strlcpy(a.detail, detail, sizeof(a.detail));
	mid_audit_push(svc->q, &a);
}

void mid_service_push_each(struct mid_service *svc, struct mid_org *org, const char *dev,
			   void (*fn)(void *arg, const struct mid_push_chan *ch), void *arg)
{
	mid_push_each(svc->push, mid_org_id(org), dev, fn, arg);
}

struct swept {
	uint64_t id;
	int64_t org;
	char dev[MID_DEVICE_MAX + 1];
};

struct sweep {
	struct swept *e;
	size_t n, cap;
};

static void sweep_one(void *arg, const struct mid_push_chan *ch)
{
	struct sweep *s = arg;

	if(s->n == s->cap)
		return;
	s->e[s->n].id = ch->id;
	s->e[s->n].org = ch->org_id;
	mid_strlcpy(s->e[s->n].dev, ch->device, sizeof(s->e[0].dev));
	s->n++;
}

int mid_service_push_reserve(struct mid_service *svc)
{
	return svc->push && mid_push_reserve(svc->push);
}

void mid_service_push_unreserve(struct mid_service *svc)
{
	if(svc->push)
		mid_push_unreserve(svc->push);
}

enum mid_rc mid_service_push_start(struct mid_service *svc, const char *keeper_path,
				   const char *exe, size_t limit, char *err, size_t errlen)
{
	char rid[37];
	struct sweep s = {0};
	unsigned restored;
	long kpid;
	enum mid_rc rc;

	rc = mid_push_new(keeper_path, exe, &svc->push, err, errlen);
	if(rc)
		return rc;
	mid_push_set_limit(svc->push, limit);
	mid_push_keeper_info(svc->push, &restored, &kpid);
	if(!restored)
		return MID_OK;
	/* Channels taken back from the keeper: what was revoked while they
	 * waited dies now, under one request ID for the audit trail. */
	s.e = calloc(restored, sizeof(*s.e));
	if(!s.e)
		return MID_OK;
	s.cap = restored;
	mid_uuid4(rid);
	mid_push_each(svc->push, 0, NULL, sweep_one, &s);
	for(size_t i = 0; i < s.n; i++) {
		struct mid_org *org = mid_state_org_by_id(svc->st, s.e[i].org);
		struct kill_ctx k = {svc, org, NULL, rid};

		if(!org) {
			mid_push_kill_id(svc->push, s.e[i].id, "DEVICE_NOT_FOUND", rid, NULL, NULL);
			continue;
		}
		k.code = deny_code(svc, org, s.e[i].dev);
		if(k.code)
			mid_push_kill_id(svc->push, s.e[i].id, k.code, rid, audit_kill, &k);
	}
	free(s.e);
	return MID_OK;
}

enum mid_rc mid_service_set_state(struct mid_service *svc, struct mid_org *org, const char *dev,
				  const char *action, enum mid_dev_state to,
				  const struct mid_caller *c, struct mid_change *res)
{
	struct mid_audit_row a;
	struct mid_dev_info info;
	enum mid_rc rc;

	res->persisted = 0;
	res->journaled = 0;
	pthread_mutex_lock(&svc->wmu);
	rc = mid_state_get(org, dev, &info);
	if(rc == MID_ERR_NOT_FOUND) {
		audit_fill(&a, org, dev, action, "none", "DEVICE_NOT_FOUND", c);
		mid_audit_push(svc->q, &a);
		goto out;
	}
	audit_fill(&a, org, dev, action, mid_dev_state_name(to), "OK", c);
	if(to == MID_DEV_ACTIVE) {
		rc = unreachable(svc) ? MID_ERR_IO : allow_ready(svc);
		if(!rc)
			rc = mid_store_device_set(svc->db, mid_org_id(org), dev, to, &a);
		if(!rc)
			rc = mid_state_put(org, dev, to, 0, 0, 0);
		res->persisted = rc == MID_OK;
	} else {
		rc = mid_state_put(org, dev, to, 0, 0, 0);
		/* Push from the change in memory, before it is stored. */
		if(!rc)
			push_fire(svc, org, dev, to == MID_DEV_REVOKED ? "DEVICE_REVOKED" :
				  "DEVICE_REMOVED", c);
		if(!rc)
			rc = deny(svc, &a, res);
	}
	if(rc)
		goto out;
	mid_log("%s org=%s device=%s peer=%s request_id=%s state=%s was=%s persisted=%s", action,
		mid_org_name(org), dev, c->peer, c->request_id, mid_dev_state_name(to),
		mid_dev_state_name(info.state),
		res->persisted ? "yes" : res->journaled ? "no(journaled)" : "no(memory-only)");
out:
	pthread_mutex_unlock(&svc->wmu);
	return rc;
}

enum mid_rc mid_service_set_disabled(struct mid_service *svc, struct mid_org *org, int disabled,
				     const struct mid_caller *c, struct mid_change *res)
{
	const char *route = disabled ? "org/disable" : "org/enable";
	struct mid_audit_row a;
	enum mid_rc rc;

	res->persisted = 0;
	res->journaled = 0;
	pthread_mutex_lock(&svc->wmu);
	audit_fill(&a, org, NULL, route, disabled ? "disabled" : "enabled", "OK", c);
	if(disabled) {
		mid_state_set_disabled(org, 1);
		push_fire(svc, org, NULL, "ORG_DISABLED", c);
		rc = deny(svc, &a, res);
	} else {
		rc = unreachable(svc) ? MID_ERR_IO : allow_ready(svc);
		if(!rc)
			rc = mid_store_org_set_disabled(svc->db, mid_org_id(org), 0, &a);
		if(!rc)
			mid_state_set_disabled(org, 0);
		res->persisted = rc == MID_OK;
	}
	if(rc)
		goto out;
	mid_log("%s org=%s peer=%s request_id=%s persisted=%s",
		disabled ? "org-disable" : "org-enable", mid_org_name(org), c->peer, c->request_id,
		res->persisted ? "yes" : res->journaled ? "no(journaled)" : "no(memory-only)");
out:
	pthread_mutex_unlock(&svc->wmu);
	return rc;
}

enum mid_rc mid_service_rotate(struct mid_service *svc, struct mid_org *org, enum mid_role which,
			       int64_t grace_ms, const struct mid_caller *c,
			       char key[MID_KEY_LEN + 1], int64_t *grace_until_ms)
{
	const char *name = which == MID_ROLE_ADMIN ? "admin" : "org";
	unsigned char h[MID_SHA256_LEN], old[MID_SHA256_LEN];
	struct mid_audit_row a;
	int64_t until = 0;
	enum mid_rc rc;

	pthread_mutex_lock(&svc->wmu);
	rc = mid_keys_generate(which == MID_ROLE_ADMIN ? MID_KEY_ADMIN : MID_KEY_ORG, key);
	if(rc)
		goto out;
	mid_keys_hash(key, h);
	audit_fill(&a, org, NULL, "org/rotate-key", name, "OK", c);
	rc = unreachable(svc) ? MID_ERR_IO : allow_ready(svc);
	if(rc)
		goto out;
	if(which == MID_ROLE_ORG && grace_ms > 0) {
		mid_state_org_hash(org, old);
		until = a.time_ms + grace_ms;
	}
	rc = mid_store_org_rotate(svc->db, mid_org_id(org), which, h, until ? old : NULL, until,
				  &a);
	if(rc)
		goto out;
	/* The old key goes on working before the new one is in place, so
	 * no call in between is refused. */
	if(which == MID_ROLE_ORG)
		mid_state_set_grace(org, until ? old : NULL, until);
	mid_state_set_key(org, which, h);
	mid_log("rotate-key org=%s which=%s grace_ms=%lld peer=%s request_id=%s", mid_org_name(org),
		name, (long long)(until ? grace_ms : 0), c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	if(rc)
		memset(key, 0, MID_KEY_LEN + 1);
	else if(grace_until_ms)
		*grace_until_ms = until;
	return rc;
}

/* ---- budgets -------------------------------------------------------------- */

/* The budget as the audit row's detail: {"connects":"100/1m", ...}. */
static void budget_detail(const struct mid_budget *b, char *out, size_t n)
{
	size_t o = 0;
	char win[32];

	o += (size_t)snprintf(out, n, "{");
	for(int k = 0; k < MID_BUDGET_KINDS && o < n; k++) {
		if(!b->k[k].limit)
			continue;
		window_text(b->k[k].window_ms, win, sizeof(win));
		o += (size_t)snprintf(out + o, n - o, "%s\"%s\":\"%llu/%s\"", o > 1 ? "," : "",
				      mid_budget_kind_name((enum mid_budget_kind)k),
				      (unsigned long long)b->k[k].limit, win);
	}
	if(o < n)
		snprintf(out + o, n - o, "}");
}

enum mid_rc mid_service_budget_set(struct mid_service *svc, struct mid_org *org, const char *dev,
				   const struct mid_budget *b, int replace,
				   const struct mid_caller *c, struct mid_budget *now)
{
	uint64_t used[MID_BUDGET_KINDS];
	struct mid_audit_row a;
	struct mid_dev_info info;
	struct mid_budget next;
	enum mid_rc rc;

	pthread_mutex_lock(&svc->wmu);
	rc = mid_state_get(org, dev, &info);
	if(rc)
		goto out;
	if(unreachable(svc)) {
		rc = MID_ERR_IO;
		goto out;
	}
	memset(&next, 0, sizeof(next));
	if(!replace)
		mid_budgets_get(svc->budgets, mid_org_id(org), dev, 0, &next, used);
	for(int k = 0; k < MID_BUDGET_KINDS; k++)
		if(replace || b->k[k].window_ms)
			next.k[k] = b->k[k];
	audit_fill(&a, org, dev, mid_budget_any(&next) ? "budget/set" : "budget/clear",
		   mid_budget_any(&next) ? "set" : "cleared", "OK", c);
	budget_detail(&next, a.detail, sizeof(a.detail));
	rc = mid_store_budget_set(svc->db, mid_org_id(org), dev, &next, &a);
	if(!rc)
		rc = mid_budgets_put(svc->budgets, mid_org_id(org), dev, &next);
	if(rc)
		goto out;
	*now = next;
	mid_log("%s org=%s device=%s budget=%s peer=%s request_id=%s", a.route, mid_org_name(org),
		dev, a.detail, c->peer, c->request_id);
out:
	pthread_mutex_unlock(&svc->wmu);
	return rc;
}

int mid_service_budget_get(struct mid_service *svc, struct mid_org *org, const char *dev,
			   struct mid_budget *lim, uint64_t used[MID_BUDGET_KINDS])
{
	return mid_budgets_get(svc->budgets, mid_org_id(org), dev, (int64_t)mid_now_ms(), lim,
			       used);
}

/* ---- replicas ------------------------------------------------------------ */

/* A device as another replica left it: into memory, unless a deny change
 * of this replica's waits for the database (it is the newer one). A
 * change that denies kills the device's push channels here too. */
static void follow_dev(struct mid_service *svc, struct mid_org *org,
		       const struct mid_store_event *ev)
{
	const struct mid_dev_info *d = ev->dev;
	struct mid_caller c = {.peer = "replica", .request_id = ev->request_id};
	const char *was, *now;
	struct pend *p = pend_find(svc, ev->org_id, d->id);
	struct mid_dev_info cur;

	if(p && !p->stored)
		return;
	if(mid_state_get(org, d->id, &cur) == MID_OK && cur.state == d->state)
		return;
	was = deny_code(svc, org, d->id);
	if(mid_state_put(org, d->id, d->state, d->created_ms, 0, 0)) {
		mid_log("replica: out of memory for device %s", d->id);
		return;
	}
	now = deny_code(svc, org, d->id);
	if(now && !was)
		push_fire(svc, org, d->id, now, &c);
	mid_log("replica-change org=%s device=%s state=%s request_id=%s", mid_org_name(org), d->id,
		mid_dev_state_name(d->state), ev->request_id);
}

static void follow_org(struct mid_service *svc, struct mid_org *org,
		       const struct mid_store_event *ev)
{
	const struct mid_store_org *o = ev->org;
	struct mid_caller c = {.peer = "replica", .request_id = ev->request_id};
	struct pend *p = pend_find(svc, ev->org_id, "");
	unsigned char cur[MID_SHA256_LEN];
	int was = mid_state_disabled(org);

	mid_state_org_hash(org, cur);
	if(mid_ct_equal(cur, o->org_hash, MID_SHA256_LEN) == 0) {
		/* The old key first, as a rotation here does. */
		mid_state_set_grace(org, o->grace_hash, o->grace_until_ms);
		mid_state_set_key(org, MID_ROLE_ORG, o->org_hash);
		mid_log("replica-change org=%s org key rotated request_id=%s", mid_org_name(org),
			ev->request_id);
	} else {
		mid_state_set_grace(org, o->grace_hash, o->grace_until_ms);
	}
	mid_state_set_key(org, MID_ROLE_ADMIN, o->admin_hash);
	if(p && !p->stored)
		return;
	if(o->disabled != was) {
		mid_state_set_disabled(org, o->disabled);
		if(o->disabled)
			push_fire(svc, org, NULL, "ORG_DISABLED", &c);
		mid_log("replica-change org=%s %s request_id=%s", mid_org_name(org),
			o->disabled ? "disabled" : "enabled", ev->request_id);
	}
}

static void on_event(const struct mid_store_event *ev, void *arg)
{
	struct mid_service *svc = arg;
	struct mid_org *org;

	switch(ev->kind) {
	case MID_STORE_EV_LOST:
		if(!atomic_load(&svc->lost_since_ms))
			mid_log("database unreachable: %s answers validates from memory for at most"
				" %lld ms, then denies them with MIDD_STALE; revoke, remove and org"
				" disable apply here and wait in the deny journal; register and the"
				" other admin changes answer 503", svc->replica,
				(long long)svc->max_stale_ms);
		/* Never 0, which means reachable. */
		atomic_store(&svc->lost_since_ms, ev->since_ms ? ev->since_ms : 1);
		return;
	case MID_STORE_EV_LOADED:
		mid_log("database reachable again: %s reloaded its state after %lld ms",
			svc->replica, (long long)((int64_t)mid_now_ms() -
						  atomic_load(&svc->lost_since_ms)));
		/* What waited for the database goes to it now, not at the
		 * end of a backoff: the other replicas learn of it then. */
		pthread_mutex_lock(&svc->wmu);
		atomic_store(&svc->lost_since_ms, 0);
		if(svc->npend) {
			svc->backoff_ms = MID_RETRY_MIN_MS;
			svc->next_try_ms = mid_now_ms();
		}
		pthread_mutex_unlock(&svc->wmu);
		return;
	default:
		break;
	}
	org = mid_state_org_by_id(svc->st, ev->org_id);
	if(!org) {
		mid_log("replica: org %lld is new to this midd: restart it to serve the org",
			(long long)ev->org_id);
		return;
	}
	pthread_mutex_lock(&svc->wmu);
	if(ev->kind == MID_STORE_EV_DEVICE)
		follow_dev(svc, org, ev);
	else
		follow_org(svc, org, ev);
	pthread_mutex_unlock(&svc->wmu);
}

enum mid_rc mid_service_follow(struct mid_service *svc, const char *replica,
			       int64_t max_stale_ms, char *err, size_t errlen)
{
	mid_strlcpy(svc->replica, replica, sizeof(svc->replica));
	svc->max_stale_ms = max_stale_ms;
	svc->following = 1;
	return mid_store_follow(svc->db, on_event, svc, err, errlen);
}

struct mid_state *mid_service_state(struct mid_service *svc)
{
	return svc->st;
}

struct mid_store *mid_service_store(struct mid_service *svc)
{
	return svc->db;
}

void mid_service_session_key(const struct mid_service *svc, const struct mid_org *org,
			     const char *dev, const char *sid, unsigned char key[MID_BIND_KEY_BYTES])
{
	mid_bind_session_key(svc->secret, mid_org_id(org), dev, sid, key);
}
