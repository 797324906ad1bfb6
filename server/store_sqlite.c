/* SPDX-License-Identifier: MIT */
/*
 * The SQLite backend of store.h, the default: a --db value that is a
 * path. WAL mode with synchronous=FULL: every state change has committed
 * durably when it returns. One connection, serialised by a mutex; a
 * failing statement is logged here, with SQLite's message. Every write
 * first checks that the database file and its log are still linked
 * (st_nlink): into an unlinked file a commit would succeed and be lost.
 * Hot statements (audit insert, counter updates) are
 * prepared once; the rare state changes prepare theirs per call. Every
 * change runs in BEGIN IMMEDIATE ... COMMIT so a concurrent `midd init`
 * or an operator's sqlite3 shell waits instead of failing halfway.
 */
#define _GNU_SOURCE
#include "store_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert.h"
#include "log.h"

#define SCHEMA_VERSION "1"
/* How long a write waits for another program's lock (an operator's
 * sqlite3 shell, a concurrent `midd init`). The store's mutex is held
 * meanwhile, and the writer mutex for a change: a revoke must not wait
 * behind a long wait. Hence short waits for the background batches and
 * for deny changes (which are in force already and kept in the journal),
 * a longer one for a change toward allow, and the longest for init. */
#define BUSY_INIT_MS 5000
#define BUSY_CHANGE_MS 1000
#define BUSY_SHORT_MS 100

