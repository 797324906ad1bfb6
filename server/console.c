/* SPDX-License-Identifier: MIT */
/*
 * The console's sessions, its login limits, its long polls and its few
 * routes of its own (console.h). Every action of the page is an API route
 * of api.c, authorised here by the session instead of a key.
 */
#define _GNU_SOURCE
#include "console.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "conn.h"
#include "flush.h"
#include "keys.h"
#include "log.h"
#include "sha256.h"
#include "state.h"
#include "wire.h"

#define ID_BYTES 32
#define ID_HEX (2 * ID_BYTES)
#define PEERS 32            /* peers with a login bucket of their own */
#define GLOBAL_BURST 30     /* login attempts of all peers at once */
#define GLOBAL_EVERY_MS 500 /* then one each this often */
#define TICK_MS 100         /* how often the long polls look for news */

/* The console's answers carry this policy: nothing inline, nothing from
 * elsewhere, never in a frame. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " \
	    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

_Static_assert(MID_CONSOLE_WAIT_MS + 2000 < MID_CONN_IDLE_MS,
	       "a long poll must end well before midd's deadline of one request");

struct session {
	int used;
	unsigned char hash[MID_SHA256_LEN]; /* of the cookie's value */
	char csrf[ID_HEX + 1];
	struct mid_org *org;
	uint64_t expires_ms; /* monotonic */
};

struct bucket {
	char peer[MID_PEER_MAX];
	double tokens;
	uint64_t at; /* monotonic ms: tokens as of then */
};

struct waiter {
	mid_console_wake_fn wake;
	void *arg;
	uint64_t gen;
	uint64_t deadline_ms;
};

struct mid_console {
	struct mid_service *svc;
	struct mid_console_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	int started, stop;
	struct session s[MID_CONSOLE_SESSIONS];
	struct bucket peers[PEERS];
	struct bucket all;
	struct waiter w[MID_CONSOLE_WAITERS];
	unsigned nw;
	uint64_t touches;
};

/* ---- small pieces ------------------------------------------------------ */

static uint64_t now_ms(void)
{
	return mid_now_ms();
}

/* What the trail has grown by: validate rows flushed plus operators'
 * changes (which are written at once). Under the mutex. */
static uint64_t generation(const struct mid_console *con)
{
	return mid_flush_rows_total() + con->touches;
}

static const struct mid_asset *asset(const struct mid_console *con, const char *name)
{
	const struct mid_asset *a;

	for(a = con->o.assets; a && a->name; a++)
		if(!strcmp(a->name, name))
			return a;
	return NULL;
}

