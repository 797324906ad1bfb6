/* SPDX-License-Identifier: MIT */
/*
 * Routes and the request life cycle. libmicrohttpd calls handle() once
 * with the headers, once per chunk of body and once at the end; the body
 * is kept in a fixed buffer of MID_REQUEST_BODY_MAX bytes, and a body
 * announced or found to be larger is answered with 413 without storing it.
 * Order of checks: route, method, body size, key, body content. Validate
 * (and health, usage) is answered on libmicrohttpd's thread; every other
 * route suspends its connection and runs in the slow lane (lane.h), which
 * makes the answer and resumes it, so floods of those never queue in front
 * of validate.
 */
#define _GNU_SOURCE
#include "api.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert.h"
#include "conn.h"
#include "console.h"
#include "lane.h"
#include "match.h"
#include "bind.h"
#include "log.h"
#include "metrics.h"
#include "push.h"
#include "report.h"
#include "wire.h"

#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000
#define MID_GRACE_MAX_S 604800 /* a week: an overlap, not a second key */
#define MATCH_LIST_MAX 100     /* deviceIds a bulk revoke answer names */

struct mid_api {
	struct MHD_Daemon *d;
	struct mid_service *svc;
	struct mid_conns *conns;
	struct mid_lane *lane;
	struct mid_console *console; /* NULL: no console */
	int is_unix;
};

enum need {
	NEED_NONE,
	NEED_ORG,   /* org key or admin key */
	NEED_ADMIN, /* admin key only */
	NEED_GATED, /* the org key only: what a gated process asks (validate) */
};

/* An answer made but not yet queued: a route in the slow lane makes it on
 * the lane's thread, and libmicrohttpd's thread queues it. */
struct reply {
	unsigned status;
	char *json;           /* owned; NULL: out of memory */
	const char *allow;    /* static */
	char retry_after[16]; /* "" for none */
	const char *type;     /* static; NULL: application/json */
};

/* One request in flight. */
struct call {
	struct mid_api *api;
	const struct route *route;
	struct MHD_Connection *conn;
	struct req *rq;
	struct mid_org *org;
	enum mid_role role;
	struct mid_caller who;
	char rid[37];
	char peer[MID_PEER_MAX];
	const char *body;
	size_t len;
	struct reply out;
};

enum lane {
	INLINE, /* answered from memory on libmicrohttpd's thread */
	SLOW,   /* touches the database or walks every device: the slow lane */
	NEW,    /* the slow lane only for a device not known yet (register) */
};

struct route {
	const char *path;
	const char *method;
	enum need need;
	enum MHD_Result (*fn)(struct call *c);
	const char *action;        /* device state routes: audit/log name */
	enum mid_dev_state to;     /* device state routes: target state */
	enum lane lane;
};

enum req_state {
	RQ_READING, /* head and body arriving */
	RQ_LANE,    /* suspended, waiting for the slow lane */
	RQ_ANSWERED /* c.out holds the answer to queue */
};

/* A push channel being handed out of the HTTP server. */
struct upgrade {
	struct mid_service *svc; /* holds a push place until the upgrade */
	struct mid_org *org;
	struct mid_push_chan ch;
	char rid[37];
	char peer[MID_PEER_MAX];
};

struct req {
	size_t len;
	size_t discarded;
	int too_big;
	enum req_state state;
	uint64_t t0_ns; /* the request's arrival, CLOCK_MONOTONIC */
	struct call call;
	struct upgrade *up; /* set by the push route; freed with the request */
	struct mid_console_reply *cr; /* a console route's answer */
	char body[MID_REQUEST_BODY_MAX];
};

/* The request a call belongs to. */
static struct req *req_of(struct call *c)
{
	return (struct req *)(void *)((char *)c - offsetof(struct req, call));
}

/* ---- answers --------------------------------------------------------- */

/* Queue the answer 'o' made for the request on 'conn'. */
static enum MHD_Result queue_reply(struct MHD_Connection *conn, struct reply *o)
{
	static const char oom[] = "{\"error\":\"" MID_E_INTERNAL "\",\"message\":\"out of memory\"}";
	unsigned status = o->status;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if(o->json)
		r = MHD_create_response_from_buffer(strlen(o->json), o->json, MHD_RESPMEM_MUST_FREE);
	else {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)(uintptr_t)oom,
						    MHD_RESPMEM_PERSISTENT);
	}
	if(!r)
		return MHD_NO;
	o->json = NULL; /* the response owns it now */
	mid_metrics_status(status);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				o->type ? o->type : "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if(o->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, o->allow);
	if(o->retry_after[0])
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, o->retry_after);
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Make the answer of 'c': 'json' (taken; NULL means out of memory) with
 * 'status' and the optional headers. */
static enum MHD_Result send_text(struct call *c, unsigned status, char *json, const char *allow,
				 const char *retry_after)
{
	free(c->out.json);
	c->out.status = status;
	c->out.json = json;
	c->out.allow = allow;
	c->out.type = NULL;
	mid_strlcpy(c->out.retry_after, retry_after ? retry_after : "",
		    sizeof(c->out.retry_after));
	return MHD_YES;
}

/* Answer with 'o' plus the request_id; takes 'o'. */
static enum MHD_Result send_obj(struct call *c, unsigned status, cJSON *o)
{
	char *s = NULL;

	if(o && cJSON_AddStringToObject(o, "request_id", c->rid))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return send_text(c, status, s, NULL, NULL);
}

static enum MHD_Result send_err(struct call *c, unsigned status, const char *code,
				const char *message)
{
	return send_text(c, status, mid_wire_error(code, message, c->rid), NULL, NULL);
}

/* Say in 'o' how durable a change is: "persisted", and when it is not,
 * whether the deny journal keeps it and a warning for people. 0 on OOM. */
static int add_durability(cJSON *o, const struct mid_change *res)
{
	if(!cJSON_AddBoolToObject(o, "persisted", res->persisted))
		return 0;
	if(res->persisted)
		return 1;
	return cJSON_AddBoolToObject(o, "journaled", res->journaled) &&
	       cJSON_AddStringToObject(o, "warning", res->journaled ?
		       "applied in memory; the database cannot take it now; midd retries and"
		       " the deny journal keeps it across a restart" :
		       "applied in memory only; the database cannot take it now and the deny"
		       " journal could not keep it: it is lost if midd restarts before the"
		       " database takes it") != NULL;
}

/* A device answer: {"status":"ok","deviceId":...,"state":...} and, for a
 * state change, its durability. */
static enum MHD_Result send_device(struct call *c, const char *status, const char *dev,
				   const char *state, const struct mid_change *res)
{
	cJSON *o = cJSON_CreateObject();

	if(o && (!cJSON_AddStringToObject(o, "status", status) ||
		 !cJSON_AddStringToObject(o, "deviceId", dev) ||
		 (state && !cJSON_AddStringToObject(o, "state", state)) ||
		 (res && !add_durability(o, res)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* A change that failed: 503 when the database could not take it (a
 * change toward allow is made only once durable), 500 otherwise. */
static enum MHD_Result send_failed(struct call *c, enum mid_rc rc)
{
	if(rc == MID_ERR_IO)
		return send_err(c, MHD_HTTP_SERVICE_UNAVAILABLE, MID_E_STORAGE,
				"the database cannot take this change now (full, read-only,"
				" unlinked, locked or out of reach: see /healthz and the midd"
				" log); a change toward allow is made only once it is durable:"
				" retry when storage is back");
	return send_err(c, MHD_HTTP_INTERNAL_SERVER_ERROR, MID_E_INTERNAL,
			"the change failed; see the midd log");
}

static enum MHD_Result send_internal(struct call *c)
{
	return send_err(c, MHD_HTTP_INTERNAL_SERVER_ERROR, MID_E_INTERNAL,
			"the database refused the request; see the midd log");
}

/* Read {"deviceId": ...} from the body, or answer 400 and return 0. */
static int body_device(struct call *c, char dev[MID_DEVICE_MAX + 1], enum MHD_Result *ret)
{
	struct mid_wire_err e;

	if(mid_wire_body_string(c->body, c->len, "deviceId", 1, dev, MID_DEVICE_MAX + 1, &e)) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, e.code, e.message);
		return 0;
	}
	return 1;
}

/* ---- the shim's binding (bind.h) ------------------------------------- */

/* What the shim asked for: a proof over its nonce, under its session or
 * a new one. 'ok' is 0 for any other client, which gets the plain answer. */
struct bind_req {
	int ok, fresh;
	const char *nonce;
	char sid[MID_BIND_HEX + 1];
	unsigned char key[MID_BIND_KEY_BYTES];
};

static void bind_read(struct call *c, const char *dev, struct bind_req *b)
{
	const char *n = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
						    MID_BIND_NONCE_HEADER);
	const char *s = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
						    MID_BIND_SESSION_HEADER);
	unsigned char id[MID_BIND_ID_BYTES];

	memset(b, 0, sizeof(*b));
	if(!n || !s || !mid_bind_id_ok(n))
		return;
	if(!strcmp(s, MID_BIND_NEW)) {
		if(getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id))
			return;
		mid_hex(id, sizeof(id), b->sid);
		b->fresh = 1;
	} else if(mid_bind_id_ok(s)) {
		memcpy(b->sid, s, MID_BIND_HEX + 1);
	} else {
		return;
	}
	mid_service_session_key(c->api->svc, c->org, dev, b->sid, b->key);
	b->nonce = n;
	b->ok = 1;
}

