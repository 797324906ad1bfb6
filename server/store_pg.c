/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL backend of store.h: a --db value that is a postgresql://
 * URL. Several midd replicas share one database. Every state change is
 * one transaction that also sends a NOTIFY on the channel "midd" naming
 * what changed; its COMMIT returns once PostgreSQL has made it durable
 * (synchronous_commit as the server is configured; "on" by default).
 * mid_store_follow LISTENs on a second connection, reads each changed
 * row and hands it to midd, which updates its memory: so a revoke on one
 * replica reaches the others' validates within a round trip.
 *
 * The schema is versioned: each start applies the migrations the
 * database lacks, under an advisory lock so replicas starting together
 * take turns. Counters are added, not overwritten: each replica writes
 * what it counted since its last write. The connection string may hold
 * a password: it is never logged.
 */
#define _GNU_SOURCE
#include "store_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"

#define CHANNEL "midd"
/* Replicas starting together apply the migrations one at a time. */
#define MIGRATE_LOCK "727001"
/* The follower asks the server for a sign of life after this long
 * without one, and gives up on the connection when the answer takes as
 * long again. */
#define PING_MS 500
#define RETRY_MS 200
#define CONNINFO_MAX 4096
#define COUNTERS_MAX (1u << 22)

/* The schema, one migration a version; a release only ever appends. */
static const char *const migrations[] = {
	/* 1: the tables of the SQLite schema. */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE orgs("
	" id BIGSERIAL PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" org_key_sha256 BYTEA NOT NULL,"
	" admin_key_sha256 BYTEA NOT NULL,"
	" device_limit BIGINT NOT NULL,"
	" disabled BOOLEAN NOT NULL DEFAULT false,"
	" validates BIGINT NOT NULL DEFAULT 0,"
	" created BIGINT NOT NULL);"
	"CREATE TABLE devices("
	" seq BIGSERIAL PRIMARY KEY,"
	" org_id BIGINT NOT NULL REFERENCES orgs(id),"
	" device_id TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK(state IN ('active','revoked','removed')),"
	" created BIGINT NOT NULL,"
	" last_seen BIGINT,"
	" validates BIGINT NOT NULL DEFAULT 0,"
	" UNIQUE(org_id, device_id));"
	"CREATE TABLE audit("
	" id BIGSERIAL PRIMARY KEY,"
	" time BIGINT NOT NULL,"
	" org_id BIGINT NOT NULL,"
	" device_id TEXT,"
	" route TEXT NOT NULL,"
	" decision TEXT NOT NULL,"
	" code TEXT NOT NULL,"
	" request_id TEXT NOT NULL,"
	" peer TEXT NOT NULL);"
	"CREATE TABLE org_key_grace("
	" org_id BIGINT PRIMARY KEY REFERENCES orgs(id),"
	" key_sha256 BYTEA NOT NULL,"
	" until BIGINT NOT NULL);"
	"CREATE INDEX audit_org_time ON audit(org_id, time);"
	"CREATE INDEX audit_org_device_time ON audit(org_id, device_id, time);",
	/* 2: a report's details (compact JSON) with its audit row. */
	"ALTER TABLE audit ADD COLUMN detail TEXT;",
	/* 3: webhooks (alert.h) and the events queued for them. */
	"CREATE TABLE alert_hooks("
	" id BIGSERIAL PRIMARY KEY,"
	" org_id BIGINT NOT NULL REFERENCES orgs(id),"
	" url TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" events TEXT NOT NULL,"
	" format TEXT NOT NULL,"
	" created BIGINT NOT NULL,"
	" delivered BIGINT NOT NULL DEFAULT 0,"
	" last_ok BIGINT,"
	" last_error TEXT,"
	" last_error_time BIGINT);"
	"CREATE TABLE alert_queue("
	" id BIGSERIAL PRIMARY KEY,"
	" hook_id BIGINT NOT NULL,"
	" event_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" org_id BIGINT NOT NULL,"
	" device_id TEXT,"
	" time BIGINT NOT NULL,"
	" detail TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try BIGINT NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL DEFAULT 'pending',"
	" last_error TEXT);"
	"CREATE INDEX alert_queue_due ON alert_queue(state, next_try);",
	/* 4: side-effect budgets (budget.h), one row per device and kind. */
	"CREATE TABLE budgets("
	" org_id BIGINT NOT NULL REFERENCES orgs(id),"
	" device_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" max_count BIGINT NOT NULL,"
	" window_ms BIGINT NOT NULL,"
	" PRIMARY KEY(org_id, device_id, kind));",
};

/* What this replica last wrote of one counter ("org_id/device"; the
 * org's own with an empty device), so the next write adds the rest. */
struct counter {
	char *key;
	uint64_t value;
};

struct pg {
	struct mid_store base; /* first: the interface */
	pthread_mutex_t mu;    /* the connection and the counters */
	PGconn *db;
	char conninfo[CONNINFO_MAX];
	_Atomic int health;      /* enum mid_store_health */
	_Atomic int backend_pid; /* of 'db': its own notifications are skipped */
	struct counter *ctr;
	size_t nctr, cap;
	int track;               /* loading: remember the counters read */
	uint64_t logged_ms;      /* the last "cannot connect" line */
	/* The follower. */
	pthread_t thr;
	int following;
	int stopfd;
	mid_store_event_fn fn;
	void *arg;
};

/* ---- connections ------------------------------------------------------ */

/* libpq's messages span lines; midd's log has one line an event. */
static const char *oneline(const char *msg, char *buf, size_t n)
{
	size_t i, j = 0;

	for(i = 0; msg && msg[i] && j + 1 < n; i++) {
		char ch = msg[i] == '\n' || msg[i] == '\t' ? ' ' : msg[i];
		if(ch != ' ' || (j && buf[j - 1] != ' '))
			buf[j++] = ch;
	}
	while(j && buf[j - 1] == ' ')
		j--;
	buf[j] = '\0';
	return buf;
}

/* The server's notices (a NOTICE of CREATE ... IF NOT EXISTS, the FATAL
 * of a shutdown) would go to stderr unasked: the errors that matter are
 * logged where a call fails. */
static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Connect with midd's defaults, which the URL may override. */
static PGconn *connect_db(const char *conninfo)
{
	static const char *const keys[] = {"connect_timeout", "application_name", "keepalives_idle",
					   "keepalives_interval", "keepalives_count", "dbname",
					   NULL};
	const char *vals[] = {"2", "midd", "5", "2", "2", conninfo, NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);

	if(c)
		PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

/* The connection, reconnected when it was lost; NULL (logged) when it
 * cannot be had. */
static PGconn *conn(struct pg *s)
{
	if(s->db && PQstatus(s->db) == CONNECTION_OK)
		return s->db;
	if(s->db)
		PQreset(s->db);
	else
		s->db = connect_db(s->conninfo);
	if(!s->db || PQstatus(s->db) != CONNECTION_OK) {
		char m[512];
		uint64_t now = mid_now_ms();

		/* Every flush tries again: one line in ten seconds tells. */
		if(now >= s->logged_ms + 10000) {
			s->logged_ms = now;
			mid_log("database error: cannot connect to PostgreSQL: %s",
				s->db ? oneline(PQerrorMessage(s->db), m, sizeof(m)) : "out of memory");
		}
		atomic_store(&s->health, MID_STORE_UNREACHABLE);
		return NULL;
	}
	atomic_store(&s->backend_pid, PQbackendPID(s->db));
	return s->db;
}

static void fail(PGconn *c, const char *what, const PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : "";
	char m[512];

	mid_log("database error: %s: %s", what, oneline(msg && *msg ? msg : PQerrorMessage(c), m,
							   sizeof(m)));
}

/* Run 'sql' with text parameters 'v'; the result when it succeeded
 * (the caller PQclears it), else NULL, logged. Without parameters 'sql'
 * may be several statements (a migration). */
static PGresult *run(PGconn *c, const char *what, const char *sql, int n, const char *const *v)
{
	PGresult *r = n ? PQexecParams(c, sql, n, NULL, v, NULL, NULL, 0) : PQexec(c, sql);
	ExecStatusType t = PQresultStatus(r);

	if(t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK)
		return r;
	fail(c, what, r);
	PQclear(r);
	return NULL;
}

/* Run a statement for its effect; the rows it touched, or -1. */
static long cmd(PGconn *c, const char *what, const char *sql, int n, const char *const *v)
{
	PGresult *r = run(c, what, sql, n, v);
	long rows;

	if(!r)
		return -1;
	rows = atol(PQcmdTuples(r));
	PQclear(r);
	return rows;
}

/* A connection that died while idle (the server restarted) shows only
 * at its next use: then the first statement is tried once more on a
 * fresh one. */
static PGresult *run_fresh(struct pg *s, PGconn **c, const char *what, const char *sql, int n,
			   const char *const *v)
{
	PGresult *r;

	*c = conn(s);
	if(!*c)
		return NULL;
	r = PQexecParams(*c, sql, n, NULL, v, NULL, NULL, 0);
	if(PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK &&
	   PQstatus(*c) != CONNECTION_OK) {
		PQclear(r);
		*c = conn(s);
		if(!*c)
			return NULL;
		r = PQexecParams(*c, sql, n, NULL, v, NULL, NULL, 0);
	}
	if(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		return r;
	fail(*c, what, r);
	PQclear(r);
	return NULL;
}

static int begin(struct pg *s, PGconn **c)
{
	PGresult *r = run_fresh(s, c, "begin", "BEGIN", 0, NULL);

	if(r) {
		PQclear(r);
		return 0;
	}
	if(*c)
		atomic_store(&s->health, PQstatus(*c) == CONNECTION_OK ? MID_STORE_FAILING :
									 MID_STORE_UNREACHABLE);
	return -1;
}

static enum mid_rc finish(struct pg *s, PGconn *c, enum mid_rc rc)
{
	if(!c)
		return rc;
	if(rc == MID_OK && cmd(c, "commit", "COMMIT", 0, NULL) < 0)
		rc = MID_ERR_IO;
	if(rc != MID_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	if(rc == MID_OK)
		atomic_store(&s->health, MID_STORE_OK);
	else if(rc == MID_ERR_IO)
		atomic_store(&s->health, PQstatus(c) == CONNECTION_OK ? MID_STORE_FAILING :
									MID_STORE_UNREACHABLE);
	return rc;
}

/* Tell the followers, inside the change's transaction: "d ORG RID DEVICE"
 * or "o ORG RID". NOTIFY is delivered at COMMIT, in commit order. */
static int notify(PGconn *c, int64_t org_id, const char *device, const char *rid)
{
	char msg[64 + MID_REQUEST_ID_MAX + MID_DEVICE_MAX];
	const char *v[1] = {msg};

	if(device && *device)
		snprintf(msg, sizeof(msg), "d %" PRId64 " %s %s", org_id, rid && *rid ? rid : "-",
			 device);
	else
		snprintf(msg, sizeof(msg), "o %" PRId64 " %s", org_id, rid && *rid ? rid : "-");
	return cmd(c, "notify", "SELECT pg_notify('" CHANNEL "', $1)", 1, v) < 0 ? -1 : 0;
}

/* ---- schema ----------------------------------------------------------- */

static int migrate(PGconn *c, char *err, size_t errlen)
{
	PGresult *r;
	long have;
	size_t i;

	if(cmd(c, "migrate", "BEGIN", 0, NULL) < 0 ||
	   cmd(c, "migrate", "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0, NULL) < 0 ||
	   cmd(c, "migrate", "CREATE TABLE IF NOT EXISTS midd_migrations("
			     " version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)", 0, NULL) < 0)
		goto fail;
	r = run(c, "migrate", "SELECT COALESCE(MAX(version), 0) FROM midd_migrations", 0, NULL);
	if(!r)
		goto fail;
	have = atol(PQgetvalue(r, 0, 0));
	PQclear(r);
	if(have > (long)MID_ARRAY_LEN(migrations)) {
		PQclear(PQexec(c, "ROLLBACK"));
		snprintf(err, errlen, "the database's schema is version %ld, newer than this midd"
			 " knows (%zu): run a newer midd", have, MID_ARRAY_LEN(migrations));
		return -1;
	}
	for(i = (size_t)have; i < MID_ARRAY_LEN(migrations); i++) {
		char ver[24];
		const char *v[1] = {ver};

		snprintf(ver, sizeof(ver), "%zu", i + 1);
		if(cmd(c, "migrate", migrations[i], 0, NULL) < 0 ||
		   cmd(c, "migrate", "INSERT INTO midd_migrations(version, applied)"
			  " VALUES ($1::int, (extract(epoch from now()) * 1000)::bigint)", 1, v) < 0)
			goto fail;
		mid_log("database: applied schema migration %zu", i + 1);
	}
	if(cmd(c, "migrate", "COMMIT", 0, NULL) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "cannot set up the PostgreSQL schema: %s", PQerrorMessage(c));
	PQclear(PQexec(c, "ROLLBACK"));
	return -1;
}

/* ---- open, close ------------------------------------------------------ */

static void pg_free(struct mid_store *base)
{
	struct pg *s = (struct pg *)base;
	size_t i;

	if(!s)
		return;
	if(s->following) {
		uint64_t one = 1;

		if(write(s->stopfd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			mid_log("database: cannot stop the follower");
		pthread_join(s->thr, NULL);
	}
	if(s->stopfd >= 0)
		close(s->stopfd);
	PQfinish(s->db);
	for(i = 0; i < s->cap; i++)
		free(s->ctr[i].key);
	free(s->ctr);
	pthread_mutex_destroy(&s->mu);
	explicit_bzero(s->conninfo, sizeof(s->conninfo));
	free(s);
}

static enum mid_rc pg_open(const char *target, int create, struct mid_store **out, char *err,
			   size_t errlen)
{
	struct pg *s;

	(void)create;
	*out = NULL;
	if(strlen(target) >= CONNINFO_MAX) {
		snprintf(err, errlen, "the PostgreSQL URL is longer than %d bytes", CONNINFO_MAX - 1);
		return MID_ERR_INVAL;
	}
	s = calloc(1, sizeof(*s));
	if(!s)
		return MID_ERR_NOMEM;
	s->base.ops = &mid_store_postgresql;
	s->stopfd = -1;
	pthread_mutex_init(&s->mu, NULL);
	mid_strlcpy(s->conninfo, target, sizeof(s->conninfo));
	s->db = connect_db(s->conninfo);
	if(!s->db || PQstatus(s->db) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
			 s->db ? PQerrorMessage(s->db) : "out of memory");
		/* libpq's message ends in a newline. */
		err[strcspn(err, "\n")] = '\0';
		pg_free(&s->base);
		return MID_ERR_UNREACHABLE;
	}
	if(migrate(s->db, err, errlen)) {
		err[strcspn(err, "\n")] = '\0';
		pg_free(&s->base);
		return MID_ERR_IO;
	}
	atomic_store(&s->backend_pid, PQbackendPID(s->db));
	/* Counters read by this start are where this replica's adding starts. */
	s->track = 1;
	*out = &s->base;
	return MID_OK;
}

/* ---- counters --------------------------------------------------------- */

static uint64_t hash(const char *k)
{
	uint64_t h = 1469598103934665603ull;

	while(*k)
		h = (h ^ (unsigned char)*k++) * 1099511628211ull;
	return h;
}

static struct counter *ctr_find(struct pg *s, const char *key, int add)
{
	size_t i;

	if(add && (s->nctr + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256, j;
		struct counter *v;

		if(cap > COUNTERS_MAX)
			return NULL;
		v = calloc(cap, sizeof(*v));
		if(!v)
			return NULL;
		for(j = 0; j < s->cap; j++) {
			if(!s->ctr[j].key)
				continue;
			for(i = hash(s->ctr[j].key) & (cap - 1); v[i].key; i = (i + 1) & (cap - 1))
				;
			v[i] = s->ctr[j];
		}
		free(s->ctr);
		s->ctr = v;
		s->cap = cap;
	}
	if(!s->cap)
		return NULL;
	for(i = hash(key) & (s->cap - 1); s->ctr[i].key; i = (i + 1) & (s->cap - 1))
		if(!strcmp(s->ctr[i].key, key))
			return &s->ctr[i];
	if(!add)
		return NULL;
	s->ctr[i].key = strdup(key);
	if(!s->ctr[i].key)
		return NULL;
	s->ctr[i].value = 0;
	s->nctr++;
	return &s->ctr[i];
}

static void ctr_key(char *out, size_t n, int64_t org_id, const char *dev)
{
	snprintf(out, n, "%" PRId64 "/%s", org_id, dev ? dev : "");
}

static void ctr_remember(struct pg *s, int64_t org_id, const char *dev, uint64_t v)
{
	char key[32 + MID_DEVICE_MAX];
	struct counter *c;

	ctr_key(key, sizeof(key), org_id, dev);
	c = ctr_find(s, key, 1);
	if(c)
		c->value = v;
}

static enum mid_rc pg_counters(struct mid_store *base, const struct mid_dirty *d, size_t n)
{
	struct pg *s = (struct pg *)base;
	enum mid_rc rc = MID_ERR_IO;
	uint64_t *was = NULL;
	PGconn *c = NULL;
	size_t i;

	if(n == 0)
		return MID_OK;
	was = calloc(n, sizeof(*was));
	if(!was)
		return MID_ERR_NOMEM;
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	for(i = 0; i < n; i++) {
		char key[32 + MID_DEVICE_MAX], add[24], seen[24], org[24];
		const struct counter *k;

		ctr_key(key, sizeof(key), d[i].org_id, d[i].id);
		k = ctr_find(s, key, 0);
		was[i] = k ? k->value : 0;
		snprintf(add, sizeof(add), "%" PRId64, (int64_t)(d[i].validates - was[i]));
		snprintf(seen, sizeof(seen), "%" PRId64, d[i].last_seen_ms);
		snprintf(org, sizeof(org), "%" PRId64, d[i].org_id);
		if(d[i].id) {
			const char *v[4] = {add, d[i].last_seen_ms ? seen : NULL, org, d[i].id};
			if(cmd(c, "counter update", "UPDATE devices SET validates = validates + $1::bigint,"
				  " last_seen = GREATEST(last_seen, $2::bigint)"
				  " WHERE org_id = $3::bigint AND device_id = $4", 4, v) < 0)
				goto out;
		} else {
			const char *v[2] = {add, org};
			if(cmd(c, "counter update", "UPDATE orgs SET validates = validates + $1::bigint"
				  " WHERE id = $2::bigint", 2, v) < 0)
				goto out;
		}
	}
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	/* Only a committed write moves where the next one adds from. */
	for(i = 0; rc == MID_OK && i < n; i++)
		ctr_remember(s, d[i].org_id, d[i].id, d[i].validates);
	pthread_mutex_unlock(&s->mu);
	free(was);
	return rc;
}

/* ---- reading ---------------------------------------------------------- */

static int unhex_col(const PGresult *r, int row, int col, unsigned char out[MID_SHA256_LEN])
{
	const char *v = PQgetvalue(r, row, col);

	return !PQgetisnull(r, row, col) && strlen(v) == 2 * MID_SHA256_LEN &&
	       mid_unhex(v, out, MID_SHA256_LEN);
}

#define ORG_SQL \
	"SELECT o.id, o.name, encode(o.org_key_sha256, 'hex'), encode(o.admin_key_sha256, 'hex')," \
	" o.device_limit, o.disabled, o.validates, encode(g.key_sha256, 'hex'), g.until" \
	" FROM orgs o LEFT JOIN org_key_grace g ON g.org_id = o.id"

/* Call 'fn' for the orgs of 'r'. */
static enum mid_rc org_rows(struct pg *s, PGresult *r, mid_store_org_fn fn, void *arg,
			    char *err, size_t errlen)
{
	int i;

	for(i = 0; i < PQntuples(r); i++) {
		unsigned char oh[MID_SHA256_LEN], ah[MID_SHA256_LEN], gh[MID_SHA256_LEN];
		struct mid_store_org o;

		memset(&o, 0, sizeof(o));
		o.id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		o.name = PQgetvalue(r, i, 1);
		if(!unhex_col(r, i, 2, oh) || !unhex_col(r, i, 3, ah)) {
			snprintf(err, errlen, "org %lld in the database is damaged", (long long)o.id);
			return MID_ERR_PARSE;
		}
		o.org_hash = oh;
		o.admin_hash = ah;
		o.limit = strtoull(PQgetvalue(r, i, 4), NULL, 10);
		o.disabled = PQgetvalue(r, i, 5)[0] == 't';
		o.validates = strtoull(PQgetvalue(r, i, 6), NULL, 10);
		if(unhex_col(r, i, 7, gh)) {
			o.grace_hash = gh;
			o.grace_until_ms = strtoll(PQgetvalue(r, i, 8), NULL, 10);
		}
		if(s && s->track)
			ctr_remember(s, o.id, NULL, o.validates);
		if(fn(&o, arg)) {
			snprintf(err, errlen, "cannot load org %lld", (long long)o.id);
			return MID_ERR_INVAL;
		}
	}
	return MID_OK;
}

#define DEV_SQL "SELECT org_id, device_id, state, created, last_seen, validates FROM devices"

static enum mid_rc dev_rows(struct pg *s, PGresult *r, mid_store_dev_fn fn, void *arg,
			    char *err, size_t errlen)
{
	int i;

	for(i = 0; i < PQntuples(r); i++) {
		struct mid_dev_info d;
		int64_t org = strtoll(PQgetvalue(r, i, 0), NULL, 10);

		memset(&d, 0, sizeof(d));
		if(mid_strlcpy(d.id, PQgetvalue(r, i, 1), sizeof(d.id)) >= sizeof(d.id) ||
		   !(d.state = mid_dev_state_parse(PQgetvalue(r, i, 2)))) {
			snprintf(err, errlen, "a device row in the database is damaged");
			return MID_ERR_PARSE;
		}
		d.created_ms = strtoll(PQgetvalue(r, i, 3), NULL, 10);
		d.last_seen_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
		d.validates = strtoull(PQgetvalue(r, i, 5), NULL, 10);
		if(s && s->track)
			ctr_remember(s, org, d.id, d.validates);
		if(fn(org, &d, arg)) {
			snprintf(err, errlen, "cannot load device %s", d.id);
			return MID_ERR_INVAL;
		}
	}
	return MID_OK;
}

/* Read the orgs (with 'ofn') or the devices (with 'dfn') 'sql' selects. */
static enum mid_rc each(struct pg *s, const char *sql, mid_store_org_fn ofn, mid_store_dev_fn dfn,
			void *arg, char *err, size_t errlen)
{
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c;

	pthread_mutex_lock(&s->mu);
	r = run_fresh(s, &c, ofn ? "read orgs" : "read devices", sql, 0, NULL);
	if(!r) {
		snprintf(err, errlen, "cannot read %s: %s", ofn ? "orgs" : "devices",
			 c ? PQerrorMessage(c) : "no connection");
		err[strcspn(err, "\n")] = '\0';
		goto out;
	}
	rc = ofn ? org_rows(s, r, ofn, arg, err, errlen) : dev_rows(s, r, dfn, arg, err, errlen);
out:
	PQclear(r);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_each_org(struct mid_store *base, mid_store_org_fn fn, void *arg, char *err,
			       size_t errlen)
{
	return each((struct pg *)base, ORG_SQL " ORDER BY o.id", fn, NULL, arg, err, errlen);
}

static enum mid_rc pg_each_device(struct mid_store *base, mid_store_dev_fn fn, void *arg,
				  char *err, size_t errlen)
{
	struct pg *s = (struct pg *)base;
	enum mid_rc rc = each(s, DEV_SQL " ORDER BY seq", NULL, fn, arg, err, errlen);

	/* The start's load is over: what follows adds. */
	s->track = 0;
	return rc;
}

/* ---- changes ---------------------------------------------------------- */

static void i64(char *out, size_t n, int64_t v)
{
	snprintf(out, n, "%" PRId64, v);
}

/* Queue the alert that audit row 'a' raises, if any, for each hook of
 * its org that asked for the kind, inside the row's transaction. */
static int alert_queue(PGconn *c, const struct mid_audit_row *a)
{
	const char *kind = mid_alert_kind(a);
	char detail[MID_ALERT_DETAIL_MAX], eid[37], org[24], t[24];
	const char *v[6] = {eid, kind, org, a->device[0] ? a->device : NULL, t, detail};

	if(!kind)
		return 0;
	if(!mid_alert_detail(a, detail, sizeof(detail)))
		mid_strlcpy(detail, "{}", sizeof(detail));
	mid_uuid4(eid);
	i64(org, sizeof(org), a->org_id);
	i64(t, sizeof(t), a->time_ms);
	return cmd(c, "alert queue", "INSERT INTO alert_queue(hook_id, event_id, kind, org_id,"
		   " device_id, time, detail) SELECT id, $1, $2, $3::bigint, $4, $5::bigint, $6"
		   " FROM alert_hooks WHERE org_id = $3::bigint AND position(',' || $2 || ',' IN"
		   " ',' || events || ',') > 0 ORDER BY id", 6, v) < 0 ? -1 : 0;
}

static int audit_row(PGconn *c, const struct mid_audit_row *a)
{
	char t[24], org[24];
	const char *v[9] = {t,	  org,	       a->device[0] ? a->device : NULL, a->route, a->decision,
			    a->code, a->request_id, a->peer, a->detail[0] ? a->detail : NULL};

	i64(t, sizeof(t), a->time_ms);
	i64(org, sizeof(org), a->org_id);
	if(cmd(c, "audit insert", "INSERT INTO audit(time, org_id, device_id, route, decision,"
	       " code, request_id, peer, detail) VALUES ($1::bigint, $2::bigint, $3, $4, $5, $6, $7,"
	       " $8, $9)", 9, v) < 0)
		return -1;
	return alert_queue(c, a);
}

static enum mid_rc pg_org_create(struct mid_store *base, const char *name,
				 const unsigned char org_hash[MID_SHA256_LEN],
				 const unsigned char admin_hash[MID_SHA256_LEN], uint64_t limit,
				 int64_t *id, char *err, size_t errlen)
{
	struct pg *s = (struct pg *)base;
	char oh[2 * MID_SHA256_LEN + 1], ah[2 * MID_SHA256_LEN + 1], lim[24], now[24];
	const char *v[5] = {name, oh, ah, lim, now};
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c = NULL;
	const char *state;

	mid_hex(org_hash, MID_SHA256_LEN, oh);
	mid_hex(admin_hash, MID_SHA256_LEN, ah);
	snprintf(lim, sizeof(lim), "%" PRIu64, limit);
	i64(now, sizeof(now), (int64_t)time(NULL) * 1000);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	r = PQexecParams(c, "INSERT INTO orgs(name, org_key_sha256, admin_key_sha256, device_limit,"
			 " created) VALUES ($1, decode($2, 'hex'), decode($3, 'hex'), $4::bigint,"
			 " $5::bigint) RETURNING id", 5, NULL, v, NULL, NULL, 0);
	if(PQresultStatus(r) != PGRES_TUPLES_OK) {
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if(state && !strcmp(state, "23505")) {
			snprintf(err, errlen, "an org named '%s' already exists; pick another --name",
				 name);
			rc = MID_ERR_INVAL;
		} else {
			snprintf(err, errlen, "cannot add org: %s", PQresultErrorMessage(r));
			err[strcspn(err, "\n")] = '\0';
		}
		goto out;
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	rc = notify(c, *id, NULL, NULL) ? MID_ERR_IO : MID_OK;
out:
	PQclear(r);
	rc = finish(s, c, rc);
	if(rc == MID_ERR_IO && err[0] == '\0')
		snprintf(err, errlen, "cannot add org: %s",
			 c ? PQerrorMessage(c) : "no connection to PostgreSQL");
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* One statement that must touch one row, its notice and its audit row
 * 'a', in one transaction. None touched: MID_ERR_NOT_FOUND. */
static enum mid_rc change(struct pg *s, const char *sql, int n, const char *const *v,
			  int64_t org_id, const char *dev, const struct mid_audit_row *a)
{
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;
	long rows;

	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	rows = cmd(c, "update", sql, n, v);
	if(rows < 0)
		goto out;
	if(rows != 1) {
		rc = MID_ERR_NOT_FOUND;
		goto out;
	}
	if(notify(c, org_id, dev, a ? a->request_id : NULL) || (a && audit_row(c, a)))
		goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_device_add(struct mid_store *base, int64_t org_id, const char *id,
				 enum mid_dev_state state, int64_t created_ms,
				 const struct mid_audit_row *a)
{
	char org[24], created[24];
	const char *v[4] = {org, id, mid_dev_state_name(state), created};

	i64(org, sizeof(org), org_id);
	i64(created, sizeof(created), created_ms);
	return change((struct pg *)base, "INSERT INTO devices(org_id, device_id, state, created)"
		      " VALUES ($1::bigint, $2, $3, $4::bigint)", 4, v, org_id, id, a);
}

static enum mid_rc pg_device_set(struct mid_store *base, int64_t org_id, const char *id,
				 enum mid_dev_state state, const struct mid_audit_row *a)
{
	char org[24];
	const char *v[3] = {mid_dev_state_name(state), org, id};

	i64(org, sizeof(org), org_id);
	return change((struct pg *)base, "UPDATE devices SET state = $1 WHERE org_id = $2::bigint"
		      " AND device_id = $3", 3, v, org_id, id, a);
}

static enum mid_rc pg_org_set_disabled(struct mid_store *base, int64_t org_id, int disabled,
				       const struct mid_audit_row *a)
{
	char org[24];
	const char *v[2] = {disabled ? "true" : "false", org};

	i64(org, sizeof(org), org_id);
	return change((struct pg *)base, "UPDATE orgs SET disabled = $1::boolean"
		      " WHERE id = $2::bigint", 2, v, org_id, NULL, a);
}

static enum mid_rc pg_org_rotate(struct mid_store *base, int64_t org_id, enum mid_role which,
				 const unsigned char hash[MID_SHA256_LEN],
				 const unsigned char old[MID_SHA256_LEN], int64_t until_ms,
				 const struct mid_audit_row *a)
{
	struct pg *s = (struct pg *)base;
	char h[2 * MID_SHA256_LEN + 1], o[2 * MID_SHA256_LEN + 1], org[24], until[24];
	const char *v[3] = {h, org, NULL};
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;

	mid_hex(hash, MID_SHA256_LEN, h);
	i64(org, sizeof(org), org_id);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	if(cmd(c, "rotate key", which == MID_ROLE_ADMIN ?
	       "UPDATE orgs SET admin_key_sha256 = decode($1, 'hex') WHERE id = $2::bigint" :
	       "UPDATE orgs SET org_key_sha256 = decode($1, 'hex') WHERE id = $2::bigint",
	       2, v) != 1)
		goto out;
	if(which == MID_ROLE_ORG) {
		/* A second rotation ends the first one's overlap. */
		v[0] = org;
		if(old && until_ms > 0) {
			mid_hex(old, MID_SHA256_LEN, o);
			i64(until, sizeof(until), until_ms);
			v[1] = o;
			v[2] = until;
			if(cmd(c, "keep the old org key", "INSERT INTO org_key_grace(org_id,"
			       " key_sha256, until) VALUES ($1::bigint, decode($2, 'hex'), $3::bigint)"
			       " ON CONFLICT (org_id) DO UPDATE SET key_sha256 = EXCLUDED.key_sha256,"
			       " until = EXCLUDED.until", 3, v) < 0)
				goto out;
		} else if(cmd(c, "end the old org key", "DELETE FROM org_key_grace"
			      " WHERE org_id = $1::bigint", 1, v) < 0) {
			goto out;
		}
	}
	if(notify(c, org_id, NULL, a ? a->request_id : NULL) || (a && audit_row(c, a)))
		goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- budgets -------------------------------------------------------------- */

static enum mid_rc pg_budget_set(struct mid_store *base, int64_t org_id, const char *dev,
				 const struct mid_budget *b, const struct mid_audit_row *a)
{
	struct pg *s = (struct pg *)base;
	char org[24], max[24], win[24];
	const char *v[5] = {org, dev, NULL, max, win};
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;

	i64(org, sizeof(org), org_id);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	if(cmd(c, "budget", "DELETE FROM budgets WHERE org_id = $1::bigint AND device_id = $2",
	       2, v) < 0)
		goto out;
	for(int k = 0; k < MID_BUDGET_KINDS; k++) {
		if(!b->k[k].limit)
			continue;
		v[2] = mid_budget_kind_name((enum mid_budget_kind)k);
		i64(max, sizeof(max), (int64_t)b->k[k].limit);
		i64(win, sizeof(win), b->k[k].window_ms);
		if(cmd(c, "budget", "INSERT INTO budgets(org_id, device_id, kind, max_count,"
		       " window_ms) VALUES ($1::bigint, $2, $3, $4::bigint, $5::bigint)", 5, v) < 0)
			goto out;
	}
	if(a && audit_row(c, a))
		goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_each_budget(struct mid_store *base, mid_store_budget_fn fn, void *arg,
				  char *err, size_t errlen)
{
	struct pg *s = (struct pg *)base;
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c;
	int i, n;

	pthread_mutex_lock(&s->mu);
	r = run_fresh(s, &c, "read budgets", "SELECT org_id, device_id, kind, max_count,"
		      " window_ms FROM budgets ORDER BY org_id, device_id", 0, NULL);
	if(!r) {
		snprintf(err, errlen, "cannot read budgets: %s",
			 c ? PQerrorMessage(c) : "no connection");
		err[strcspn(err, "\n")] = '\0';
		goto out;
	}
	n = PQntuples(r);
	rc = MID_OK;
	for(i = 0; i < n && !rc;) {
		struct mid_budget b;
		int64_t org = atoll(PQgetvalue(r, i, 0));
		const char *dev = PQgetvalue(r, i, 1);

		memset(&b, 0, sizeof(b));
		for(; i < n && atoll(PQgetvalue(r, i, 0)) == org && !strcmp(PQgetvalue(r, i, 1), dev);
		    i++) {
			for(int k = 0; k < MID_BUDGET_KINDS; k++) {
				if(strcmp(PQgetvalue(r, i, 2),
					  mid_budget_kind_name((enum mid_budget_kind)k)))
					continue;
				b.k[k].limit = (uint64_t)atoll(PQgetvalue(r, i, 3));
				b.k[k].window_ms = atoll(PQgetvalue(r, i, 4));
			}
		}
		if(fn(org, dev, &b, arg))
			rc = MID_ERR_INVAL;
	}
out:
	PQclear(r);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* A device's deny state, adding its row when the database lacks it (a
 * journal replayed over an older copy). */
static int deny_device(PGconn *c, const struct mid_audit_row *ch)
{
	enum mid_dev_state to = mid_dev_state_parse(ch->decision);
	char org[24], t[24];
	const char *v[4] = {org, ch->device, NULL, t};

	if(to != MID_DEV_REVOKED && to != MID_DEV_REMOVED)
		return -1;
	v[2] = mid_dev_state_name(to);
	i64(org, sizeof(org), ch->org_id);
	i64(t, sizeof(t), ch->time_ms);
	return cmd(c, "deny change", "INSERT INTO devices(org_id, device_id, state, created)"
		   " VALUES ($1::bigint, $2, $3, $4::bigint) ON CONFLICT (org_id, device_id)"
		   " DO UPDATE SET state = EXCLUDED.state", 4, v) < 0 ? -1 : 0;
}

static enum mid_rc pg_apply_denies(struct mid_store *base, const struct mid_audit_row *changes,
				   size_t n, const struct mid_audit_row *audit, size_t na)
{
	struct pg *s = (struct pg *)base;
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;
	size_t i;

	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	for(i = 0; i < n; i++) {
		const struct mid_audit_row *ch = &changes[i];
		char org[24];
		const char *v[1] = {org};

		i64(org, sizeof(org), ch->org_id);
		if(ch->device[0] ? deny_device(c, ch) :
		   cmd(c, "org disable", "UPDATE orgs SET disabled = true WHERE id = $1::bigint",
		       1, v) < 0)
			goto out;
		if(notify(c, ch->org_id, ch->device, ch->request_id))
			goto out;
	}
	for(i = 0; i < na; i++)
		if(audit_row(c, &audit[i]))
			goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_store_health pg_health(struct mid_store *base)
{
	return (enum mid_store_health)atomic_load(&((struct pg *)base)->health);
}

/* 'v' as a field of COPY's text format at 'out' (a backslash, tab, CR
 * or newline escaped; NULL or "" as \N when 'null'); its length, or 0 when
 * 'room' is too small. */
static size_t copy_field(char *out, size_t room, const char *v, int null)
{
	size_t n = 0;

	if(null && (!v || !*v)) {
		if(room < 3)
			return 0;
		memcpy(out, "\\N", 2);
		return 2;
	}
	for(; v && *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '\t' ? "\\t" : *v == '\n' ? "\\n" :
				  *v == '\r' ? "\\r" : NULL;
		size_t k = esc ? 2 : 1;

		if(n + k + 1 >= room)
			return 0;
		if(esc)
			memcpy(out + n, esc, 2);
		else
			out[n] = *v;
		n += k;
	}
	return n;
}

/* One audit row as a line of COPY's text format into 'line'; its length,
 * or 0 when it does not fit. */
static size_t copy_line(char *line, size_t room, const struct mid_audit_row *a)
{
	const char *text[] = {a->device, a->route, a->decision, a->code, a->request_id, a->peer,
			      a->detail};
	int n = snprintf(line, room, "%" PRId64 "\t%" PRId64, a->time_ms, a->org_id);
	size_t len, i;

	if(n < 0 || (size_t)n >= room)
		return 0;
	len = (size_t)n;
	for(i = 0; i < MID_ARRAY_LEN(text); i++) {
		size_t k;

		if(len + 2 >= room)
			return 0;
		line[len++] = '\t';
		k = copy_field(line + len, room - len, text[i], i == 0 || i == 6);
		if(k == 0 && text[i][0])
			return 0;
		len += k;
	}
	if(len + 1 >= room)
		return 0;
	line[len++] = '\n';
	return len;
}

/* The rows of a batch that raise alerts, queued after its COPY. */
struct alert_rows {
	struct mid_audit_row *rows;
	size_t n, cap;
};

static int keep_alert(struct alert_rows *a, const struct mid_audit_row *row)
{
	if(a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 8;
		struct mid_audit_row *p = realloc(a->rows, cap * sizeof(*p));

		if(!p)
			return -1;
		a->rows = p;
		a->cap = cap;
	}
	a->rows[a->n++] = *row;
	return 0;
}

static enum mid_rc pg_audit_append(struct mid_store *base, mid_store_row_fn next, void *arg)
{
	struct pg *s = (struct pg *)base;
	struct mid_audit_row row;
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c = NULL;
	char line[4096]; /* the longest row, every byte escaped in its detail */
	struct alert_rows alerts = {NULL, 0, 0};
	int copying = 0;
	size_t i;

	pthread_mutex_lock(&s->mu);
	/* The rows are taken from the queue either way: like SQLite's
	 * batches, a failed one is lost and logged by the caller. */
	if(begin(s, &c)) {
		while(next(arg, &row))
			;
		goto out;
	}
	/* Audit rows need not wait for the disk: a state change's commit
	 * flushes the log they are in. One COPY for the batch: a round trip
	 * per row would hold the connection, and a revoke behind it, for
	 * seconds after a burst of validates. */
	if(cmd(c, "audit batch", "SET LOCAL synchronous_commit = off", 0, NULL) < 0)
		goto out;
	r = PQexec(c, "COPY audit(time, org_id, device_id, route, decision, code, request_id, peer,"
		      " detail) FROM STDIN");
	if(PQresultStatus(r) != PGRES_COPY_IN) {
		fail(c, "audit batch", r);
		goto out;
	}
	copying = 1;
	while(next(arg, &row)) {
		size_t n = copy_line(line, sizeof(line), &row);

		if(n && PQputCopyData(c, line, (int)n) != 1) {
			fail(c, "audit batch", NULL);
			goto out;
		}
		if(n && mid_alert_kind(&row) && keep_alert(&alerts, &row)) {
			mid_log("out of memory: an alert of the audit batch is lost");
			continue;
		}
	}
	copying = 0;
	if(PQputCopyEnd(c, NULL) != 1)
		goto out;
	PQclear(r);
	r = PQgetResult(c);
	if(PQresultStatus(r) != PGRES_COMMAND_OK) {
		fail(c, "audit batch", r);
		goto out;
	}
	for(i = 0; i < alerts.n; i++)
		if(alert_queue(c, &alerts.rows[i]))
			goto out;
	rc = MID_OK;
out:
	free(alerts.rows);
	if(copying) {
		while(next(arg, &row))
			;
		PQputCopyEnd(c, "audit batch abandoned");
	}
	PQclear(r);
	/* What is left of a COPY (its result, a NULL) before the next statement. */
	while(c && (r = PQgetResult(c)))
		PQclear(r);
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_audit_query(struct mid_store *base, int64_t org_id, const char *device,
				  const struct mid_audit_cursor *from, unsigned limit,
				  mid_store_audit_fn fn, void *arg)
{
	struct pg *s = (struct pg *)base;
	char org[24], lim[24], t[24], id[24];
	const char *v[5] = {org, lim, t, id, device};
	struct mid_audit_row row;
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c;
	int i;

	i64(org, sizeof(org), org_id);
	snprintf(lim, sizeof(lim), "%u", limit);
	i64(t, sizeof(t), from->time_ms);
	i64(id, sizeof(id), from->id);
	pthread_mutex_lock(&s->mu);
	/* A page goes on below the last row of the one before. */
	r = run_fresh(s, &c, "audit query", device ?
		"SELECT time, device_id, route, decision, code, request_id, peer, id, detail FROM audit"
		" WHERE org_id = $1::bigint AND device_id = $5 AND (time < $3::bigint OR"
		" (time = $3::bigint AND id < $4::bigint)) ORDER BY time DESC, id DESC"
		" LIMIT $2::bigint" :
		"SELECT time, device_id, route, decision, code, request_id, peer, id, detail FROM audit"
		" WHERE org_id = $1::bigint AND (time < $3::bigint OR"
		" (time = $3::bigint AND id < $4::bigint)) ORDER BY time DESC, id DESC"
		" LIMIT $2::bigint", device ? 5 : 4, v);
	if(!r)
		goto out;
	for(i = 0; i < PQntuples(r); i++) {
		memset(&row, 0, sizeof(row));
		row.org_id = org_id;
		row.time_ms = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		mid_strlcpy(row.device, PQgetvalue(r, i, 1), sizeof(row.device));
		mid_strlcpy(row.route, PQgetvalue(r, i, 2), sizeof(row.route));
		mid_strlcpy(row.decision, PQgetvalue(r, i, 3), sizeof(row.decision));
		mid_strlcpy(row.code, PQgetvalue(r, i, 4), sizeof(row.code));
		mid_strlcpy(row.request_id, PQgetvalue(r, i, 5), sizeof(row.request_id));
		mid_strlcpy(row.peer, PQgetvalue(r, i, 6), sizeof(row.peer));
		row.id = strtoll(PQgetvalue(r, i, 7), NULL, 10);
		mid_strlcpy(row.detail, PQgetvalue(r, i, 8), sizeof(row.detail));
		if(fn(&row, arg)) {
			rc = MID_ERR_NOMEM;
			goto out;
		}
	}
	rc = MID_OK;
out:
	PQclear(r);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_secret(struct mid_store *base, unsigned char out[MID_SHA256_LEN], char *err,
			     size_t errlen)
{
	struct pg *s = (struct pg *)base;
	unsigned char fresh[MID_SHA256_LEN];
	char hex[2 * MID_SHA256_LEN + 1];
	const char *v[1] = {hex};
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	size_t got = 0;
	PGconn *c;

	/* Every replica answers with the same secret, so a shim's session
	 * holds whichever replica it reaches: the first start makes it. */
	while(got < sizeof(fresh)) {
		ssize_t n = getrandom(fresh + got, sizeof(fresh) - got, 0);
		if(n <= 0) {
			snprintf(err, errlen, "cannot read random bytes for the reply secret");
			return MID_ERR_IO;
		}
		got += (size_t)n;
	}
	mid_hex(fresh, sizeof(fresh), hex);
	explicit_bzero(fresh, sizeof(fresh));
	pthread_mutex_lock(&s->mu);
	r = run_fresh(s, &c, "reply secret", "INSERT INTO meta(key, value) VALUES"
		      " ('reply_secret', $1) ON CONFLICT (key) DO NOTHING", 1, v);
	if(r) {
		PQclear(r);
		r = run(c, "reply secret", "SELECT value FROM meta WHERE key = 'reply_secret'", 0,
			NULL);
	}
	if(r && PQntuples(r) == 1 && mid_unhex(PQgetvalue(r, 0, 0), out, MID_SHA256_LEN))
		rc = MID_OK;
	else
		snprintf(err, errlen, "cannot read or make the reply secret in PostgreSQL");
	PQclear(r);
	pthread_mutex_unlock(&s->mu);
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

/* ---- following the other replicas ------------------------------------- */

struct follow_ctx {
	struct pg *s;
	const char *rid;
};

static int follow_org(const struct mid_store_org *o, void *arg)
{
	struct follow_ctx *f = arg;
	struct mid_store_event ev = {.kind = MID_STORE_EV_ORG, .org_id = o->id,
				     .request_id = f->rid, .org = o};

	f->s->fn(&ev, f->s->arg);
	return 0;
}

static int follow_dev(int64_t org_id, const struct mid_dev_info *d, void *arg)
{
	struct follow_ctx *f = arg;
	struct mid_store_event ev = {.kind = MID_STORE_EV_DEVICE, .org_id = org_id,
				     .request_id = f->rid, .dev = d};

	f->s->fn(&ev, f->s->arg);
	return 0;
}

/* Read the rows 'sql' selects (with 'v') on 'c' and hand them on; -1 when
 * the connection failed. */
static int hand_on(struct pg *s, PGconn *c, const char *sql, int n, const char *const *v,
		   int orgs, const char *rid)
{
	struct follow_ctx f = {s, rid};
	PGresult *r = run(c, "follow", sql, n, v);
	char err[160];

	if(!r)
		return -1;
	if(orgs ? org_rows(NULL, r, follow_org, &f, err, sizeof(err)) :
	    dev_rows(NULL, r, follow_dev, &f, err, sizeof(err)))
		mid_log("database: %s", err);
	PQclear(r);
	return 0;
}

/* One notice: read what it names and hand it on. */
static int apply_notice(struct pg *s, PGconn *c, const char *msg)
{
	char kind, rid[MID_REQUEST_ID_MAX], org[24];
	const char *v[2] = {org, NULL};
	long long id;
	int used = 0;

	if(sscanf(msg, "%c %lld %63s %n", &kind, &id, rid, &used) < 3 || !used)
		return 0;
	i64(org, sizeof(org), (int64_t)id);
	if(kind == 'o')
		return hand_on(s, c, ORG_SQL " WHERE o.id = $1::bigint", 1, v, 1, rid);
	v[1] = msg + used;
	return hand_on(s, c, DEV_SQL " WHERE org_id = $1::bigint AND device_id = $2", 2, v, 0, rid);
}

static void event(struct pg *s, enum mid_store_event_kind kind, int64_t since_ms)
{
	struct mid_store_event ev = {.kind = kind, .since_ms = since_ms, .request_id = "-"};

	s->fn(&ev, s->arg);
}

/* Wait up to 'ms' for 'c' to have input or for the stop; 1: stop. */
static int wait_input(struct pg *s, PGconn *c, int ms)
{
	struct pollfd p[2] = {{.fd = s->stopfd, .events = POLLIN},
			      {.fd = c ? PQsocket(c) : -1, .events = POLLIN}};

	if(poll(p, c ? 2 : 1, ms) < 0 && errno != EINTR)
		usleep(1000);
	return (p[0].revents & POLLIN) != 0;
}

/* Ask the server for a sign of life within PING_MS; -1 when none came. */
static int ping(struct pg *s, PGconn *c)
{
	int64_t end = (int64_t)mid_now_ms() + PING_MS;
	PGresult *r;
	int ok = 1;

	if(!PQsendQuery(c, "SELECT 1"))
		return -1;
	while(PQisBusy(c)) {
		int64_t left = end - (int64_t)mid_now_ms();
		if(left <= 0 || wait_input(s, c, (int)left) || !PQconsumeInput(c))
			return -1;
	}
	while((r = PQgetResult(c))) {
		ok &= PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
	}
	return ok ? 0 : -1;
}

static void *follow(void *arg)
{
	struct pg *s = arg;
	PGconn *c = NULL;
	int64_t good = (int64_t)mid_now_ms(), lost = 0;
	char msg[512];

	for(;;) {
		PGnotify *n;

		if(!c) {
			c = connect_db(s->conninfo);
			/* LISTEN first, then read everything: a change made in
			 * between is both read and announced, never neither. */
			if(!c || PQstatus(c) != CONNECTION_OK ||
			   cmd(c, "follow", "LISTEN " CHANNEL, 0, NULL) < 0 ||
			   hand_on(s, c, ORG_SQL, 0, NULL, 1, "-") ||
			   hand_on(s, c, DEV_SQL, 0, NULL, 0, "-")) {
				PQfinish(c);
				c = NULL;
				if(!lost) {
					lost = good;
					event(s, MID_STORE_EV_LOST, lost);
				}
				if(wait_input(s, NULL, RETRY_MS))
					break;
				continue;
			}
			good = (int64_t)mid_now_ms();
			if(lost)
				event(s, MID_STORE_EV_LOADED, 0);
			lost = 0;
		}
		if(wait_input(s, c, PING_MS))
			break;
		if(!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
			goto drop;
		while((n = PQnotifies(c))) {
			int failed = n->be_pid != atomic_load(&s->backend_pid) &&
				     apply_notice(s, c, n->extra);
			PQfreemem(n);
			if(failed)
				goto drop;
			good = (int64_t)mid_now_ms();
		}
		if((int64_t)mid_now_ms() - good < PING_MS)
			continue;
		if(ping(s, c) == 0) {
			good = (int64_t)mid_now_ms();
			continue;
		}
drop:
		mid_log("database: lost the PostgreSQL connection that follows the other"
			" replicas: %s", oneline(PQerrorMessage(c), msg, sizeof(msg)));
		PQfinish(c);
		c = NULL;
		lost = good;
		event(s, MID_STORE_EV_LOST, lost);
	}
	PQfinish(c);
	return NULL;
}

static enum mid_rc pg_follow(struct mid_store *base, mid_store_event_fn fn, void *arg, char *err,
			     size_t errlen)
{
	struct pg *s = (struct pg *)base;

	if(s->following)
		return MID_ERR_INVAL;
	s->fn = fn;
	s->arg = arg;
	s->stopfd = eventfd(0, EFD_CLOEXEC);
	if(s->stopfd < 0 || pthread_create(&s->thr, NULL, follow, s)) {
		snprintf(err, errlen, "cannot start following the database: %s", strerror(errno));
		return MID_ERR_IO;
	}
	s->following = 1;
	return MID_OK;
}

/* ---- webhook alerts ----------------------------------------------------- */

static enum mid_rc pg_alert_hook_add(struct mid_store *base, const struct mid_alert_hook *h,
				     int64_t *id)
{
	struct pg *s = (struct pg *)base;
	char org[24], created[24], max[24];
	const char *v[7] = {org, h->url, h->secret, h->events, h->format, created, max};
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c = NULL;

	i64(org, sizeof(org), h->org_id);
	i64(created, sizeof(created), h->created_ms);
	i64(max, sizeof(max), MID_ALERT_HOOKS_MAX);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	/* The org's row, locked, keeps two adds from passing the cap together. */
	if(cmd(c, "alert hook add", "SELECT id FROM orgs WHERE id = $1::bigint FOR UPDATE", 1,
	       v) < 0)
		goto out;
	r = run(c, "alert hook add", "INSERT INTO alert_hooks(org_id, url, secret, events, format,"
		" created) SELECT $1::bigint, $2, $3, $4, $5, $6::bigint WHERE (SELECT count(*)"
		" FROM alert_hooks WHERE org_id = $1::bigint) < $7::bigint RETURNING id", 7, v);
	if(!r)
		goto out;
	if(PQntuples(r) != 1) {
		rc = MID_ERR_TOO_BIG;
		goto out;
	}
	*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	rc = MID_OK;
out:
	PQclear(r);
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_alert_hook_remove(struct mid_store *base, int64_t org_id, int64_t id)
{
	struct pg *s = (struct pg *)base;
	char hid[24], org[24];
	const char *v[2] = {hid, org};
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;
	long rows;

	i64(hid, sizeof(hid), id);
	i64(org, sizeof(org), org_id);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	rows = cmd(c, "alert hook remove", "DELETE FROM alert_hooks WHERE id = $1::bigint AND"
		   " org_id = $2::bigint", 2, v);
	if(rows < 0)
		goto out;
	if(rows != 1) {
		rc = MID_ERR_NOT_FOUND;
		goto out;
	}
	if(cmd(c, "alert hook remove", "DELETE FROM alert_queue WHERE hook_id = $1::bigint", 1,
	       v) < 0)
		goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_alert_hooks(struct mid_store *base, int64_t org_id, mid_store_hook_fn fn,
				  void *arg)
{
	struct pg *s = (struct pg *)base;
	struct mid_alert_hook *h = malloc(sizeof(*h));
	char org[24];
	const char *v[1] = {org};
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c;
	int i;

	if(!h)
		return MID_ERR_NOMEM;
	i64(org, sizeof(org), org_id);
	pthread_mutex_lock(&s->mu);
	r = run_fresh(s, &c, "alert hooks", "SELECT h.id, h.url, h.events, h.format, h.created,"
		      " h.delivered, coalesce(h.last_ok, 0), coalesce(h.last_error_time, 0),"
		      " coalesce(h.last_error, ''),"
		      " (SELECT count(*) FROM alert_queue q WHERE q.hook_id = h.id"
		      "  AND q.state = 'pending'),"
		      " (SELECT count(*) FROM alert_queue q WHERE q.hook_id = h.id"
		      "  AND q.state = 'failed')"
		      " FROM alert_hooks h WHERE h.org_id = $1::bigint ORDER BY h.id", 1, v);
	if(!r)
		goto out;
	for(i = 0; i < PQntuples(r); i++) {
		memset(h, 0, sizeof(*h));
		h->org_id = org_id;
		h->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		mid_strlcpy(h->url, PQgetvalue(r, i, 1), sizeof(h->url));
		mid_strlcpy(h->events, PQgetvalue(r, i, 2), sizeof(h->events));
		mid_strlcpy(h->format, PQgetvalue(r, i, 3), sizeof(h->format));
		h->created_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
		h->delivered = strtoull(PQgetvalue(r, i, 5), NULL, 10);
		h->last_ok_ms = strtoll(PQgetvalue(r, i, 6), NULL, 10);
		h->last_error_ms = strtoll(PQgetvalue(r, i, 7), NULL, 10);
		mid_strlcpy(h->last_error, PQgetvalue(r, i, 8), sizeof(h->last_error));
		h->pending = strtoull(PQgetvalue(r, i, 9), NULL, 10);
		h->failed = strtoull(PQgetvalue(r, i, 10), NULL, 10);
		if(fn(h, arg)) {
			rc = MID_ERR_NOMEM;
			goto out;
		}
	}
	rc = MID_OK;
out:
	PQclear(r);
	pthread_mutex_unlock(&s->mu);
	free(h);
	return rc;
}

static enum mid_rc pg_alert_claim(struct mid_store *base, int64_t now_ms, int64_t lease_ms,
				  unsigned max, mid_store_item_fn fn, void *arg)
{
	struct pg *s = (struct pg *)base;
	struct mid_alert_item *it = malloc(sizeof(*it));
	char now[24], until[24], lim[24];
	const char *v[3] = {now, until, lim};
	enum mid_rc rc = MID_ERR_IO;
	PGresult *r = NULL;
	PGconn *c;
	int i;

	if(!it)
		return MID_ERR_NOMEM;
	i64(now, sizeof(now), now_ms);
	i64(until, sizeof(until), now_ms + lease_ms);
	i64(lim, sizeof(lim), max);
	pthread_mutex_lock(&s->mu);
	/* One statement takes and leases: replicas skip each other's rows. */
	r = run_fresh(s, &c, "alert claim", "WITH due AS (SELECT id FROM alert_queue"
		      " WHERE state = 'pending' AND next_try <= $1::bigint ORDER BY id"
		      " LIMIT $3::bigint FOR UPDATE SKIP LOCKED),"
		      " taken AS (UPDATE alert_queue q SET next_try = $2::bigint FROM due"
		      " WHERE q.id = due.id RETURNING q.*)"
		      " SELECT q.id, q.hook_id, q.event_id, q.kind, o.name,"
		      " coalesce(q.device_id, ''), q.time, q.detail, q.attempts, h.url, h.format,"
		      " h.secret FROM taken q JOIN alert_hooks h ON h.id = q.hook_id"
		      " JOIN orgs o ON o.id = q.org_id ORDER BY q.id", 3, v);
	if(!r)
		goto out;
	pthread_mutex_unlock(&s->mu);
	for(i = 0; i < PQntuples(r); i++) {
		memset(it, 0, sizeof(*it));
		it->id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		it->hook_id = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		mid_strlcpy(it->event_id, PQgetvalue(r, i, 2), sizeof(it->event_id));
		mid_strlcpy(it->kind, PQgetvalue(r, i, 3), sizeof(it->kind));
		mid_strlcpy(it->org, PQgetvalue(r, i, 4), sizeof(it->org));
		mid_strlcpy(it->device, PQgetvalue(r, i, 5), sizeof(it->device));
		it->time_ms = strtoll(PQgetvalue(r, i, 6), NULL, 10);
		mid_strlcpy(it->detail, PQgetvalue(r, i, 7), sizeof(it->detail));
		it->attempts = (unsigned)atoi(PQgetvalue(r, i, 8));
		mid_strlcpy(it->url, PQgetvalue(r, i, 9), sizeof(it->url));
		mid_strlcpy(it->format, PQgetvalue(r, i, 10), sizeof(it->format));
		mid_strlcpy(it->secret, PQgetvalue(r, i, 11), sizeof(it->secret));
		fn(it, arg);
	}
	PQclear(r);
	explicit_bzero(it, sizeof(*it));
	free(it);
	return MID_OK;
out:
	pthread_mutex_unlock(&s->mu);
	free(it);
	return rc;
}

static enum mid_rc pg_alert_result(struct mid_store *base, const struct mid_alert_item *it,
				   enum mid_alert_outcome out, int64_t now_ms, int64_t next_ms,
				   const char *error)
{
	static const char *const queue_sql[] = {
		[MID_ALERT_DELIVERED] = "DELETE FROM alert_queue WHERE id = $1::bigint",
		[MID_ALERT_RETRY] = "UPDATE alert_queue SET attempts = attempts + 1,"
				    " next_try = $2::bigint, last_error = $3 WHERE id = $1::bigint",
		[MID_ALERT_FAILED] = "UPDATE alert_queue SET attempts = attempts + 1,"
				     " state = 'failed', last_error = $3 WHERE id = $1::bigint",
	};
	struct pg *s = (struct pg *)base;
	char id[24], hid[24], next[24], now[24];
	const char *v[3] = {id, next, error};
	const char *w[3] = {hid, now, error};
	enum mid_rc rc = MID_ERR_IO;
	PGconn *c = NULL;

	i64(id, sizeof(id), it->id);
	i64(hid, sizeof(hid), it->hook_id);
	i64(next, sizeof(next), next_ms);
	i64(now, sizeof(now), now_ms);
	pthread_mutex_lock(&s->mu);
	if(begin(s, &c))
		goto out;
	if(cmd(c, "alert result", queue_sql[out], out == MID_ALERT_DELIVERED ? 1 : 3, v) < 0 ||
	   cmd(c, "alert result", out == MID_ALERT_DELIVERED ?
	       "UPDATE alert_hooks SET delivered = delivered + 1, last_ok = $2::bigint"
	       " WHERE id = $1::bigint" :
	       "UPDATE alert_hooks SET last_error = $3, last_error_time = $2::bigint"
	       " WHERE id = $1::bigint", out == MID_ALERT_DELIVERED ? 2 : 3, w) < 0)
		goto out;
	rc = MID_OK;
out:
	rc = finish(s, c, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc pg_alert_depth(struct mid_store *base, uint64_t *pending, uint64_t *failed)
{
	struct pg *s = (struct pg *)base;
	PGresult *r;
	PGconn *c;

	pthread_mutex_lock(&s->mu);
	r = run_fresh(s, &c, "alert depth", "SELECT count(*) FILTER (WHERE state = 'pending'),"
		      " count(*) FILTER (WHERE state = 'failed') FROM alert_queue", 0, NULL);
	pthread_mutex_unlock(&s->mu);
	if(!r)
		return MID_ERR_IO;
	*pending = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	*failed = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return MID_OK;
}

const struct mid_store_ops mid_store_postgresql = {
	.name = "postgresql",
	.open = pg_open,
	.free = pg_free,
	.secret = pg_secret,
	.org_create = pg_org_create,
	.each_org = pg_each_org,
	.each_device = pg_each_device,
	.device_add = pg_device_add,
	.device_set = pg_device_set,
	.org_set_disabled = pg_org_set_disabled,
	.org_rotate = pg_org_rotate,
	.apply_denies = pg_apply_denies,
	.budget_set = pg_budget_set,
	.each_budget = pg_each_budget,
	.health = pg_health,
	.audit_append = pg_audit_append,
	.counters = pg_counters,
	.audit_query = pg_audit_query,
	.alert_hook_add = pg_alert_hook_add,
	.alert_hook_remove = pg_alert_hook_remove,
	.alert_hooks = pg_alert_hooks,
	.alert_claim = pg_alert_claim,
	.alert_result = pg_alert_result,
	.alert_depth = pg_alert_depth,
	.follow = pg_follow,
};
