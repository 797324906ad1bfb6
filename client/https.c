/* SPDX-License-Identifier: MIT */
/*
 * https:// for the control-plane client, served by libcurl. libcurl is
 * loaded with dlopen only when an https URL is configured: a preload
 * merely linked against it slows every exec of a gated program several
 * times and drags OpenSSL into programs that may carry their own. Its
 * status and body go through the same decision mapping as the plain
 * transport, with the same cap and the same one deadline per call.
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Only types and constants come from the header; every call goes
 * through the pointers below, so nothing links against libcurl. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

_Static_assert(MID_DETAIL_MAX >= CURL_ERROR_SIZE,
               "detail doubles as libcurl's error buffer");

MID_STATIC const char *mid_https_soname = "libcurl.so.4";

struct curl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLcode (*easy_send)(CURL *, const void *, size_t, size_t *);
	CURLcode (*easy_recv)(CURL *, void *, size_t, size_t *);
};

static struct curl_api api;
static const char *loaded; /* the soname 'api' came from */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

enum mid_rc mid_https_load(char *err, size_t errlen)
{
	static const char *const names[] = {
	    "curl_easy_init",      "curl_easy_setopt",  "curl_easy_perform",
	    "curl_easy_getinfo",   "curl_easy_cleanup", "curl_slist_append",
	    "curl_slist_free_all", "curl_easy_send",    "curl_easy_recv",
	};
	struct curl_api a;
	void **slots[] = {
	    (void **)&a.easy_init,      (void **)&a.easy_setopt,
	    (void **)&a.easy_perform,   (void **)&a.easy_getinfo,
	    (void **)&a.easy_cleanup,   (void **)&a.slist_append,
	    (void **)&a.slist_free_all, (void **)&a.easy_send,
	    (void **)&a.easy_recv,
	};
	enum mid_rc rc = MID_OK;
	void *h;
	size_t i;

	pthread_mutex_lock(&load_lock);
	if(loaded && loaded == mid_https_soname)
		goto out;
	h = dlopen(mid_https_soname, RTLD_NOW | RTLD_LOCAL);
	if(!h) {
		snprintf(err, errlen,
		         "https:// needs libcurl, which cannot be loaded (%s); install "
		         "libcurl4, "
		         "or use http:// or unix:",
		         dlerror());
		rc = MID_ERR_UNREACHABLE;
		goto out;
	}
	for(i = 0; i < MID_ARRAY_LEN(names); i++) {
		*slots[i] = dlsym(h, names[i]);
		if(!*slots[i]) {
			snprintf(
			    err, errlen,
			    "%s has no %s; install libcurl4, or use http:// or unix:",
			    mid_https_soname, names[i]);
			dlclose(h);
			rc = MID_ERR_UNREACHABLE;
			goto out;
		}
	}
	/* Published whole, so a failed load leaves a working one alone. */
	api = a;
	loaded = mid_https_soname;
out:
	pthread_mutex_unlock(&load_lock);
	return rc;
}

/* The reply is capped as a whole, headers included. */
static size_t on_head(char *p, size_t size, size_t n, void *ud)
{
	struct mid_client *c = ud;

	(void)p;
	if(size * n > MID_REPLY_MAX - c->curl_head - c->rlen) {
		c->curl_big = 1;
		return 0;
	}
	c->curl_head += size * n;
	return size * n;
}

/* Header bytes are counted, not kept: the body starts at rbuf. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct mid_client *c = ud;

	if(size * n > MID_REPLY_MAX - c->curl_head - c->rlen) {
		c->curl_big = 1;
		return 0;
	}
	memcpy(c->rbuf + c->rlen, p, size * n);
	c->rlen += size * n;
	return size * n;
}

/* Sockets are made close-on-exec, so a gated program's child never
 * inherits the control-plane connection. */
static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct mid_client *c = ud;
	int fd;

	(void)purpose;
	fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if(fd >= 0 && c) {
		c->curl_fd = fd;
		c->connects++;
	}
	return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

static int on_close(void *ud, curl_socket_t fd)
{
	struct mid_client *c = ud;

	if(fd == c->curl_fd)
		c->curl_fd = -1;
	return close(fd);
}

void mid_https_close(struct mid_client *c, int forget)
{
	struct curl_slist *s;

	if(!c || !c->curl)
		return;
	if(forget && c->curl_fd >= 0) {
		/* After fork: the child's copy goes first, so libcurl's
		 * cleanup (a TLS close_notify) can reach nothing but EBADF. */
		close(c->curl_fd);
		c->curl_fd = -1;
	}
	api.easy_cleanup(c->curl);
	for(s = c->curl_hdrs; s; s = s->next)
		if(s->data)
			explicit_bzero(s->data, strlen(s->data));
	api.slist_free_all(c->curl_hdrs);
	c->curl = NULL;
	c->curl_hdrs = NULL;
	c->curl_fd = -1;
	c->curl_call = -1;
}