/* The members a bound answer adds: a new session's id and key, and the
 * proof of a validate answer 'v'. "" when the request was not bound. */
static void bind_members(struct bind_req *b, const char *dev, const struct mid_verdict *v,
			 const char *rid, char *out, size_t outlen)
{
	char key[2 * MID_BIND_KEY_BYTES + 1], proof[2 * MID_SHA256_LEN + 1];
	size_t o = 0;

	out[0] = '\0';
	if(!b->ok)
		return;
	if(b->fresh) {
		mid_hex(b->key, sizeof(b->key), key);
		o = (size_t)snprintf(out, outlen, ",\"session\":\"%s\",\"sessionKey\":\"%s\"",
				     b->sid, key);
		explicit_bzero(key, sizeof(key));
	}
	if(v && o < outlen) {
		mid_bind_proof(b->key, b->nonce, dev, v->allowed, v->code, rid, proof);
		snprintf(out + o, outlen - o, ",\"proof\":\"%s\"", proof);
	}
	explicit_bzero(b->key, sizeof(b->key));
}

/* ---- routes ---------------------------------------------------------- */

/* Liveness, and whether every change is durable: "status" is "ok", or
 * "degraded" while deny changes wait for the database or it fails. */
/* The backend and, for one of several replicas, its name and how stale
 * its memory is. */
static int add_replica(cJSON *o, const struct mid_health *h)
{
	if(!cJSON_AddStringToObject(o, "backend", h->backend))
		return 0;
	if(!h->replica)
		return 1;
	return cJSON_AddStringToObject(o, "replica", h->replica) &&
	       cJSON_AddNumberToObject(o, "stale_ms", (double)h->lost_ms) &&
	       cJSON_AddNumberToObject(o, "max_stale_ms", (double)h->max_stale_ms) &&
	       cJSON_AddBoolToObject(o, "stale", h->stale);
}

static enum MHD_Result r_health(struct call *c)
{
	static const char *const db[] = {
		[MID_STORE_OK] = "ok",
		[MID_STORE_FAILING] = "failing",
		[MID_STORE_UNLINKED] = "unlinked",
		[MID_STORE_UNREACHABLE] = "unreachable",
	};
	cJSON *o = cJSON_CreateObject();
	struct mid_health h;
	char since[32];

	mid_service_health(c->api->svc, &h);
	mid_wire_time(h.pending_since_ms, since);
	if(o && (!cJSON_AddStringToObject(o, "status", h.pending || h.db != MID_STORE_OK ?
						       "degraded" : "ok") ||
		 !cJSON_AddStringToObject(o, "version", MIDD_VERSION) ||
		 !cJSON_AddNumberToObject(o, "uptime_seconds",
					  (double)(time(NULL) - mid_metrics_started())) ||
		 !cJSON_AddStringToObject(o, "database", db[h.db]) ||
		 !cJSON_AddNumberToObject(o, "pending_persistence", (double)h.pending) ||
		 !(h.pending ? cJSON_AddStringToObject(o, "pending_since", since) :
			       cJSON_AddNullToObject(o, "pending_since")) ||
		 !(h.journal ? cJSON_AddNumberToObject(o, "journal_used", (double)h.journal_used) :
			       cJSON_AddNullToObject(o, "journal_used")) ||
		 !add_replica(o, &h))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* Prometheus text format; totals only, so no key is asked (metrics.h). */
static enum MHD_Result r_metrics(struct call *c)
{
	send_text(c, MHD_HTTP_OK, mid_metrics_text(c->api->svc, c->api->conns), NULL, NULL);
	c->out.type = "text/plain; version=0.0.4; charset=utf-8";
	return MHD_YES;
}

static enum MHD_Result r_register(struct call *c)
{
	char dev[MID_DEVICE_MAX + 1], msg[128], secs[16], key[2 * MID_BIND_KEY_BYTES + 1];
	struct bind_req b;
	enum mid_reg_status s;
	enum MHD_Result ret;
	unsigned retry;
	enum mid_rc rc;
	cJSON *o;

	if(!body_device(c, dev, &ret))
		return ret;
	rc = mid_service_register(c->api->svc, c->org, dev, &c->who, &s, &retry);
	if(rc)
		return send_failed(c, rc);
	if(s == MID_REG_RATE) {
		snprintf(msg, sizeof(msg), "this org creates devices too fast; try again in %u ms",
			 retry);
		snprintf(secs, sizeof(secs), "%u", (retry + 999) / 1000);
		return send_text(c, MHD_HTTP_TOO_MANY_REQUESTS,
				 mid_wire_error(MID_E_RATE, msg, c->rid), NULL, secs);
	}
	bind_read(c, dev, &b);
	if(!b.fresh)
		return send_device(c, mid_reg_status_name(s), dev, NULL, NULL);
	/* The shim opens its session with its register, before main. */
	mid_hex(b.key, sizeof(b.key), key);
	explicit_bzero(b.key, sizeof(b.key));
	o = cJSON_CreateObject();
	if(o && (!cJSON_AddStringToObject(o, "status", mid_reg_status_name(s)) ||
		 !cJSON_AddStringToObject(o, "deviceId", dev) ||
		 !cJSON_AddStringToObject(o, "session", b.sid) ||
		 !cJSON_AddStringToObject(o, "sessionKey", key))) {
		cJSON_Delete(o);
		o = NULL;
	}
	explicit_bzero(key, sizeof(key));
	return send_obj(c, MHD_HTTP_OK, o);
}

char *mid_api_verdict_json(const struct mid_verdict *v, const char *dev, const char *request_id)
{
	return mid_api_verdict_json_ex(v, dev, request_id, "");
}

char *mid_api_verdict_json_ex(const struct mid_verdict *v, const char *dev,
			      const char *request_id, const char *extra)
{
	char qdev[2 * MID_DEVICE_MAX + 8], *s;
	size_t cap = sizeof(qdev) + 256 + strlen(extra);
	int n;

	/* Written by hand: this is the one answer on the hot path, and its
	 * strings other than the deviceId are our own constants. */
	if(!mid_json_str(qdev, sizeof(qdev), dev))
		return NULL;
	s = malloc(cap);
	if(!s)
		return NULL;
	n = snprintf(s, cap, "{\"allowed\":%s,\"code\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\","
		     "\"deviceId\":%s,\"request_id\":\"%s\"%s}", v->allowed ? "true" : "false",
		     v->code, v->status, v->reason, qdev, request_id, extra);
	if(n < 0 || (size_t)n >= cap) {
		free(s);
		return NULL;
	}
	return s;
}

static enum MHD_Result r_validate(struct call *c)
{
	char dev[MID_DEVICE_MAX + 1], mode[8], extra[256], *json;
	uint64_t counts[MID_BUDGET_KINDS];
	struct mid_wire_err e;
	struct mid_verdict v;
	struct bind_req b;

	if(mid_wire_body_validate(c->body, c->len, dev, sizeof(dev), mode, counts, &e))
		return send_err(c, MHD_HTTP_BAD_REQUEST, e.code, e.message);
	c->who.mode = mid_proc_mode_parse(mode);
	c->who.counts = counts;
	mid_service_validate(c->api->svc, c->org, dev, &c->who, &v);
	bind_read(c, dev, &b);
	bind_members(&b, dev, &v, c->rid, extra, sizeof(extra));
	json = mid_api_verdict_json_ex(&v, dev, c->rid, extra);
	explicit_bzero(extra, sizeof(extra));
	mid_metrics_validate(v.code, mid_now_ns() - req_of(c)->t0_ns);
	return send_text(c, MHD_HTTP_OK, json, NULL, NULL);
}

static enum MHD_Result r_set_state(struct call *c)
{
	char dev[MID_DEVICE_MAX + 1];
	struct mid_change res;
	enum MHD_Result ret;
	enum mid_rc rc;

	if(!body_device(c, dev, &ret))
		return ret;
	rc = mid_service_set_state(c->api->svc, c->org, dev, c->route->action, c->route->to,
				   &c->who, &res);
	if(rc == MID_ERR_NOT_FOUND)
		return send_err(c, MHD_HTTP_NOT_FOUND, MID_E_DEVICE_NOT_FOUND,
				"no device with this deviceId in this organisation");
	if(rc)
		return send_failed(c, rc);
	return send_device(c, "ok", dev, mid_dev_state_name(c->route->to), &res);
}

/* Revoke every active device matching {"match": GLOB} (match.h). With
 * "dryRun": true only counts them; "expect": N refuses with 409 when the
 * count is no longer N, so a confirmation names what is done. */
static enum MHD_Result r_revoke_match(struct call *c)
{
	char glob[MID_DEVICE_MAX + 1], msg[128];
	cJSON *root = cJSON_ParseWithLength(c->body, c->len), *o, *arr;
	const cJSON *dry = cJSON_GetObjectItemCaseSensitive(root, "dryRun");
	const cJSON *expect = cJSON_GetObjectItemCaseSensitive(root, "expect");
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "match");
	struct mid_match m = {0};
	struct mid_change res;
	enum mid_rc rc;
	size_t i;

	if(!cJSON_IsString(g) || !mid_match_glob_ok(g->valuestring) ||
	   (dry && !cJSON_IsBool(dry)) || (expect && !cJSON_IsNumber(expect))) {
		cJSON_Delete(root);
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"the body must be {\"match\": GLOB} with a pattern of 1 to 256"
				" printable bytes holding * ? or [, optional \"dryRun\": true|false"
				" and \"expect\": N");
	}
	mid_strlcpy(glob, g->valuestring, sizeof(glob));
	rc = mid_match_find(c->org, glob, &m);
	if(rc == MID_OK && expect && expect->valuedouble != (double)m.n) {
		snprintf(msg, sizeof(msg), "%zu devices match now, not %.0f: confirm again", m.n,
			 expect->valuedouble);
		mid_match_free(&m);
		cJSON_Delete(root);
		return send_err(c, MHD_HTTP_CONFLICT, MID_E_MATCH_CHANGED, msg);
	}
	if(rc == MID_OK && !cJSON_IsTrue(dry))
		rc = mid_match_revoke(c->api->svc, c->org, &m, &c->who);
	cJSON_Delete(root);
	if(rc == MID_ERR_TOO_BIG) {
		mid_match_free(&m);
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"more than 100000 devices match; narrow the pattern");
	}
	if(rc) {
		mid_match_free(&m);
		return send_failed(c, rc);
	}
	res.persisted = m.persisted;
	res.journaled = m.journaled;
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "devices");
	for(i = 0; arr && i < m.n && i < MATCH_LIST_MAX; i++)
		if(!cJSON_AddItemToArray(arr, cJSON_CreateString(m.ids[i])))
			arr = NULL;
	if(!arr || !cJSON_AddStringToObject(o, "status", "ok") ||
	   !cJSON_AddStringToObject(o, "match", glob) ||
	   !cJSON_AddNumberToObject(o, "matched", (double)m.n) ||
	   !cJSON_AddBoolToObject(o, "dryRun", cJSON_IsTrue(dry)) ||
	   (!cJSON_IsTrue(dry) && (!cJSON_AddNumberToObject(o, "revoked", (double)m.revoked) ||
				   !add_durability(o, &res)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	mid_match_free(&m);
	return send_obj(c, MHD_HTTP_OK, o);
}

struct list_ctx {
	cJSON *arr;
	const char *only;
	size_t left; /* devices still to list on this page */
	int failed;
};

static int list_one(const struct mid_dev_info *d, void *arg)
{
	struct list_ctx *l = arg;
	char created[32], seen[32];
	cJSON *o;

	if(l->only && strcmp(l->only, d->id))
		return 0;
	mid_wire_time(d->created_ms, created);
	mid_wire_time(d->last_seen_ms, seen);
	o = cJSON_CreateObject();
	if(!o || !cJSON_AddItemToArray(l->arr, o) ||
	   !cJSON_AddStringToObject(o, "deviceId", d->id) ||
	   !cJSON_AddStringToObject(o, "state", mid_dev_state_name(d->state)) ||
	   !cJSON_AddBoolToObject(o, "persisted", !d->unpersisted) ||
	   !cJSON_AddStringToObject(o, "created", created) ||
	   !(d->last_seen_ms ? cJSON_AddStringToObject(o, "last_seen", seen) :
			       cJSON_AddNullToObject(o, "last_seen")) ||
	   !cJSON_AddNumberToObject(o, "validates", (double)d->validates) ||
	   !cJSON_AddStringToObject(o, "mode", mid_proc_mode_name(d->mode))) {
		l->failed = 1;
		return 1;
	}
	return l->only != NULL || --l->left == 0;
}

/* An optional unsigned query argument 'name' of at most 'max': 'dflt'
 * when absent, or answer 400. */
static int query_num(struct call *c, const char *name, uint64_t dflt, uint64_t max,
		     uint64_t *out, enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
	char msg[96];

	*out = dflt;
	if(!v)
		return 1;
	if(mid_parse_u64(v, out) && *out <= max)
		return 1;
	snprintf(msg, sizeof(msg), "%s must be a whole number from 0 to %llu", name,
		 (unsigned long long)max);
	*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST, msg);
	return 0;
}

/* The optional ?deviceId= filter: NULL when absent, or answer 400. A
 * %00 inside it would end the C string early, so the decoded length
 * must be the string's. */
static int query_device(struct call *c, const char **dev, enum MHD_Result *ret)
{
	const char *v = NULL;
	size_t n = 0;

	if(MHD_lookup_connection_value_n(c->conn, MHD_GET_ARGUMENT_KIND, "deviceId", 8, &v, &n) !=
	   MHD_YES)
		v = NULL;
	*dev = v;
	if(v && (n != strlen(v) || !mid_device_ok(v, n))) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_DEVICE_ID,
				"deviceId must be 1 to 256 bytes of printable ASCII without spaces");
		return 0;
	}
	return 1;
}

