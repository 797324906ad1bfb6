/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the control-plane client: the reply reader on crafted
 * bytes (good replies, limits, every kind of malformation), URL parsing,
 * and the transport against scripted servers on 127.0.0.1 and on a unix
 * socket in a temp dir (refusal, silence, resets, floods, keep-alive
 * closes and the one retry).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client_int.h"
#include "mid_check.h"

#define RID "6f1c1f5e-0a47-4f55-9d2e-1b2b8d3f2c10"
#define ALLOW_BODY "{\"allowed\":true,\"code\":\"ALLOW\",\"request_id\":\"" RID "\"}"
#define REVOKED_BODY                                                                     \
	"{\"allowed\":false,\"code\":\"DEVICE_REVOKED\",\"request_id\":\"" RID "\"}"

/* ---- reply helpers ---------------------------------------------------- */

static char rbuf[MID_REPLY_MAX * 2];

/* "HTTP/1.1 <status>\r\n<headers>Content-Length: n\r\n\r\n<body>" */
static const char *with_len(const char *status, const char *headers, const char *body)
{
	snprintf(rbuf, sizeof(rbuf), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n%s",
	         status, headers, strlen(body), body);
	return rbuf;
}

static enum mid_rc parse_s(enum mid_call call, const char *s, bool eof,
                           struct mid_decision *d)
{
	size_t consumed;

	return mid_client_parse_reply(call, s, strlen(s), eof, d, &consumed);
}

static enum mid_rc validate_s(const char *s, struct mid_decision *d)
{
	return parse_s(MID_CALL_VALIDATE, s, true, d);
}

/* The framing verdict on the connection, through the internal reader. */
static int closes_after(const char *s)
{
	struct mid_decision d;
	struct mid_reply r;
	char *copy = strdup(s);
	enum mid_rc rc;

	ck_assert_ptr_nonnull(copy);
	rc = mid_reply_read(MID_CALL_VALIDATE, copy, strlen(copy), 1, &r, &d);
	ck_assert_int_eq(rc, MID_OK);
	free(copy);
	return r.close;
}

static void assert_fault(enum mid_rc rc, const struct mid_decision *d, enum mid_rc want,
                         const char *code)
{
	ck_assert_int_eq(rc, want);
	ck_assert(!d->allowed);
	ck_assert_int_eq(d->local, want);
	ck_assert_str_eq(d->code, code);
	ck_assert_str_eq(d->request_id, "-");
}

/* ---- a scripted server ------------------------------------------------ */

struct srv;
typedef void (*serve_fn)(struct srv *s, int fd, int index);

struct srv {
	int lfd;
	int stop[2];
	int port;
	char dir[64];
	char path[108];
	char url[160];
	serve_fn serve;
	pthread_t th;
	atomic_int conns;  /* accepted */
	atomic_int closed; /* handled and closed */
	atomic_long sent;  /* bytes a flood managed to send */
	pthread_mutex_t lock;
	char req[8192]; /* the last request read */
	size_t req_len;
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int i;

	/* Bounded: at most 8 connections, 20 s idle. */
	for(i = 0; i < 8; i++) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
		                      {.fd = s->stop[0], .events = POLLIN}};
		int fd;

		if(poll(p, 2, 20000) <= 0 || p[1].revents)
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if(fd < 0)
			break;
		atomic_fetch_add(&s->conns, 1);
		s->serve(s, fd, i);
		close(fd);
		atomic_fetch_add(&s->closed, 1);
	}
	return NULL;
}

static void srv_start(struct srv *s, serve_fn fn, bool unix_socket)
{
	memset(s, 0, sizeof(*s));
	s->serve = fn;
	pthread_mutex_init(&s->lock, NULL);
	ck_assert_int_eq(pipe2(s->stop, O_CLOEXEC), 0);
	if(unix_socket) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		strcpy(s->dir, "/tmp/check_client.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(s->dir));
		snprintf(s->path, sizeof(s->path), "%s/midd.sock", s->dir);
		mid_strlcpy(sun.sun_path, s->path, sizeof(sun.sun_path));
		s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(s->lfd, 0);
		ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		snprintf(s->url, sizeof(s->url), "unix:%s", s->path);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sin);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(s->lfd, 0);
		ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
		ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &sl), 0);
		s->port = ntohs(sin.sin_port);
		snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	}
	ck_assert_int_eq(listen(s->lfd, 16), 0);
	ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	if(s->path[0])
		unlink(s->path);
	if(s->dir[0])
		rmdir(s->dir);
}

/* Read one request (head and Content-Length body) within 10 s. Returns
 * its length, 0 when the client closed first, -1 on error. */
static long read_request(struct srv *s, int fd)
{
	char buf[8192];
	size_t len = 0;

	while(len < sizeof(buf)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char *end;
		ssize_t n;

		if(poll(&p, 1, 10000) <= 0)
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if(n <= 0)
			return n == 0 && len == 0 ? 0 : -1;
		len += (size_t)n;
		end = memmem(buf, len, "\r\n\r\n", 4);
		if(end) {
			char *cl =
			    memmem(buf, (size_t)(end - buf), "Content-Length: ", 16);
			size_t need = (size_t)(end - buf) + 4 +
			              (cl ? strtoul(cl + 16, NULL, 10) : 0);

			if(len >= need) {
				pthread_mutex_lock(&s->lock);
				memcpy(s->req, buf, len);
				s->req_len = len;
				pthread_mutex_unlock(&s->lock);
				return (long)len;
			}
		}
	}
	return -1;
}

static void send_str(int fd, const char *str)
{
	size_t off = 0, n = strlen(str);

	while(off < n) {
		ssize_t k = send(fd, str + off, n - off, MSG_NOSIGNAL);
		if(k <= 0)
			return;
		off += (size_t)k;
	}
}

/* Wait for the client to close (bounded), so a reply the test has not
 * sent is never mistaken for one. */
static void await_close(int fd)
{
	char b[512];
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while(poll(&p, 1, 10000) > 0 && recv(fd, b, sizeof(b), 0) > 0)
		;
}

static void wait_for(atomic_int *v, int want)
{
	int i;

	for(i = 0; i < 500 && atomic_load(v) < want; i++)
		usleep(10000);
	ck_assert_int_ge(atomic_load(v), want);
}

/* Answer every request on the connection with an allow. */
static void serve_allow(struct srv *s, int fd, int index)
{
	(void)index;
	while(read_request(s, fd) > 0)
		send_str(fd, with_len("200 OK", "Content-Type: application/json\r\n",
		                      ALLOW_BODY));
}

static struct mid_client *client_for(const char *url, long timeout_ms)
{
	struct mid_client *c = NULL;
	char err[256] = "";

	ck_assert_msg(mid_client_new(url, "org-key-0123", timeout_ms, &c, err,
	                             sizeof(err)) == MID_OK,
	              "mid_client_new(%s): %s", url, err);
	return c;
}

/* ==== core ============================================================== */

START_TEST(test_client_parse_content_length)
{
	struct mid_decision d;
	const char *s =
	    with_len("200 OK", "Content-Type: application/json\r\n", ALLOW_BODY);
	size_t consumed = 0;

	ck_assert_int_eq(
	    mid_client_parse_reply(MID_CALL_VALIDATE, s, strlen(s), false, &d, &consumed),
	    MID_OK);
	ck_assert(d.allowed);
	ck_assert_int_eq(d.local, MID_OK);
	ck_assert_int_eq(d.http_status, 200);
	ck_assert_str_eq(d.code, "ALLOW");
	ck_assert_str_eq(d.request_id, RID);
	ck_assert_uint_eq(consumed, strlen(s));
}
END_TEST

START_TEST(test_client_parse_denied)
{
	struct mid_decision d;

	ck_assert_int_eq(validate_s(with_len("200 OK", "", REVOKED_BODY), &d), MID_OK);
	ck_assert(!d.allowed);
	ck_assert_int_eq(d.local, MID_OK);
	ck_assert_str_eq(d.code, "DEVICE_REVOKED");
	ck_assert_str_eq(d.request_id, RID);
}
END_TEST

