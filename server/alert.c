/* SPDX-License-Identifier: MIT */
/*
 * Webhook alerts: which audit rows raise one, the event's JSON, its
 * signature, and the delivery thread (see alert.h). Delivery goes through
 * libcurl, as midctl's calls do: the shim's client speaks only the
 * validate protocol to URLs without a path, and a webhook needs https to
 * any host. The thread holds no lock of midd's while a request is in
 * flight, so a slow receiver delays only the alerts behind it.
 */
#define _GNU_SOURCE
#include "alert.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "log.h"
#include "sha256.h"
#include "wire.h"

#define POLL_MS 500 /* how often the queue is looked at when idle */

static const char *const kinds[] = {"revoke", "restore", "remove", "org", "deny", "budget"};

static _Atomic uint64_t st_pending, st_failed, st_delivered, st_errors;

int mid_alert_event(struct mid_audit *q, int64_t org_id, const char *kind, const char *device,
		    const char *code, const char *detail_json)
{
	struct mid_audit_row a;

	memset(&a, 0, sizeof(a));
	if(detail_json && strlen(detail_json) >= sizeof(a.detail))
		return -1;
	a.time_ms = mid_wire_now_ms();
	a.org_id = org_id;
	mid_strlcpy(a.device, device ? device : "", sizeof(a.device));
	mid_strlcpy(a.route, kind, sizeof(a.route));
	mid_strlcpy(a.decision, "alert", sizeof(a.decision));
	mid_strlcpy(a.code, code ? code : "ALERT", sizeof(a.code));
	mid_uuid4(a.request_id);
	mid_strlcpy(a.peer, "midd", sizeof(a.peer));
	mid_strlcpy(a.detail, detail_json ? detail_json : "", sizeof(a.detail));
	return mid_audit_push(q, &a);
}

static int known_kind(const char *k, size_t len)
{
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(kinds); i++)
		if(strlen(kinds[i]) == len && !strncmp(kinds[i], k, len))
			return (int)i;
	return -1;
}

const char *mid_alert_kind(const struct mid_audit_row *a)
{
	int i;

	if(!strcmp(a->route, "report"))
		return "deny";
	if(!strcmp(a->decision, "alert")) {
		i = known_kind(a->route, strlen(a->route));
		return i < 0 ? NULL : kinds[i];
	}
	/* A deny change that waited for the database is written twice: as
	 * itself (PERSIST_PENDING) and as the row saying it became durable. */
	if(strcmp(a->code, "OK") && strcmp(a->code, "PERSIST_PENDING"))
		return NULL;
	if(!strcmp(a->route, "org/disable") || !strcmp(a->route, "org/enable"))
		return "org";
	if(!a->device[0])
		return NULL;
	if(!strcmp(a->decision, "revoked"))
		return "revoke";
	if(!strcmp(a->decision, "removed"))
		return "remove";
	if(!strcmp(a->decision, "active") && strcmp(a->route, "register"))
		return "restore";
	return NULL;
}

int mid_alert_detail(const struct mid_audit_row *a, char *out, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *d = a->detail[0] ? cJSON_Parse(a->detail) : NULL;
	char *s = NULL;
	int ok = 0;

	if(o && cJSON_AddStringToObject(o, "route", a->route) &&
	   cJSON_AddStringToObject(o, "decision", a->decision) &&
	   cJSON_AddStringToObject(o, "code", a->code) &&
	   cJSON_AddStringToObject(o, "request_id", a->request_id) &&
	   cJSON_AddStringToObject(o, "peer", a->peer) &&
	   (!d || cJSON_AddItemToObject(o, "data", d))) {
		d = NULL;
		s = cJSON_PrintUnformatted(o);
	}
	if(s && strlen(s) < n) {
		memcpy(out, s, strlen(s) + 1);
		ok = 1;
	}
	free(s);
	cJSON_Delete(d);
	cJSON_Delete(o);
	return ok;
}

int mid_alert_events_ok(const char *events)
{
	unsigned seen = 0;
	const char *p = events;

	if(!events || !*events || strlen(events) >= MID_ALERT_EVENTS_MAX)
		return 0;
	for(;;) {
		size_t len = strcspn(p, ",");
		int i = known_kind(p, len);

		if(i < 0 || (seen & (1u << i)))
			return 0;
		seen |= 1u << i;
		if(!p[len])
			return 1;
		p += len + 1;
	}
}

/* Whether 'host' (without brackets) is this machine's loopback. */
static int loopback(const char *host)
{
	return !strcmp(host, "localhost") || !strcmp(host, "::1") ||
	       !strncmp(host, "127.", 4);
}