static void process_one(void *arg, const struct mid_push_chan *ch)
{
	cJSON *o = cJSON_CreateObject();
	char since[32];

	mid_wire_time(ch->since_ms, since);
	if(!o || !cJSON_AddItemToArray(arg, o) ||
	   !cJSON_AddNumberToObject(o, "pid", (double)ch->pid) ||
	   !cJSON_AddStringToObject(o, "program", ch->program) ||
	   !cJSON_AddStringToObject(o, "since", since) ||
	   !cJSON_AddStringToObject(o, "channel", ch->kind))
		return;
}

/* Each listed device's live processes: those holding a push channel.
 * Taken after the device table's lock is released. */
static int add_processes(struct call *c, cJSON *arr)
{
	cJSON *d;

	cJSON_ArrayForEach(d, arr) {
		cJSON *id = cJSON_GetObjectItemCaseSensitive(d, "deviceId");
		cJSON *procs = cJSON_AddArrayToObject(d, "processes");

		if(!procs || !cJSON_IsString(id))
			return -1;
		mid_service_push_each(c->api->svc, c->org, id->valuestring, process_one, procs);
	}
	return 0;
}

static enum MHD_Result r_list(struct call *c)
{
	struct list_ctx l = {0};
	struct mid_health h;
	struct mid_usage u;
	enum MHD_Result ret;
	uint64_t limit, after;
	size_t next, total;
	cJSON *o;

	if(!query_device(c, &l.only, &ret) ||
	   !query_num(c, "limit", MID_LIST_PAGE, MID_LIST_PAGE_MAX, &limit, &ret) ||
	   !query_num(c, "after", 0, UINT32_MAX, &after, &ret))
		return ret;
	if(limit == 0)
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"limit must be at least 1");
	l.left = (size_t)limit;
	o = cJSON_CreateObject();
	l.arr = cJSON_AddArrayToObject(o, "devices");
	if(!l.arr)
		goto oom;
	next = mid_state_each_from(c->org, l.only ? 0 : (size_t)after, list_one, &l, &total);
	mid_state_usage(c->org, &u);
	mid_service_health(c->api->svc, &h);
	/* "next": the cursor of the following page, null after the last. */
	if(l.failed || add_processes(c, l.arr) ||
	   !(!l.only && next < total ? cJSON_AddNumberToObject(o, "next", (double)next) :
				       cJSON_AddNullToObject(o, "next")) ||
	   !cJSON_AddBoolToObject(o, "org_disabled", u.disabled) ||
	   !cJSON_AddBoolToObject(o, "org_disabled_persisted", !u.disabled_unpersisted) ||
	   !cJSON_AddNumberToObject(o, "pending_persistence", (double)h.pending))
		goto oom;
	return send_obj(c, MHD_HTTP_OK, o);
oom:
	cJSON_Delete(o);
	return send_obj(c, MHD_HTTP_OK, NULL);
}

static enum MHD_Result r_usage(struct call *c)
{
	cJSON *o = cJSON_CreateObject();
	struct mid_usage u;