START_TEST(test_client_parse_defaults)
{
	struct mid_decision d;

	ck_assert_int_eq(validate_s(with_len("200 OK", "", "{\"allowed\":true}"), &d),
	                 MID_OK);
	ck_assert(d.allowed);
	ck_assert_str_eq(d.code, "ALLOW");
	ck_assert_str_eq(d.request_id, "-");
	ck_assert_int_eq(
	    validate_s(with_len("200 OK", "", "{\"allowed\":false,\"code\":7}"), &d),
	    MID_OK);
	ck_assert(!d.allowed);
	ck_assert_str_eq(d.code, "DENIED");
	ck_assert_int_eq(
	    validate_s(with_len("201 Created", "", "{\"allowed\":true}"), &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_int_eq(d.http_status, 201);
}
END_TEST

START_TEST(test_client_parse_chunked)
{
	struct mid_decision d;
	const char *s = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "5;name=value\r\n{\"all\r\n"
	                "B\r\nowed\":true,\r\n"
	                "000016 \t;x\r\n\"code\":\"ALLOW\",\"reques\r\n"
	                "2d\r\nt_id\":\"" RID "\"}\r\n"
	                "0\r\nX-Trailer: yes\r\n\r\n";
	size_t consumed = 0;

	ck_assert_int_eq(
	    mid_client_parse_reply(MID_CALL_VALIDATE, s, strlen(s), false, &d, &consumed),
	    MID_OK);
	ck_assert(d.allowed);
	ck_assert_str_eq(d.code, "ALLOW");
	ck_assert_str_eq(d.request_id, RID);
	ck_assert_uint_eq(consumed, strlen(s));
}
END_TEST

START_TEST(test_client_parse_to_eof)
{
	struct mid_decision d;
	const char *s =
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" REVOKED_BODY;

	ck_assert_int_eq(parse_s(MID_CALL_VALIDATE, s, false, &d), MID_ERR_PARSE);
	ck_assert(!d.allowed);
	ck_assert_int_eq(parse_s(MID_CALL_VALIDATE, s, true, &d), MID_OK);
	ck_assert(!d.allowed);
	ck_assert_str_eq(d.code, "DEVICE_REVOKED");
	ck_assert(closes_after(s));
}
END_TEST

START_TEST(test_client_parse_http10)
{
	struct mid_decision d;
	const char *s = "HTTP/1.0 200 OK\r\nContent-Length: 16\r\n\r\n{\"allowed\":true}";

	ck_assert_int_eq(validate_s(s, &d), MID_OK);
	ck_assert(d.allowed);
	/* HTTP/1.0 closes unless it says keep-alive; 1.1 keeps unless close. */
	ck_assert(closes_after(s));
	ck_assert(!closes_after("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	                        "Content-Length: 16\r\n\r\n{\"allowed\":true}"));
	ck_assert(!closes_after(with_len("200 OK", "", ALLOW_BODY)));
	ck_assert(closes_after(with_len("200 OK", "Connection: close\r\n", ALLOW_BODY)));
	ck_assert(closes_after(
	    with_len("200 OK", "Connection: upgrade, CLOSE\r\n", ALLOW_BODY)));
	/* Bytes after the reply put the stream out of step. */
	ck_assert(closes_after("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n"
	                       "{\"allowed\":true}HTTP/1.1"));
}
END_TEST

START_TEST(test_client_parse_incremental)
{
	const char *s = with_len("200 OK", "X-A: b\r\n", ALLOW_BODY);
	struct mid_decision d;
	size_t i, n = strlen(s);

	for(i = 0; i < n; i++)
		ck_assert_int_eq(
		    mid_client_parse_reply(MID_CALL_VALIDATE, s, i, false, &d, NULL),
		    MID_ERR_PARSE);
	ck_assert_int_eq(mid_client_parse_reply(MID_CALL_VALIDATE, s, n, false, &d, NULL),
	                 MID_OK);
	ck_assert(d.allowed);
}
END_TEST

START_TEST(test_client_parse_register)
{
	static const struct {
		const char *status;
		bool allowed;
	} cases[] = {
	    {"ok", true}, {"exists", true}, {"limit_reached", false}, {"removed", false}};
	struct mid_decision d;
	char body[128];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(cases); i++) {
		snprintf(body, sizeof(body),
		         "{\"status\":\"%s\",\"deviceId\":\"a:b:c:1\"}", cases[i].status);
		ck_assert_int_eq(
		    parse_s(MID_CALL_REGISTER, with_len("200 OK", "", body), true, &d),
		    MID_OK);
		ck_assert_int_eq(d.allowed, cases[i].allowed);
		ck_assert_str_eq(d.status, cases[i].status);
		ck_assert_str_eq(d.code, cases[i].allowed ? "ALLOW" : "DENIED");
	}
	/* A validate answer is not a register answer, and the reverse. */
	ck_assert_int_eq(
	    parse_s(MID_CALL_REGISTER, with_len("200 OK", "", ALLOW_BODY), true, &d),
	    MID_ERR_BAD_REPLY);
	ck_assert(!d.allowed);
	ck_assert_int_eq(parse_s(MID_CALL_VALIDATE,
	                         with_len("200 OK", "", "{\"status\":\"ok\"}"), true, &d),
	                 MID_ERR_BAD_REPLY);
	ck_assert(!d.allowed);
}
END_TEST

START_TEST(test_client_url_accepts)
{
	static const struct {
		const char *url;
		enum mid_scheme scheme;
		const char *host, *port, *path;
	} cases[] = {
	    {"http://127.0.0.1:7070", MID_SCHEME_HTTP, "127.0.0.1", "7070", ""},
	    {"http://localhost:1", MID_SCHEME_HTTP, "localhost", "1", ""},
	    {"http://[::1]:7070", MID_SCHEME_HTTP, "::1", "7070", ""},
	    {"HTTP://midd.example:65535/", MID_SCHEME_HTTP, "midd.example", "65535", ""},
	    {"http://midd", MID_SCHEME_HTTP, "midd", "80", ""},
	    {"unix:/tmp/x.sock", MID_SCHEME_UNIX, "", "", "/tmp/x.sock"},
	    {"https://host", MID_SCHEME_HTTPS, "host", "443", ""},
	    {"https://[::1]:8443", MID_SCHEME_HTTPS, "::1", "8443", ""},
	};
	struct mid_url u;
	char err[256];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(cases); i++) {
		ck_assert_msg(mid_url_parse(cases[i].url, &u, err, sizeof(err)) ==
		                  MID_OK,
		              "%s: %s", cases[i].url, err);
		ck_assert_int_eq(u.scheme, cases[i].scheme);
		ck_assert_str_eq(u.host, cases[i].host);
		ck_assert_str_eq(u.port, cases[i].port);
		ck_assert_str_eq(u.path, cases[i].path);
	}
	ck_assert_int_eq(mid_url_parse("http://[::1]:7070", &u, err, sizeof(err)),
	                 MID_OK);
	ck_assert(u.bracket);
	/* The client accepts them too, without connecting. */
	for(i = 0; i < MID_ARRAY_LEN(cases); i++)
		mid_client_free(client_for(cases[i].url, 1000));
}
END_TEST

START_TEST(test_client_validate_tcp_keepalive)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	char want[512];
	int i;

	srv_start(&s, serve_allow, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_fd(c), -1);
	for(i = 0; i < 3; i++) {
		ck_assert_int_eq(mid_client_validate(c, "svc:prod:runner:01", &d),
		                 MID_OK);
		ck_assert(d.allowed);
		ck_assert_str_eq(d.code, "ALLOW");
		ck_assert_str_eq(d.request_id, RID);
		ck_assert_int_eq(d.http_status, 200);
		ck_assert_int_ge(mid_client_fd(c), 0);
	}
	/* Three calls, one connection, and the request on the wire. */
	ck_assert_uint_eq(mid_client_connects(c), 1);
	snprintf(want, sizeof(want),
	         "POST /api/v1/devices/validate HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	         "x-org-key: org-key-0123\r\nContent-Type: application/json\r\n"
	         "Content-Length: 33\r\n\r\n{\"deviceId\":\"svc:prod:runner:01\"}",
	         s.port);
	pthread_mutex_lock(&s.lock);
	ck_assert_uint_eq(s.req_len, strlen(want));
	ck_assert(memcmp(s.req, want, s.req_len) == 0);
	pthread_mutex_unlock(&s.lock);
	mid_client_disconnect(c);
	ck_assert_int_eq(mid_client_fd(c), -1);
	mid_client_free(c);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 1);
}
END_TEST

#define REGISTER_LINE "POST /api/v1/devices/register HTTP/1.1\r\n"
#define UNIX_HEAD REGISTER_LINE "Host: localhost\r\n"