int mid_alert_url_ok(const char *url, char *err, size_t errlen)
{
	char host[256];
	const char *p, *end;
	int https;
	size_t len;

	if(strlen(url) >= MID_ALERT_URL_MAX) {
		snprintf(err, errlen, "the URL is longer than %d bytes", MID_ALERT_URL_MAX - 1);
		return 0;
	}
	for(p = url; *p; p++)
		if((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '#') {
			snprintf(err, errlen, "the URL may not hold spaces, control bytes or '#'");
			return 0;
		}
	https = !strncmp(url, "https://", 8);
	if(!https && strncmp(url, "http://", 7)) {
		snprintf(err, errlen, "the URL must start with https:// (or http:// to a loopback"
			 " address)");
		return 0;
	}
	p = url + (https ? 8 : 7);
	len = strcspn(p, "/?");
	if(memchr(p, '@', len)) {
		snprintf(err, errlen, "the URL may not hold user info (user@host)");
		return 0;
	}
	if(*p == '[') {
		end = memchr(p, ']', len);
		if(!end) {
			snprintf(err, errlen, "the URL's IPv6 host lacks its ']'");
			return 0;
		}
		len = (size_t)(end - p - 1);
		p++;
	} else {
		end = memchr(p, ':', len);
		if(end)
			len = (size_t)(end - p);
	}
	if(len == 0 || len >= sizeof(host)) {
		snprintf(err, errlen, "the URL has no host");
		return 0;
	}
	memcpy(host, p, len);
	host[len] = '\0';
	if(!https && !loopback(host)) {
		snprintf(err, errlen, "plain http:// is only for a loopback receiver (127.0.0.1,"
			 " [::1], localhost): use https:// for %s", host);
		return 0;
	}
	return 1;
}

/* ---- the event as sent ---------------------------------------------------- */

/* The line a chat channel shows for the event. */
static void slack_text(const struct mid_alert_item *it, const cJSON *detail, char *out, size_t n)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(detail, "code");
	const cJSON *peer = cJSON_GetObjectItemCaseSensitive(detail, "peer");
	const cJSON *dec = cJSON_GetObjectItemCaseSensitive(detail, "decision");
	const char *c = cJSON_IsString(code) ? code->valuestring : "";
	const char *w = cJSON_IsString(peer) ? peer->valuestring : "";
	char t[32];

	mid_wire_time(it->time_ms, t);
	if(!strcmp(it->kind, "deny"))
		snprintf(out, n, "midd: %s on device %s of org %s: %s (%s)", c, it->device,
			 it->org, w, t);
	else if(!strcmp(it->kind, "org"))
		snprintf(out, n, "midd: org %s was %s by %s (%s)", it->org,
			 cJSON_IsString(dec) ? dec->valuestring : "changed", w, t);
	else if(it->device[0])
		snprintf(out, n, "midd: %s of device %s in org %s (%s, by %s, %s)", it->kind,
			 it->device, it->org, c, w, t);
	else
		snprintf(out, n, "midd: %s in org %s (%s, %s)", it->kind, it->org, c, t);
}

char *mid_alert_body(const struct mid_alert_item *it)
{
	cJSON *o = cJSON_CreateObject(), *d = cJSON_Parse(it->detail);
	char t[32], text[MID_ALERT_DETAIL_MAX];
	char *s = NULL;

	if(!d)
		d = cJSON_CreateObject();
	mid_wire_time(it->time_ms, t);
	if(!strcmp(it->format, "slack")) {
		slack_text(it, d, text, sizeof(text));
		if(o && cJSON_AddStringToObject(o, "text", text))
			s = cJSON_PrintUnformatted(o);
		goto out;
	}
	if(o && d && cJSON_AddStringToObject(o, "event_id", it->event_id) &&
	   cJSON_AddStringToObject(o, "kind", it->kind) &&
	   cJSON_AddStringToObject(o, "org", it->org) &&
	   (it->device[0] ? cJSON_AddStringToObject(o, "device", it->device) :
			    cJSON_AddNullToObject(o, "device")) &&
	   cJSON_AddStringToObject(o, "time", t) &&
	   cJSON_AddNumberToObject(o, "attempt", it->attempts + 1) &&
	   cJSON_AddItemToObject(o, "detail", d)) {
		d = NULL;
		s = cJSON_PrintUnformatted(o);
	}
out:
	cJSON_Delete(d);
	cJSON_Delete(o);
	return s;
}