#define URL_MAX (sizeof(((struct mid_client *)0)->url.host) + 48)

/* The URL of 'path' on the control plane 'c' uses; 'out' holds URL_MAX. */
static void base_url(const struct mid_client *c, char *out, const char *path)
{
	snprintf(out, URL_MAX, "https://%s%s%s:%s%s", c->url.bracket ? "[" : "", c->url.host,
	         c->url.bracket ? "]" : "", c->url.port, path);
}

/* A handle with everything that does not change between calls. */
static enum mid_rc handle(struct mid_client *c)
{
	char line[MID_KEY_MAX + 16];
	struct curl_slist *h = NULL, *t;
	CURL *e;

	if(!loaded)
		return MID_ERR_UNREACHABLE;
	e = api.easy_init();
	if(!e)
		return MID_ERR_NOMEM;
	snprintf(line, sizeof(line), "x-org-key: %s", c->key);
	t = api.slist_append(h, line);
	explicit_bzero(line, sizeof(line));
	if(t)
		t = api.slist_append(h = t, "Content-Type: application/json");
	if(t)
		t = api.slist_append(h = t, "Expect:");
	if(!t) {
		api.slist_free_all(h);
		api.easy_cleanup(e);
		return MID_ERR_NOMEM;
	}
	c->curl = e;
	c->curl_hdrs = t;
	api.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(e, CURLOPT_PROXY,
	                ""); /* the plain transport ignores proxies too */
	api.easy_setopt(e, CURLOPT_HTTPHEADER, t);
	api.easy_setopt(e, CURLOPT_ERRORBUFFER, c->detail);
	api.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_head);
	api.easy_setopt(e, CURLOPT_HEADERDATA, c);
	api.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	api.easy_setopt(e, CURLOPT_WRITEDATA, c);
	api.easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
	api.easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	api.easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close);
	api.easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
	api.easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)MID_REPLY_MAX);
	if(c->ca_file[0])
		api.easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	return MID_OK;
}

static enum mid_rc fault_for(CURLcode res, struct mid_client *c, struct mid_decision *d)
{
	switch(res) {
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if(c->curl_big || res == CURLE_FILESIZE_EXCEEDED)
			return mid_reply_fault(d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
		return mid_reply_fault(d, MID_ERR_IO, MID_CODE_IO);
	case CURLE_OPERATION_TIMEDOUT:
		return mid_reply_fault(d, MID_ERR_TIMEOUT, MID_CODE_TIMEOUT);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		/* No verified peer is no control plane. */
		return mid_reply_fault(d, MID_ERR_UNREACHABLE, MID_CODE_UNREACHABLE);
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return mid_reply_fault(d, MID_ERR_IO, MID_CODE_TRUNCATED);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return mid_reply_fault(d, MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
	default:
		return mid_reply_fault(d, MID_ERR_IO, MID_CODE_IO);
	}
}

enum mid_rc mid_https_call(struct mid_client *c, uint64_t deadline,
                           struct mid_decision *d)
{
	uint64_t now = mid_now_ms();
	long status = 0;
	CURLcode res;
	enum mid_rc rc;

	if(!c->curl) {
		rc = handle(c);
		if(rc) {
			snprintf(c->detail, sizeof(c->detail), "libcurl is not usable");
			return mid_reply_fault(
			    d, rc,
			    rc == MID_ERR_NOMEM ? MID_CODE_IO : MID_CODE_UNREACHABLE);
		}
	}
	if(now >= deadline)
		return mid_reply_fault(d, MID_ERR_TIMEOUT, MID_CODE_TIMEOUT);
	if(c->curl_call != (int)c->req_call) {
		char url[URL_MAX];

		base_url(c, url, c->req_call == MID_CALL_VALIDATE ? "/api/v1/devices/validate"
		                                                  : "/api/v1/devices/register");
		if(api.easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK)
			return mid_reply_fault(d, MID_ERR_NOMEM, MID_CODE_IO);
		c->curl_call = (int)c->req_call;
	}
	api.easy_setopt(c->curl, CURLOPT_POSTFIELDS, c->req + c->body_off);
	api.easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)(c->req_len - c->body_off));
	api.easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)(deadline - now));
	c->rlen = 0;
	c->curl_head = 0;
	c->curl_big = 0;
	res = api.easy_perform(c->curl);
	if(res == CURLE_OK) {
		curl_socket_t fd = CURL_SOCKET_BAD;

		if(api.easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK)
			c->curl_fd = fd == CURL_SOCKET_BAD ? -1 : (int)fd;
		api.easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		c->detail[0] = '\0';
		return mid_reply_decide(c->req_call, (int)status, c->rbuf, c->rlen, d);
	}
	return fault_for(res, c, d);
}