static const char *asset_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if(dot && !strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if(dot && !strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if(dot && !strcmp(dot, ".png"))
		return "image/png";
	return "text/html; charset=utf-8";
}

/* A JSON answer 'o' (taken; NULL: out of memory) with 'status'. */
static void reply_json(struct mid_console_reply *r, unsigned status, cJSON *o)
{
	r->status = status;
	r->text = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if(!r->text) {
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		r->text = strdup("{\"error\":\"" MID_E_INTERNAL "\",\"message\":\"out of memory\"}");
	}
	r->len = r->text ? strlen(r->text) : 0;
	r->type = "application/json";
}

static void reply_err(struct mid_console_reply *r, unsigned status, const char *code,
		      const char *message)
{
	cJSON *o = cJSON_CreateObject();

	if(o && (!cJSON_AddStringToObject(o, "error", code) ||
		 !cJSON_AddStringToObject(o, "message", message))) {
		cJSON_Delete(o);
		o = NULL;
	}
	reply_json(r, status, o);
}

static int fill_random_hex(char out[ID_HEX + 1])
{
	unsigned char b[ID_BYTES];

	if(getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	mid_hex(b, sizeof(b), out);
	explicit_bzero(b, sizeof(b));
	return 0;
}

/* The session of 'cookie', or NULL; every slot is compared, in constant
 * time. Under the mutex. */
static struct session *find(struct mid_console *con, const char *cookie)
{
	unsigned char h[MID_SHA256_LEN];
	struct session *hit = NULL;
	uint64_t now = now_ms();
	size_t i;

	if(!cookie || strlen(cookie) != ID_HEX)
		return NULL;
	mid_sha256(cookie, ID_HEX, h);
	for(i = 0; i < MID_CONSOLE_SESSIONS; i++) {
		struct session *s = &con->s[i];
		int same = mid_ct_equal(s->hash, h, sizeof(h));

		if(s->used && s->expires_ms <= now) {
			explicit_bzero(s, sizeof(*s));
			continue;
		}
		if(s->used && same)
			hit = s;
	}
	return hit;
}

/* Take one login attempt from 'b', refilled one per 'every' ms up to
 * 'burst'; 0 when none is left, with '*retry_s'. */
static int take(struct bucket *b, unsigned burst, unsigned every, uint64_t now,
		unsigned *retry_s)
{
	if(!b->at) {
		b->tokens = burst;
		b->at = now;
	}
	b->tokens += (double)(now - b->at) / every;
	if(b->tokens > burst)
		b->tokens = burst;
	b->at = now;
	if(b->tokens >= 1) {
		b->tokens -= 1;
		return 1;
	}
	*retry_s = (unsigned)(((1 - b->tokens) * every + 999) / 1000);
	return 0;
}

/* May 'peer' try to log in now? Under the mutex. A new peer takes a
 * free bucket, or the one least recently used. */
static int login_allowed(struct mid_console *con, const char *peer, unsigned *retry_s)
{
	struct bucket *b = NULL, *lru = &con->peers[0];
	uint64_t now = now_ms();
	size_t i;

	for(i = 0; i < PEERS && !b; i++) {
		struct bucket *p = &con->peers[i];

		if(p->at && !strcmp(p->peer, peer))
			b = p;
		else if(!p->at || (lru->at && p->at < lru->at))
			lru = p;
	}
	if(!b) {
		b = lru;
		memset(b, 0, sizeof(*b));
		mid_strlcpy(b->peer, peer, sizeof(b->peer));
	}
	if(!take(b, MID_CONSOLE_LOGIN_BURST, MID_CONSOLE_LOGIN_EVERY_MS, now, retry_s))
		return 0;
	return take(&con->all, GLOBAL_BURST, GLOBAL_EVERY_MS, now, retry_s);
}

/* The value of "key" in a form body (application/x-www-form-urlencoded),
 * decoded; 0 when absent or too long. */
static int form_key(const char *body, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while(i < len) {
		size_t end = i;

		while(end < len && body[end] != '&')
			end++;
		if(end - i >= 4 && !memcmp(body + i, "key=", 4)) {
			for(i += 4; i < end; i++) {
				char c = body[i];
				unsigned v;

				if(o + 1 >= outlen)
					return 0;
				if(c == '+')
					c = ' ';
				else if(c == '%' && i + 2 < end + 1 && i + 2 < len &&
					sscanf(body + i + 1, "%2x", &v) == 1) {
					c = (char)v;
					i += 2;
				}
				out[o++] = c;
			}
			out[o] = '\0';
			return o > 0 && strlen(out) == o;
		}
		i = end + 1;
	}
	return 0;
}

static void set_cookie(const struct mid_console *con, struct mid_console_reply *r,
		       const char *value, unsigned max_age)
{
	snprintf(r->cookie, sizeof(r->cookie),
		 MID_CONSOLE_COOKIE "=%s; Max-Age=%u; Path=/; HttpOnly; SameSite=Strict%s", value,
		 max_age, con->o.secure ? "; Secure" : "");
}

/* {"org": ..., "csrf": ..., "expires_in": seconds} for session 's'. */
static void reply_session(struct mid_console_reply *r, const struct session *s)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t now = now_ms();

	if(o && (!cJSON_AddStringToObject(o, "org", mid_org_name(s->org)) ||
		 !cJSON_AddStringToObject(o, "csrf", s->csrf) ||
		 !cJSON_AddNumberToObject(o, "expires_in",
					  (double)((s->expires_ms > now ? s->expires_ms - now : 0) /
						   1000)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	reply_json(r, MHD_HTTP_OK, o);
}

/* ---- routes ------------------------------------------------------------ */

static void login(struct mid_console *con, const char *body, size_t len, const char *peer,
		  struct mid_console_reply *r)
{
	char key[MID_KEY_HEADER_MAX + 1], id[ID_HEX + 1], secs[16];
	struct session *s = NULL;
	struct mid_org *org = NULL;
	enum mid_role role;
	unsigned retry = 1;
	uint64_t now = now_ms();
	size_t i;
	int ok;

	pthread_mutex_lock(&con->mu);
	ok = login_allowed(con, peer, &retry);
	pthread_mutex_unlock(&con->mu);
	if(!ok) {
		mid_log_request("console-login-refused reason=rate peer=%s", peer);
		snprintf(secs, sizeof(secs), "%u", retry);
		r->retry_after = strdup(secs);
		reply_err(r, MHD_HTTP_TOO_MANY_REQUESTS, MID_E_RATE,
			  "too many login attempts; wait and try again");
		return;
	}
	if(!form_key(body, len, key, sizeof(key))) {
		reply_err(r, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST,
			  "send the admin key as the form field 'key'");
		return;
	}
	ok = mid_service_auth(con->svc, key, &org, &role) == MID_OK;
	explicit_bzero(key, sizeof(key));
	if(!ok) {
		mid_log_request("console-login-refused reason=unknown-key peer=%s", peer);
		reply_err(r, MHD_HTTP_UNAUTHORIZED, MID_E_UNAUTHORIZED, "wrong key");
		return;
	}
	if(role != MID_ROLE_ADMIN) {
		mid_log_request("console-login-refused reason=org-key org=%s peer=%s",
				mid_org_name(org), peer);
		reply_err(r, MHD_HTTP_FORBIDDEN, MID_E_ADMIN,
			  "the org key cannot open the console; log in with the admin key");
		return;
	}
	if(fill_random_hex(id)) {
		reply_err(r, MHD_HTTP_INTERNAL_SERVER_ERROR, MID_E_INTERNAL,
			  "no randomness for a session; see the midd log");
		return;
	}
	pthread_mutex_lock(&con->mu);
	(void)find(con, NULL); /* nothing found; drops expired sessions */
	for(i = 0; i < MID_CONSOLE_SESSIONS; i++) {
		struct session *c = &con->s[i];

		if(!c->used || c->expires_ms <= now) {
			s = c;
			break;
		}
		if(!s || c->expires_ms < s->expires_ms)
			s = c;
	}
	if(s->used)
		mid_log("console-session-evicted org=%s reason=full", mid_org_name(s->org));
	explicit_bzero(s, sizeof(*s));
	if(fill_random_hex(s->csrf)) {
		pthread_mutex_unlock(&con->mu);
		reply_err(r, MHD_HTTP_INTERNAL_SERVER_ERROR, MID_E_INTERNAL,
			  "no randomness for a session; see the midd log");
		return;
	}
	mid_sha256(id, ID_HEX, s->hash);
	s->org = org;
	s->expires_ms = now + (uint64_t)con->o.ttl_s * 1000;
	s->used = 1;
	set_cookie(con, r, id, con->o.ttl_s);
	reply_session(r, s);
	pthread_mutex_unlock(&con->mu);
	explicit_bzero(id, sizeof(id));
	mid_log("console-login org=%s peer=%s", mid_org_name(org), peer);
}

static void logout(struct mid_console *con, struct MHD_Connection *conn, const char *peer,
		   struct mid_console_reply *r)
{
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							 MID_CONSOLE_COOKIE);
	struct mid_org *org;
	struct session *s;

	if(mid_console_auth(con, conn, 1, &org) == MID_ERR_INVAL) {
		reply_err(r, MHD_HTTP_FORBIDDEN, MID_E_CSRF,
			  "logout needs the session's CSRF token in x-csrf-token");
		return;
	}
	pthread_mutex_lock(&con->mu);
	s = find(con, cookie);
	if(s) {
		mid_log("console-logout org=%s peer=%s", mid_org_name(s->org), peer);
		explicit_bzero(s, sizeof(*s));
	}
	pthread_mutex_unlock(&con->mu);
	set_cookie(con, r, "", 0);
	reply_json(r, MHD_HTTP_OK, cJSON_CreateObject());
}

static void session(struct mid_console *con, struct MHD_Connection *conn,
		    struct mid_console_reply *r)
{
	struct session *s;

	pthread_mutex_lock(&con->mu);
	s = find(con, MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, MID_CONSOLE_COOKIE));
	if(s)
		reply_session(r, s);
	pthread_mutex_unlock(&con->mu);
	if(!s)
		reply_err(r, MHD_HTTP_UNAUTHORIZED, MID_E_UNAUTHORIZED, "no session; log in");
}

static void reply_gen(struct mid_console_reply *r, uint64_t gen)
{
	cJSON *o = cJSON_CreateObject();

	if(o && !cJSON_AddNumberToObject(o, "gen", (double)gen)) {
		cJSON_Delete(o);
		o = NULL;
	}
	reply_json(r, MHD_HTTP_OK, o);
}

/* GET /console/wait?gen=N: answer at once when the trail's generation is
 * not N, else when it changes or after MID_CONSOLE_WAIT_MS. */
static int wait_route(struct mid_console *con, struct MHD_Connection *conn,
		      struct mid_console_reply *r, mid_console_wake_fn wake, void *arg)
{
	const char *g = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "gen");
	struct mid_org *org;
	uint64_t want = 0, now;

	if(mid_console_auth(con, conn, 0, &org)) {
		reply_err(r, MHD_HTTP_UNAUTHORIZED, MID_E_UNAUTHORIZED, "no session; log in");
		return 0;
	}
	if(g && !mid_parse_u64(g, &want)) {
		reply_err(r, MHD_HTTP_BAD_REQUEST, MID_E_BAD_REQUEST, "gen must be a whole number");
		return 0;
	}
	pthread_mutex_lock(&con->mu);
	now = generation(con);
	if(!g || want != now || con->stop) {
		pthread_mutex_unlock(&con->mu);
		reply_gen(r, now);
		return 0;
	}
	if(con->nw == MID_CONSOLE_WAITERS) {
		pthread_mutex_unlock(&con->mu);
		r->retry_after = strdup("1");
		reply_err(r, MHD_HTTP_SERVICE_UNAVAILABLE, MID_E_BUSY,
			  "too many live views open; close one or try again shortly");
		return 0;
	}
	con->w[con->nw].wake = wake;
	con->w[con->nw].arg = arg;
	con->w[con->nw].gen = want;
	con->w[con->nw].deadline_ms = now_ms() + MID_CONSOLE_WAIT_MS;
	con->nw++;
	pthread_mutex_unlock(&con->mu);
	return 1;
}

int mid_console_route(struct mid_console *con, struct MHD_Connection *conn, const char *url,
		      const char *method, const char *body, size_t len, const char *peer,
		      struct mid_console_reply *r, mid_console_wake_fn wake, void *arg)
{
	const char *name = NULL, *want = "GET";
	const struct mid_asset *a;

	memset(r, 0, sizeof(*r));
	if(!strcmp(url, "/console") || !strcmp(url, "/console/"))
		name = "index.html";
	else if(!strcmp(url, "/console/login") || !strcmp(url, "/console/logout"))
		want = "POST";
	else if(strcmp(url, "/console/session") && strcmp(url, "/console/wait"))
		name = url + strlen("/console/");
	if(strcmp(method, want)) {
		reply_err(r, MHD_HTTP_METHOD_NOT_ALLOWED, MID_E_METHOD,
			  !strcmp(want, "GET") ? "this console path takes GET only" :
						 "this console path takes POST only");
		return 0;
	}
	if(name) {
		a = strchr(name, '/') ? NULL : asset(con, name);
		if(!a) {
			reply_err(r, MHD_HTTP_NOT_FOUND, MID_E_NOT_FOUND, "no such console file");
			return 0;
		}
		r->status = MHD_HTTP_OK;
		r->data = a->data;
		r->len = a->len;
		r->type = asset_type(a->name);
		return 0;
	}
	if(!strcmp(url, "/console/login"))
		login(con, body, len, peer, r);
	else if(!strcmp(url, "/console/logout"))
		logout(con, conn, peer, r);
	else if(!strcmp(url, "/console/session"))
		session(con, conn, r);
	else
		return wait_route(con, conn, r, wake, arg);
	return 0;
}

int mid_console_owns(const char *url)
{
	return !strcmp(url, "/console") || !strncmp(url, "/console/", 9);
}

enum MHD_Result mid_console_queue(struct MHD_Connection *conn, struct mid_console_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if(r->text)
		resp = MHD_create_response_from_buffer(r->len, r->text, MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_buffer(r->len, (void *)(uintptr_t)r->data,
						       MHD_RESPMEM_PERSISTENT);
	if(!resp)
		return MHD_NO;
	r->text = NULL; /* the response owns it */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	if(r->cookie[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, r->cookie);
	if(r->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	mid_console_reply_free(r);
	return ret;
}

void mid_console_reply_free(struct mid_console_reply *r)
{
	free(r->text);
	free((void *)(uintptr_t)r->retry_after);
	r->text = NULL;
	r->retry_after = NULL;
}

/* ---- sessions on API routes --------------------------------------------- */

/* 1 when the browser's Origin, if it sent one, is this host. */
static int origin_ok(struct MHD_Connection *conn)
{
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "origin");
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "host");
	const char *rest;

	if(!origin)
		return 1;
	if(!host)
		return 0;
	if(!strncmp(origin, "http://", 7))
		rest = origin + 7;
	else if(!strncmp(origin, "https://", 8))
		rest = origin + 8;
	else
		return 0;
	return !strcasecmp(rest, host);
}

enum mid_rc mid_console_auth(struct mid_console *con, struct MHD_Connection *conn, int change,
			     struct mid_org **org)
{
	const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND,
							 MID_CONSOLE_COOKIE);
	const char *token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							MID_CONSOLE_CSRF_HEADER);
	struct session *s;
	enum mid_rc rc = MID_OK;

	*org = NULL;
	if(!cookie)
		return MID_ERR_NOT_FOUND;
	pthread_mutex_lock(&con->mu);
	s = find(con, cookie);
	if(!s)
		rc = MID_ERR_DENIED;
	else if(change && (!token || strlen(token) != ID_HEX ||
			   !mid_ct_equal(token, s->csrf, ID_HEX) || !origin_ok(conn)))
		rc = MID_ERR_INVAL;
	else
		*org = s->org;
	pthread_mutex_unlock(&con->mu);
	return rc;
}

