/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for midd's request handling: libmicrohttpd's parser and
 * every route behind it. The input is the raw bytes a client sends on one
 * connection (one request, several pipelined, or garbage); they go to a
 * real midd service on a unix socket in a temporary directory, whose org
 * has the fixed keys below so that inputs can reach the keyed routes.
 * Whatever the bytes: midd does not crash, never answers 5xx (but 505,
 * libmicrohttpd's answer to an unknown HTTP version), and every answer it
 * sends starts with an HTTP/1.x status line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "keys.h"
#include "listen.h"
#include "log.h"
#include "service.h"
#include "store.h"

/* The keys every corpus file uses; see tests/fuzz/midd.dict. */
#define ORG_KEY "mid_org_0000000000000000000000000000000000000000000000000000000000000000"
#define ADMIN_KEY "mid_adm_1111111111111111111111111111111111111111111111111111111111111111"

#define REPLY_MAX (1u << 20)
#define IO_MS 2000

static char dir[256], db[320], sock[320];
static struct mid_service *svc;
static struct mid_api *api;
static struct mid_conns *conns;

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_midd: %s: %s\n", what, err);
	abort();
}

static void stop(void)
{
	mid_api_stop(api);
	api = NULL;
	mid_conns_free(conns);
	conns = NULL;
	mid_service_close(svc);
	svc = NULL;
}

/* A fresh database with one org holding the fixed keys, served on 'sock'. */
static void start(void)
{
	static const struct mid_conn_opts lim = {0};
	unsigned char oh[MID_SHA256_LEN], ah[MID_SHA256_LEN];
	struct mid_store *st = NULL;
	char err[512] = "", path[400];
	int64_t id;
	int fd;

	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	mid_keys_hash(ORG_KEY, oh);
	mid_keys_hash(ADMIN_KEY, ah);
	if(mid_store_open(db, 1, &st, err, sizeof(err)) ||
	   mid_store_org_create(st, "fuzz", oh, ah, 1000, &id, err, sizeof(err)))
		die("database", err);
	mid_store_free(st);
	if(mid_service_open(db, &svc, err, sizeof(err)))
		die("service", err);
	if(mid_conns_new(&lim, &conns, err, sizeof(err)) ||
	   mid_listen_unix(sock, &fd, err, sizeof(err)) ||
	   mid_api_start(svc, conns, fd, 1, 1, &api, err, sizeof(err)))
		die("listen", err);
}

static void cleanup(void)
{
	char path[400];

	stop();
	unlink(sock);
	unlink(db);
	snprintf(path, sizeof(path), "%s-wal", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-shm", db);
	unlink(path);
	snprintf(path, sizeof(path), "%s-pending", db);
	unlink(path);
	rmdir(dir);
}

static void setup(void)
{
	/* Every state change is synced: a memory file system keeps that cheap. */
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/fuzz-midd-XXXXXX", tmp);
	if(!mkdtemp(dir))
		die("mkdtemp", strerror(errno));
	snprintf(db, sizeof(db), "%s/midd.db", dir);
	snprintf(sock, sizeof(sock), "%s/midd.sock", dir);
	mid_log_set_quiet(1);
	start();
	atexit(cleanup);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for 'events' on 'fd' until 'deadline'; 0 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left = deadline - now_ms();

	if(left <= 0)
		return 0;
	return poll(&p, 1, (int)left) > 0;
}

/* Send 'data' on a new connection, half-close, read the whole answer. */
static size_t exchange(const uint8_t *data, size_t size, char *reply, size_t cap)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int64_t deadline = now_ms() + IO_MS;
	size_t off = 0, got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if(fd < 0)
		die("socket", strerror(errno));
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	if(connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect", strerror(errno));
	/* Write and read together: midd may answer (and close) early. */
	while(off < size && wait_fd(fd, POLLOUT, deadline)) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
		if(n < 0 && errno != EAGAIN)
			break;
		if(n > 0)
			off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	while(got < cap && wait_fd(fd, POLLIN, deadline)) {
		ssize_t n = recv(fd, reply + got, cap - got, 0);
		if(n == 0 || (n < 0 && errno != EAGAIN))
			break;
		if(n > 0)
			got += (size_t)n;
	}
	close(fd);
	return got;
}

/* Every status line in 'reply' is HTTP/1.x with a status below 500, or
 * 505 for a version libmicrohttpd does not speak. */
static void check(const char *reply, size_t len)
{
	const char *p = reply, *end = reply + len;

	if(len && strncmp(reply, "HTTP/1.", 7))
		abort();
	while((p = memmem(p, (size_t)(end - p), "HTTP/1.", 7))) {
		if(end - p >= 12 && p[8] == ' ' && p[9] >= '5' && memcmp(p + 9, "505", 3))
			abort();
		p += 7;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *reply;
	struct mid_org *org;
	enum mid_role role;
	size_t n;

	if(!reply) {
		reply = malloc(REPLY_MAX);
		if(!reply)
			die("malloc", "out of memory");
		setup();
	}
	n = exchange(data, size, reply, REPLY_MAX);
	check(reply, n);
	/* An input that rotated a key locks later inputs out: start over. */
	if(mid_service_auth(svc, ORG_KEY, &org, &role) ||
	   mid_service_auth(svc, ADMIN_KEY, &org, &role)) {
		stop();
		start();
	}
	return 0;
}
