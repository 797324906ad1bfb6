/* SPDX-License-Identifier: MIT */
/*
 * A load generator for midd's validate: C kept-alive connections, each
 * with one request in flight, driven by T threads with epoll for a fixed
 * number of seconds. It counts whole replies by status; only 200s count
 * towards the rate.
 *
 *   loadgen URL KEYFILE DEVICE CONNS SECONDS [THREADS]
 *
 * URL is http://IPV4:PORT or unix:/PATH. Bounds: CONNS 1..1024, SECONDS
 * 1..60, THREADS 1..16 (default 1). Prints one line:
 * "loadgen conns C threads T seconds S ok N other N errors N rate R/s".
 * Exit 1 when nothing was answered with 200 or a connection failed at
 * start.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mid.h"
#include "mid_key.h"

#define CONNS_MAX 1024
#define SECONDS_MAX 60
#define THREADS_MAX 16
#define REPLY_CAP 8192
#define REQ_CAP 1024

struct conn {
	int fd;
	size_t have;
	char buf[REPLY_CAP];
};

struct worker {
	pthread_t tid;
	struct conn *conns;
	int n;
	long ok, other, errors;
	int failed_start;
};

static struct sockaddr_storage peer;
static socklen_t peer_len;
static char req[REQ_CAP];
static size_t req_len;
static uint64_t deadline_ms;

static long arg_long(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno || *end || v < lo || v > hi)
		return -1;
	return v;
}

static enum mid_rc parse_url(const char *url)
{
	struct sockaddr_in *in = (struct sockaddr_in *)&peer;
	struct sockaddr_un *un = (struct sockaddr_un *)&peer;
	char host[64];
	const char *colon;
	long port;

	memset(&peer, 0, sizeof(peer));
	if(!strncmp(url, "unix:", 5)) {
		if(mid_strlcpy(un->sun_path, url + 5, sizeof(un->sun_path)) >=
		   sizeof(un->sun_path))
			return MID_ERR_TOO_BIG;
		un->sun_family = AF_UNIX;
		peer_len = sizeof(*un);
		return MID_OK;
	}
	if(strncmp(url, "http://", 7))
		return MID_ERR_INVAL;
	colon = strrchr(url + 7, ':');
	if(!colon || (size_t)(colon - (url + 7)) >= sizeof(host))
		return MID_ERR_INVAL;
	memcpy(host, url + 7, (size_t)(colon - (url + 7)));
	host[colon - (url + 7)] = '\0';
	port = arg_long(colon + 1, 1, 65535);
	if(port < 0 || inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return MID_ERR_INVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	peer_len = sizeof(*in);
	return MID_OK;
}

static int send_req(struct conn *c)
{
	return write(c->fd, req, req_len) == (ssize_t)req_len ? 0 : -1;
}

/* Connect (blocking, so a refused connection shows at once), then make
 * the socket non-blocking and send the first request. */