void mid_console_end_org(struct mid_console *con, struct mid_org *org)
{
	unsigned n = 0;
	size_t i;

	if(!con)
		return;
	pthread_mutex_lock(&con->mu);
	for(i = 0; i < MID_CONSOLE_SESSIONS; i++)
		if(con->s[i].used && con->s[i].org == org) {
			explicit_bzero(&con->s[i], sizeof(con->s[i]));
			n++;
		}
	pthread_mutex_unlock(&con->mu);
	if(n)
		mid_log("console-sessions-ended org=%s sessions=%u reason=key-rotation",
			mid_org_name(org), n);
}

void mid_console_touch(struct mid_console *con)
{
	if(!con)
		return;
	pthread_mutex_lock(&con->mu);
	con->touches++;
	pthread_cond_signal(&con->cv);
	pthread_mutex_unlock(&con->mu);
}

/* ---- long polls ----------------------------------------------------------- */

static void *run(void *arg)
{
	struct mid_console *con = arg;
	struct waiter due[MID_CONSOLE_WAITERS];

	pthread_mutex_lock(&con->mu);
	for(;;) {
		struct timespec ts;
		unsigned i, n = 0, kept = 0;
		uint64_t gen, now;
		int stop;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if(!con->stop)
			pthread_cond_timedwait(&con->cv, &con->mu, &ts);
		gen = generation(con);
		now = now_ms();
		stop = con->stop;
		for(i = 0; i < con->nw; i++) {
			if(stop || con->w[i].gen != gen || now >= con->w[i].deadline_ms)
				due[n++] = con->w[i];
			else
				con->w[kept++] = con->w[i];
		}
		con->nw = kept;
		pthread_mutex_unlock(&con->mu);
		for(i = 0; i < n; i++) {
			struct mid_console_reply r;

			memset(&r, 0, sizeof(r));
			reply_gen(&r, gen);
			due[i].wake(due[i].arg, &r);
		}
		if(stop)
			return NULL;
		pthread_mutex_lock(&con->mu);
	}
}