	mid_state_usage(c->org, &u);
	if(o && (!cJSON_AddNumberToObject(o, "devices", (double)u.devices) ||
		 !cJSON_AddNumberToObject(o, "active", (double)u.active) ||
		 !cJSON_AddNumberToObject(o, "revoked", (double)u.revoked) ||
		 !cJSON_AddNumberToObject(o, "removed", (double)u.removed) ||
		 !cJSON_AddNumberToObject(o, "limit", (double)u.limit) ||
		 !cJSON_AddNumberToObject(o, "validates", (double)u.validates) ||
		 !cJSON_AddBoolToObject(o, "org_disabled", u.disabled))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

static enum MHD_Result org_flag(struct call *c, int disabled)
{
	struct mid_change res;
	enum mid_rc rc;
	cJSON *o;

	rc = mid_service_set_disabled(c->api->svc, c->org, disabled, &c->who, &res);
	if(rc)
		return send_failed(c, rc);
	o = cJSON_CreateObject();
	if(o && (!cJSON_AddStringToObject(o, "status", "ok") ||
		 !cJSON_AddBoolToObject(o, "org_disabled", disabled) ||
		 !add_durability(o, &res))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

static enum MHD_Result r_org_disable(struct call *c)
{
	return org_flag(c, 1);
}

static enum MHD_Result r_org_enable(struct call *c)
{
	return org_flag(c, 0);
}

/* The optional "grace_seconds" of a rotate body: 0 when absent; -1 with
 * 400 sent when it is not a whole number in 0..MID_GRACE_MAX_S. */
static int64_t body_grace(struct call *c, enum MHD_Result *ret)
{
	cJSON *root = cJSON_ParseWithLength(c->body, c->len);
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(root, "grace_seconds");
	int64_t s = 0;

	if(g && (!cJSON_IsNumber(g) || g->valuedouble < 0 || g->valuedouble > MID_GRACE_MAX_S ||
		 g->valuedouble != (double)(int64_t)g->valuedouble)) {
		s = -1;
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"grace_seconds must be a whole number from 0 to 604800");
	} else if(g) {
		s = (int64_t)g->valuedouble;
	}
	cJSON_Delete(root);
	return s;
}

static enum MHD_Result r_rotate(struct call *c)
{
	char which[16], key[MID_KEY_LEN + 1], until_text[32];
	struct mid_wire_err e;
	enum mid_role role;
	enum MHD_Result ret = MHD_NO;
	int64_t grace, until = 0;
	enum mid_rc rc;
	cJSON *o;

	if(mid_wire_body_string(c->body, c->len, "key", 0, which, sizeof(which), &e))
		return send_err(c, MHD_HTTP_BAD_REQUEST, e.code, e.message);
	grace = body_grace(c, &ret);
	if(grace < 0)
		return ret;
	if(!strcmp(which, "org"))
		role = MID_ROLE_ORG;
	else if(!strcmp(which, "admin"))
		role = MID_ROLE_ADMIN;
	else
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"member \"key\" must be \"org\" or \"admin\"");
	/* An old admin key working on would be a second operator key. */
	if(role == MID_ROLE_ADMIN && grace > 0)
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"grace_seconds applies to the org key only; the old admin key"
				" stops working at once");
	rc = mid_service_rotate(c->api->svc, c->org, role, grace * 1000, &c->who, key, &until);
	if(rc)
		return send_failed(c, rc);
	/* A console session was opened with a key: a rotation ends them all. */
	mid_console_end_org(c->api->console, c->org);
	mid_wire_time(until, until_text);
	o = cJSON_CreateObject();
	if(o && (!cJSON_AddStringToObject(o, "status", "ok") ||
		 !cJSON_AddStringToObject(o, "key", key) ||
		 !cJSON_AddStringToObject(o, "which", which) ||
		 !(until ? cJSON_AddStringToObject(o, "previous_valid_until", until_text) :
			   cJSON_AddNullToObject(o, "previous_valid_until")))) {
		cJSON_Delete(o);
		o = NULL;
	}
	memset(key, 0, sizeof(key));
	return send_obj(c, MHD_HTTP_OK, o);
}

/* Which keys work now: the org key's overlap after a rotation. */
static enum MHD_Result r_keys(struct call *c)
{
	int64_t until = mid_state_grace_until(c->org), now = mid_wire_now_ms();
	char t[32];
	cJSON *o = cJSON_CreateObject(), *k;

	mid_wire_time(until, t);
	k = cJSON_AddObjectToObject(o, "org");
	if(!k || !(until ? cJSON_AddStringToObject(k, "previous_valid_until", t) :
			   cJSON_AddNullToObject(k, "previous_valid_until")) ||
	   !cJSON_AddNumberToObject(k, "previous_seconds_left",
				    until > now ? (double)((until - now + 999) / 1000) : 0)) {
		cJSON_Delete(o);
		o = NULL;
	}
	k = o ? cJSON_AddObjectToObject(o, "admin") : NULL;
	if(o && (!k || !cJSON_AddNullToObject(k, "previous_valid_until"))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

struct audit_ctx {
	cJSON *arr;
	unsigned n, limit;
	struct mid_audit_cursor last; /* of the last row given */
	int more;                     /* a row past 'limit' exists */
};

/* A row's details, stored as JSON text, as the member "report"; text
 * that does not parse (an edited database) is shown as a string. */
static int add_detail(cJSON *o, const char *detail)
{
	cJSON *d = cJSON_Parse(detail);

	if(d && cJSON_IsObject(d))
		return cJSON_AddItemToObject(o, "report", d);
	cJSON_Delete(d);
	return cJSON_AddStringToObject(o, "report", detail) != NULL;
}

static int audit_one(const struct mid_audit_row *a, void *arg)
{
	struct audit_ctx *x = arg;
	cJSON *o;
	char t[32];

	if(x->n == x->limit) {
		x->more = 1;
		return 0;
	}
	o = cJSON_CreateObject();
	mid_wire_time(a->time_ms, t);
	if(!o || !cJSON_AddItemToArray(x->arr, o) ||
	   !cJSON_AddStringToObject(o, "time", t) ||
	   !(a->device[0] ? cJSON_AddStringToObject(o, "deviceId", a->device) :
			    cJSON_AddNullToObject(o, "deviceId")) ||
	   !cJSON_AddStringToObject(o, "route", a->route) ||
	   !cJSON_AddStringToObject(o, "decision", a->decision) ||
	   !cJSON_AddStringToObject(o, "code", a->code) ||
	   !cJSON_AddStringToObject(o, "request_id", a->request_id) ||
	   !cJSON_AddStringToObject(o, "peer", a->peer) ||
	   (a->detail[0] && !add_detail(o, a->detail)))
		return 1;
	x->n++;
	x->last.time_ms = a->time_ms;
	x->last.id = a->id;
	return 0;
}

/* ?limit=N: 1..AUDIT_LIMIT_MAX (larger is clamped); 0 with 400 sent. */
static unsigned query_limit(struct call *c, enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
	unsigned long n = 0;
	size_t i;

	if(!v)
		return AUDIT_LIMIT_DEFAULT;
	for(i = 0; v[i] >= '0' && v[i] <= '9' && i < 9; i++)
		n = n * 10 + (unsigned long)(v[i] - '0');
	if(v[i] >= '0' && v[i] <= '9')
		n = AUDIT_LIMIT_MAX; /* ten digits or more: clamp */
	else if(i == 0 || v[i] || n == 0) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"limit must be a whole number from 1 to 1000");
		return 0;
	}
	return n > AUDIT_LIMIT_MAX ? AUDIT_LIMIT_MAX : (unsigned)n;
}

/* A whole number of 1 to 18 digits at '*p', which is moved past it. */
static int cursor_part(const char **p, int64_t *out)
{
	int64_t n = 0;
	int i;

	for(i = 0; (*p)[i] >= '0' && (*p)[i] <= '9'; i++) {
		if(i == 18)
			return 0;
		n = n * 10 + ((*p)[i] - '0');
	}
	*p += i;
	*out = n;
	return i > 0;
}

/* ?before=CURSOR, the "next" of the page before: TIME.ID. The newest
 * page without it; 0 with 400 sent when it does not parse. */
static int query_before(struct call *c, struct mid_audit_cursor *from, enum MHD_Result *ret)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "before");

	from->time_ms = INT64_MAX;
	from->id = INT64_MAX;
	if(!v)
		return 1;
	if(cursor_part(&v, &from->time_ms) && *v++ == '.' && cursor_part(&v, &from->id) && !*v)
		return 1;
	*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
			"before must be the \"next\" of an earlier audit answer");
	return 0;
}

static enum MHD_Result r_audit(struct call *c)
{
	struct audit_ctx x = {0};
	struct mid_audit_cursor from;
	enum MHD_Result ret;
	const char *dev;
	char next[48];
	cJSON *o;

	if(!query_device(c, &dev, &ret))
		return ret;
	x.limit = query_limit(c, &ret);
	if(!x.limit || !query_before(c, &from, &ret))
		return ret;
	o = cJSON_CreateObject();
	x.arr = cJSON_AddArrayToObject(o, "entries");
	if(!x.arr) {
		cJSON_Delete(o);
		return send_obj(c, MHD_HTTP_OK, NULL);
	}
	/* One row more than asked tells whether another page follows. */
	if(mid_store_audit_query(mid_service_store(c->api->svc), mid_org_id(c->org), dev, &from,
				 x.limit + 1, audit_one, &x)) {
		cJSON_Delete(o);
		return send_internal(c);
	}
	snprintf(next, sizeof(next), "%lld.%lld", (long long)x.last.time_ms,
		 (long long)x.last.id);
	if(!(x.more ? cJSON_AddStringToObject(o, "next", next) : cJSON_AddNullToObject(o, "next"))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* ---- the audit chain: rows and checkpoints for a verifier ------------ */

struct chain_ctx {
	cJSON *arr;
	int64_t last;
};

static int chain_one(const struct mid_audit_row *a, void *arg)
{
	struct chain_ctx *x = arg;
	char hash[2 * MID_SHA256_LEN + 1];
	cJSON *o = cJSON_CreateObject();

	mid_hex(a->hash, MID_SHA256_LEN, hash);
	if(!o || !cJSON_AddItemToArray(x->arr, o) ||
	   !cJSON_AddNumberToObject(o, "id", (double)a->id) ||
	   !(a->seq ? cJSON_AddNumberToObject(o, "seq", (double)a->seq) :
		      cJSON_AddNullToObject(o, "seq")) ||
	   !cJSON_AddNumberToObject(o, "time_ms", (double)a->time_ms) ||
	   !cJSON_AddNumberToObject(o, "org", (double)a->org_id) ||
	   !cJSON_AddStringToObject(o, "deviceId", a->device) ||
	   !cJSON_AddStringToObject(o, "route", a->route) ||
	   !cJSON_AddStringToObject(o, "decision", a->decision) ||
	   !cJSON_AddStringToObject(o, "code", a->code) ||
	   !cJSON_AddStringToObject(o, "request_id", a->request_id) ||
	   !cJSON_AddStringToObject(o, "peer", a->peer) ||
	   !cJSON_AddStringToObject(o, "detail", a->detail) ||
	   !(a->seq ? cJSON_AddStringToObject(o, "hash", hash) : cJSON_AddNullToObject(o, "hash")))
		return 1;
	x->last = a->id;
	return 0;
}

static int ckpt_one(const struct mid_checkpoint *cp, void *arg)
{
	char hash[2 * MID_SHA256_LEN + 1], sig[2 * MID_ED25519_SIG + 1];
	cJSON *o = cJSON_CreateObject();

	mid_hex(cp->hash, sizeof(cp->hash), hash);
	mid_hex(cp->sig, sizeof(cp->sig), sig);
	return !o || !cJSON_AddItemToArray(arg, o) ||
	       !cJSON_AddNumberToObject(o, "seq", (double)cp->seq) ||
	       !cJSON_AddNumberToObject(o, "time_ms", (double)cp->time_ms) ||
	       !cJSON_AddStringToObject(o, "hash", hash) ||
	       !cJSON_AddStringToObject(o, "signature", sig);
}

/* GET /api/v1/audit/chain?after=ID&limit=N: the org's rows in the order
 * they were written, with their place and hash, the signed checkpoints
 * (on the first page), and midd's public key. */
static enum MHD_Result r_chain(struct call *c)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "after");
	struct mid_store *db = mid_service_store(c->api->svc);
	const struct mid_signer *sg = mid_service_signer(c->api->svc);
	char pub[2 * MID_ED25519_PUB + 1] = "";
	unsigned char raw[MID_ED25519_PUB];
	struct chain_ctx x = {0};
	enum MHD_Result ret;
	unsigned limit = query_limit(c, &ret);
	uint64_t after = 0;
	cJSON *o, *cps = NULL;