START_TEST(test_client_validate_unix)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_allow, true);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:runner:02", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_int_eq(mid_client_register(c, "svc:prod:runner:02", &d),
	                 MID_ERR_BAD_REPLY);
	ck_assert(!d.allowed);
	pthread_mutex_lock(&s.lock);
	ck_assert(memmem(s.req, s.req_len, UNIX_HEAD, sizeof(UNIX_HEAD) - 1) == s.req);
	pthread_mutex_unlock(&s.lock);
	/* Bound, the same allow proves nothing: this server, like any other
	 * MachineID v1 server, ignores the binding. */
	mid_client_bind(c);
	assert_fault(mid_client_validate(c, "svc:prod:runner:02", &d), &d, MID_ERR_BAD_REPLY,
	             MID_CODE_BAD_PROOF);
	pthread_mutex_lock(&s.lock);
	ck_assert_ptr_nonnull(memmem(s.req, s.req_len, "\r\nx-mid-session: new\r\n", 22));
	ck_assert_ptr_nonnull(memmem(s.req, s.req_len, "\r\nx-mid-nonce: ", 15));
	pthread_mutex_unlock(&s.lock);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

static void serve_register(struct srv *s, int fd, int index)
{
	(void)index;
	while(read_request(s, fd) > 0)
		send_str(
		    fd,
		    with_len(
		        "200 OK", "",
		        "{\"status\":\"exists\",\"deviceId\":\"x\",\"code\":\"OK\"}"));
}