/*
 * The push channel over TLS. midd speaks plain HTTP; a TLS terminator in
 * front of it passes the upgraded channel through as it passes a reply.
 * The session is libcurl's (CURLOPT_CONNECT_ONLY), opened and verified
 * as a validate's is, then driven with curl_easy_send and curl_easy_recv
 * on the socket the launcher polls. A TLS record need not carry channel
 * data (a TLS 1.3 session ticket comes after the handshake, at a time of
 * the server's choosing): the socket turns readable and curl_easy_recv
 * answers CURLE_AGAIN, which is nothing, never a kill. Only a whole line
 * "kill ..." is one, or the start of one cut short by the close.
 */

/* A record carries at most 16 KiB of data. The buffer always has room
 * for a whole one, so a read leaves nothing inside OpenSSL that poll on
 * the socket would not announce. */
#define TLS_RECORD_MAX 16384
#define CHAN_HEAD_MAX 1024 /* midd's 101 answer is a few lines */

struct mid_tls_chan {
	CURL *curl;
	int fd;
	int eof;    /* the session ended after what 'buf' holds */
	size_t len; /* bytes in 'buf' not yet taken */
	char buf[2 * TLS_RECORD_MAX];
};

int mid_tls_chan_fd(const struct mid_tls_chan *ch)
{
	return ch ? ch->fd : -1;
}

void mid_tls_chan_free(struct mid_tls_chan *ch)
{
	if(!ch)
		return;
	if(ch->curl)
		api.easy_cleanup(ch->curl);
	free(ch);
}

/* Take what the session holds into 'buf' without blocking: 1 when bytes
 * came, else 0. A close or a failure sets 'eof'. */
static int fill(struct mid_tls_chan *ch)
{
	int got = 0;

	while(!ch->eof && ch->len <= TLS_RECORD_MAX) {
		size_t n = 0;
		CURLcode res = api.easy_recv(ch->curl, ch->buf + ch->len,
		                             sizeof(ch->buf) - ch->len, &n);

		if(res == CURLE_AGAIN)
			break;
		if(res != CURLE_OK || n == 0) {
			ch->eof = 1; /* close_notify, or a cut without one */
		} else {
			ch->len += n;
			got = 1;
		}
	}
	return got;
}

/* Drop the first 'n' bytes of 'buf'. */
static void take(struct mid_tls_chan *ch, size_t n)
{
	memmove(ch->buf, ch->buf + n, ch->len - n);
	ch->len -= n;
}

static int kill_line(const char *p, size_t len, char *line, size_t n)
{
	if(len < 5 || strncmp(p, "kill ", 5))
		return 0;
	if(len > n - 1)
		len = n - 1;
	memcpy(line, p, len);
	line[len] = '\0';
	return 1;
}

int mid_tls_chan_recv(struct mid_tls_chan *ch, char *line, size_t n)
{
	char *nl;

	fill(ch);
	while((nl = memchr(ch->buf, '\n', ch->len))) {
		size_t ll = (size_t)(nl - ch->buf);
		int k = kill_line(ch->buf, ll, line, n);

		take(ch, ll + 1);
		if(k)
			return 1;
	}
	if(ch->eof) {
		/* As on the plain socket, where a kill is the bytes "kill "
		 * whether or not the line ends before the close. */
		if(kill_line(ch->buf, ch->len, line, n))
			return 1;
		return -1;
	}
	if(ch->len > TLS_RECORD_MAX)
		ch->len = 0; /* no line in a record's worth: not midd's */
	return 0;
}

/* Read midd's answer to the upgrade; what follows its head stays in
 * 'buf' as channel data. */