	if(!limit)
		return ret;
	if(v && (!mid_parse_u64(v, &after) || after > INT64_MAX))
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"after must be a row id: a whole number");
	if(sg) {
		mid_signer_public(sg, raw);
		mid_hex(raw, sizeof(raw), pub);
	}
	o = cJSON_CreateObject();
	x.arr = cJSON_AddArrayToObject(o, "rows");
	if(!x.arr || !cJSON_AddStringToObject(o, "format", MID_CHAIN_FORMAT) ||
	   !cJSON_AddNumberToObject(o, "org", (double)mid_org_id(c->org)) ||
	   !(pub[0] ? cJSON_AddStringToObject(o, "public_key", pub) :
		      cJSON_AddNullToObject(o, "public_key")) ||
	   (!after && !(cps = cJSON_AddArrayToObject(o, "checkpoints")))) {
		cJSON_Delete(o);
		return send_obj(c, MHD_HTTP_OK, NULL);
	}
	if(mid_store_chain_rows(db, mid_org_id(c->org), (int64_t)after, limit, chain_one, &x) ||
	   (cps && mid_store_checkpoints(db, mid_org_id(c->org), ckpt_one, cps))) {
		cJSON_Delete(o);
		return send_err(c, MHD_HTTP_NOT_IMPLEMENTED, MID_E_INTERNAL,
				"the audit chain cannot be read: the backend does not keep it or"
				" the database refused; see the midd log");
	}
	if(!((unsigned)cJSON_GetArraySize(x.arr) == limit ?
		     cJSON_AddNumberToObject(o, "next", (double)x.last) :
		     cJSON_AddNullToObject(o, "next"))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* A header of printable bytes copied into 'out', unsafe bytes as '_'. */
static void header_copy(struct call *c, const char *name, char *out, size_t n)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
	size_t i;

	out[0] = '\0';
	if(!v)
		return;
	for(i = 0; v[i] && i + 1 < n; i++)
		out[i] = (v[i] > ' ' && v[i] < 0x7f && v[i] != '"' && v[i] != '\\') ? v[i] : '_';
	out[i] = '\0';
}

static int64_t header_num(struct call *c, const char *name)
{
	const char *v = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
	uint64_t x;

	return v && mid_parse_u64(v, &x) && x <= INT64_MAX ? (int64_t)x : 0;
}

/* The socket leaves libmicrohttpd here: midd keeps its own descriptor
 * (the server's is closed with the connection, which sends nothing on
 * a connection without TLS), so the channel lives outside the server's
 * connection limit and idle timeout. */
static void upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
		     size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct mid_api *api = cls;
	struct req *rq = con_cls;
	struct upgrade *up = rq ? rq->up : NULL;
	int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
	struct mid_caller who;

	(void)conn;
	(void)extra;
	(void)extra_len;
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	if(up)
		up->svc = NULL; /* the place is taken now, or given back below */
	if(fd < 0 || !up) {
		if(up)
			mid_service_push_unreserve(api->svc);
		mid_log("push-refused reason=%s", fd < 0 ? strerror(errno) : "lost request");
		if(fd >= 0)
			close(fd);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	who.peer = up->peer;
	who.request_id = up->rid;
	/* A refusal is logged and closes the descriptor. */
	(void)!mid_service_push_add(api->svc, up->org, fd, &up->ch, &who);
}

static enum MHD_Result r_push(struct call *c)
{
	const char *dev, *upg = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_UPGRADE);
	struct upgrade *up;
	enum MHD_Result ret;

	if(!query_device(c, &dev, &ret))
		return ret;
	if(!dev)
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_DEVICE_ID,
				"the push route needs ?deviceId=");
	if(!upg || strcasecmp(upg, MID_PUSH_PROTOCOL))
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"the push route needs 'Connection: Upgrade' and 'Upgrade: "
				MID_PUSH_PROTOCOL "'");
	/* Full: refused before the 101. After it, a refusal closes an armed
	 * channel, and that kills the process. */
	if(!mid_service_push_reserve(c->api->svc))
		return send_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				 mid_wire_error(MID_E_BUSY,
						"midd holds as many push channels as its descriptors"
						" allow; the process stays under the TTL gate (raise"
						" RLIMIT_NOFILE, or lower --max-connections)",
						c->rid),
				 NULL, "60");
	up = calloc(1, sizeof(*up));
	if(!up) {
		mid_service_push_unreserve(c->api->svc);
		return send_obj(c, MHD_HTTP_OK, NULL);
	}
	up->svc = c->api->svc;
	up->org = c->org;
	mid_strlcpy(up->ch.device, dev, sizeof(up->ch.device));
	up->ch.pid = header_num(c, "x-midshim-pid");
	up->ch.since_ms = header_num(c, "x-midshim-since");
	if(!up->ch.since_ms)
		up->ch.since_ms = mid_wire_now_ms();
	header_copy(c, "x-midshim-program", up->ch.program, sizeof(up->ch.program));
	header_copy(c, "x-midshim-kind", up->ch.kind, sizeof(up->ch.kind));
	if(!mid_push_kind_tree(up->ch.kind))
		mid_strlcpy(up->ch.kind, MID_KIND_PRELOAD, sizeof(up->ch.kind));
	mid_strlcpy(up->ch.peer, c->peer, sizeof(up->ch.peer));
	mid_strlcpy(up->rid, c->rid, sizeof(up->rid));
	mid_strlcpy(up->peer, c->peer, sizeof(up->peer));
	/* Queued by finish_request: the answer is a 101, not JSON. */
	req_of(c)->up = up;
	return MHD_YES;
}

static enum MHD_Result queue_upgrade(struct req *rq)
{
	struct MHD_Response *r = MHD_create_response_for_upgrade(upgraded, rq->call.api);
	enum MHD_Result ret;

	if(!r)
		return MHD_NO;
	/* From the answer on, the socket is the channel's: the connection
	 * table must never evict it or close it at the idle deadline (its
	 * shutdown would reach the channel through midd's own descriptor,
	 * and an armed channel that closes kills its process). */
	mid_conn_pin(rq->call.conn);
	MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, MID_PUSH_PROTOCOL);
	MHD_add_response_header(r, "x-request-id", rq->call.rid);
	ret = MHD_queue_response(rq->call.conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

/* A client's report of one event (report.h): audited, 202. */
static enum MHD_Result r_report(struct call *c)
{
	char err[160], msg[96], secs[16];
	struct mid_dev_info info;
	struct mid_report r;
	enum MHD_Result ret;
	unsigned retry;

	if(mid_report_parse(c->body, c->len, &r, err, sizeof(err)))
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST, err);
	if(mid_state_get(c->org, r.device, &info) != MID_OK)
		return send_err(c, MHD_HTTP_NOT_FOUND, MID_E_DEVICE_NOT_FOUND,
				"no device with this deviceId in this organisation");
	if(!mid_report_take(mid_org_id(c->org), r.device, mid_now_ms(), &retry)) {
		snprintf(msg, sizeof(msg), "this device reports too fast; try again in %u ms",
			 retry);
		snprintf(secs, sizeof(secs), "%u", (retry + 999) / 1000);
		return send_text(c, MHD_HTTP_TOO_MANY_REQUESTS,
				 mid_wire_error(MID_E_RATE, msg, c->rid), NULL, secs);
	}
	mid_service_report(c->api->svc, c->org, &r, &c->who);
	ret = send_device(c, "accepted", r.device, NULL, NULL);
	c->out.status = MHD_HTTP_ACCEPTED;
	return ret;
}

/* ---- webhook alerts (alert.h) ------------------------------------------ */

static int add_time(cJSON *o, const char *name, int64_t ms)
{
	char t[32];

	if(!ms)
		return cJSON_AddNullToObject(o, name) != NULL;
	mid_wire_time(ms, t);
	return cJSON_AddStringToObject(o, name, t) != NULL;
}

