/* SPDX-License-Identifier: MIT */
/*
 * midctl's HTTP helper: one libcurl easy handle, reused so that the
 * console keeps its connection, pointed at midd over TCP, TLS or a unix
 * socket. A reply is read into a buffer capped at MID_CTL_REPLY_MAX and
 * parsed as JSON; a transport failure comes back as one line that names
 * the URL, never the key. With several URLs (replicas of one control
 * plane) a call that cannot connect, or that a replica answers with 503,
 * is tried on the next, within the one timeout.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "mid_url.h"
#include "midctl.h"

#define SOCK_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* One control plane of the list. */
struct endpoint {
	char url[MID_URL_MAX];  /* for messages */
	char base[MID_URL_MAX]; /* every request URL starts with this */
	char sock[SOCK_MAX];    /* unix socket path, or "" */
	bool direct;            /* loopback or socket: never via a proxy */
};

struct mid_ctl_http {
	CURL *curl;
	struct endpoint ep[MID_URLS_MAX];
	size_t n, at; /* 'at': the one that answered last */
	char header[MID_KEY_MAX + 32];
	long timeout_ms;
};

struct sink {
	char *buf;
	size_t len, cap;
	bool toobig, nomem;
};

/* libcurl hands the body over in pieces; stop it at the cap rather than
 * let a runaway server grow our memory. */