START_TEST(test_client_register_call)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_register, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_register(c, "svc:prod:runner:03", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_str_eq(d.status, "exists");
	ck_assert_str_eq(d.code, "OK");
	pthread_mutex_lock(&s.lock);
	ck_assert(memmem(s.req, s.req_len, REGISTER_LINE, sizeof(REGISTER_LINE) - 1) ==
	          s.req);
	pthread_mutex_unlock(&s.lock);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

/* The deviceId the server received, parsed back from the JSON body. */
static char *sent_device(struct srv *s)
{
	char *body, *out = NULL;
	cJSON *j, *id;

	pthread_mutex_lock(&s->lock);
	body = memmem(s->req, s->req_len, "\r\n\r\n", 4);
	ck_assert_ptr_nonnull(body);
	j = cJSON_ParseWithLength(body + 4, s->req_len - (size_t)(body + 4 - s->req));
	pthread_mutex_unlock(&s->lock);
	ck_assert_ptr_nonnull(j);
	id = cJSON_GetObjectItemCaseSensitive(j, "deviceId");
	ck_assert(cJSON_IsString(id));
	out = strdup(id->valuestring);
	cJSON_Delete(j);
	return out;
}

START_TEST(test_client_request_escaping)
{
	const char *dev = "a\"b\\c\x01\td:\xc3\xa9";
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	char *got;

	srv_start(&s, serve_allow, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, dev, &d), MID_OK);
	got = sent_device(&s);
	ck_assert_str_eq(got, dev);
	free(got);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

START_TEST(test_client_forget_after_fork)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	pid_t pid;
	int st = 0;

	srv_start(&s, serve_allow, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:fork:01", &d), MID_OK);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0) {
		mid_client_forget(c);
		_exit(mid_client_fd(c) == -1 ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The parent's connection is untouched: same connection, good reply. */
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:fork:01", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_uint_eq(mid_client_connects(c), 1);
	/* In the parent, forget drops the connection and the next call
	 * opens a new one. */
	mid_client_forget(c);
	ck_assert_int_eq(mid_client_fd(c), -1);
	mid_client_free(c);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 1);
}
END_TEST

/* ==== limits ============================================================ */

/* A reply of exactly 'total' bytes: Content-Length, chunked or to-EOF. */
static char *sized_reply(size_t total, int framing)
{
	static const char *heads[] = {
	    "HTTP/1.1 200 OK\r\nContent-Length: 00000\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000\r\n",
	    "HTTP/1.1 200 OK\r\n\r\n",
	};
	static const char *tails[] = {"", "\r\n0\r\n\r\n", ""};
	const char *pre = "{\"allowed\":true,\"pad\":\"", *post = "\"}";
	size_t hl = strlen(heads[framing]), tl = strlen(tails[framing]);
	size_t body = total - hl - tl, pad = body - strlen(pre) - strlen(post);
	char *r = malloc(total + 1), num[8];

	ck_assert_ptr_nonnull(r);
	memcpy(r, heads[framing], hl);
	snprintf(num, sizeof(num), framing == 1 ? "%05zx" : "%05zu", body);
	if(framing < 2)
		memcpy(r + (strstr(heads[framing], "00000") - heads[framing]), num, 5);
	memcpy(r + hl, pre, strlen(pre));
	memset(r + hl + strlen(pre), 'x', pad);
	memcpy(r + hl + strlen(pre) + pad, post, strlen(post));
	memcpy(r + total - tl, tails[framing], tl);
	r[total] = '\0';
	return r;
}

START_TEST(test_client_reply_at_cap)
{
	struct mid_decision d;
	int framing;

	for(framing = 0; framing < 3; framing++) {
		char *at = sized_reply(MID_REPLY_MAX, framing);
		char *over = sized_reply(MID_REPLY_MAX + 1, framing);

		ck_assert_msg(mid_client_parse_reply(MID_CALL_VALIDATE, at, MID_REPLY_MAX,
		                                     true, &d, NULL) == MID_OK,
		              "framing %d at the cap: %s", framing, d.code);
		ck_assert(d.allowed);
		assert_fault(mid_client_parse_reply(MID_CALL_VALIDATE, over,
		                                    MID_REPLY_MAX + 1, true, &d, NULL),
		             &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
		/* Still too large when more bytes may come. */
		assert_fault(mid_client_parse_reply(MID_CALL_VALIDATE, over,
		                                    MID_REPLY_MAX + 1, false, &d, NULL),
		             &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
		free(at);
		free(over);
	}
}
END_TEST

START_TEST(test_client_huge_content_length)
{
	struct mid_decision d;

	/* Known from the head alone: no need to wait for the body. */
	assert_fault(
	    parse_s(MID_CALL_VALIDATE,
	            "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n{\"allowed\":",
	            false, &d),
	    &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
	assert_fault(
	    parse_s(MID_CALL_VALIDATE,
	            "HTTP/1.1 200 OK\r\nContent-Length: 184467440737095516160000\r\n\r\n",
	            false, &d),
	    &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
	/* Headers plus a body that just miss the cap. */
	assert_fault(parse_s(MID_CALL_VALIDATE,
	                     "HTTP/1.1 200 OK\r\nContent-Length: 65500\r\n\r\n", false,
	                     &d),
	             &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
}
END_TEST

START_TEST(test_client_huge_chunk_size)
{
	struct mid_decision d;

	assert_fault(
	    parse_s(
	        MID_CALL_VALIDATE,
	        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff",
	        false, &d),
	    &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
	assert_fault(
	    parse_s(MID_CALL_VALIDATE,
	            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n",
	            false, &d),
	    &d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
	/* Leading zeros do not make a size large. */
	ck_assert_int_eq(
	    parse_s(MID_CALL_VALIDATE,
	            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	            "000000000000000000010\r\n{\"allowed\":true}\r\n0\r\n\r\n",
	            false, &d),
	    MID_OK);
	ck_assert(d.allowed);
}
END_TEST

START_TEST(test_client_header_line_limit)
{
	struct mid_decision d;
	char *r = malloc(MID_LINE_MAX + 256);
	size_t n;

	ck_assert_ptr_nonnull(r);
	/* A line of exactly MID_LINE_MAX bytes passes, one more does not. */
	n = (size_t)sprintf(r, "HTTP/1.1 200 OK\r\nX-Pad: ");
	memset(r + n, 'p', MID_LINE_MAX - 7);
	n += MID_LINE_MAX - 7;
	strcpy(r + n, "\r\nContent-Length: 16\r\n\r\n{\"allowed\":true}");
	ck_assert_int_eq(validate_s(r, &d), MID_OK);
	ck_assert(d.allowed);
	memmove(r + n + 1, r + n, strlen(r + n) + 1);
	r[n] = 'p';
	assert_fault(validate_s(r, &d), &d, MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
	/* Refused before the line ends, not at the deadline. */
	r[n + 1] = '\0';
	assert_fault(parse_s(MID_CALL_VALIDATE, r, false, &d), &d, MID_ERR_PROTOCOL,
	             MID_CODE_BAD_HTTP);
	free(r);
}
END_TEST

START_TEST(test_client_long_code_and_id)
{
	struct mid_decision d;
	char body[1024], code[300], id[300];

	memset(code, 'C', sizeof(code) - 1);
	code[sizeof(code) - 1] = '\0';
	memset(id, '7', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(body, sizeof(body),
	         "{\"allowed\":false,\"code\":\"%s\",\"request_id\":\"%s\"}", code, id);
	ck_assert_int_eq(validate_s(with_len("200 OK", "", body), &d), MID_OK);
	ck_assert(!d.allowed);
	ck_assert_uint_eq(strlen(d.code), MID_CODE_MAX - 1);
	ck_assert_uint_eq(strlen(d.request_id), MID_REQUEST_ID_MAX - 1);
	ck_assert(strspn(d.code, "C") == MID_CODE_MAX - 1);
}
END_TEST

START_TEST(test_client_sanitise)
{
	struct mid_decision d;

	ck_assert_int_eq(
	    validate_s(with_len("200 OK", "",
	                        "{\"allowed\":false,"
	                        "\"code\":\"REVOKED\\r\\nmidshim: allowed \\\"x\\\"\","
	                        "\"request_id\":\"id 1;\\u0000rm -rf/\"}"),
	               &d),
	    MID_OK);
	ck_assert_str_eq(d.code, "REVOKEDmidshimallowedx");
	ck_assert_str_eq(d.request_id, "id1");
	/* Nothing usable left: the defaults. */
	ck_assert_int_eq(
	    validate_s(with_len("200 OK", "",
	                        "{\"allowed\":true,\"code\":\"\\n\\t \",\"request_id\":"
	                        "\"\\\"\\\"\"}"),
	               &d),
	    MID_OK);
	ck_assert_str_eq(d.code, "ALLOW");
	ck_assert_str_eq(d.request_id, "-");
	ck_assert_int_eq(
	    parse_s(MID_CALL_REGISTER,
	            with_len("200 OK", "", "{\"status\":\"ok\\n2024 ERROR\"}"), true, &d),
	    MID_OK);
	ck_assert(!d.allowed);
	ck_assert_str_eq(d.status, "ok2024ERROR");
}
END_TEST

START_TEST(test_client_device_limits)
{
	char dev[MID_DEVICE_MAX + 2];
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	char *got;

	srv_start(&s, serve_allow, false);
	c = client_for(s.url, 5000);
	/* The largest request: every device byte escaped to \u00XX. */
	memset(dev, 0x1f, MID_DEVICE_MAX);
	dev[MID_DEVICE_MAX] = '\0';
	ck_assert_int_eq(mid_client_validate(c, dev, &d), MID_OK);
	ck_assert(d.allowed);
	got = sent_device(&s);
	ck_assert_str_eq(got, dev);
	free(got);
	dev[MID_DEVICE_MAX] = 'x';
	dev[MID_DEVICE_MAX + 1] = '\0';
	assert_fault(mid_client_validate(c, dev, &d), &d, MID_ERR_INVAL,
	             MID_CODE_INVALID);
	assert_fault(mid_client_validate(c, "", &d), &d, MID_ERR_INVAL, MID_CODE_INVALID);
	assert_fault(mid_client_validate(c, NULL, &d), &d, MID_ERR_INVAL,
	             MID_CODE_INVALID);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

START_TEST(test_client_key_limits)
{
	char key[MID_KEY_MAX + 2], err[256];
	struct mid_client *c = NULL;

	memset(key, 'k', MID_KEY_MAX);
	key[MID_KEY_MAX] = '\0';
	ck_assert_int_eq(
	    mid_client_new("http://127.0.0.1:1", key, 100, &c, err, sizeof(err)), MID_OK);
	mid_client_free(c);
	key[MID_KEY_MAX] = 'k';
	key[MID_KEY_MAX + 1] = '\0';
	ck_assert_int_eq(
	    mid_client_new("http://127.0.0.1:1", key, 100, &c, err, sizeof(err)),
	    MID_ERR_INVAL);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "org key"));
	ck_assert_int_eq(mid_client_new("http://127.0.0.1:1", "k\r\nx-admin: 1", 100, &c,
	                                err, sizeof(err)),
	                 MID_ERR_INVAL);
	ck_assert_int_eq(
	    mid_client_new("http://127.0.0.1:1", "", 100, &c, err, sizeof(err)),
	    MID_ERR_INVAL);
	ck_assert_int_eq(
	    mid_client_new("http://127.0.0.1:1", "k", 0, &c, err, sizeof(err)),
	    MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "timeout"));
}
END_TEST

/* Flood: a head without a length, then 10 MB until the client leaves. */
static void serve_flood(struct srv *s, int fd, int index)
{
	static char chunk[65536];
	struct timeval tv = {.tv_sec = 10};
	long total = 0;

	(void)index;
	memset(chunk, 'x', sizeof(chunk));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if(read_request(s, fd) <= 0)
		return;
	send_str(fd, "HTTP/1.1 200 OK\r\n\r\n{\"allowed\":true,\"pad\":\"");
	while(total < 10 * 1024 * 1024) {
		ssize_t n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if(n <= 0)
			break;
		total += n;
	}
	atomic_store(&s->sent, total);
}

START_TEST(test_client_flood_too_large)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	uint64_t t0;

	srv_start(&s, serve_flood, false);
	c = client_for(s.url, 20000);
	t0 = mid_now_ms();
	assert_fault(mid_client_validate(c, "svc:prod:flood:01", &d), &d, MID_ERR_TOO_BIG,
	             MID_CODE_TOO_LARGE);
	ck_assert_int_eq(d.http_status, 200);
	ck_assert_int_eq(mid_client_fd(c), -1);
	/* It stopped reading at the cap: the server could not send it all. */
	ck_assert_uint_lt(mid_now_ms() - t0, 10000);
	mid_client_free(c);
	wait_for(&s.closed, 1);
	srv_stop(&s);
	ck_assert_int_lt(atomic_load(&s.sent), 10 * 1024 * 1024);
}
END_TEST

/* A reply of exactly 'n' bytes without a length, then close. */
static size_t exact_size;
static void serve_exact(struct srv *s, int fd, int index)
{
	char *r;

	(void)index;
	if(read_request(s, fd) <= 0)
		return;
	r = sized_reply(exact_size, 2);
	send_str(fd, r);
	free(r);
}

START_TEST(test_client_cap_on_socket)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	exact_size = MID_REPLY_MAX;
	srv_start(&s, serve_exact, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:cap:01", &d), MID_OK);
	ck_assert(d.allowed);
	exact_size = MID_REPLY_MAX + 1;
	assert_fault(mid_client_validate(c, "svc:prod:cap:01", &d), &d, MID_ERR_TOO_BIG,
	             MID_CODE_TOO_LARGE);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

static void serve_big_length(struct srv *s, int fd, int index)
{
	(void)index;
	if(read_request(s, fd) <= 0)
		return;
	send_str(fd,
	         "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n{\"allowed\":true,");
	await_close(fd);
}

START_TEST(test_client_big_length_on_socket)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	uint64_t t0;

	srv_start(&s, serve_big_length, false);
	c = client_for(s.url, 20000);
	t0 = mid_now_ms();
	assert_fault(mid_client_validate(c, "svc:prod:big:01", &d), &d, MID_ERR_TOO_BIG,
	             MID_CODE_TOO_LARGE);
	/* Decided from the head, not by waiting for 10 MB or the deadline. */
	ck_assert_uint_lt(mid_now_ms() - t0, 10000);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

/* ==== errors ============================================================ */

START_TEST(test_client_truncated_every_prefix)
{
	char *good[] = {
	    strdup(with_len("200 OK", "Content-Type: application/json\r\n",
	                    "{\"allowed\":true,\"code\":\"ALLOW\",\"request_id\":\"" RID
	                    "\",\"x\":1}")),
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "7\r\n{\"allow\r\n9;e=1\r\ned\":true}\r\n0\r\nT: 1\r\n\r\n",
	};
	struct mid_decision d;
	size_t g, i;

	for(g = 0; g < MID_ARRAY_LEN(good); g++) {
		size_t n = strlen(good[g]);

		ck_assert_int_eq(
		    mid_client_parse_reply(MID_CALL_VALIDATE, good[g], n, true, &d, NULL),
		    MID_OK);
		ck_assert(d.allowed);
		for(i = 0; i < n; i++) {
			enum mid_rc rc = mid_client_parse_reply(
			    MID_CALL_VALIDATE, good[g], i, true, &d, NULL);

			ck_assert_msg(!d.allowed, "prefix %zu of reply %zu allowed", i,
			              g);
			ck_assert_msg(
			    (rc == MID_ERR_IO && !strcmp(d.code, MID_CODE_TRUNCATED)) ||
			        (rc == MID_ERR_PROTOCOL &&
			         !strcmp(d.code, MID_CODE_BAD_HTTP)),
			    "prefix %zu of reply %zu: %s", i, g, d.code);
		}
	}
	free(good[0]);
}
END_TEST

START_TEST(test_client_not_json)
{
	static const char *bodies[] = {
	    "<html>allowed</html>",
	    "",
	    "{\"allowed\":true",
	    "{\"allowed\":true} x",
	    "{\"allowed\":true}\n{\"allowed\":true}",
	    "\"allowed\"x",
	};
	struct mid_decision d;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(bodies); i++)
		assert_fault(validate_s(with_len("200 OK", "", bodies[i]), &d), &d,
		             MID_ERR_BAD_REPLY, MID_CODE_NOT_JSON);
	static const char nul[] = "HTTP/1.1 200 OK\r\nContent-Length: 18\r\n\r\n"
	                          "{\"allowed\":true}\0x";
	/* A NUL inside the body ends the JSON early: not JSON either. */
	assert_fault(mid_client_parse_reply(MID_CALL_VALIDATE, nul, sizeof(nul) - 1, true,
	                                    &d, NULL),
	             &d, MID_ERR_BAD_REPLY, MID_CODE_NOT_JSON);
	/* White space around the value is fine. */
	ck_assert_int_eq(
	    validate_s(with_len("200 OK", "", " \r\n{\"allowed\":true}\n"), &d), MID_OK);
}
END_TEST

START_TEST(test_client_allowed_types)
{
	static const char *bodies[] = {
	    "{\"allowed\":\"true\"}",
	    "{\"allowed\":1}",
	    "{\"allowed\":null}",
	    "{\"code\":\"ALLOW\"}",
	    "[true]",
	    "true",
	    "{\"Allowed\":true}",
	    "{\"x\":{\"allowed\":true}}",
	    "{\"allowed\":[true]}",
	    "{\"allowed\":true,\"allowed\":true}",
	    "{\"allowed\":false,\"allowed\":true}",
	    "{\"allowed\":{}}",
	};
	struct mid_decision d;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(bodies); i++)
		assert_fault(validate_s(with_len("200 OK", "", bodies[i]), &d), &d,
		             MID_ERR_BAD_REPLY, MID_CODE_BAD_REPLY);
	assert_fault(parse_s(MID_CALL_REGISTER, with_len("200 OK", "", "{\"status\":1}"),
	                     true, &d),
	             &d, MID_ERR_BAD_REPLY, MID_CODE_BAD_REPLY);
}
END_TEST

START_TEST(test_client_http_errors)
{
	static const struct {
		const char *status;
		const char *code;
	} cases[] = {
	    {"500 Internal Server Error", "MIDSHIM_HTTP_500"},
	    {"301 Moved Permanently", "MIDSHIM_HTTP_301"},
	    {"429 Too Many Requests", "MIDSHIM_HTTP_429"},
	    {"401 Unauthorized", "MIDSHIM_HTTP_401"},
	    {"403 Forbidden", "MIDSHIM_HTTP_403"},
	    {"404", "MIDSHIM_HTTP_404"},
	};
	struct mid_decision d;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(cases); i++) {
		/* The body says allowed; the status wins. */
		assert_fault(validate_s(with_len(cases[i].status,
		                                 "Location: http://127.0.0.1:1/\r\n",
		                                 "{\"allowed\":true,\"error\":\"x\"}"),
		                        &d),
		             &d, MID_ERR_HTTP, cases[i].code);
		ck_assert_int_eq(d.http_status, atoi(cases[i].status));
	}
	/* midd's refusal of an admin key is named, for validate and register;
	 * the name counts only on a 403, and only as the "error" member. */
	assert_fault(validate_s(with_len("403 Forbidden", "",
	                                 "{\"error\":\"ADMIN_KEY_REFUSED\",\"message\":\"x\"}"),
	                        &d),
	             &d, MID_ERR_HTTP, MID_CODE_ADMIN_KEY);
	ck_assert(!d.allowed);
	assert_fault(parse_s(MID_CALL_REGISTER,
	                     with_len("403 Forbidden", "", "{\"error\":\"ADMIN_KEY_REFUSED\"}"),
	                     true, &d),
	             &d, MID_ERR_HTTP, MID_CODE_ADMIN_KEY);
	assert_fault(validate_s(with_len("401 Unauthorized", "",
	                                 "{\"error\":\"ADMIN_KEY_REFUSED\"}"),
	                        &d),
	             &d, MID_ERR_HTTP, "MIDSHIM_HTTP_401");
	assert_fault(validate_s(with_len("403 Forbidden", "",
	                                 "{\"code\":\"ADMIN_KEY_REFUSED\"}"),
	                        &d),
	             &d, MID_ERR_HTTP, "MIDSHIM_HTTP_403");
	/* No body can come with 204, 304 or 1xx. */
	assert_fault(validate_s("HTTP/1.1 204 No Content\r\n\r\n", &d), &d,
	             MID_ERR_BAD_REPLY, MID_CODE_NOT_JSON);
	assert_fault(validate_s("HTTP/1.1 100 Continue\r\n\r\n", &d), &d, MID_ERR_HTTP,
	             "MIDSHIM_HTTP_100");
}
END_TEST

START_TEST(test_client_bad_status_line)
{
	static const char *lines[] = {
	    "HTTP/2 200 OK\r\n",    "HTTP/1.1 20 OK\r\n",    "HTTP/1.1 200OK\r\n",
	    "http/1.1 200 OK\r\n",  "HTTP/1.2 200 OK\r\n",   "ICY 200 OK\r\n",
	    "HTTP/1.1 600 Odd\r\n", "HTTP/1.1 099 Odd\r\n",  "HTTP/1.1 2x0 OK\r\n",
	    "HTTP/1.1  200 OK\r\n", "HELLO THERE\r\n",       "HTTP/1.1 200 O\x01K\r\n",
	    "HTTP/1.1 200 OK\n",    "HTTP/1.1 200 OK\r\r\n", " HTTP/1.1 200 OK\r\n",
	};
	struct mid_decision d;
	char buf[256];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(lines); i++) {
		snprintf(buf, sizeof(buf),
		         "%sContent-Length: 16\r\n\r\n{\"allowed\":true}", lines[i]);
		ck_assert_msg(validate_s(buf, &d) == MID_ERR_PROTOCOL, "accepted %s",
		              lines[i]);
		ck_assert(!d.allowed);
		ck_assert_str_eq(d.code, MID_CODE_BAD_HTTP);
	}
	/* Garbage is refused at once, even with more bytes to come. */
	assert_fault(parse_s(MID_CALL_VALIDATE, "HELLO", false, &d), &d, MID_ERR_PROTOCOL,
	             MID_CODE_BAD_HTTP);
	assert_fault(mid_client_parse_reply(MID_CALL_VALIDATE, "HTTP/1.1 200 OK\0\r\n",
	                                    sizeof("HTTP/1.1 200 OK\0\r\n") - 1, true, &d,
	                                    NULL),
	             &d, MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
}
END_TEST

START_TEST(test_client_bad_headers)
{
	static const char *heads[] = {
	    "X-A: b\n",                                     /* bare LF */
	    "X-A: b\rc\r\n",                                /* bare CR */
	    "X-A: b\r\n c\r\n",                             /* obs-fold */
	    "X-A : b\r\n",                                  /* space before the colon */
	    ": b\r\n",                                      /* no name */
	    "X-A b\r\n",                                    /* no colon */
	    "X\"A: b\r\n",                                  /* not a token */
	    "X-A: b\x7f\r\n",                               /* DEL in a value */
	    "X-A: b\x01\r\n",                               /* a control byte */
	    "Content-Length: 16\r\nContent-Length: 17\r\n", /* disagreeing lengths */
	    "Content-Length: 1 6\r\n",                      /* digits only */
	    "Content-Length: +16\r\n",
	    "Content-Length: 16,16\r\n",
	    "Content-Length:\r\n",
	    "Transfer-Encoding: gzip, chunked\r\n",
	    "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
	    "Transfer-Encoding: chunked\r\nContent-Length: 16\r\n",
	};
	static const char nul[] = "HTTP/1.1 200 OK\r\nX-A: \0\r\n"
	                          "Content-Length: 16\r\n\r\n{\"allowed\":true}";
	struct mid_decision d;
	char buf[512];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(heads); i++) {
		snprintf(buf, sizeof(buf),
		         "HTTP/1.1 200 OK\r\n%s%s\r\n{\"allowed\":true}", heads[i],
		         strstr(heads[i], "Content-Length") ? ""
		                                            : "Content-Length: 16\r\n");
		ck_assert_msg(validate_s(buf, &d) == MID_ERR_PROTOCOL,
		              "accepted header %zu", i);
		ck_assert(!d.allowed);
		ck_assert_str_eq(d.code, MID_CODE_BAD_HTTP);
	}
	/* A NUL in a header line. */
	assert_fault(mid_client_parse_reply(MID_CALL_VALIDATE, nul, sizeof(nul) - 1, true,
	                                    &d, NULL),
	             &d, MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
	/* Agreeing duplicate lengths and odd-but-legal spacing are fine. */
	ck_assert_int_eq(
	    validate_s("HTTP/1.1 200 OK\r\nContent-Length: 16\r\ncontent-length:16 "
	               "\t\r\nX-Empty:\r\n\r\n{\"allowed\":true}",
	               &d),
	    MID_OK);
	ck_assert(d.allowed);
}
END_TEST

START_TEST(test_client_bad_chunks)
{
	static const char *bodies[] = {
	    "zz\r\n{}\r\n0\r\n\r\n",      /* not hex */
	    "\r\n{}\r\n0\r\n\r\n",        /* no size */
	    "-2\r\n{}\r\n0\r\n\r\n",      /* a sign */
	    "2 x\r\n{}\r\n0\r\n\r\n",     /* junk after the size */
	    "2\n{}\r\n0\r\n\r\n",         /* bare LF */
	    "2\r\n{}\n0\r\n\r\n",         /* data not ended by CRLF */
	    "2\r\n{}xx\r\n0\r\n\r\n",     /* data longer than said */
	    "2;a\x01\r\n{}\r\n0\r\n\r\n", /* control in an extension */
	    "10\r\n{\"allowed\":true}\r\n0\r\nbad trailer\r\n\r\n", /* trailer without
	                                                               colon */
	    "10\r\n{\"allowed\":true}\r\n0\r\n\r\r\n",              /* bad last line */
	};
	struct mid_decision d;
	char buf[256];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(bodies); i++) {
		snprintf(buf, sizeof(buf),
		         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s",
		         bodies[i]);
		ck_assert_msg(validate_s(buf, &d) == MID_ERR_PROTOCOL,
		              "accepted chunks %zu", i);
		ck_assert(!d.allowed);
		ck_assert_str_eq(d.code, MID_CODE_BAD_HTTP);
	}
}
END_TEST

START_TEST(test_client_url_rejects)
{
	static const struct {
		const char *url;
		const char *why;
	} cases[] = {
	    {"ftp://x", "unsupported scheme"},
	    {"http://", "host is missing"},
	    {"http://h:99999", "not in 1-65535"},
	    {"http://h:abc", "not a number"},
	    {"http://h:", "empty"},
	    {"http://h:0", "not in 1-65535"},
	    {"unix:relative", "must be absolute"},
	    {"", "empty"},
	    {"http://user:pw@h:1", "user info"},
	    {"http://h:1/api", "path"},
	    {"http://h:1?x", "query"},
	    {"http://::1:7070", "brackets"},
	    {"http://[::1", "[ADDRESS]"},
	    {"http://[]:1", "[ADDRESS]"},
	    {"http://[::1]x", "only ':PORT'"},
	    {"http://h o:1", "bad character"},
	    {"127.0.0.1:7070", "unsupported scheme"},
	};
	char err[512], longpath[200];
	struct mid_client *c = NULL;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(cases); i++) {
		err[0] = '\0';
		ck_assert_msg(mid_client_new(cases[i].url, "k", 1000, &c, err,
		                             sizeof(err)) == MID_ERR_INVAL,
		              "accepted %s", cases[i].url);
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err, cases[i].why) != NULL, "%s: %s", cases[i].url,
		              err);
		ck_assert_msg(strstr(err, "http://HOST[:PORT]") &&
		                  strstr(err, "unix:/PATH"),
		              "%s: %s", cases[i].url, err);
	}
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "unix:/", 6);
	ck_assert_int_eq(mid_client_new(longpath, "k", 1000, &c, err, sizeof(err)),
	                 MID_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
}
END_TEST

START_TEST(test_client_refused)
{
	uint64_t t0, t1;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct mid_client *c;
	struct mid_decision d;
	char url[64];
	int fd;

	/* A port that was just free and has no listener. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sin.sin_port));
	/* Refused connects are tried again until the deadline (less the
	 * 5 ms the last try keeps), then the call is a deny. */
	c = client_for(url, 300);
	t0 = mid_now_ms();
	assert_fault(mid_client_validate(c, "svc:prod:refused:01", &d), &d,
	             MID_ERR_UNREACHABLE, MID_CODE_UNREACHABLE);
	t1 = mid_now_ms();
	ck_assert_uint_ge(t1 - t0, 300 - 5);
	ck_assert_uint_lt(t1 - t0, 300 + 1000);
	ck_assert_int_eq(d.http_status, 0);
	ck_assert_ptr_nonnull(strstr(mid_client_detail(c), "refused"));
	ck_assert_ptr_nonnull(strstr(mid_client_detail(c), " tries in "));
	ck_assert_int_eq(mid_client_fd(c), -1);
	mid_client_free(c);
	/* A name that resolves, on the same closed port. */
	snprintf(url, sizeof(url), "http://localhost:%d", ntohs(sin.sin_port));
	c = client_for(url, 300);
	assert_fault(mid_client_validate(c, "svc:prod:refused:01", &d), &d,
	             MID_ERR_UNREACHABLE, MID_CODE_UNREACHABLE);
	mid_client_free(c);
}
END_TEST

/* A listener that appears 'delay' ms after it was asked for: the control
 * plane coming back after a restart. */
struct late {
	struct srv s;
	char path[108];
	int port;
	unsigned delay;
	int unix_socket;
};

static void *late_main(void *arg)
{
	struct late *l = arg;
	int one = 1;

	usleep(l->delay * 1000u);
	memset(&l->s, 0, sizeof(l->s));
	l->s.serve = serve_allow;
	pthread_mutex_init(&l->s.lock, NULL);
	ck_assert_int_eq(pipe2(l->s.stop, O_CLOEXEC), 0);
	if(l->unix_socket) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		mid_strlcpy(sun.sun_path, l->path, sizeof(sun.sun_path));
		l->s.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(bind(l->s.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	} else {
		struct sockaddr_in sin = {.sin_family = AF_INET};

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons((uint16_t)l->port);
		l->s.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(l->s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		ck_assert_int_eq(bind(l->s.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	}
	ck_assert_int_eq(listen(l->s.lfd, 16), 0);
	srv_main(&l->s);
	return NULL;
}

START_TEST(test_client_rides_out_restart)
{
	for(int u = 0; u < 2; u++) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		socklen_t sl = sizeof(sin);
		char dir[] = "/tmp/check_client.XXXXXX", url[160];
		struct mid_client *c;
		struct mid_decision d;
		struct late l;
		pthread_t th;
		uint64_t t0, t1;
		int fd;

		memset(&l, 0, sizeof(l));
		l.delay = 300;
		l.unix_socket = u;
		if(u) {
			ck_assert_ptr_nonnull(mkdtemp(dir));
			snprintf(l.path, sizeof(l.path), "%s/midd.sock", dir);
			snprintf(url, sizeof(url), "unix:%s", l.path);
		} else {
			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			fd = socket(AF_INET, SOCK_STREAM, 0);
			ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
			ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
			close(fd);
			l.port = ntohs(sin.sin_port);
			snprintf(url, sizeof(url), "http://127.0.0.1:%d", l.port);
		}
		/* Nothing listens for 300 ms; the deadline is 5 s. */
		c = client_for(url, 5000);
		ck_assert_int_eq(pthread_create(&th, NULL, late_main, &l), 0);
		t0 = mid_now_ms();
		ck_assert_int_eq(mid_client_validate(c, "svc:prod:restart:01", &d), MID_OK);
		t1 = mid_now_ms();
		ck_assert(d.allowed);
		ck_assert_uint_ge(t1 - t0, 250);
		mid_client_free(c);
		ck_assert_int_eq(write(l.s.stop[1], "x", 1), 1);
		pthread_join(th, NULL);
		close(l.s.lfd);
		close(l.s.stop[0]);
		close(l.s.stop[1]);
		if(u) {
			unlink(l.path);
			rmdir(dir);
		}
	}
}
END_TEST

START_TEST(test_client_no_unix_socket)
{
	char dir[] = "/tmp/check_client.XXXXXX", url[128];
	struct mid_client *c;
	struct mid_decision d;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(url, sizeof(url), "unix:%s/nothing.sock", dir);
	c = client_for(url, 300);
	assert_fault(mid_client_validate(c, "svc:prod:nosock:01", &d), &d,
	             MID_ERR_UNREACHABLE, MID_CODE_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(mid_client_detail(c), "nothing.sock"));
	mid_client_free(c);
	rmdir(dir);
}
END_TEST

static void serve_hang(struct srv *s, int fd, int index)
{
	(void)index;
	if(read_request(s, fd) > 0)
		await_close(fd);
}

START_TEST(test_client_timeout)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	uint64_t t0, ms;

	srv_start(&s, serve_hang, false);
	c = client_for(s.url, 300);
	t0 = mid_now_ms();
	assert_fault(mid_client_validate(c, "svc:prod:hang:01", &d), &d, MID_ERR_TIMEOUT,
	             MID_CODE_TIMEOUT);
	ms = mid_now_ms() - t0;
	/* Never early; late only by what a loaded machine adds. */
	ck_assert_uint_ge(ms, 299);
	ck_assert_uint_lt(ms, 300 + 3000);
	ck_assert_int_eq(mid_client_fd(c), -1);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

static void serve_reset(struct srv *s, int fd, int index)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	(void)index;
	if(read_request(s, fd) <= 0)
		return;
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n{\"allowed\":");
	usleep(50000);
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void serve_short(struct srv *s, int fd, int index)
{
	(void)index;
	if(read_request(s, fd) <= 0)
		return;
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"allowed\":true}");
}

START_TEST(test_client_reset_mid_reply)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_reset, false);
	c = client_for(s.url, 5000);
	assert_fault(mid_client_validate(c, "svc:prod:reset:01", &d), &d, MID_ERR_IO,
	             MID_CODE_TRUNCATED);
	ck_assert_int_eq(mid_client_fd(c), -1);
	mid_client_free(c);
	srv_stop(&s);
	/* A plain close mid-body reads the same. */
	srv_start(&s, serve_short, false);
	c = client_for(s.url, 5000);
	assert_fault(mid_client_validate(c, "svc:prod:reset:01", &d), &d, MID_ERR_IO,
	             MID_CODE_TRUNCATED);
	mid_client_free(c);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 1);
}
END_TEST