/* One hook as the list shows it: never its secret. */
static int hook_one(const struct mid_alert_hook *h, void *arg)
{
	cJSON *o = cJSON_CreateObject();

	if(!o || !cJSON_AddItemToArray(arg, o) ||
	   !cJSON_AddNumberToObject(o, "id", (double)h->id) ||
	   !cJSON_AddStringToObject(o, "url", h->url) ||
	   !cJSON_AddStringToObject(o, "events", h->events) ||
	   !cJSON_AddStringToObject(o, "format", h->format) || !add_time(o, "created", h->created_ms) ||
	   !cJSON_AddNumberToObject(o, "pending", (double)h->pending) ||
	   !cJSON_AddNumberToObject(o, "delivered", (double)h->delivered) ||
	   !cJSON_AddNumberToObject(o, "failed", (double)h->failed) ||
	   !add_time(o, "last_delivered", h->last_ok_ms) ||
	   !add_time(o, "last_error_time", h->last_error_ms) ||
	   !(h->last_error[0] ? cJSON_AddStringToObject(o, "last_error", h->last_error) :
				cJSON_AddNullToObject(o, "last_error")))
		return 1;
	return 0;
}

static enum MHD_Result r_alerts(struct call *c)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "alerts");

	if(!arr) {
		cJSON_Delete(o);
		return send_obj(c, MHD_HTTP_OK, NULL);
	}
	if(mid_store_alert_hooks(mid_service_store(c->api->svc), mid_org_id(c->org), hook_one,
				 arr)) {
		cJSON_Delete(o);
		return send_internal(c);
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* The audit row of a webhook added or removed: its id and, when added,
 * its kinds, format and host (a chat webhook's path is its password). */
static void note_hook(struct call *c, const char *route, const char *decision,
		      const struct mid_alert_hook *h)
{
	char host[MID_ALERT_URL_MAX], *json = NULL;
	cJSON *o = cJSON_CreateObject();
	const char *p = strstr(h->url, "://");

	mid_strlcpy(host, p ? p + 3 : "", sizeof(host));
	host[strcspn(host, "/?")] = '\0';
	if(o && cJSON_AddNumberToObject(o, "id", (double)h->id) &&
	   (!h->events[0] || (cJSON_AddStringToObject(o, "events", h->events) &&
			      cJSON_AddStringToObject(o, "format", h->format) &&
			      cJSON_AddStringToObject(o, "host", host))))
		json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	mid_service_note(c->api->svc, c->org, route, decision, json, &c->who);
	free(json);
}

/* {"url": URL, "events": "revoke,deny", "format": "json"|"slack"}: the
 * answer holds the hook's secret, which no later answer shows. */
static enum MHD_Result r_alert_add(struct call *c)
{
	cJSON *root = cJSON_ParseWithLength(c->body, c->len), *o = NULL;
	const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "events");
	const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
	struct mid_alert_hook *h = calloc(1, sizeof(*h));
	unsigned char raw[MID_ALERT_SECRET_HEX / 2];
	char err[160];
	enum MHD_Result ret;
	enum mid_rc rc;

	if(!h) {
		ret = send_obj(c, MHD_HTTP_OK, NULL);
		goto out;
	}
	if(!cJSON_IsString(url) || !cJSON_IsString(ev) || (fmt && !cJSON_IsString(fmt))) {
		ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
			       "the body must be {\"url\": URL, \"events\": \"KIND,...\"} with an"
			       " optional \"format\": \"json\"|\"slack\"");
		goto out;
	}
	if(!mid_alert_url_ok(url->valuestring, err, sizeof(err))) {
		ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST, err);
		goto out;
	}
	if(!mid_alert_events_ok(ev->valuestring)) {
		ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
			       "events must be a comma-separated list of revoke, restore, remove,"
			       " org, deny, budget"
			       ", each at most once");
		goto out;
	}
	if(fmt && strcmp(fmt->valuestring, "json") && strcmp(fmt->valuestring, "slack")) {
		ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
			       "format must be \"json\" or \"slack\"");
		goto out;
	}
	h->org_id = mid_org_id(c->org);
	mid_strlcpy(h->url, url->valuestring, sizeof(h->url));
	mid_strlcpy(h->events, ev->valuestring, sizeof(h->events));
	mid_strlcpy(h->format, fmt ? fmt->valuestring : "json", sizeof(h->format));
	h->created_ms = mid_wire_now_ms();
	if(getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		ret = send_internal(c);
		goto out;
	}
	mid_hex(raw, sizeof(raw), h->secret);
	rc = mid_store_alert_hook_add(mid_service_store(c->api->svc), h, &h->id);
	if(rc == MID_ERR_TOO_BIG) {
		ret = send_err(c, MHD_HTTP_CONFLICT, MID_E_ALERT_LIMIT,
			       "this org has the most webhooks it may have (16): remove one first");
		goto out;
	}
	if(rc) {
		ret = send_failed(c, rc);
		goto out;
	}
	mid_log("alert-add org=%s id=%lld events=%s format=%s peer=%s request_id=%s",
		mid_org_name(c->org), (long long)h->id, h->events, h->format, c->peer, c->rid);
	note_hook(c, "alert/add", "added", h);
	o = cJSON_CreateObject();
	if(o && (!cJSON_AddStringToObject(o, "status", "ok") ||
		 !cJSON_AddNumberToObject(o, "id", (double)h->id) ||
		 !cJSON_AddStringToObject(o, "url", h->url) ||
		 !cJSON_AddStringToObject(o, "events", h->events) ||
		 !cJSON_AddStringToObject(o, "format", h->format) ||
		 !cJSON_AddStringToObject(o, "secret", h->secret))) {
		cJSON_Delete(o);
		o = NULL;
	}
	ret = send_obj(c, MHD_HTTP_OK, o);
out:
	explicit_bzero(raw, sizeof(raw));
	if(h)
		explicit_bzero(h, sizeof(*h));
	free(h);
	cJSON_Delete(root);
	return ret;
}

/* {"id": N}: the hook and the events still queued for it go. */
static enum MHD_Result r_alert_remove(struct call *c)
{
	cJSON *root = cJSON_ParseWithLength(c->body, c->len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	int64_t n = cJSON_IsNumber(id) && id->valuedouble >= 1 && id->valuedouble < 1e18 &&
			    id->valuedouble == (double)(int64_t)id->valuedouble ?
		    (int64_t)id->valuedouble : 0;
	enum mid_rc rc;
	cJSON *o;

	cJSON_Delete(root);
	if(n <= 0)
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"the body must be {\"id\": N}, N a webhook's id from the list");
	rc = mid_store_alert_hook_remove(mid_service_store(c->api->svc), mid_org_id(c->org), n);
	if(rc == MID_ERR_NOT_FOUND)
		return send_err(c, MHD_HTTP_NOT_FOUND, MID_E_NOT_FOUND,
				"this org has no webhook with that id");
	if(rc)
		return send_failed(c, rc);
	mid_log("alert-remove org=%s id=%lld peer=%s request_id=%s", mid_org_name(c->org),
		(long long)n, c->peer, c->rid);
	note_hook(c, "alert/remove", "removed", &(struct mid_alert_hook){.id = n});
	o = cJSON_CreateObject();
	if(o && (!cJSON_AddStringToObject(o, "status", "ok") ||
		 !cJSON_AddNumberToObject(o, "id", (double)n))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

/* ---- budgets -------------------------------------------------------------- */

/* The limits a budget/set body names: {"connects": {"limit": N,
 * "windowMs": W}, ...}; a kind left out keeps its limit. 0 with 400
 * sent when one is malformed. */
static int body_budget(struct call *c, const cJSON *root, struct mid_budget *b,
		       enum MHD_Result *ret)
{
	char msg[160];
	int any = 0;

	memset(b, 0, sizeof(*b));
	for(int k = 0; k < MID_BUDGET_KINDS; k++) {
		const char *name = mid_budget_kind_name((enum mid_budget_kind)k);
		const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "limit");
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "windowMs");

		if(!o)
			continue;
		if(!cJSON_IsNumber(l) || !cJSON_IsNumber(w) || l->valuedouble < 1 ||
		   l->valuedouble > 9007199254740992.0 ||
		   l->valuedouble != (double)(uint64_t)l->valuedouble ||
		   w->valuedouble < MID_BUDGET_WINDOW_MIN_MS ||
		   w->valuedouble > MID_BUDGET_WINDOW_MAX_MS ||
		   w->valuedouble != (double)(int64_t)w->valuedouble) {
			snprintf(msg, sizeof(msg), "%s must be {\"limit\": a whole number from 1,"
				 " \"windowMs\": 1000 to %lld}", name,
				 (long long)MID_BUDGET_WINDOW_MAX_MS);
			*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST, msg);
			return 0;
		}
		b->k[k].limit = (uint64_t)l->valuedouble;
		b->k[k].window_ms = (int64_t)w->valuedouble;
		any = 1;
	}
	if(!any) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"name at least one of execs, connects, bytesOut, writes");
		return 0;
	}
	return 1;
}