struct sq {
	struct mid_store base; /* first: the interface */
	sqlite3 *db;
	pthread_mutex_t mu;
	sqlite3_stmt *audit_ins;
	sqlite3_stmt *alert_ins;
	sqlite3_stmt *dev_count;
	sqlite3_stmt *org_count;
	int fd[2];                  /* the database file and its log, to watch st_nlink */
	_Atomic int health;         /* enum mid_store_health */
	char path[4096];
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta("
	" key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS orgs("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" org_key_sha256 BLOB NOT NULL,"
	" admin_key_sha256 BLOB NOT NULL,"
	" device_limit INTEGER NOT NULL,"
	" disabled INTEGER NOT NULL DEFAULT 0,"
	" validates INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS devices("
	" seq INTEGER PRIMARY KEY,"
	" org_id INTEGER NOT NULL REFERENCES orgs(id),"
	" device_id TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK(state IN ('active','revoked','removed')),"
	" created INTEGER NOT NULL,"
	" last_seen INTEGER,"
	" validates INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(org_id, device_id));"
	"CREATE TABLE IF NOT EXISTS audit("
	" id INTEGER PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" org_id INTEGER NOT NULL,"
	" device_id TEXT,"
	" route TEXT NOT NULL,"
	" decision TEXT NOT NULL,"
	" code TEXT NOT NULL,"
	" request_id TEXT NOT NULL,"
	" peer TEXT NOT NULL,"
	" detail TEXT,"
	" chain_seq INTEGER,"
	" chain_hash TEXT);"
	/* Signed checkpoints of each org's audit hash chain (chain.h). */
	"CREATE TABLE IF NOT EXISTS audit_checkpoints("
	" org_id INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" time INTEGER NOT NULL,"
	" signature TEXT NOT NULL,"
	" PRIMARY KEY(org_id, seq));"
	/* The org key a rotation replaced, valid until 'until' (ms since the
	 * epoch) so running programs can move to the new one. */
	"CREATE TABLE IF NOT EXISTS org_key_grace("
	" org_id INTEGER PRIMARY KEY REFERENCES orgs(id),"
	" key_sha256 BLOB NOT NULL,"
	" until INTEGER NOT NULL);"
	/* Webhooks (alert.h) and the events queued for them, each written
	 * in the transaction of the audit row that records its event. */
	"CREATE TABLE IF NOT EXISTS alert_hooks("
	" id INTEGER PRIMARY KEY,"
	" org_id INTEGER NOT NULL REFERENCES orgs(id),"
	" url TEXT NOT NULL,"
	" secret TEXT NOT NULL,"
	" events TEXT NOT NULL,"
	" format TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" delivered INTEGER NOT NULL DEFAULT 0,"
	" last_ok INTEGER,"
	" last_error TEXT,"
	" last_error_time INTEGER);"
	"CREATE TABLE IF NOT EXISTS alert_queue("
	" id INTEGER PRIMARY KEY,"
	" hook_id INTEGER NOT NULL,"
	" event_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" org_id INTEGER NOT NULL,"
	" device_id TEXT,"
	" time INTEGER NOT NULL,"
	" detail TEXT NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_try INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL DEFAULT 'pending',"
	" last_error TEXT);"
	"CREATE INDEX IF NOT EXISTS alert_queue_due ON alert_queue(state, next_try);"
	/* Side-effect budgets (budget.h): one row per device and kind. */
	"CREATE TABLE IF NOT EXISTS budgets("
	" org_id INTEGER NOT NULL REFERENCES orgs(id),"
	" device_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" max_count INTEGER NOT NULL,"
	" window_ms INTEGER NOT NULL,"
	" PRIMARY KEY(org_id, device_id, kind));"
	"CREATE INDEX IF NOT EXISTS audit_org_time ON audit(org_id, time);"
	"CREATE INDEX IF NOT EXISTS audit_org_device_time ON audit(org_id, device_id, time);"
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '" SCHEMA_VERSION "');";

static void fail(struct sq *s, const char *what)
{
	mid_log("database error: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(struct sq *s, const char *sql)
{
	char *msg = NULL;

	if(sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	mid_log("database error: %s", msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	return -1;
}

/* The database file or its write-ahead log is no longer in the file
 * system. SQLite in WAL mode goes on committing to an unlinked file
 * without a word, and all of it would be gone at the next start. */
static int unlinked(const struct sq *s)
{
	struct stat sb;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(s->fd); i++)
		if(s->fd[i] >= 0 && !fstat(s->fd[i], &sb) && sb.st_nlink == 0)
			return 1;
	return 0;
}

static int begin(struct sq *s)
{
	if(unlinked(s)) {
		if(atomic_exchange(&s->health, MID_STORE_UNLINKED) != MID_STORE_UNLINKED)
			mid_log("database error: %s was unlinked while midd runs, so nothing written"
				" to it would survive a restart: changes toward deny stay in memory"
				" and the deny journal, others are refused; restore the file (or"
				" `midd init` a new one) and restart midd", s->path);
		return -1;
	}
	if(exec(s, "BEGIN IMMEDIATE")) {
		atomic_store(&s->health, MID_STORE_FAILING);
		return -1;
	}
	return 0;
}

static enum mid_rc finish(struct sq *s, enum mid_rc rc)
{
	if(rc == MID_OK && exec(s, "COMMIT"))
		rc = MID_ERR_IO;
	if(rc != MID_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	if(rc == MID_OK)
		atomic_store(&s->health, MID_STORE_OK);
	else if(rc == MID_ERR_IO && atomic_load(&s->health) != MID_STORE_UNLINKED)
		atomic_store(&s->health, MID_STORE_FAILING);
	return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if(v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Queue the alert that audit row 'a' raises, if any, for each hook of
 * its org that asked for the kind: inside the row's own transaction, so
 * the event is queued exactly when the row is written. */
static enum mid_rc alert_queue(struct sq *s, const struct mid_audit_row *a)
{
	const char *kind = mid_alert_kind(a);
	sqlite3_stmt *st = s->alert_ins;
	char detail[MID_ALERT_DETAIL_MAX], eid[37];
	int r;

	if(!kind)
		return MID_OK;
	if(!mid_alert_detail(a, detail, sizeof(detail)))
		mid_strlcpy(detail, "{}", sizeof(detail));
	mid_uuid4(eid);
	sqlite3_bind_text(st, 1, eid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, a->org_id);
	bind_text(st, 4, a->device);
	sqlite3_bind_int64(st, 5, a->time_ms);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if(r != SQLITE_DONE) {
		fail(s, "alert queue");
		return MID_ERR_IO;
	}
	return MID_OK;
}

/* Insert one audit row inside the caller's transaction. */
static enum mid_rc audit_row(struct sq *s, const struct mid_audit_row *a)
{
	sqlite3_stmt *st = s->audit_ins;
	int r;

	sqlite3_bind_int64(st, 1, a->time_ms);
	sqlite3_bind_int64(st, 2, a->org_id);
	bind_text(st, 3, a->device);
	sqlite3_bind_text(st, 4, a->route, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, a->decision, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, a->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, a->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, a->peer, -1, SQLITE_STATIC);
	bind_text(st, 9, a->detail);
	if(a->seq) {
		char hex[2 * MID_SHA256_LEN + 1];

		mid_hex(a->hash, MID_SHA256_LEN, hex);
		sqlite3_bind_int64(st, 10, a->seq);
		sqlite3_bind_text(st, 11, hex, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(st, 10);
		sqlite3_bind_null(st, 11);
	}
	r = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if(r != SQLITE_DONE) {
		fail(s, "audit insert");
		return MID_ERR_IO;
	}
	return alert_queue(s, a);
}

static enum mid_rc prepare(struct sq *s, const char *sql, sqlite3_stmt **st)
{
	if(sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		fail(s, "prepare");
		return MID_ERR_IO;
	}
	return MID_OK;
}

/* A database made before audit rows had details and a place in the
 * hash chain gets the columns. */
static int add_column(struct sq *s, const char *name, const char *alter)
{
	char sql[128];
	sqlite3_stmt *st = NULL;

	snprintf(sql, sizeof(sql), "SELECT %s FROM audit LIMIT 0", name);
	if(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	return exec(s, alter);
}

static int add_detail(struct sq *s)
{
	return add_column(s, "detail", "ALTER TABLE audit ADD COLUMN detail TEXT") ||
	       add_column(s, "chain_seq", "ALTER TABLE audit ADD COLUMN chain_seq INTEGER") ||
	       add_column(s, "chain_hash", "ALTER TABLE audit ADD COLUMN chain_hash TEXT");
}

/* Hold the database file and its log open to see them unlinked. The log
 * exists once the schema statement has run in WAL mode. */
static int watch(struct sq *s, const char *path, char *err, size_t errlen)
{
	char wal[4200];

	s->fd[0] = open(path, O_RDONLY | O_CLOEXEC);
	if(s->fd[0] < 0) {
		snprintf(err, errlen, "cannot open database %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(wal, sizeof(wal), "%s-wal", path);
	s->fd[1] = open(wal, O_RDONLY | O_CLOEXEC);
	return 0;
}

static void sq_free(struct mid_store *base)
{
	struct sq *s = (struct sq *)base;

	if(!s)
		return;
	sqlite3_finalize(s->audit_ins);
	sqlite3_finalize(s->alert_ins);
	sqlite3_finalize(s->dev_count);
	sqlite3_finalize(s->org_count);
	sqlite3_close(s->db);
	if(s->fd[0] >= 0)
		close(s->fd[0]);
	if(s->fd[1] >= 0)
		close(s->fd[1]);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static enum mid_rc sq_open(const char *path, int create, struct mid_store **out,
			   char *err, size_t errlen)
{
	struct sq *s;
	enum mid_rc rc = MID_ERR_IO;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct stat sb;

	*out = NULL;
	if(!create && stat(path, &sb)) {
		snprintf(err, errlen, "no database at %s (%s): run `midd init --db %s` first",
			 path, strerror(errno), path);
		return MID_ERR_NOT_FOUND;
	}
	if(create)
		flags |= SQLITE_OPEN_CREATE;
	s = calloc(1, sizeof(*s));
	if(!s)
		return MID_ERR_NOMEM;
	s->base.ops = &mid_store_sqlite;
	s->fd[0] = s->fd[1] = -1;
	mid_strlcpy(s->path, path, sizeof(s->path));
	pthread_mutex_init(&s->mu, NULL);
	if(sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(s->db, BUSY_INIT_MS);
	if(sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			       "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK ||
	   sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot use database %s: %s", path, sqlite3_errmsg(s->db));
		goto out;
	}
	if(add_detail(s)) {
		snprintf(err, errlen, "cannot use database %s: %s", path, sqlite3_errmsg(s->db));
		goto out;
	}
	if(prepare(s, "INSERT INTO audit(time, org_id, device_id, route, decision, code,"
		      " request_id, peer, detail, chain_seq, chain_hash)"
		      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		      &s->audit_ins) ||
	   prepare(s, "INSERT INTO alert_queue(hook_id, event_id, kind, org_id, device_id, time,"
		      " detail) SELECT id, ?1, ?2, ?3, ?4, ?5, ?6 FROM alert_hooks"
		      " WHERE org_id = ?3 AND instr(',' || events || ',', ',' || ?2 || ',') > 0"
		      " ORDER BY id", &s->alert_ins) ||
	   prepare(s, "UPDATE devices SET validates = ?, last_seen = ?"
		      " WHERE org_id = ? AND device_id = ?", &s->dev_count) ||
	   prepare(s, "UPDATE orgs SET validates = ? WHERE id = ?", &s->org_count)) {
		snprintf(err, errlen, "cannot use database %s: %s", path, sqlite3_errmsg(s->db));
		goto out;
	}
	if(watch(s, path, err, errlen))
		goto out;
	rc = MID_OK;
out:
	if(rc) {
		sq_free(&s->base);
		return rc;
	}
	*out = &s->base;
	return rc;
}

static enum mid_rc sq_org_create(struct mid_store *base, const char *name,
				 const unsigned char org_hash[MID_SHA256_LEN],
				 const unsigned char admin_hash[MID_SHA256_LEN],
				 uint64_t limit, int64_t *id, char *err, size_t errlen)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	struct timespec ts;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_INIT_MS);
	if(begin(s)) {
		snprintf(err, errlen, "database is busy: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	if(prepare(s, "INSERT INTO orgs(name, org_key_sha256, admin_key_sha256, device_limit,"
		      " created) VALUES (?, ?, ?, ?, ?)", &st))
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, org_hash, MID_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, admin_hash, MID_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	r = sqlite3_step(st);
	if(r == SQLITE_CONSTRAINT) {
		snprintf(err, errlen, "an org named '%s' already exists; pick another --name", name);
		rc = MID_ERR_INVAL;
		goto out;
	}
	if(r != SQLITE_DONE) {
		snprintf(err, errlen, "cannot add org: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish(s, rc);
	if(rc == MID_ERR_IO && err[0] == '\0')
		snprintf(err, errlen, "cannot add org: %s", sqlite3_errmsg(s->db));
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_each_org(struct mid_store *base, mid_store_org_fn fn, void *arg,
			       char *err, size_t errlen)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT o.id, o.name, o.org_key_sha256, o.admin_key_sha256, o.device_limit,"
		      " o.disabled, o.validates, g.key_sha256, g.until FROM orgs o"
		      " LEFT JOIN org_key_grace g ON g.org_id = o.id ORDER BY o.id", &st))
		goto out;
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct mid_store_org o;
		o.id = sqlite3_column_int64(st, 0);
		o.name = (const char *)sqlite3_column_text(st, 1);
		o.org_hash = sqlite3_column_blob(st, 2);
		if(sqlite3_column_bytes(st, 2) != MID_SHA256_LEN)
			o.org_hash = NULL;
		o.admin_hash = sqlite3_column_blob(st, 3);
		if(sqlite3_column_bytes(st, 3) != MID_SHA256_LEN)
			o.admin_hash = NULL;
		o.limit = (uint64_t)sqlite3_column_int64(st, 4);
		o.disabled = sqlite3_column_int(st, 5) != 0;
		o.validates = (uint64_t)sqlite3_column_int64(st, 6);
		o.grace_hash = sqlite3_column_blob(st, 7);
		o.grace_until_ms = sqlite3_column_int64(st, 8);
		if(sqlite3_column_bytes(st, 7) != MID_SHA256_LEN) {
			o.grace_hash = NULL;
			o.grace_until_ms = 0;
		}
		if(!o.name || !o.org_hash || !o.admin_hash) {
			snprintf(err, errlen, "org %lld in the database is damaged", (long long)o.id);
			rc = MID_ERR_PARSE;
			goto out;
		}
		if(fn(&o, arg)) {
			snprintf(err, errlen, "cannot load org %lld", (long long)o.id);
			rc = MID_ERR_INVAL;
			goto out;
		}
	}
	if(r != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read orgs: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_each_device(struct mid_store *base, mid_store_dev_fn fn, void *arg,
				  char *err, size_t errlen)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT org_id, device_id, state, created, last_seen, validates"
		      " FROM devices ORDER BY seq", &st))
		goto out;
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct mid_dev_info d;
		const char *id = (const char *)sqlite3_column_text(st, 1);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		if(!id || !state || mid_strlcpy(d.id, id, sizeof(d.id)) >= sizeof(d.id) ||
		   !(d.state = mid_dev_state_parse(state))) {
			snprintf(err, errlen, "a device row in the database is damaged");
			rc = MID_ERR_PARSE;
			goto out;
		}
		d.unpersisted = 0;
		d.created_ms = sqlite3_column_int64(st, 3);
		d.last_seen_ms = sqlite3_column_int64(st, 4);
		d.validates = (uint64_t)sqlite3_column_int64(st, 5);
		if(fn(sqlite3_column_int64(st, 0), &d, arg)) {
			snprintf(err, errlen, "cannot load device %s", d.id);
			rc = MID_ERR_INVAL;
			goto out;
		}
	}
	if(r != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read devices: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Run one prepared-per-call change plus its audit row in a transaction.
 * 'bind' fills the statement's parameters. A statement that touches no
 * row (an unknown device) is MID_ERR_NOT_FOUND and rolls back. */
static enum mid_rc change(struct sq *s, const char *sql,
			  void (*bind)(sqlite3_stmt *st, const void *arg), const void *arg,
			  const struct mid_audit_row *a)
{
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_CHANGE_MS);
	if(begin(s))
		goto out;
	if(prepare(s, sql, &st))
		goto out;
	bind(st, arg);
	if(sqlite3_step(st) != SQLITE_DONE) {
		fail(s, "update");
		goto out;
	}
	if(sqlite3_changes(s->db) != 1) {
		rc = MID_ERR_NOT_FOUND;
		goto out;
	}
	rc = a ? audit_row(s, a) : MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

struct dev_args {
	int64_t org_id;
	const char *id;
	enum mid_dev_state state;
	int64_t created_ms;
};

static void bind_dev_add(sqlite3_stmt *st, const void *arg)
{
	const struct dev_args *d = arg;

	sqlite3_bind_int64(st, 1, d->org_id);
	sqlite3_bind_text(st, 2, d->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, mid_dev_state_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, d->created_ms);
}

static void bind_dev_set(sqlite3_stmt *st, const void *arg)
{
	const struct dev_args *d = arg;

	sqlite3_bind_text(st, 1, mid_dev_state_name(d->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, d->org_id);
	sqlite3_bind_text(st, 3, d->id, -1, SQLITE_STATIC);
}

static enum mid_rc sq_device_add(struct mid_store *base, int64_t org_id, const char *id,
				 enum mid_dev_state state, int64_t created_ms,
				 const struct mid_audit_row *a)
{
	struct sq *s = (struct sq *)base;
	struct dev_args d = {org_id, id, state, created_ms};

	return change(s, "INSERT INTO devices(org_id, device_id, state, created)"
			 " VALUES (?, ?, ?, ?)", bind_dev_add, &d, a);
}

static enum mid_rc sq_device_set(struct mid_store *base, int64_t org_id, const char *id,
				 enum mid_dev_state state, const struct mid_audit_row *a)
{
	struct sq *s = (struct sq *)base;
	struct dev_args d = {org_id, id, state, 0};

	return change(s, "UPDATE devices SET state = ? WHERE org_id = ? AND device_id = ?",
		      bind_dev_set, &d, a);
}

struct org_args {
	int64_t org_id;
	int disabled;
	const unsigned char *hash;
};

static void bind_org_disabled(sqlite3_stmt *st, const void *arg)
{
	const struct org_args *o = arg;

	sqlite3_bind_int(st, 1, o->disabled);
	sqlite3_bind_int64(st, 2, o->org_id);
}

static enum mid_rc sq_org_set_disabled(struct mid_store *base, int64_t org_id, int disabled,
				       const struct mid_audit_row *a)
{
	struct sq *s = (struct sq *)base;
	struct org_args o = {org_id, disabled, NULL};

	return change(s, "UPDATE orgs SET disabled = ? WHERE id = ?", bind_org_disabled, &o, a);
}

static enum mid_rc sq_org_rotate(struct mid_store *base, int64_t org_id, enum mid_role which,
				 const unsigned char hash[MID_SHA256_LEN],
				 const unsigned char old[MID_SHA256_LEN], int64_t until_ms,
				 const struct mid_audit_row *a)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	if(begin(s))
		goto out;
	if(prepare(s, which == MID_ROLE_ADMIN ? "UPDATE orgs SET admin_key_sha256 = ? WHERE id = ?" :
		   "UPDATE orgs SET org_key_sha256 = ? WHERE id = ?", &st))
		goto out;
	sqlite3_bind_blob(st, 1, hash, MID_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, org_id);
	if(sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(s->db) != 1) {
		fail(s, "rotate key");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if(which == MID_ROLE_ORG) {
		/* A second rotation ends the first one's overlap. */
		if(prepare(s, old && until_ms > 0 ?
			   "INSERT OR REPLACE INTO org_key_grace(org_id, key_sha256, until)"
			   " VALUES (?, ?, ?)" : "DELETE FROM org_key_grace WHERE org_id = ?", &st))
			goto out;
		sqlite3_bind_int64(st, 1, org_id);
		if(old && until_ms > 0) {
			sqlite3_bind_blob(st, 2, old, MID_SHA256_LEN, SQLITE_STATIC);
			sqlite3_bind_int64(st, 3, until_ms);
		}
		if(sqlite3_step(st) != SQLITE_DONE) {
			fail(s, "keep the old org key");
			goto out;
		}
	}
	rc = a ? audit_row(s, a) : MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_store_health sq_health(struct mid_store *base)
{
	struct sq *s = (struct sq *)base;

	if(atomic_load(&s->health) != MID_STORE_UNLINKED && unlinked(s))
		atomic_store(&s->health, MID_STORE_UNLINKED);
	return (enum mid_store_health)atomic_load(&s->health);
}

/* Set one device's state, adding its row when the database lacks it (a
 * journal replayed over an older copy of the database). */
static enum mid_rc deny_device(struct sq *s, const struct mid_audit_row *c)
{
	static const char *const sql[] = {
		"UPDATE devices SET state = ?1 WHERE org_id = ?2 AND device_id = ?3",
		"INSERT INTO devices(org_id, device_id, state, created) VALUES (?2, ?3, ?1, ?4)",
	};
	enum mid_dev_state to = mid_dev_state_parse(c->decision);
	enum mid_rc rc = MID_OK;
	size_t i;

	if(to != MID_DEV_REVOKED && to != MID_DEV_REMOVED)
		return MID_ERR_INVAL;
	for(i = 0; i < MID_ARRAY_LEN(sql) && rc == MID_OK; i++) {
		sqlite3_stmt *st = NULL;
		if(prepare(s, sql[i], &st))
			return MID_ERR_IO;
		sqlite3_bind_text(st, 1, mid_dev_state_name(to), -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, c->org_id);
		sqlite3_bind_text(st, 3, c->device, -1, SQLITE_STATIC);
		if(i == 1)
			sqlite3_bind_int64(st, 4, c->time_ms);
		if(sqlite3_step(st) != SQLITE_DONE) {
			fail(s, "deny change");
			rc = MID_ERR_IO;
		}
		sqlite3_finalize(st);
		if(rc == MID_OK && sqlite3_changes(s->db) == 1)
			break;
	}
	return rc;
}

static enum mid_rc sq_apply_denies(struct mid_store *base, const struct mid_audit_row *changes,
				   size_t n, const struct mid_audit_row *audit, size_t na)
{
	struct sq *s = (struct sq *)base;
	enum mid_rc rc = MID_ERR_IO;
	size_t i;

	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_SHORT_MS);
	if(begin(s))
		goto out;
	rc = MID_OK;
	for(i = 0; i < n && rc == MID_OK; i++) {
		if(changes[i].device[0]) {
			rc = deny_device(s, &changes[i]);
		} else {
			sqlite3_stmt *st = NULL;
			if(prepare(s, "UPDATE orgs SET disabled = 1 WHERE id = ?", &st)) {
				rc = MID_ERR_IO;
				break;
			}
			sqlite3_bind_int64(st, 1, changes[i].org_id);
			if(sqlite3_step(st) != SQLITE_DONE) {
				fail(s, "org disable");
				rc = MID_ERR_IO;
			}
			sqlite3_finalize(st);
		}
	}
	for(i = 0; i < na && rc == MID_OK; i++)
		rc = audit_row(s, &audit[i]);
out:
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Batches of rows kept in memory first need no fsync of their own: the
 * next state change's FULL commit syncs the log they are in. */
static int begin_batch(struct sq *s)
{
	sqlite3_busy_timeout(s->db, BUSY_SHORT_MS);
	if(exec(s, "PRAGMA synchronous=NORMAL"))
		return -1;
	if(begin(s)) {
		exec(s, "PRAGMA synchronous=FULL");
		return -1;
	}
	return 0;
}

static enum mid_rc finish_batch(struct sq *s, enum mid_rc rc)
{
	rc = finish(s, rc);
	if(exec(s, "PRAGMA synchronous=FULL") && rc == MID_OK)
		rc = MID_ERR_IO;
	return rc;
}

static enum mid_rc sq_audit_append(struct mid_store *base, mid_store_row_fn next, void *arg)
{
	struct sq *s = (struct sq *)base;
	struct mid_audit_row row;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	if(begin_batch(s)) {
		pthread_mutex_unlock(&s->mu);
		return MID_ERR_IO;
	}
	while(next(arg, &row)) {
		rc = audit_row(s, &row);
		if(rc)
			goto out;
	}
	rc = MID_OK;
out:
	rc = finish_batch(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_counters(struct mid_store *base, const struct mid_dirty *d, size_t n)
{
	struct sq *s = (struct sq *)base;
	enum mid_rc rc = MID_ERR_IO;
	size_t i;

	if(n == 0)
		return MID_OK;
	pthread_mutex_lock(&s->mu);
	if(begin_batch(s)) {
		pthread_mutex_unlock(&s->mu);
		return MID_ERR_IO;
	}
	for(i = 0; i < n; i++) {
		sqlite3_stmt *st = d[i].id ? s->dev_count : s->org_count;
		int r;

		sqlite3_bind_int64(st, 1, (sqlite3_int64)d[i].validates);
		if(d[i].id) {
			if(d[i].last_seen_ms)
				sqlite3_bind_int64(st, 2, d[i].last_seen_ms);
			else
				sqlite3_bind_null(st, 2);
			sqlite3_bind_int64(st, 3, d[i].org_id);
			sqlite3_bind_text(st, 4, d[i].id, -1, SQLITE_STATIC);
		} else {
			sqlite3_bind_int64(st, 2, d[i].org_id);
		}
		r = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if(r != SQLITE_DONE) {
			fail(s, "counter update");
			goto out;
		}
	}
	rc = MID_OK;
out:
	rc = finish_batch(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void column_copy(sqlite3_stmt *st, int i, char *out, size_t outlen)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	mid_strlcpy(out, v ? v : "", outlen);
}

/* The columns each_row reads, in its order. */
#define ROW_COLUMNS "time, device_id, route, decision, code, request_id, peer, id, detail," \
		    " chain_seq, chain_hash"

/* Step 'st' (selecting ROW_COLUMNS) and call 'fn' with each row of
 * 'org_id'. A place without a readable hash is shown as none: the
 * verifier names the row. */
static enum mid_rc each_row(struct sq *s, sqlite3_stmt *st, int64_t org_id,
			    mid_store_audit_fn fn, void *arg, const char *what)
{
	struct mid_audit_row *row = malloc(sizeof(*row));
	enum mid_rc rc = MID_OK;
	int r;

	if(!row)
		return MID_ERR_NOMEM;
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 10);

		memset(row, 0, sizeof(*row));
		row->org_id = org_id;
		row->time_ms = sqlite3_column_int64(st, 0);
		column_copy(st, 1, row->device, sizeof(row->device));
		column_copy(st, 2, row->route, sizeof(row->route));
		column_copy(st, 3, row->decision, sizeof(row->decision));
		column_copy(st, 4, row->code, sizeof(row->code));
		column_copy(st, 5, row->request_id, sizeof(row->request_id));
		column_copy(st, 6, row->peer, sizeof(row->peer));
		row->id = sqlite3_column_int64(st, 7);
		column_copy(st, 8, row->detail, sizeof(row->detail));
		if(sqlite3_column_type(st, 9) != SQLITE_NULL && hex &&
		   mid_unhex(hex, row->hash, sizeof(row->hash)))
			row->seq = sqlite3_column_int64(st, 9);
		if(fn(row, arg)) {
			rc = MID_ERR_NOMEM;
			break;
		}
	}
	if(!rc && r != SQLITE_DONE) {
		fail(s, what);
		rc = MID_ERR_IO;
	}
	free(row);
	return rc;
}

static enum mid_rc sq_audit_query(struct mid_store *base, int64_t org_id, const char *device,
				  const struct mid_audit_cursor *from, unsigned limit,
				  mid_store_audit_fn fn, void *arg)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	/* A page goes on below the last row of the one before, so rows
	 * written meanwhile neither repeat nor shift it. */
	if(prepare(s, device ?
		   "SELECT " ROW_COLUMNS " FROM audit"
		   " WHERE org_id = ?1 AND device_id = ?2 AND (time < ?4 OR (time = ?4 AND id < ?5))"
		   " ORDER BY time DESC, id DESC LIMIT ?3" :
		   "SELECT " ROW_COLUMNS " FROM audit"
		   " WHERE org_id = ?1 AND (time < ?4 OR (time = ?4 AND id < ?5))"
		   " ORDER BY time DESC, id DESC LIMIT ?3", &st))
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	if(device)
		sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, (int)limit);
	sqlite3_bind_int64(st, 4, from->time_ms);
	sqlite3_bind_int64(st, 5, from->id);
	rc = each_row(s, st, org_id, fn, arg, "audit query");
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The stored secret into 'out'; 1 when there is one. */
static int read_secret(struct sq *s, unsigned char out[MID_SHA256_LEN])
{
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if(prepare(s, "SELECT value FROM meta WHERE key = 'reply_secret'", &st) == 0 &&
	   sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		ok = mid_unhex((const char *)sqlite3_column_text(st, 0), out, MID_SHA256_LEN);
	sqlite3_finalize(st);
	return ok;
}

static enum mid_rc sq_secret(struct mid_store *base, unsigned char out[MID_SHA256_LEN], char *err,
			     size_t errlen)
{
	struct sq *s = (struct sq *)base;
	unsigned char fresh[MID_SHA256_LEN];
	char hex[2 * MID_SHA256_LEN + 1];
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_OK;
	size_t got = 0;

	pthread_mutex_lock(&s->mu);
	/* Made once per database, at the first start, and kept: a session a
	 * shim holds stays good while midd restarts. A start only reads it. */
	if(read_secret(s, out))
		goto out;
	while(got < sizeof(fresh)) {
		ssize_t n = getrandom(fresh + got, sizeof(fresh) - got, 0);
		if(n <= 0) {
			snprintf(err, errlen, "cannot read random bytes for the reply secret");
			rc = MID_ERR_IO;
			goto out;
		}
		got += (size_t)n;
	}
	mid_hex(fresh, sizeof(fresh), hex);
	explicit_bzero(fresh, sizeof(fresh));
	rc = MID_ERR_IO;
	if(prepare(s, "INSERT OR IGNORE INTO meta(key, value) VALUES ('reply_secret', ?)", &st))
		goto fail;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	if(sqlite3_step(st) != SQLITE_DONE || !read_secret(s, out))
		goto fail;
	rc = MID_OK;
	goto out;
fail:
	snprintf(err, errlen, "cannot read or make the reply secret: %s", sqlite3_errmsg(s->db));
out:
	sqlite3_finalize(st);
	explicit_bzero(hex, sizeof(hex));
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- the hash chain ------------------------------------------------------ */

static enum mid_rc sq_chain_heads(struct mid_store *base,
				  void (*fn)(void *arg, int64_t org_id, int64_t seq,
					     const unsigned char hash[MID_SHA256_LEN],
					     int64_t ckpt_seq),
				  void *arg)
{
	struct sq *s = (struct sq *)base;
	unsigned char h[MID_SHA256_LEN];
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT a.org_id, a.chain_seq, a.chain_hash,"
		      " (SELECT max(seq) FROM audit_checkpoints c WHERE c.org_id = a.org_id)"
		      " FROM audit a WHERE a.id IN (SELECT max(id) FROM audit"
		      " WHERE chain_seq IS NOT NULL GROUP BY org_id)", &st))
		goto out;
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *hex = (const char *)sqlite3_column_text(st, 2);

		if(!hex || !mid_unhex(hex, h, sizeof(h))) {
			mid_log("database error: the last chained audit row of org %lld has no"
				" readable hash", (long long)sqlite3_column_int64(st, 0));
			goto out;
		}
		fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), h,
		   sqlite3_column_int64(st, 3));
	}
	if(r != SQLITE_DONE) {
		fail(s, "chain heads");
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_checkpoint_add(struct mid_store *base, const struct mid_checkpoint *c)
{
	struct sq *s = (struct sq *)base;
	char hash[2 * MID_SHA256_LEN + 1], sig[2 * MID_ED25519_SIG + 1];
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	mid_hex(c->hash, sizeof(c->hash), hash);
	mid_hex(c->sig, sizeof(c->sig), sig);
	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_SHORT_MS);
	if(prepare(s, "INSERT OR REPLACE INTO audit_checkpoints(org_id, seq, hash, time, signature)"
		      " VALUES (?, ?, ?, ?, ?)", &st) == MID_OK && !unlinked(s)) {
		sqlite3_bind_int64(st, 1, c->org_id);
		sqlite3_bind_int64(st, 2, c->seq);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, c->time_ms);
		sqlite3_bind_text(st, 5, sig, -1, SQLITE_STATIC);
		if(sqlite3_step(st) == SQLITE_DONE)
			rc = MID_OK;
		else
			fail(s, "checkpoint insert");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_chain_rows(struct mid_store *base, int64_t org_id, int64_t after_id,
				 unsigned limit, mid_store_audit_fn fn, void *arg)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT " ROW_COLUMNS " FROM audit WHERE org_id = ?1 AND id > ?2"
		      " ORDER BY id LIMIT ?3", &st) == MID_OK) {
		sqlite3_bind_int64(st, 1, org_id);
		sqlite3_bind_int64(st, 2, after_id);
		sqlite3_bind_int(st, 3, (int)limit);
		rc = each_row(s, st, org_id, fn, arg, "chain rows");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_checkpoints(struct mid_store *base, int64_t org_id, mid_store_ckpt_fn fn,
				  void *arg)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	struct mid_checkpoint c;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT seq, hash, time, signature FROM audit_checkpoints WHERE org_id = ?"
		      " ORDER BY seq", &st))
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);
		const char *g = (const char *)sqlite3_column_text(st, 3);

		memset(&c, 0, sizeof(c));
		c.org_id = org_id;
		c.seq = sqlite3_column_int64(st, 0);
		c.time_ms = sqlite3_column_int64(st, 2);
		/* Unreadable hex stays zero: the signature then fails. */
		if(h)
			(void)!mid_unhex(h, c.hash, sizeof(c.hash));
		if(g)
			(void)!mid_unhex(g, c.sig, sizeof(c.sig));
		if(fn(&c, arg)) {
			rc = MID_ERR_NOMEM;
			goto out;
		}
	}
	if(r != SQLITE_DONE) {
		fail(s, "checkpoints");
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- webhook alerts ----------------------------------------------------- */

static enum mid_rc sq_alert_hook_add(struct mid_store *base, const struct mid_alert_hook *h,
				     int64_t *id)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_CHANGE_MS);
	if(begin(s))
		goto out;
	if(prepare(s, "SELECT count(*) FROM alert_hooks WHERE org_id = ?", &st))
		goto out;
	sqlite3_bind_int64(st, 1, h->org_id);
	if(sqlite3_step(st) != SQLITE_ROW) {
		fail(s, "alert hooks");
		goto out;
	}
	if(sqlite3_column_int64(st, 0) >= MID_ALERT_HOOKS_MAX) {
		rc = MID_ERR_TOO_BIG;
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if(prepare(s, "INSERT INTO alert_hooks(org_id, url, secret, events, format, created)"
		      " VALUES (?, ?, ?, ?, ?, ?)", &st))
		goto out;
	sqlite3_bind_int64(st, 1, h->org_id);
	sqlite3_bind_text(st, 2, h->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h->secret, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, h->events, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, h->format, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, h->created_ms);
	if(sqlite3_step(st) != SQLITE_DONE) {
		fail(s, "alert hook add");
		goto out;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_alert_hook_remove(struct mid_store *base, int64_t org_id, int64_t id)
{
	static const char *const sql[] = {
		"DELETE FROM alert_hooks WHERE id = ?1 AND org_id = ?2",
		"DELETE FROM alert_queue WHERE hook_id = ?1",
	};
	struct sq *s = (struct sq *)base;
	enum mid_rc rc = MID_ERR_IO;
	size_t i;

	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_CHANGE_MS);
	if(begin(s))
		goto out;
	rc = MID_OK;
	for(i = 0; i < MID_ARRAY_LEN(sql) && rc == MID_OK; i++) {
		sqlite3_stmt *st = NULL;

		if(prepare(s, sql[i], &st)) {
			rc = MID_ERR_IO;
			break;
		}
		sqlite3_bind_int64(st, 1, id);
		if(i == 0)
			sqlite3_bind_int64(st, 2, org_id);
		if(sqlite3_step(st) != SQLITE_DONE) {
			fail(s, "alert hook remove");
			rc = MID_ERR_IO;
		} else if(i == 0 && sqlite3_changes(s->db) != 1) {
			rc = MID_ERR_NOT_FOUND;
		}
		sqlite3_finalize(st);
	}
out:
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_alert_hooks(struct mid_store *base, int64_t org_id, mid_store_hook_fn fn,
				  void *arg)
{
	struct sq *s = (struct sq *)base;
	struct mid_alert_hook *h = malloc(sizeof(*h));
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	if(!h)
		return MID_ERR_NOMEM;
	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT h.id, h.url, h.events, h.format, h.created, h.delivered,"
		      " coalesce(h.last_ok, 0), coalesce(h.last_error_time, 0), h.last_error,"
		      " (SELECT count(*) FROM alert_queue q WHERE q.hook_id = h.id"
		      "  AND q.state = 'pending'),"
		      " (SELECT count(*) FROM alert_queue q WHERE q.hook_id = h.id"
		      "  AND q.state = 'failed')"
		      " FROM alert_hooks h WHERE h.org_id = ? ORDER BY h.id", &st))
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		memset(h, 0, sizeof(*h));
		h->org_id = org_id;
		h->id = sqlite3_column_int64(st, 0);
		column_copy(st, 1, h->url, sizeof(h->url));
		column_copy(st, 2, h->events, sizeof(h->events));
		column_copy(st, 3, h->format, sizeof(h->format));
		h->created_ms = sqlite3_column_int64(st, 4);
		h->delivered = (uint64_t)sqlite3_column_int64(st, 5);
		h->last_ok_ms = sqlite3_column_int64(st, 6);
		h->last_error_ms = sqlite3_column_int64(st, 7);
		column_copy(st, 8, h->last_error, sizeof(h->last_error));
		h->pending = (uint64_t)sqlite3_column_int64(st, 9);
		h->failed = (uint64_t)sqlite3_column_int64(st, 10);
		if(fn(h, arg)) {
			rc = MID_ERR_NOMEM;
			goto out;
		}
	}
	if(r != SQLITE_DONE) {
		fail(s, "alert hooks");
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	free(h);
	return rc;
}

/* The columns alert_item reads, in its order. */
#define ITEM_COLUMNS "q.id, q.hook_id, q.event_id, q.kind, o.name, q.device_id, q.time," \
		     " q.detail, q.attempts, h.url, h.format, h.secret"

static void alert_item(sqlite3_stmt *st, struct mid_alert_item *it)
{
	memset(it, 0, sizeof(*it));
	it->id = sqlite3_column_int64(st, 0);
	it->hook_id = sqlite3_column_int64(st, 1);
	column_copy(st, 2, it->event_id, sizeof(it->event_id));
	column_copy(st, 3, it->kind, sizeof(it->kind));
	column_copy(st, 4, it->org, sizeof(it->org));
	column_copy(st, 5, it->device, sizeof(it->device));
	it->time_ms = sqlite3_column_int64(st, 6);
	column_copy(st, 7, it->detail, sizeof(it->detail));
	it->attempts = (unsigned)sqlite3_column_int(st, 8);
	column_copy(st, 9, it->url, sizeof(it->url));
	column_copy(st, 10, it->format, sizeof(it->format));
	column_copy(st, 11, it->secret, sizeof(it->secret));
}

static enum mid_rc sq_alert_claim(struct mid_store *base, int64_t now_ms, int64_t lease_ms,
				  unsigned max, mid_store_item_fn fn, void *arg)
{
	struct sq *s = (struct sq *)base;
	struct mid_alert_item *it = calloc(max ? max : 1, sizeof(*it));
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	unsigned n = 0, i;
	int r;

	if(!it)
		return MID_ERR_NOMEM;
	/* Read first, outside a transaction: an idle queue, looked at twice
	 * a second, takes no write lock. One midd alone writes this file, and
	 * the store's mutex keeps the rows as read until they are leased. */
	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT " ITEM_COLUMNS " FROM alert_queue q"
		      " JOIN alert_hooks h ON h.id = q.hook_id JOIN orgs o ON o.id = q.org_id"
		      " WHERE q.state = 'pending' AND q.next_try <= ? ORDER BY q.id LIMIT ?", &st)) {
		pthread_mutex_unlock(&s->mu);
		free(it);
		return MID_ERR_IO;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int(st, 2, (int)max);
	while(n < max && (r = sqlite3_step(st)) == SQLITE_ROW)
		alert_item(st, &it[n++]);
	sqlite3_finalize(st);
	st = NULL;
	if(n == 0 || begin_batch(s)) {
		pthread_mutex_unlock(&s->mu);
		free(it);
		return n ? MID_ERR_IO : MID_OK;
	}
	if(prepare(s, "UPDATE alert_queue SET next_try = ? WHERE id = ?", &st))
		goto out;
	for(i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, now_ms + lease_ms);
		sqlite3_bind_int64(st, 2, it[i].id);
		if(sqlite3_step(st) != SQLITE_DONE) {
			fail(s, "alert claim");
			goto out;
		}
		sqlite3_reset(st);
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish_batch(s, rc);
	pthread_mutex_unlock(&s->mu);
	for(i = 0; rc == MID_OK && i < n; i++)
		fn(&it[i], arg);
	explicit_bzero(it, n * sizeof(*it));
	free(it);
	return rc;
}

static enum mid_rc sq_alert_result(struct mid_store *base, const struct mid_alert_item *it,
				   enum mid_alert_outcome out, int64_t now_ms, int64_t next_ms,
				   const char *error)
{
	static const char *const queue_sql[] = {
		[MID_ALERT_DELIVERED] = "DELETE FROM alert_queue WHERE id = ?1",
		[MID_ALERT_RETRY] = "UPDATE alert_queue SET attempts = attempts + 1,"
				    " next_try = ?2, last_error = ?3 WHERE id = ?1",
		[MID_ALERT_FAILED] = "UPDATE alert_queue SET attempts = attempts + 1,"
				     " state = 'failed', last_error = ?3 WHERE id = ?1",
	};
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	if(begin_batch(s)) {
		pthread_mutex_unlock(&s->mu);
		return MID_ERR_IO;
	}
	if(prepare(s, queue_sql[out], &st))
		goto out;
	sqlite3_bind_int64(st, 1, it->id);
	if(out != MID_ALERT_DELIVERED) {
		sqlite3_bind_int64(st, 2, next_ms);
		sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	}
	if(sqlite3_step(st) != SQLITE_DONE) {
		fail(s, "alert result");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if(prepare(s, out == MID_ALERT_DELIVERED ?
		   "UPDATE alert_hooks SET delivered = delivered + 1, last_ok = ?2 WHERE id = ?1" :
		   "UPDATE alert_hooks SET last_error = ?3, last_error_time = ?2 WHERE id = ?1",
		   &st))
		goto out;
	sqlite3_bind_int64(st, 1, it->hook_id);
	sqlite3_bind_int64(st, 2, now_ms);
	if(out != MID_ALERT_DELIVERED)
		sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
	if(sqlite3_step(st) != SQLITE_DONE) {
		fail(s, "alert result");
		goto out;
	}
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	rc = finish_batch(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static enum mid_rc sq_alert_depth(struct mid_store *base, uint64_t *pending, uint64_t *failed)
{
	struct sq *s = (struct sq *)base;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0)"
		      " FROM alert_queue", &st))
		goto out;
	if(sqlite3_step(st) != SQLITE_ROW) {
		fail(s, "alert depth");
		goto out;
	}
	*pending = (uint64_t)sqlite3_column_int64(st, 0);
	*failed = (uint64_t)sqlite3_column_int64(st, 1);
	rc = MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- budgets -------------------------------------------------------------- */

static enum mid_rc budget_rows(struct sq *s, int64_t org_id, const char *dev,
			       const struct mid_budget *b)
{
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;

	if(prepare(s, "DELETE FROM budgets WHERE org_id = ? AND device_id = ?", &st))
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_text(st, 2, dev, -1, SQLITE_STATIC);
	if(sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(st);
	st = NULL;
	if(prepare(s, "INSERT INTO budgets(org_id, device_id, kind, max_count, window_ms)"
		      " VALUES (?, ?, ?, ?, ?)", &st))
		return rc;
	for(int k = 0; k < MID_BUDGET_KINDS; k++) {
		if(!b->k[k].limit)
			continue;
		sqlite3_bind_int64(st, 1, org_id);
		sqlite3_bind_text(st, 2, dev, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, mid_budget_kind_name((enum mid_budget_kind)k), -1,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)b->k[k].limit);
		sqlite3_bind_int64(st, 5, b->k[k].window_ms);
		if(sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(st);
	}
	rc = MID_OK;
	goto out;
fail:
	fail(s, "budget");
out:
	sqlite3_finalize(st);
	return rc;
}

static enum mid_rc sq_budget_set(struct mid_store *base, int64_t org_id, const char *dev,
				 const struct mid_budget *b, const struct mid_audit_row *a)
{
	struct sq *s = (struct sq *)base;
	enum mid_rc rc = MID_ERR_IO;

	pthread_mutex_lock(&s->mu);
	sqlite3_busy_timeout(s->db, BUSY_CHANGE_MS);
	if(begin(s))
		goto out;
	rc = budget_rows(s, org_id, dev, b);
	if(!rc && a)
		rc = audit_row(s, a);
out:
	rc = finish(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The kind a budget row names, or -1. */
static int budget_kind(const char *name)
{
	for(int k = 0; name && k < MID_BUDGET_KINDS; k++)
		if(!strcmp(name, mid_budget_kind_name((enum mid_budget_kind)k)))
			return k;
	return -1;
}

static enum mid_rc sq_each_budget(struct mid_store *base, mid_store_budget_fn fn, void *arg,
				  char *err, size_t errlen)
{
	struct sq *s = (struct sq *)base;
	struct mid_budget b;
	char dev[MID_DEVICE_MAX + 1] = "";
	int64_t org = 0;
	sqlite3_stmt *st = NULL;
	enum mid_rc rc = MID_ERR_IO;
	int r;

	pthread_mutex_lock(&s->mu);
	if(prepare(s, "SELECT org_id, device_id, kind, max_count, window_ms FROM budgets"
		      " ORDER BY org_id, device_id", &st))
		goto out;
	memset(&b, 0, sizeof(b));
	while((r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 1);
		int k = budget_kind((const char *)sqlite3_column_text(st, 2));

		if(!d || k < 0 || strlen(d) > MID_DEVICE_MAX) {
			snprintf(err, errlen, "a budget row in the database is damaged");
			rc = MID_ERR_PARSE;
			goto out;
		}
		if(dev[0] && (org != sqlite3_column_int64(st, 0) || strcmp(dev, d))) {
			if(fn(org, dev, &b, arg)) {
				rc = MID_ERR_INVAL;
				goto out;
			}
			memset(&b, 0, sizeof(b));
		}
		org = sqlite3_column_int64(st, 0);
		mid_strlcpy(dev, d, sizeof(dev));
		b.k[k].limit = (uint64_t)sqlite3_column_int64(st, 3);
		b.k[k].window_ms = sqlite3_column_int64(st, 4);
	}
	if(r != SQLITE_DONE) {
		snprintf(err, errlen, "cannot read budgets: %s", sqlite3_errmsg(s->db));
		goto out;
	}
	rc = dev[0] && fn(org, dev, &b, arg) ? MID_ERR_INVAL : MID_OK;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

const struct mid_store_ops mid_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.free = sq_free,
	.secret = sq_secret,
	.org_create = sq_org_create,
	.each_org = sq_each_org,
	.each_device = sq_each_device,
	.device_add = sq_device_add,
	.device_set = sq_device_set,
	.org_set_disabled = sq_org_set_disabled,
	.org_rotate = sq_org_rotate,
	.apply_denies = sq_apply_denies,
	.budget_set = sq_budget_set,
	.each_budget = sq_each_budget,
	.health = sq_health,
	.audit_append = sq_audit_append,
	.counters = sq_counters,
	.audit_query = sq_audit_query,
	.chain_heads = sq_chain_heads,
	.checkpoint_add = sq_checkpoint_add,
	.chain_rows = sq_chain_rows,
	.checkpoints = sq_checkpoints,
	.alert_hook_add = sq_alert_hook_add,
	.alert_hook_remove = sq_alert_hook_remove,
	.alert_hooks = sq_alert_hooks,
	.alert_claim = sq_alert_claim,
	.alert_result = sq_alert_result,
	.alert_depth = sq_alert_depth,
};