void mid_alert_sign(const char *secret, const char *body, size_t len, char out[72])
{
	unsigned char mac[MID_SHA256_LEN];
	struct mid_hmac h;

	mid_hmac_init(&h, secret, strlen(secret));
	mid_hmac_update(&h, body, len);
	mid_hmac_final(&h, mac);
	memcpy(out, "sha256=", 7);
	mid_hex(mac, sizeof(mac), out + 7);
	explicit_bzero(&h, sizeof(h));
}

/* ---- delivery ------------------------------------------------------------ */

struct mid_alert {
	struct mid_store *db;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	CURL *curl;
	/* The events of one claim, delivered after it. */
	struct mid_alert_item *items;
	size_t n;
};

/* Read at most MID_ALERT_REPLY_MAX bytes of the answer, then stop:
 * nothing in it is needed but its status. */
static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t *got = arg;

	(void)p;
	*got += size * nmemb;
	return *got > MID_ALERT_REPLY_MAX ? 0 : size * nmemb;
}

/* Post 'it' once; 0 when a 2xx came back, else -1 with 'err' set. */
static int post(struct mid_alert *al, const struct mid_alert_item *it, char *err, size_t errlen)
{
	char sig[72], hsig[96], hid[64], why[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL, *t;
	char *body = mid_alert_body(it);
	size_t got = 0;
	long status = 0;
	CURLcode cc;
	int ret = -1;

	if(!body) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mid_alert_sign(it->secret, body, strlen(body), sig);
	snprintf(hsig, sizeof(hsig), "X-Midd-Signature: %s", sig);
	snprintf(hid, sizeof(hid), "X-Midd-Event-Id: %s", it->event_id);
	t = curl_slist_append(h, "Content-Type: application/json");
	h = t ? t : h;
	t = t ? curl_slist_append(h, hsig) : NULL;
	h = t ? t : h;
	t = t ? curl_slist_append(h, hid) : NULL;
	h = t ? t : h;
	t = t ? curl_slist_append(h, "Expect:") : NULL;
	if(!t) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	curl_easy_reset(al->curl);
	curl_easy_setopt(al->curl, CURLOPT_URL, it->url);
	curl_easy_setopt(al->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(al->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(al->curl, CURLOPT_TIMEOUT_MS, (long)MID_ALERT_TIMEOUT_MS);
	curl_easy_setopt(al->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MID_ALERT_TIMEOUT_MS);
	curl_easy_setopt(al->curl, CURLOPT_PROXY, "");
	curl_easy_setopt(al->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(al->curl, CURLOPT_USERAGENT, "midd-alerts");
	curl_easy_setopt(al->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(al->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(al->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(al->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(al->curl, CURLOPT_WRITEDATA, &got);
	curl_easy_setopt(al->curl, CURLOPT_ERRORBUFFER, why);
	cc = curl_easy_perform(al->curl);
	curl_easy_getinfo(al->curl, CURLINFO_RESPONSE_CODE, &status);
	if(cc == CURLE_WRITE_ERROR && got > MID_ALERT_REPLY_MAX && status / 100 == 2)
		cc = CURLE_OK; /* a long answer to a good post: delivered */
	if(cc != CURLE_OK)
		snprintf(err, errlen, "%s", why[0] ? why : curl_easy_strerror(cc));
	else if(status / 100 != 2)
		snprintf(err, errlen, "the receiver answered HTTP %ld", status);
	else
		ret = 0;
	curl_easy_setopt(al->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(al->curl, CURLOPT_HTTPHEADER, NULL);
out:
	curl_slist_free_all(h);
	free(body);
	return ret;
}

/* The wait before try 'attempts' + 2, after 'attempts' + 1 have failed. */
static int64_t backoff_ms(unsigned attempts)
{
	int64_t ms = MID_ALERT_BACKOFF_MS;

	while(attempts-- && ms < MID_ALERT_BACKOFF_MAX_MS)
		ms *= 2;
	return ms > MID_ALERT_BACKOFF_MAX_MS ? MID_ALERT_BACKOFF_MAX_MS : ms;
}

static void deliver(struct mid_alert *al, const struct mid_alert_item *it)
{
	enum mid_alert_outcome out = MID_ALERT_DELIVERED;
	char err[MID_ALERT_ERROR_MAX] = "";
	int64_t now, next = 0;

	if(post(al, it, err, sizeof(err))) {
		atomic_fetch_add(&st_errors, 1);
		out = it->attempts + 1 >= MID_ALERT_TRIES ? MID_ALERT_FAILED : MID_ALERT_RETRY;
	} else {
		atomic_fetch_add(&st_delivered, 1);
	}
	now = mid_wire_now_ms();
	if(out == MID_ALERT_RETRY)
		next = now + backoff_ms(it->attempts);
	if(out == MID_ALERT_FAILED)
		mid_log("alert-failed hook=%lld event_id=%s kind=%s tries=%u error=\"%s\"",
			(long long)it->hook_id, it->event_id, it->kind, it->attempts + 1, err);
	else if(out == MID_ALERT_RETRY && it->attempts == 0)
		mid_log("alert-retry hook=%lld event_id=%s kind=%s error=\"%s\"",
			(long long)it->hook_id, it->event_id, it->kind, err);
	/* A result that cannot be written leaves the lease to run out: the
	 * event is tried again, at least once stays true. */
	if(mid_store_alert_result(al->db, it, out, now, next, err))
		mid_log("alert: cannot record the outcome of event_id=%s", it->event_id);
}

static void take(const struct mid_alert_item *it, void *arg)
{
	struct mid_alert *al = arg;

	al->items[al->n++] = *it;
}

/* Wait 'ms' or until stopped; 1 when stopped. */
static int nap(struct mid_alert *al, unsigned ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if(ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&al->mu);
	while(!al->stop && pthread_cond_timedwait(&al->cv, &al->mu, &ts) == 0)
		;
	stop = al->stop;
	pthread_mutex_unlock(&al->mu);
	return stop;
}

static int stopped(struct mid_alert *al)
{
	int stop;

	pthread_mutex_lock(&al->mu);
	stop = al->stop;
	pthread_mutex_unlock(&al->mu);
	return stop;
}

static void *run(void *arg)
{
	struct mid_alert *al = arg;
	uint64_t pending, failed;
	size_t i;

	do {
		if(mid_store_alert_depth(al->db, &pending, &failed) == MID_OK) {
			atomic_store(&st_pending, pending);
			atomic_store(&st_failed, failed);
		}
		al->n = 0;
		if(mid_store_alert_claim(al->db, mid_wire_now_ms(), MID_ALERT_LEASE_MS,
					 MID_ALERT_BATCH, take, al))
			continue;
		for(i = 0; i < al->n && !stopped(al); i++)
			deliver(al, &al->items[i]);
		/* A full batch: more may be due at once. */
	} while(!(al->n == MID_ALERT_BATCH ? stopped(al) : nap(al, POLL_MS)));
	return NULL;
}

enum mid_rc mid_alert_start(struct mid_store *db, struct mid_alert **out, char *err,
			    size_t errlen)
{
	struct mid_alert *al = calloc(1, sizeof(*al));
	pthread_condattr_t ca;

	*out = NULL;
	if(!al)
		return MID_ERR_NOMEM;
	al->db = db;
	/* Before any thread of libcurl's own use, once per process. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	al->items = calloc(MID_ALERT_BATCH, sizeof(*al->items));
	al->curl = curl_easy_init();
	if(!al->items || !al->curl) {
		snprintf(err, errlen, "cannot start alert delivery: out of memory");
		goto fail;
	}
	pthread_mutex_init(&al->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&al->cv, &ca);
	pthread_condattr_destroy(&ca);
	if(pthread_create(&al->tid, NULL, run, al)) {
		snprintf(err, errlen, "cannot start the alert delivery thread");
		pthread_cond_destroy(&al->cv);
		pthread_mutex_destroy(&al->mu);
		goto fail;
	}
	*out = al;
	return MID_OK;
fail:
	curl_easy_cleanup(al->curl);
	free(al->items);
	free(al);
	return MID_ERR_NOMEM;
}

void mid_alert_stop(struct mid_alert *al)
{
	if(!al)
		return;
	pthread_mutex_lock(&al->mu);
	al->stop = 1;
	pthread_cond_signal(&al->cv);
	pthread_mutex_unlock(&al->mu);
	pthread_join(al->tid, NULL);
	pthread_cond_destroy(&al->cv);
	pthread_mutex_destroy(&al->mu);
	curl_easy_cleanup(al->curl);
	explicit_bzero(al->items, MID_ALERT_BATCH * sizeof(*al->items));
	free(al->items);
	free(al);
}

void mid_alert_stats(struct mid_alert_stats *st)
{
	st->pending = atomic_load(&st_pending);
	st->failed = atomic_load(&st_failed);
	st->delivered_total = atomic_load(&st_delivered);
	st->attempt_errors_total = atomic_load(&st_errors);
}