/* {"deviceId", "budget": {KIND: {"limit", "windowMs"[, "used"]}}}. */
static enum MHD_Result send_budget(struct call *c, const char *dev, const struct mid_budget *b,
				   const uint64_t *used)
{
	cJSON *o = cJSON_CreateObject(), *all = NULL;

	if(o && cJSON_AddStringToObject(o, "deviceId", dev))
		all = cJSON_AddObjectToObject(o, "budget");
	for(int k = 0; all && k < MID_BUDGET_KINDS; k++) {
		cJSON *one;

		if(!b->k[k].limit)
			continue;
		one = cJSON_AddObjectToObject(all, mid_budget_kind_name((enum mid_budget_kind)k));
		if(!one || !cJSON_AddNumberToObject(one, "limit", (double)b->k[k].limit) ||
		   !cJSON_AddNumberToObject(one, "windowMs", (double)b->k[k].window_ms) ||
		   (used && !cJSON_AddNumberToObject(one, "used", (double)used[k])))
			all = NULL;
	}
	if(!all) {
		cJSON_Delete(o);
		o = NULL;
	}
	return send_obj(c, MHD_HTTP_OK, o);
}

static enum MHD_Result budget_change(struct call *c, int clear)
{
	char dev[MID_DEVICE_MAX + 1];
	struct mid_budget b, now;
	enum MHD_Result ret;
	enum mid_rc rc;
	cJSON *root;
	int ok;

	if(!body_device(c, dev, &ret))
		return ret;
	memset(&b, 0, sizeof(b));
	if(!clear) {
		root = cJSON_ParseWithLength(c->body, c->len);
		ok = body_budget(c, root, &b, &ret);
		cJSON_Delete(root);
		if(!ok)
			return ret;
	}
	rc = mid_service_budget_set(c->api->svc, c->org, dev, &b, clear, &c->who, &now);
	if(rc == MID_ERR_NOT_FOUND)
		return send_err(c, MHD_HTTP_NOT_FOUND, MID_E_DEVICE_NOT_FOUND,
				"no device with this deviceId in this organisation");
	if(rc)
		return send_failed(c, rc);
	return send_budget(c, dev, &now, NULL);
}

static enum MHD_Result r_budget_set(struct call *c)
{
	return budget_change(c, 0);
}

static enum MHD_Result r_budget_clear(struct call *c)
{
	return budget_change(c, 1);
}

/* GET ?deviceId=D: the budget and its use in each window now. */
static enum MHD_Result r_budget(struct call *c)
{
	uint64_t used[MID_BUDGET_KINDS] = {0};
	struct mid_dev_info info;
	struct mid_budget b;
	enum MHD_Result ret;
	const char *dev;

	if(!query_device(c, &dev, &ret))
		return ret;
	if(!dev)
		return send_err(c, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
				"the budget route needs ?deviceId=");
	if(mid_state_get(c->org, dev, &info) != MID_OK)
		return send_err(c, MHD_HTTP_NOT_FOUND, MID_E_DEVICE_NOT_FOUND,
				"no device with this deviceId in this organisation");
	memset(&b, 0, sizeof(b));
	mid_service_budget_get(c->api->svc, c->org, dev, &b, used);
	return send_budget(c, dev, &b, used);
}

static const struct route routes[] = {
	{"/healthz", "GET", NEED_NONE, r_health, NULL, MID_DEV_NONE, INLINE},
	{"/metrics", "GET", NEED_NONE, r_metrics, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/devices/register", "POST", NEED_ORG, r_register, NULL, MID_DEV_NONE, NEW},
	{"/api/v1/devices/validate", "POST", NEED_GATED, r_validate, NULL, MID_DEV_NONE, INLINE},
	{"/api/v1/devices/revoke", "POST", NEED_ADMIN, r_set_state, "revoke", MID_DEV_REVOKED, SLOW},
	{"/api/v1/devices/unrevoke", "POST", NEED_ADMIN, r_set_state, "unrevoke", MID_DEV_ACTIVE, SLOW},
	{"/api/v1/devices/restore", "POST", NEED_ADMIN, r_set_state, "restore", MID_DEV_ACTIVE, SLOW},
	{"/api/v1/devices/remove", "POST", NEED_ADMIN, r_set_state, "remove", MID_DEV_REMOVED, SLOW},
	{"/api/v1/devices/revoke-match", "POST", NEED_ADMIN, r_revoke_match, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/devices/list", "GET", NEED_ORG, r_list, NULL, MID_DEV_NONE, SLOW},
	{MID_PUSH_PATH, "GET", NEED_ORG, r_push, NULL, MID_DEV_NONE, INLINE},
	{"/api/v1/usage", "GET", NEED_ORG, r_usage, NULL, MID_DEV_NONE, INLINE},
	{"/api/v1/org/disable", "POST", NEED_ADMIN, r_org_disable, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/org/enable", "POST", NEED_ADMIN, r_org_enable, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/org/rotate-key", "POST", NEED_ADMIN, r_rotate, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/org/keys", "GET", NEED_ADMIN, r_keys, NULL, MID_DEV_NONE, INLINE},
	{"/api/v1/audit", "GET", NEED_ADMIN, r_audit, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/audit/chain", "GET", NEED_ADMIN, r_chain, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/report", "POST", NEED_GATED, r_report, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/alerts", "GET", NEED_ADMIN, r_alerts, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/alerts/add", "POST", NEED_ADMIN, r_alert_add, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/alerts/remove", "POST", NEED_ADMIN, r_alert_remove, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/budget", "GET", NEED_ORG, r_budget, NULL, MID_DEV_NONE, INLINE},
	{"/api/v1/budget/set", "POST", NEED_ADMIN, r_budget_set, NULL, MID_DEV_NONE, SLOW},
	{"/api/v1/budget/clear", "POST", NEED_ADMIN, r_budget_clear, NULL, MID_DEV_NONE, SLOW},
};

/* The route for 'url' and 'method'; '*path' is the route of 'url' under
 * any method (for 405), or NULL. */
static const struct route *find_route(const char *url, const char *method,
					  const struct route **path)
{
	size_t i;

	*path = NULL;
	for(i = 0; i < MID_ARRAY_LEN(routes); i++) {
		if(strcmp(routes[i].path, url))
			continue;
		*path = &routes[i];
		if(!strcmp(routes[i].method, method))
			return &routes[i];
	}
	return NULL;
}

/* ---- request life cycle --------------------------------------------- */

static void peer_name(struct mid_api *api, struct MHD_Connection *conn, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	mid_strlcpy(out, "unknown", n);
	if(api->is_unix) {
		mid_strlcpy(out, "unix", n);
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if(!ci || !ci->client_addr)
		return;
	sa = ci->client_addr;
	if(sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
	else if(sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)n);
}

/* The routes a console session may call (console.h): the device and org
 * switches and what the page shows; not key rotation, validate, register,
 * push or reports. */
static int console_may(const struct route *r)
{
	return r->fn == r_set_state || r->fn == r_revoke_match || r->fn == r_list ||
	       r->fn == r_usage || r->fn == r_org_disable || r->fn == r_org_enable ||
	       r->fn == r_audit;
}

/* Find the org behind the request's key; 0 with 401/403 sent if none. */
static int authorise(struct call *c, enum need need, enum MHD_Result *ret)
{
	static const char *const headers[] = {"x-admin-key", "x-org-key"};
	int presented = 0;
	size_t i;

	if(need == NEED_NONE)
		return 1;
	for(i = 0; i < MID_ARRAY_LEN(headers); i++) {
		const char *k = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, headers[i]);
		if(!k)
			continue;
		presented = 1;
		if(mid_service_auth(c->api->svc, k, &c->org, &c->role) == MID_OK)
			break;
	}
	if(!c->org && !presented && console_may(c->route) && c->api->console) {
		int change = strcmp(c->route->method, "GET") != 0;

		switch(mid_console_auth(c->api->console, c->conn, change, &c->org)) {
		case MID_OK:
			c->role = MID_ROLE_ADMIN;
			return 1;
		case MID_ERR_INVAL:
			mid_log_request("csrf-refused route=%s peer=%s request_id=%s", c->route->path,
					c->peer, c->rid);
			*ret = send_err(c, MHD_HTTP_FORBIDDEN, MID_E_CSRF,
					"a console session's change needs its CSRF token in"
					" x-csrf-token, from this origin");
			return 0;
		default:
			break;
		}
	}
	if(!c->org) {
		mid_log_request("unauthorized route=%s key=%s peer=%s request_id=%s",
				c->route->path, presented ? "unknown" : "missing", c->peer, c->rid);
		*ret = send_err(c, MHD_HTTP_UNAUTHORIZED, MID_E_UNAUTHORIZED,
				"missing or unknown key (send x-org-key or x-admin-key)");
		return 0;
	}
	/* A gated process may only ever hold the org key: with the admin
	 * key it could restore its own device. So validate refuses the
	 * admin key, and so does a register that comes from the shim (it
	 * sends x-mid-nonce); an operator may still register with it. */
	if(c->role == MID_ROLE_ADMIN &&
	   (need == NEED_GATED ||
	    (c->route->fn == r_register &&
	     MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "x-mid-nonce")))) {
		mid_log_request("admin-key-refused route=%s org=%s peer=%s request_id=%s",
				c->route->path, mid_org_name(c->org), c->peer, c->rid);
		*ret = send_err(c, MHD_HTTP_FORBIDDEN, MID_E_ADMIN_REFUSED,
				"the admin key may not validate or register a gated program;"
				" give the program the org key");
		return 0;
	}
	if(need == NEED_ADMIN && c->role != MID_ROLE_ADMIN) {
		mid_log_request("forbidden route=%s org=%s peer=%s request_id=%s", c->route->path,
				mid_org_name(c->org), c->peer, c->rid);
		*ret = send_err(c, MHD_HTTP_FORBIDDEN, MID_E_ADMIN,
				"this route needs the admin key in x-admin-key; the org key may"
				" only register, validate and list");
		return 0;
	}
	return 1;
}

/* 1 when the body names a device the org already has: registering it
 * again changes nothing, so every gated start's register is answered
 * at once. Anything else (a new device, a bad body) takes the lane. */
static int known_device(struct call *c)
{
	char dev[MID_DEVICE_MAX + 1];
	struct mid_dev_info info;
	struct mid_wire_err e;

	return mid_wire_body_string(c->body, c->len, "deviceId", 1, dev, sizeof(dev), &e) == MID_OK &&
	       mid_state_get(c->org, dev, &info) == MID_OK;
}

/* Check the request in 'rq' and make its answer in rq->call.out; 1 when
 * its route is to run in the slow lane instead. */
static int prepare(struct mid_api *api, struct MHD_Connection *conn, const char *url,
		   const char *method, struct req *rq)
{
	const struct route *path = NULL;
	struct call *c = &rq->call;
	enum MHD_Result ret;

	memset(c, 0, sizeof(*c));
	c->api = api;
	c->conn = conn;
	mid_wire_request_id(c->rid);
	peer_name(api, conn, c->peer, sizeof(c->peer));
	c->who.peer = c->peer;
	c->who.request_id = c->rid;
	c->route = find_route(url, method, &path);
	if(!c->route && !path) {
		send_err(c, MHD_HTTP_NOT_FOUND, MID_E_NOT_FOUND,
			 "no such route; the API lives under /api/v1/");
		return 0;
	}
	if(!c->route) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%s takes %s only", path->path, path->method);
		send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, mid_wire_error(MID_E_METHOD, msg, c->rid),
			  path->method, NULL);
		return 0;
	}
	if(rq->too_big) {
		send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, MID_E_TOO_LARGE,
			 "request body is larger than 4096 bytes");
		return 0;
	}
	if(!authorise(c, c->route->need, &ret))
		return 0;
	c->body = rq->body;
	c->len = rq->len;
	if(c->route->lane == SLOW || (c->route->lane == NEW && !known_device(c)))
		return 1;
	c->route->fn(c);
	return 0;
}