static void serve_garbage(struct srv *s, int fd, int index)
{
	(void)index;
	if(read_request(s, fd) > 0) {
		send_str(fd, "HELLO THERE\r\n");
		await_close(fd);
	}
}

START_TEST(test_client_garbage_on_socket)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	uint64_t t0;

	srv_start(&s, serve_garbage, false);
	c = client_for(s.url, 20000);
	t0 = mid_now_ms();
	assert_fault(mid_client_validate(c, "svc:prod:garbage:01", &d), &d,
	             MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
	ck_assert_uint_lt(mid_now_ms() - t0, 10000);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

/* Connection 0 answers once and closes; later ones answer. */
static void serve_close_after_one(struct srv *s, int fd, int index)
{
	if(index > 0) {
		serve_allow(s, fd, index);
		return;
	}
	if(read_request(s, fd) > 0)
		send_str(fd, with_len("200 OK", "", ALLOW_BODY));
}

START_TEST(test_client_reconnect_after_close)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	/* A closed peer must not raise SIGPIPE in the gated program. */
	signal(SIGPIPE, SIG_DFL);
	srv_start(&s, serve_close_after_one, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:ka:01", &d), MID_OK);
	ck_assert(d.allowed);
	wait_for(&s.closed, 1);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:ka:01", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_uint_eq(mid_client_connects(c), 2);
	mid_client_free(c);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 2);
}
END_TEST