static int conn_open(struct conn *c, int ep)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int one = 1;

	c->have = 0;
	c->fd = socket(peer.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(c->fd < 0)
		return -1;
	if(connect(c->fd, (struct sockaddr *)&peer, peer_len) < 0)
		goto fail;
	if(peer.ss_family == AF_INET)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = c;
	if(epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 || send_req(c) < 0)
		goto fail;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

static void conn_close(struct conn *c)
{
	if(c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* The value of header 'name' (with its colon) in 'hdr', or NULL. */
static const char *header(const char *hdr, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	for(i = 0; i + n + 2 <= len; i++) {
		if(hdr[i] == '\n' && !strncasecmp(hdr + i + 1, name, n))
			return hdr + i + 1 + n;
	}
	return NULL;
}

/* One whole reply at the start of c->buf: 1 and its status and length
 * when there is one, 0 when more bytes are needed, -1 on nonsense. */
static int reply_done(struct conn *c, int *status, size_t *total, int *closing)
{
	const char *end, *cl, *conn;
	size_t hlen;
	long body;

	end = memmem(c->buf, c->have, "\r\n\r\n", 4);
	if(!end)
		return c->have >= REPLY_CAP ? -1 : 0;
	hlen = (size_t)(end - c->buf) + 4;
	if(c->have < 12 || strncmp(c->buf, "HTTP/1.", 7))
		return -1;
	*status = atoi(c->buf + 9);
	cl = header(c->buf, hlen, "content-length:");
	if(!cl)
		return -1;
	body = strtol(cl, NULL, 10);
	if(body < 0 || hlen + (size_t)body > REPLY_CAP)
		return -1;
	conn = header(c->buf, hlen, "connection:");
	*closing = conn && !strncasecmp(conn + strspn(conn, " "), "close", 5);
	*total = hlen + (size_t)body;
	return c->have >= *total;
}

/* Read what came for 'c'; count and answer each whole reply. */
static void on_readable(struct worker *w, struct conn *c, int ep, int running)
{
	size_t total;
	int status, closing, r;
	ssize_t n;

	n = read(c->fd, c->buf + c->have, REPLY_CAP - c->have);
	if(n <= 0) {
		if(n < 0 && errno == EAGAIN)
			return;
		w->errors++;
		goto reopen;
	}
	c->have += (size_t)n;
	r = reply_done(c, &status, &total, &closing);
	if(r == 0)
		return;
	if(r < 0) {
		w->errors++;
		goto reopen;
	}
	if(status == 200)
		w->ok++;
	else
		w->other++;
	/* One request in flight: nothing may follow the reply. */
	if(c->have != total) {
		w->errors++;
		goto reopen;
	}
	c->have = 0;
	if(!running)
		return;
	if(closing)
		goto reopen;
	if(send_req(c) < 0) {
		w->errors++;
		goto reopen;
	}
	return;
reopen:
	conn_close(c);
	if(running && conn_open(c, ep) < 0)
		w->errors++;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[64];
	int ep, i, n, running = 1;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if(ep < 0) {
		w->failed_start = 1;
		return NULL;
	}
	for(i = 0; i < w->n; i++) {
		if(conn_open(&w->conns[i], ep) < 0) {
			w->failed_start = 1;
			goto out;
		}
	}
	while(running) {
		n = epoll_wait(ep, evs, (int)MID_ARRAY_LEN(evs), 100);
		running = mid_now_ms() < deadline_ms;
		for(i = 0; i < n; i++)
			on_readable(w, evs[i].data.ptr, ep, running);
	}
out:
	for(i = 0; i < w->n; i++)
		conn_close(&w->conns[i]);
	close(ep);
	return NULL;
}

int main(int argc, char **argv)
{
	struct worker *ws = NULL;
	struct conn *conns = NULL;
	long nconn, secs, nthr, i, ok = 0, other = 0, errors = 0;
	char key[MID_KEY_MAX + 1], why[160], body[MID_DEVICE_MAX + 32];
	int blen, rlen, ret = 1, failed = 0;
	uint64_t t0, t1;

	if(argc < 6 || argc > 7) {
		fputs("usage: loadgen URL KEYFILE DEVICE CONNS SECONDS [THREADS]\n",
		      stderr);
		return 2;
	}
	nconn = arg_long(argv[4], 1, CONNS_MAX);
	secs = arg_long(argv[5], 1, SECONDS_MAX);
	nthr = argc > 6 ? arg_long(argv[6], 1, THREADS_MAX) : 1;
	if(nconn < 0 || secs < 0 || nthr < 0 || nthr > nconn || parse_url(argv[1])) {
		fputs("loadgen: bad URL, CONNS (1..1024), SECONDS (1..60) or THREADS "
		      "(1..16)\n",
		      stderr);
		return 2;
	}
	if(mid_key_read_file(argv[2], key, sizeof(key), NULL, why, sizeof(why))) {
		fprintf(stderr, "loadgen: key file %s: %s\n", argv[2], why);
		return 1;
	}
	blen = snprintf(body, sizeof(body), "{\"deviceId\":\"%s\"}", argv[3]);
	if(blen < 0 || (size_t)blen >= sizeof(body))
		return 2;
	rlen = snprintf(req, sizeof(req),
	                "POST /api/v1/devices/validate HTTP/1.1\r\nHost: midd\r\n"
	                "x-org-key: %s\r\nContent-Type: application/json\r\n"
	                "Content-Length: %d\r\n\r\n%s",
	                key, blen, body);
	if(rlen < 0 || (size_t)rlen >= sizeof(req))
		return 2;
	req_len = (size_t)rlen;
	conns = calloc((size_t)nconn, sizeof(*conns));
	ws = calloc((size_t)nthr, sizeof(*ws));
	if(!conns || !ws)
		goto out;
	t0 = mid_now_ms();
	deadline_ms = t0 + (uint64_t)secs * 1000;
	for(i = 0; i < nthr; i++) {
		ws[i].conns = conns + i * nconn / nthr;
		ws[i].n = (int)((i + 1) * nconn / nthr - i * nconn / nthr);
		if(pthread_create(&ws[i].tid, NULL, work, &ws[i])) {
			deadline_ms = 0;
			nthr = i;
			failed = 1;
			break;
		}
	}
	for(i = 0; i < nthr; i++) {
		pthread_join(ws[i].tid, NULL);
		ok += ws[i].ok;
		other += ws[i].other;
		errors += ws[i].errors;
		failed |= ws[i].failed_start;
	}
	t1 = mid_now_ms();
	printf("loadgen conns %ld threads %ld seconds %.2f ok %ld other %ld errors %ld "
	       "rate %.0f/s\n",
	       nconn, nthr, (double)(t1 - t0) / 1e3, ok, other, errors,
	       (double)ok * 1e3 / (double)(t1 - t0));
	if(failed)
		fputs("loadgen: a connection or thread failed at start\n", stderr);
	ret = failed || ok == 0;
out:
	free(conns);
	free(ws);
	return ret;
}
