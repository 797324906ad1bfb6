/* SPDX-License-Identifier: MIT */
/*
 * Connection loads for midd's tests and bench, all on one loopback TCP
 * address, each bounded in count and time:
 *
 *   connload idle HOST:PORT KEYFILE DEVICE N SECONDS
 *     N connections, each makes one validate and is kept alive, idle;
 *     prints "ready N" once all answered, then after SECONDS
 *     "idle held H closed C first F" (C: closed by midd meanwhile; F: the
 *     number, from 1 in the order they opened, of the first one closed, 0
 *     for none).
 *   connload trickle HOST:PORT N SECONDS INTERVAL_MS
 *     N connections that send a request head one byte at a time, each
 *     one byte every INTERVAL_MS, never finishing it; one closed by midd
 *     is opened again. Prints "ready N", then at the end
 *     "trickle conns N opened O closed C max_life_ms M".
 *   connload validate HOST:PORT KEYFILE DEVICE COUNT PAUSE_US
 *     COUNT validates, one after the other on a kept-alive connection,
 *     PAUSE_US apart, each bounded by 2 s; prints the latency
 *     distribution as "validate n N ok K p50 .. p90 .. p99 .. p999 .. max ..
 *     (ms)"; stops with status 1 at the first one not answered with 200.
 *   connload flood HOST:PORT HEADER KEYFILE PATH CONNS SECONDS
 *     CONNS threads, each on its own kept-alive connection, GET PATH with
 *     the key in HEADER (x-org-key or x-admin-key) one after the other
 *     for SECONDS; prints "flood ok K busy B other O".
 *
 * Bounds: N <= 20000, SECONDS <= 120, COUNT <= 1000000.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define N_MAX 20000
#define SECONDS_MAX 120
#define COUNT_MAX 1000000
#define CALL_MS 2000
#define FLOOD_MS 20000

static struct sockaddr_in addr;
static char req[1024];
static size_t req_len;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno || *end || v < lo || v > hi) {
		fprintf(stderr, "connload: %s must be %ld..%ld, not '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

static void parse_addr(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if(!colon || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "connload: HOST:PORT wanted, not '%s'\n", s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)num(colon + 1, 1, 65535, "PORT"));
	if(inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "connload: '%s' is not an IPv4 address\n", host);
		exit(2);
	}
}

static void make_request(const char *keyfile, const char *device)
{
	char key[256] = "", body[400];
	FILE *f = fopen(keyfile, "re");
	int blen, n;

	if(!f || !fgets(key, sizeof(key), f)) {
		fprintf(stderr, "connload: cannot read a key from %s\n", keyfile);
		exit(1);
	}
	fclose(f);
	key[strcspn(key, "\r\n")] = '\0';
	blen = snprintf(body, sizeof(body), "{\"deviceId\":\"%s\"}", device);
	n = snprintf(req, sizeof(req),
		     "POST /api/v1/devices/validate HTTP/1.1\r\nHost: midd\r\nx-org-key: %s\r\n"
		     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		     key, blen, body);
	if(blen < 0 || (size_t)blen >= sizeof(body) || n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "connload: key or device too long\n");
		exit(2);
	}
	req_len = (size_t)n;
}

/* Every descriptor the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if(getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if(fd < 0)
		return -1;
	if(connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int read_reply(int fd, unsigned ms);

/* Send the request on 'fd' and read one whole reply within CALL_MS;
 * its HTTP status, or -1. */
static int call(int fd)
{
	if(send(fd, req, req_len, MSG_NOSIGNAL) != (ssize_t)req_len)
		return -1;
	return read_reply(fd, CALL_MS);
}

/* 1 when midd has closed 'fd' (end of stream or reset). */
static int gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	char c;

	if(poll(&p, 1, 0) <= 0)
		return 0;
	return recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0;
}