/* Connection 0 answers once, then reads the next request and closes
 * without a byte: the close races with the request. */
static void serve_race(struct srv *s, int fd, int index)
{
	if(index > 0) {
		serve_allow(s, fd, index);
		return;
	}
	if(read_request(s, fd) > 0)
		send_str(fd, with_len("200 OK", "", ALLOW_BODY));
	read_request(s, fd);
}

START_TEST(test_client_retry_once_on_reused)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	signal(SIGPIPE, SIG_DFL);
	srv_start(&s, serve_race, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:race:01", &d), MID_OK);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:race:01", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_str_eq(mid_client_detail(c), "");
	ck_assert_uint_eq(mid_client_connects(c), 2);
	mid_client_free(c);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 2);
}
END_TEST

/* Connection 0 answers once then closes on the next request; every
 * later connection closes on its request without a byte. */
static void serve_race_always(struct srv *s, int fd, int index)
{
	if(index == 0 && read_request(s, fd) > 0)
		send_str(fd, with_len("200 OK", "", ALLOW_BODY));
	read_request(s, fd);
}

START_TEST(test_client_retry_only_once)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_race_always, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:race:02", &d), MID_OK);
	/* The kept-alive connection closed under the request is replaced
	 * at once; a fresh connection closed before any byte is tried
	 * three times more (a control plane stopping with it queued), then
	 * it is the fault: 1 + 1 + 3 connections. */
	assert_fault(mid_client_validate(c, "svc:prod:race:02", &d), &d, MID_ERR_IO,
	             MID_CODE_TRUNCATED);
	ck_assert_uint_eq(mid_client_connects(c), 5);
	ck_assert_ptr_nonnull(strstr(mid_client_detail(c), "(4 tries in"));
	mid_client_free(c);
	wait_for(&s.closed, 5);
	srv_stop(&s);
	ck_assert_int_eq(atomic_load(&s.conns), 5);
}
END_TEST