/* On the lane's thread: make the answer, then let libmicrohttpd's thread
 * queue it (it calls handle() again once resumed). */
static void lane_run(void *arg)
{
	struct req *rq = arg;

	rq->call.route->fn(&rq->call);
	/* An operator's change: the console's live views look again. */
	if(strcmp(rq->call.route->method, "GET"))
		mid_console_touch(rq->call.api->console);
	rq->state = RQ_ANSWERED;
	MHD_resume_connection(rq->call.conn);
}

/* A console long poll ends: queue its answer once resumed. */
static void console_wake(void *arg, struct mid_console_reply *r)
{
	struct req *rq = arg;

	*rq->cr = *r;
	rq->state = RQ_ANSWERED;
	MHD_resume_connection(rq->call.conn);
}

/* A console route (console.h): answered at once, or, for a long poll,
 * suspended first so that the wake cannot come before the suspension. */
static enum MHD_Result console_request(struct mid_api *api, struct MHD_Connection *conn,
				       const char *url, const char *method, struct req *rq)
{
	char peer[MID_PEER_MAX];
	int wait = !strcmp(url, "/console/wait");
	struct mid_console_reply r;

	rq->cr = calloc(1, sizeof(*rq->cr));
	if(!rq->cr)
		return MHD_NO;
	rq->call.conn = conn;
	if(rq->too_big) {
		memset(&r, 0, sizeof(r));
		r.status = MHD_HTTP_CONTENT_TOO_LARGE;
		r.text = mid_wire_error(MID_E_TOO_LARGE, "request body is larger than 4096 bytes", "");
		r.len = r.text ? strlen(r.text) : 0;
		r.type = "application/json";
		rq->state = RQ_ANSWERED;
		return mid_console_queue(conn, &r);
	}
	peer_name(api, conn, peer, sizeof(peer));
	if(wait) {
		rq->state = RQ_LANE;
		MHD_suspend_connection(conn);
	}
	if(mid_console_route(api->console, conn, url, method, rq->body, rq->len, peer, &r,
			     console_wake, rq))
		return MHD_YES;
	if(wait) {
		console_wake(rq, &r);
		return MHD_YES;
	}
	rq->state = RQ_ANSWERED;
	return mid_console_queue(conn, &r);
}

static enum MHD_Result finish_request(struct mid_api *api, struct MHD_Connection *conn,
				      const char *url, const char *method, struct req *rq)
{
	if(api->console && mid_console_owns(url))
		return console_request(api, conn, url, method, rq);
	if(prepare(api, conn, url, method, rq)) {
		rq->state = RQ_LANE;
		MHD_suspend_connection(conn);
		if(mid_lane_push(api->lane, rq->call.role == MID_ROLE_ADMIN ? MID_LANE_ADMIN :
					    MID_LANE_ORG, lane_run, rq) == MID_OK)
			return MHD_YES;
		send_text(&rq->call, MHD_HTTP_SERVICE_UNAVAILABLE,
			  mid_wire_error(MID_E_BUSY, "midd is busy with other requests of this "
				       "kind; try again shortly", rq->call.rid), NULL, "1");
		rq->state = RQ_ANSWERED;
		MHD_resume_connection(conn);
		return MHD_YES;
	}
	rq->state = RQ_ANSWERED;
	if(rq->up && !rq->call.out.json)
		return queue_upgrade(rq);
	return queue_reply(conn, &rq->call.out);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct mid_api *api = cls;
	struct req *rq = *con_cls;

	(void)version;
	if(!rq) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		mid_conn_busy(conn);
		rq = malloc(sizeof(*rq));
		if(!rq)
			return MHD_NO;
		rq->len = 0;
		rq->discarded = 0;
		rq->too_big = 0;
		rq->state = RQ_READING;
		rq->t0_ns = mid_now_ns();
		rq->call.out.json = NULL;
		rq->up = NULL;
		rq->cr = NULL;
		*con_cls = rq;
		/* Announced too large: answer now; libmicrohttpd then closes
		 * the connection without reading the body. */
		if(cl && (strlen(cl) > 9 || strtoul(cl, NULL, 10) > MID_REQUEST_BODY_MAX)) {
			rq->too_big = 1;
			return finish_request(api, conn, url, method, rq);
		}
		return MHD_YES;
	}
	if(rq->state == RQ_ANSWERED && rq->cr) /* a console long poll's end */
		return mid_console_queue(conn, rq->cr);
	if(rq->state == RQ_ANSWERED) /* back from the slow lane */
		return queue_reply(conn, &rq->call.out);
	if(rq->state == RQ_LANE)
		return MHD_YES;
	if(*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if(!rq->too_big && n <= MID_REQUEST_BODY_MAX - rq->len) {
			memcpy(rq->body + rq->len, upload, n);
			rq->len += n;
			return MHD_YES;
		}
		/* A chunked body grew too large: drop it, answer 413 at its
		 * end, but hang up if it just keeps coming. */
		rq->too_big = 1;
		rq->discarded += n;
		return rq->discarded > MID_API_DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	return finish_request(api, conn, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)toe;
	mid_conn_idle(conn);
	if(rq)
		free(rq->call.out.json);
	if(rq && rq->up && rq->up->svc)
		mid_service_push_unreserve(rq->up->svc);
	if(rq)
		free(rq->up);
	if(rq && rq->cr) {
		mid_console_reply_free(rq->cr);
		free(rq->cr);
	}
	free(rq);
	*con_cls = NULL;
}

enum mid_rc mid_api_start(struct mid_service *svc, struct mid_conns *conns, int fd,
			  unsigned threads, int is_unix, struct mid_api **out, char *err,
			  size_t errlen)
{
	struct mid_api *api = calloc(1, sizeof(*api));
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE;
	struct mid_conn_opts lim;

	*out = NULL;
	if(!api || mid_lane_new(&api->lane)) {
		free(api);
		close(fd);
		return MID_ERR_NOMEM;
	}
	api->svc = svc;
	api->conns = conns;
	api->is_unix = is_unix;
	mid_metrics_start();
	if(threads == 0)
		threads = 1;
	/* The table decides which connections stay; libmicrohttpd's own cap
	 * and idle timeout only back it up. */
	mid_conns_limits(conns, &lim);
	api->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, api,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				  MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
				  MHD_OPTION_CONNECTION_LIMIT, lim.max,
				  MHD_OPTION_CONNECTION_TIMEOUT, lim.idle_ms / 1000 + 2,
				  MHD_OPTION_NOTIFY_CONNECTION, mid_conns_notify, conns,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MID_API_CONN_MEMORY,
				  MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				  MHD_OPTION_END);
	if(!api->d) {
		snprintf(err, errlen, "cannot start the HTTP server: %s",
			 errno ? strerror(errno) : "libmicrohttpd refused the options");
		close(fd);
		mid_lane_free(api->lane);
		free(api);
		return MID_ERR_IO;
	}
	*out = api;
	return MID_OK;
}

void mid_api_set_console(struct mid_api *api, struct mid_console *con)
{
	api->console = con;
}

void mid_api_stop(struct mid_api *api)
{
	if(!api)
		return;
	/* The lane first: every suspended request is answered and resumed
	 * before libmicrohttpd closes the connections; later ones get 503. */
	mid_lane_stop(api->lane);
	MHD_stop_daemon(api->d);
	mid_lane_free(api->lane);
	free(api);
}