static enum mid_rc read_head(struct mid_client *c, struct mid_tls_chan *ch, uint64_t deadline)
{
	for(;;) {
		int got = fill(ch);
		char *end = memmem(ch->buf, ch->len, "\r\n\r\n", 4);

		if(end) {
			size_t hl = (size_t)(end + 4 - ch->buf);

			if(strncmp(ch->buf, MID_CHAN_SWITCHED, strlen(MID_CHAN_SWITCHED))) {
				size_t sl = strcspn(ch->buf, "\r\n");

				snprintf(c->detail, sizeof(c->detail), "push channel refused: %.*s",
				         (int)(sl > 80 ? 80 : sl), ch->buf);
				return MID_ERR_HTTP;
			}
			take(ch, hl);
			return MID_OK;
		}
		if(ch->len > CHAN_HEAD_MAX)
			return MID_ERR_TOO_BIG;
		if(ch->eof)
			return MID_ERR_IO;
		if(!got) {
			enum mid_rc rc = mid_client_wait_fd(ch->fd, POLLIN, deadline);

			if(rc)
				return rc;
		}
	}
}

/* Send all of 'req' on the session, by 'deadline'. */
static enum mid_rc send_all(struct mid_tls_chan *ch, const char *req, size_t len,
                            uint64_t deadline)
{
	size_t off = 0;

	while(off < len) {
		size_t n = 0;
		CURLcode res = api.easy_send(ch->curl, req + off, len - off, &n);
		enum mid_rc rc = MID_OK;

		if(res == CURLE_OK)
			off += n;
		else if(res == CURLE_AGAIN)
			rc = mid_client_wait_fd(ch->fd, POLLOUT, deadline);
		else
			rc = MID_ERR_IO;
		if(rc)
			return rc;
	}
	return MID_OK;
}

/* The TLS session: connected and verified, its socket in 'fd'. */
static enum mid_rc tls_connect(struct mid_client *c, struct mid_tls_chan *ch)
{
	curl_socket_t sock = CURL_SOCKET_BAD;
	struct mid_decision d;
	char url[URL_MAX];
	CURLcode res;

	ch->curl = api.easy_init();
	if(!ch->curl)
		return MID_ERR_NOMEM;
	base_url(c, url, "/");
	api.easy_setopt(ch->curl, CURLOPT_URL, url);
	api.easy_setopt(ch->curl, CURLOPT_CONNECT_ONLY, 1L);
	/* ALPN offers http/1.1 only: a terminator that also serves h2
	 * must not pick it for bytes that are HTTP/1.1. */
	api.easy_setopt(ch->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	api.easy_setopt(ch->curl, CURLOPT_NOSIGNAL, 1L);
	api.easy_setopt(ch->curl, CURLOPT_PROXY, "");
	api.easy_setopt(ch->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	api.easy_setopt(ch->curl, CURLOPT_ERRORBUFFER, c->detail);
	api.easy_setopt(ch->curl, CURLOPT_OPENSOCKETFUNCTION, on_open);
	api.easy_setopt(ch->curl, CURLOPT_OPENSOCKETDATA, NULL);
	if(c->ca_file[0])
		api.easy_setopt(ch->curl, CURLOPT_CAINFO, c->ca_file);
	c->detail[0] = '\0';
	res = api.easy_perform(ch->curl);
	/* The client's buffer must not be written by this handle later. */
	api.easy_setopt(ch->curl, CURLOPT_ERRORBUFFER, NULL);
	if(res != CURLE_OK)
		return fault_for(res, c, &d);
	if(api.easy_getinfo(ch->curl, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
	   sock == CURL_SOCKET_BAD)
		return MID_ERR_IO;
	ch->fd = (int)sock;
	return MID_OK;
}

enum mid_rc mid_client_channel_tls(struct mid_client *c, const char *device, const char *hello,
                                   struct mid_tls_chan **out)
{
	char req[MID_REQUEST_MAX];
	struct mid_tls_chan *ch = NULL;
	uint64_t deadline;
	enum mid_rc rc;
	int len = 0;

	*out = NULL;
	if(!c || c->url.scheme != MID_SCHEME_HTTPS)
		return MID_ERR_INVAL;
	if(!loaded)
		return MID_ERR_UNREACHABLE;
	rc = mid_client_chan_request(c, device, hello, req, sizeof(req), &len);
	if(rc)
		return rc;
	deadline = mid_now_ms() + (uint64_t)c->timeout_ms;
	ch = calloc(1, sizeof(*ch));
	if(!ch) {
		rc = MID_ERR_NOMEM;
		goto out;
	}
	ch->fd = -1;
	rc = tls_connect(c, ch);
	if(!rc)
		rc = send_all(ch, req, (size_t)len, deadline);
	if(!rc)
		rc = read_head(c, ch, deadline);
out:
	explicit_bzero(req, sizeof(req));
	if(rc)
		mid_tls_chan_free(ch);
	else
		*out = ch;
	return rc;
}