/* The first connection is closed with the request unanswered (a control
 * plane that stopped with it queued); the next one answers. */
static void serve_close_first(struct srv *s, int fd, int index)
{
	if(read_request(s, fd) > 0 && index > 0)
		send_str(fd, with_len("200 OK", "", ALLOW_BODY));
	if(index > 0)
		await_close(fd);
}

START_TEST(test_client_fresh_close_retried)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_close_first, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:race:03", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_uint_eq(mid_client_connects(c), 2);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

/* Connection: close in a reply closes the client's side too. */
static void serve_conn_close(struct srv *s, int fd, int index)
{
	(void)index;
	if(read_request(s, fd) > 0)
		send_str(fd, with_len("200 OK", "Connection: close\r\n", ALLOW_BODY));
	await_close(fd);
}

START_TEST(test_client_connection_close)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	srv_start(&s, serve_conn_close, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:close:01", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_int_eq(mid_client_fd(c), -1);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:close:01", &d), MID_OK);
	ck_assert_uint_eq(mid_client_connects(c), 2);
	mid_client_free(c);
	srv_stop(&s);
}
END_TEST

/* ==== binding answers to requests ========================================= */

/* How serve_bound answers: as midd does, or as an impostor would. */
enum bound_mode {
	BOUND_MIDD,    /* session on "new", proof under its key */
	BOUND_WRONG,   /* a proof under another key */
	BOUND_NONE,    /* no proof at all */
	BOUND_REPLAY,  /* midd's first answer, again, for every request */
};
static atomic_int bound_mode;
static atomic_int bound_seen_new, bound_seen_sid;
static const unsigned char bound_secret[MID_SHA256_LEN] = {7, 7, 7};

/* The value of header 'name' in 'req' (up to CR) into 'out'. */
static void header_of(const char *req, size_t len, const char *name, char *out, size_t n)
{
	char pat[64];
	const char *h, *e;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\r\n%s: ", name);
	h = memmem(req, len, pat, strlen(pat));
	if(!h)
		return;
	h += strlen(pat);
	e = memchr(h, '\r', len - (size_t)(h - req));
	if(e && (size_t)(e - h) < n) {
		memcpy(out, h, (size_t)(e - h));
		out[e - h] = '\0';
	}
}