enum mid_rc mid_console_new(struct mid_service *svc, const struct mid_console_opts *o,
			    struct mid_console **out)
{
	struct mid_console *con = calloc(1, sizeof(*con));
	pthread_condattr_t ca;

	*out = NULL;
	if(!con)
		return MID_ERR_NOMEM;
	con->svc = svc;
	con->o = *o;
	if(!con->o.ttl_s)
		con->o.ttl_s = MID_CONSOLE_TTL_S;
	pthread_mutex_init(&con->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&con->cv, &ca);
	pthread_condattr_destroy(&ca);
	if(pthread_create(&con->tid, NULL, run, con)) {
		mid_console_free(con);
		return MID_ERR_NOMEM;
	}
	con->started = 1;
	*out = con;
	return MID_OK;
}

void mid_console_stop(struct mid_console *con)
{
	if(!con || !con->started)
		return;
	pthread_mutex_lock(&con->mu);
	con->stop = 1;
	pthread_cond_signal(&con->cv);
	pthread_mutex_unlock(&con->mu);
	pthread_join(con->tid, NULL);
	con->started = 0;
}

void mid_console_free(struct mid_console *con)
{
	if(!con)
		return;
	mid_console_stop(con);
	explicit_bzero(con->s, sizeof(con->s));
	pthread_cond_destroy(&con->cv);
	pthread_mutex_destroy(&con->mu);
	free(con);
}