static int cmd_idle(char **argv)
{
	long n, secs, i, closed = 0, first = 0;
	int *fds;

	parse_addr(argv[0]);
	make_request(argv[1], argv[2]);
	n = num(argv[3], 1, N_MAX, "N");
	secs = num(argv[4], 0, SECONDS_MAX, "SECONDS");
	fds = calloc((size_t)n, sizeof(*fds));
	if(!fds)
		return 1;
	for(i = 0; i < n; i++) {
		int st;

		fds[i] = dial();
		if(fds[i] < 0 || (st = call(fds[i])) != 200) {
			fprintf(stderr, "connload: connection %ld of %ld: no validate answer\n", i + 1,
				n);
			return 1;
		}
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	sleep((unsigned)secs);
	for(i = 0; i < n; i++) {
		if(gone(fds[i])) {
			closed++;
			if(!first)
				first = i + 1;
		}
	}
	printf("idle held %ld closed %ld first %ld\n", n - closed, closed, first);
	return 0;
}

struct slow {
	int fd;
	size_t off;
	uint64_t born;
};

static int slow_open(struct slow *s, int ep)
{
	struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLIN};

	s->fd = dial();
	s->off = 0;
	s->born = now_us();
	if(s->fd < 0)
		return -1;
	fcntl(s->fd, F_SETFL, O_NONBLOCK);
	ev.data.ptr = s;
	return epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static int cmd_trickle(char **argv)
{
	static const char head[] = "POST /api/v1/devices/validate HTTP/1.1\r\nHost: midd\r\n"
				   "X-Pad: ";
	long n, secs, interval, i, opened = 0, closed = 0, next = 0;
	uint64_t end, tick, max_life = 0, per_tick;
	struct slow *s;
	int ep;

	parse_addr(argv[0]);
	n = num(argv[1], 1, N_MAX, "N");
	secs = num(argv[2], 1, SECONDS_MAX, "SECONDS");
	interval = num(argv[3], 10, 60000, "INTERVAL_MS");
	s = calloc((size_t)n, sizeof(*s));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if(!s || ep < 0)
		return 1;
	for(i = 0; i < n; i++) {
		if(slow_open(&s[i], ep)) {
			fprintf(stderr, "connload: trickle connection %ld: %s\n", i + 1,
				strerror(errno));
			return 1;
		}
		opened++;
	}
	printf("ready %ld\n", n);
	fflush(stdout);
	/* Every 10 ms one byte to each of the next n * 10 / interval. */
	per_tick = (uint64_t)(n * 10 / interval) + 1;
	end = now_us() + (uint64_t)secs * 1000000u;
	for(tick = now_us(); tick < end; tick += 10000) {
		struct epoll_event evs[256];
		uint64_t k;
		int m, j;

		for(k = 0; k < per_tick; k++, next = (next + 1) % n) {
			struct slow *c = &s[next];
			char b = c->off < sizeof(head) - 1 ? head[c->off] : 'a';

			if(c->fd >= 0 && send(c->fd, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
				c->off++;
		}
		m = epoll_wait(ep, evs, 256, (int)((tick + 10000 > now_us() ?
						    tick + 10000 - now_us() : 0) / 1000));
		for(j = 0; j < m; j++) {
			struct slow *c = evs[j].data.ptr;
			uint64_t life = now_us() - c->born;

			if(!gone(c->fd))
				continue;
			closed++;
			if(life > max_life)
				max_life = life;
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			if(slow_open(c, ep) == 0)
				opened++;
		}
	}
	printf("trickle conns %ld opened %ld closed %ld max_life_ms %llu\n", n, opened, closed,
	       (unsigned long long)(max_life / 1000));
	return 0;
}

/* Read one whole reply of any size from 'fd' within 'ms'; its status. */
static int read_reply(int fd, unsigned ms)
{
	static __thread char buf[1 << 16];
	size_t have = 0, want = 0;
	uint64_t end = now_us() + ms * 1000u;
	int status = -1;

	for(;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t t = now_us();
		ssize_t n;

		if(t >= end || poll(&p, 1, (int)((end - t) / 1000 + 1)) <= 0)
			return -1;
		n = recv(fd, want ? buf : buf + have, want ? sizeof(buf) : sizeof(buf) - 1 - have, 0);
		if(n <= 0)
			return -1;
		if(want) {
			have += (size_t)n;
		} else {
			const char *hend, *cl;

			have += (size_t)n;
			buf[have] = '\0';
			hend = strstr(buf, "\r\n\r\n");
			cl = strcasestr(buf, "\r\ncontent-length:");
			if(!hend || !cl) {
				if(have >= sizeof(buf) - 1)
					return -1;
				continue;
			}
			status = atoi(buf + 9);
			want = (size_t)(hend + 4 - buf) + strtoul(cl + 17, NULL, 10);
		}
		if(have >= want)
			return status;
	}
}

static const char *flood_header, *flood_path;
static char flood_key[256];
static uint64_t flood_end;
static long flood_ok, flood_busy, flood_other;
static pthread_mutex_t flood_mu = PTHREAD_MUTEX_INITIALIZER;

static void *flood_one(void *arg)
{
	char rq[512];
	long ok = 0, busy = 0, other = 0;
	int n, fd = -1, st;

	(void)arg;
	n = snprintf(rq, sizeof(rq), "GET %s HTTP/1.1\r\nHost: midd\r\n%s: %s\r\n\r\n", flood_path,
		     flood_header, flood_key);
	while(now_us() < flood_end && n > 0 && (size_t)n < sizeof(rq)) {
		if(fd < 0 && (fd = dial()) < 0)
			break;
		/* A slow request waits its turn in midd's lane behind the
		 * others: give it far longer than a validate. */
		st = send(fd, rq, (size_t)n, MSG_NOSIGNAL) == n ? read_reply(fd, FLOOD_MS) : -1;
		if(st == 200)
			ok++;
		else if(st == 503)
			busy++;
		else
			other++;
		if(st < 0) {
			close(fd);
			fd = -1;
		}
	}
	if(fd >= 0)
		close(fd);
	pthread_mutex_lock(&flood_mu);
	flood_ok += ok;
	flood_busy += busy;
	flood_other += other;
	pthread_mutex_unlock(&flood_mu);
	return NULL;
}

static int cmd_flood(char **argv)
{
	pthread_t t[64];
	long conns, secs, i;
	FILE *f;

	parse_addr(argv[0]);
	flood_header = argv[1];
	f = fopen(argv[2], "re");
	if(!f || !fgets(flood_key, sizeof(flood_key), f)) {
		fprintf(stderr, "connload: cannot read a key from %s\n", argv[2]);
		return 1;
	}
	fclose(f);
	flood_key[strcspn(flood_key, "\r\n")] = '\0';
	flood_path = argv[3];
	conns = num(argv[4], 1, 64, "CONNS");
	secs = num(argv[5], 1, SECONDS_MAX, "SECONDS");
	flood_end = now_us() + (uint64_t)secs * 1000000u;
	for(i = 0; i < conns; i++)
		if(pthread_create(&t[i], NULL, flood_one, NULL))
			return 1;
	for(i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	printf("flood ok %ld busy %ld other %ld\n", flood_ok, flood_busy, flood_other);
	return 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_validate(char **argv)
{
	long count, pause, i, ok = 0;
	uint64_t *lat;
	int fd = -1;

	parse_addr(argv[0]);
	make_request(argv[1], argv[2]);
	count = num(argv[3], 1, COUNT_MAX, "COUNT");
	pause = num(argv[4], 0, 1000000, "PAUSE_US");
	lat = calloc((size_t)count, sizeof(*lat));
	if(!lat)
		return 1;
	for(i = 0; i < count; i++) {
		uint64_t t0 = now_us();
		int st;

		if(fd >= 0 && gone(fd)) {
			close(fd);
			fd = -1;
		}
		if(fd < 0)
			fd = dial();
		st = fd >= 0 ? call(fd) : -1;
		lat[i] = now_us() - t0;
		if(st != 200) {
			fprintf(stderr, "connload: validate %ld of %ld: %s\n", i + 1, count,
				st < 0 ? "no answer within 2 s" : "not answered with 200");
			return 1;
		}
		ok++;
		if(pause)
			usleep((useconds_t)pause);
	}
	qsort(lat, (size_t)count, sizeof(*lat), by_value);
#define PCT(p) ((double)lat[(size_t)((double)(count - 1) * (p))] / 1000.0)
	close(fd);
	printf("validate n %ld ok %ld p50 %.3f p90 %.3f p99 %.3f p999 %.3f max %.3f (ms)\n",
	       count, ok, PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), PCT(1.0));
	return 0;
}

int main(int argc, char **argv)
{
	raise_nofile();
	if(argc == 7 && !strcmp(argv[1], "idle"))
		return cmd_idle(argv + 2);
	if(argc == 6 && !strcmp(argv[1], "trickle"))
		return cmd_trickle(argv + 2);
	if(argc == 7 && !strcmp(argv[1], "validate"))
		return cmd_validate(argv + 2);
	if(argc == 8 && !strcmp(argv[1], "flood"))
		return cmd_flood(argv + 2);
	fputs("usage: connload idle HOST:PORT KEYFILE DEVICE N SECONDS\n"
	      "       connload trickle HOST:PORT N SECONDS INTERVAL_MS\n"
	      "       connload validate HOST:PORT KEYFILE DEVICE COUNT PAUSE_US\n"
	      "       connload flood HOST:PORT HEADER KEYFILE PATH CONNS SECONDS\n",
	      stderr);
	return 2;
}