static void serve_bound(struct srv *s, int fd, int index)
{
	char first[1024] = "", body[1024];
	(void)index;

	while(read_request(s, fd) > 0) {
		char nonce[64], sid[64], proof[65], key[65], extra[256] = "";
		unsigned char k[MID_BIND_KEY_BYTES];

		pthread_mutex_lock(&s->lock);
		header_of(s->req, s->req_len, MID_BIND_NONCE_HEADER, nonce, sizeof(nonce));
		header_of(s->req, s->req_len, MID_BIND_SESSION_HEADER, sid, sizeof(sid));
		pthread_mutex_unlock(&s->lock);
		if(!strcmp(sid, MID_BIND_NEW)) {
			atomic_fetch_add(&bound_seen_new, 1);
			strcpy(sid, "00112233445566778899aabbccddeeff");
			mid_bind_session_key(bound_secret, 1, "svc:prod:bound:01", sid, k);
			mid_hex(k, sizeof(k), key);
			snprintf(extra, sizeof(extra), ",\"session\":\"%s\",\"sessionKey\":\"%s\"",
			         sid, key);
		} else {
			atomic_fetch_add(&bound_seen_sid, 1);
		}
		mid_bind_session_key(bound_secret, atomic_load(&bound_mode) == BOUND_WRONG ? 2 : 1,
		                     "svc:prod:bound:01", sid, k);
		mid_bind_proof(k, nonce, "svc:prod:bound:01", true, "ALLOW", RID, proof);
		snprintf(body, sizeof(body),
		         "{\"allowed\":true,\"code\":\"ALLOW\",\"request_id\":\"" RID "\"%s%s%s%s}",
		         extra, atomic_load(&bound_mode) == BOUND_NONE ? "" : ",\"proof\":\"",
		         atomic_load(&bound_mode) == BOUND_NONE ? "" : proof,
		         atomic_load(&bound_mode) == BOUND_NONE ? "" : "\"");
		if(atomic_load(&bound_mode) == BOUND_REPLAY && first[0])
			mid_strlcpy(body, first, sizeof(body));
		else if(!first[0])
			mid_strlcpy(first, body, sizeof(first));
		send_str(fd, with_len("200 OK", "", body));
	}
}

static void bound_run(enum bound_mode mode, bool second_ok)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;

	atomic_store(&bound_mode, mode);
	atomic_store(&bound_seen_new, 0);
	atomic_store(&bound_seen_sid, 0);
	srv_start(&s, serve_bound, false);
	c = client_for(s.url, 5000);
	mid_client_bind(c);
	/* The first answer opens the session; under the wrong key or
	 * without a proof it counts for nothing. */
	if(mode == BOUND_MIDD || mode == BOUND_REPLAY) {
		ck_assert_int_eq(mid_client_validate(c, "svc:prod:bound:01", &d), MID_OK);
		ck_assert(d.allowed);
	} else {
		assert_fault(mid_client_validate(c, "svc:prod:bound:01", &d), &d,
		             MID_ERR_BAD_REPLY, MID_CODE_BAD_PROOF);
	}
	ck_assert_str_eq(d.session_key, "");
	/* Later requests name the session and carry a new nonce. */
	if(second_ok) {
		ck_assert_int_eq(mid_client_validate(c, "svc:prod:bound:01", &d), MID_OK);
		ck_assert(d.allowed);
	} else {
		assert_fault(mid_client_validate(c, "svc:prod:bound:01", &d), &d,
		             MID_ERR_BAD_REPLY, MID_CODE_BAD_PROOF);
	}
	ck_assert_int_eq(atomic_load(&bound_seen_new), 1);
	ck_assert_int_eq(atomic_load(&bound_seen_sid), 1);
	mid_client_free(c);
	srv_stop(&s);
}

START_TEST(test_client_bind_proof)
{
	bound_run(BOUND_MIDD, true);
	bound_run(BOUND_WRONG, false);
	bound_run(BOUND_NONE, false);
	/* midd's own allow, replayed for a later request, is refused. */
	bound_run(BOUND_REPLAY, false);
}
END_TEST

/* Count what arrives on 'fd' within 'ms'. */
static size_t drain(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b[4096];
	size_t total = 0;
	ssize_t n;

	while(poll(&p, 1, ms) > 0 && (n = recv(fd, b, sizeof(b), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	return total;
}

START_TEST(test_client_fd_replaced)
{
	struct mid_client *c;
	struct mid_decision d;
	struct srv s;
	struct rlimit rl;
	struct stat st;
	long base = 1024;
	int fd, sp[2];

	srv_start(&s, serve_allow, false);
	c = client_for(s.url, 5000);
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:runner:01", &d), MID_OK);
	fd = mid_client_fd(c);
	/* Kept high, out of the way of the numbers a program reuses. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if(rl.rlim_cur < (rlim_t)base)
		base = (long)rl.rlim_cur;
	ck_assert_int_ge(fd, base - 32);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	/* The program closes the number unseen and puts its own socket
	 * there (as fclose(fdopen(fd)) and a dup onto it would). */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(dup2(sp[0], fd), fd);
	ck_assert_int_eq(mid_client_fd(c), -1);
	/* The next call goes to a new connection of the client's own; not
	 * a byte (nor the key) reaches the program's socket, which stays
	 * open. */
	ck_assert_int_eq(mid_client_validate(c, "svc:prod:runner:01", &d), MID_OK);
	ck_assert(d.allowed);
	ck_assert_uint_eq(mid_client_connects(c), 2);
	ck_assert_int_ne(mid_client_fd(c), fd);
	ck_assert_uint_eq(drain(sp[1], 100), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	/* Letting go of the client leaves the program's descriptor alone. */
	mid_client_free(c);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	close(sp[0]);
	close(sp[1]);
	srv_stop(&s);
}
END_TEST

START_TEST(test_client_https_without_libcurl)
{
	const char *real = mid_https_soname;
	struct mid_client *c = NULL;
	char err[512] = "";

	mid_https_soname = "libmidshim-no-such-curl.so.4";
	ck_assert_int_eq(
	    mid_client_new("https://127.0.0.1:8443", "k", 1000, &c, err, sizeof(err)),
	    MID_ERR_UNREACHABLE);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err, "install libcurl4"));
	ck_assert_ptr_nonnull(strstr(err, "http://"));
	ck_assert_ptr_nonnull(strstr(err, "unix:"));
	mid_https_soname = real;
	/* Plain URLs never need it. */
	c = client_for("http://127.0.0.1:1", 1000);
	mid_client_free(c);
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	TCase *core = t->core, *limits = t->limits, *errors = t->errors;

	t->name = "client";

	tcase_set_timeout(core, 60);
	tcase_set_timeout(limits, 60);
	tcase_set_timeout(errors, 60);
	tcase_add_test(core, test_client_parse_content_length);
	tcase_add_test(core, test_client_bind_proof);
	tcase_add_test(core, test_client_fd_replaced);
	tcase_add_test(core, test_client_parse_denied);
	tcase_add_test(core, test_client_parse_defaults);
	tcase_add_test(core, test_client_parse_chunked);
	tcase_add_test(core, test_client_parse_to_eof);
	tcase_add_test(core, test_client_parse_http10);
	tcase_add_test(core, test_client_parse_incremental);
	tcase_add_test(core, test_client_parse_register);
	tcase_add_test(core, test_client_url_accepts);
	tcase_add_test(core, test_client_validate_tcp_keepalive);
	tcase_add_test(core, test_client_validate_unix);
	tcase_add_test(core, test_client_register_call);
	tcase_add_test(core, test_client_request_escaping);
	tcase_add_test(core, test_client_forget_after_fork);
	tcase_add_test(core, test_client_connection_close);
	tcase_add_test(limits, test_client_reply_at_cap);
	tcase_add_test(limits, test_client_huge_content_length);
	tcase_add_test(limits, test_client_huge_chunk_size);
	tcase_add_test(limits, test_client_header_line_limit);
	tcase_add_test(limits, test_client_long_code_and_id);
	tcase_add_test(limits, test_client_sanitise);
	tcase_add_test(limits, test_client_device_limits);
	tcase_add_test(limits, test_client_key_limits);
	tcase_add_test(limits, test_client_flood_too_large);
	tcase_add_test(limits, test_client_cap_on_socket);
	tcase_add_test(limits, test_client_big_length_on_socket);
	tcase_add_test(errors, test_client_truncated_every_prefix);
	tcase_add_test(errors, test_client_not_json);
	tcase_add_test(errors, test_client_allowed_types);
	tcase_add_test(errors, test_client_http_errors);
	tcase_add_test(errors, test_client_bad_status_line);
	tcase_add_test(errors, test_client_bad_headers);
	tcase_add_test(errors, test_client_bad_chunks);
	tcase_add_test(errors, test_client_url_rejects);
	tcase_add_test(errors, test_client_refused);
	tcase_add_test(errors, test_client_no_unix_socket);
	tcase_add_test(errors, test_client_rides_out_restart);
	tcase_add_test(errors, test_client_timeout);
	tcase_add_test(errors, test_client_reset_mid_reply);
	tcase_add_test(errors, test_client_garbage_on_socket);
	tcase_add_test(errors, test_client_reconnect_after_close);
	tcase_add_test(errors, test_client_retry_once_on_reused);
	tcase_add_test(errors, test_client_retry_only_once);
	tcase_add_test(errors, test_client_fresh_close_retried);
	tcase_add_test(errors, test_client_https_without_libcurl);
}