static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;

	if(add > MID_CTL_REPLY_MAX - s->len) {
		s->toobig = true;
		return 0;
	}
	if(s->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while(cap < s->len + add + 1)
			cap *= 2;
		if(cap > MID_CTL_REPLY_MAX + 1)
			cap = MID_CTL_REPLY_MAX + 1;
		nb = realloc(s->buf, cap);
		if(!nb) {
			s->nomem = true;
			return 0;
		}
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

static bool loopback_host(const char *host)
{
	return !strcasecmp(host, "localhost") || MID_HAS_PREFIX(host, "127.") ||
	       !strcmp(host, "::1");
}

/* The URLs are read by the same parser as the shim's (common/mid_url.c);
 * libcurl gets each back in a canonical form. */
static enum mid_rc parse_url(struct mid_ctl_http *h, const char *url, char *err,
			     size_t errlen)
{
	struct mid_url u[MID_URLS_MAX];
	enum mid_rc rc;
	size_t i;

	if(strlen(url) >= MID_URL_MAX) {
		snprintf(err, errlen, "URL is longer than %d bytes", MID_URL_MAX - 1);
		return MID_ERR_INVAL;
	}
	rc = mid_url_parse_list(url, u, &h->n, err, errlen);
	if(rc)
		return rc;
	for(i = 0; i < h->n; i++) {
		struct endpoint *e = &h->ep[i];

		mid_url_format(&u[i], e->url, sizeof(e->url));
		if(u[i].scheme == MID_SCHEME_UNIX) {
			mid_strlcpy(e->sock, u[i].path, sizeof(e->sock));
			/* The host part is only what the Host header says. */
			mid_strlcpy(e->base, "http://localhost", sizeof(e->base));
			e->direct = true;
			continue;
		}
		mid_strlcpy(e->base, e->url, sizeof(e->base));
		e->direct = loopback_host(u[i].host);
	}
	return MID_OK;
}

enum mid_rc mid_ctl_http_new(const char *url, const char *key_hdr, const char *key,
			     long timeout_ms, struct mid_ctl_http **out, char *err,
			     size_t errlen)
{
	struct mid_ctl_http *h = NULL;
	enum mid_rc rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if(!h) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	h->timeout_ms = timeout_ms;
	rc = parse_url(h, url, err, errlen);
	if(rc)
		goto out;
	if((size_t)snprintf(h->header, sizeof(h->header), "%s: %s", key_hdr, key) >=
	   sizeof(h->header)) {
		snprintf(err, errlen, "key is longer than %d bytes", MID_KEY_MAX);
		rc = MID_ERR_INVAL;
		goto out;
	}
	h->curl = curl_easy_init();
	if(!h->curl) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	*out = h;
	h = NULL;
out:
	if(rc == MID_ERR_NOMEM)
		snprintf(err, errlen, "out of memory");
	mid_ctl_http_free(h);
	return rc;
}

void mid_ctl_http_free(struct mid_ctl_http *h)
{
	if(!h)
		return;
	if(h->curl)
		curl_easy_cleanup(h->curl);
	explicit_bzero(h->header, sizeof(h->header));
	free(h);
}

char *mid_ctl_http_escape(struct mid_ctl_http *h, const char *s)
{
	char *e = curl_easy_escape(h->curl, s, 0);
	char *copy = e ? strdup(e) : NULL;

	curl_free(e);
	return copy;
}

void mid_ctl_reply_cleanup(struct mid_ctl_reply *r)
{
	free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

/* Wipe our copy of the key header inside libcurl's list before freeing. */
static void free_headers(struct curl_slist *l)
{
	struct curl_slist *i;

	for(i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *h, bool *ok)
{
	struct curl_slist *n = curl_slist_append(l, h);

	if(!n) {
		*ok = false;
		return l;
	}
	return n;
}

static enum mid_rc transport_error(const struct mid_ctl_http *h, CURLcode cc,
				   const struct sink *s, const char *why, char *err,
				   size_t errlen)
{
	const struct endpoint *e = &h->ep[h->at];
	const char *what = why[0] ? why : curl_easy_strerror(cc);
	long oserr = 0;

	/* libcurl words a unix socket failure as "localhost port 80": the
	 * system's reason names the real problem (no such file, refused). */
	if(e->sock[0] && cc == CURLE_COULDNT_CONNECT &&
	   curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK && oserr)
		what = strerror((int)oserr);

	switch(cc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen,
			 "midd at %s did not answer within %ld ms; is midd running? "
			 "(check --url or MIDSHIM_URL, or raise --timeout-ms)",
			 e->url, h->timeout_ms);
		return MID_ERR_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		snprintf(err, errlen,
			 "cannot reach midd at %s: %s; is midd running? (check --url or "
			 "MIDSHIM_URL)", e->url, what);
		return MID_ERR_UNREACHABLE;
	case CURLE_WRITE_ERROR:
		if(s->toobig) {
			snprintf(err, errlen, "reply from midd at %s is larger than %d bytes",
				 e->url, MID_CTL_REPLY_MAX);
			return MID_ERR_TOO_BIG;
		}
		if(s->nomem) {
			snprintf(err, errlen, "out of memory reading the reply from %s", e->url);
			return MID_ERR_NOMEM;
		}
		break;
	default:
		break;
	}
	snprintf(err, errlen, "request to midd at %s failed: %s", e->url, what);
	return MID_ERR_PROTOCOL;
}

/* One try at the endpoint 'h->at', bounded by 'timeout_ms'. */
static enum mid_rc call_one(struct mid_ctl_http *h, const char *method, const char *path,
			    const char *body, long timeout_ms, struct mid_ctl_reply *r, char *err,
			    size_t errlen)
{
	const struct endpoint *e = &h->ep[h->at];
	char url[MID_URL_MAX * 2], why[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	struct sink s = {0};
	bool post = !strcmp(method, "POST"), ok = true;
	enum mid_rc rc = MID_OK;
	CURLcode cc;
	CURL *c = h->curl;

	memset(r, 0, sizeof(*r));
	if((size_t)snprintf(url, sizeof(url), "%s%s", e->base, path) >= sizeof(url)) {
		snprintf(err, errlen, "request URL is too long");
		rc = MID_ERR_TOO_BIG;
		goto out;
	}
	hdrs = add_header(hdrs, h->header, &ok);
	hdrs = add_header(hdrs, "accept: application/json", &ok);
	if(post)
		hdrs = add_header(hdrs, "content-type: application/json", &ok);
	if(!ok) {
		snprintf(err, errlen, "out of memory");
		rc = MID_ERR_NOMEM;
		goto out;
	}
	/* A reset keeps the connection cache: the console stays connected. */
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "midctl");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if(e->sock[0])
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	/* A proxy from the environment must not see a loopback control
	 * plane's traffic, or its key. */
	if(e->direct)
		curl_easy_setopt(c, CURLOPT_PROXY, "");
	if(post) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(c);
	/* The error buffer and the header list die with this frame. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if(cc != CURLE_OK) {
		rc = transport_error(h, cc, &s, why, err, errlen);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if(!s.buf) {
		s.buf = strdup("");
		if(!s.buf) {
			snprintf(err, errlen, "out of memory");
			rc = MID_ERR_NOMEM;
			goto out;
		}
	}
	r->body = s.buf;
	r->len = s.len;
	r->json = cJSON_ParseWithLength(s.buf, s.len);
	s.buf = NULL;
out:
	free(s.buf);
	free_headers(hdrs);
	return rc;
}

enum mid_rc mid_ctl_http_call(struct mid_ctl_http *h, const char *method, const char *path,
			      const char *body, struct mid_ctl_reply *r, char *err, size_t errlen)
{
	uint64_t deadline = mid_now_ms() + (uint64_t)h->timeout_ms;
	size_t k, pref = h->at;
	enum mid_rc rc = MID_ERR_TIMEOUT;

	/* The one that answered last, then the others in list order. */
	for(k = 0; k < h->n; k++) {
		uint64_t now = mid_now_ms();

		if(now >= deadline)
			break;
		h->at = k == 0 ? pref : k <= pref ? k - 1 : k;
		rc = call_one(h, method, path, body, (long)(deadline - now), r, err, errlen);
		if(k + 1 == h->n || !(rc == MID_ERR_UNREACHABLE || (rc == MID_OK && r->status == 503)))
			break;
		mid_ctl_reply_cleanup(r);
	}
	return rc;
}
