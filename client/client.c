/* SPDX-License-Identifier: MIT */
/*
 * The control-plane client's plain transport: URL parsing, the request
 * (built once per deviceId), and HTTP/1.1 over TCP or a unix socket with
 * keep-alive, a non-blocking connect and one deadline for the whole call.
 * It runs inside gated programs, so it allocates only in mid_client_new,
 * never raises SIGPIPE, and leaves no descriptor to a child's exec.
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Backoff between tries at a control plane that refuses: 5, 10, 20...
 * ms, at most 200 ms apart, and a bound on tries even with a long
 * deadline. */
#define MID_RETRY_FIRST_MS 5u
#define MID_RETRY_MAX_MS 200u
#define MID_RETRY_TRIES 400u
#define MID_RETRY_LAST_MS 5u
/* A fresh connection closed before any reply byte: a control plane that
 * stopped with our connection in its accept queue, or shed it under
 * load. Worth a few more rounds within the deadline, not more: a server
 * that does it every time is broken, and says so soon. */
#define MID_RETRY_CLOSED 3u

static void set_detail(struct mid_client *c, const char *what, int e)
{
	const char *where = c->url.scheme == MID_SCHEME_UNIX ? c->url.path : c->url.host;

	snprintf(c->detail, sizeof(c->detail), "%.16s %.120s%s%.5s: %.80s", what, where,
	         c->url.scheme == MID_SCHEME_UNIX ? "" : ":",
	         c->url.scheme == MID_SCHEME_UNIX ? "" : c->url.port, strerror(e));
}

/* A numeric host is resolved once here, so a call never waits on
 * getaddrinfo or allocates for it. */
static void resolve_numeric(struct mid_client *c)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if(getaddrinfo(c->url.host, c->url.port, &hints, &res) == 0 && res &&
	   res->ai_addrlen <= sizeof(c->addr)) {
		memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
		c->addrlen = res->ai_addrlen;
	}
	if(res)
		freeaddrinfo(res);
}

/* What mid_client_new and mid_client_check refuse: a bad URL (list), key
 * or timeout. Fills 'u' (MID_URLS_MAX) with the parsed URLs, '*n'. */
static enum mid_rc check_args(const char *url, const char *org_key, long timeout_ms,
                              struct mid_url *u, size_t *n, char *err, size_t errlen)
{
	enum mid_rc rc;

	rc = mid_url_parse_list(url, u, n, err, errlen);
	if(rc)
		return rc;
	if(!org_key || !mid_key_ok(org_key)) {
		snprintf(err, errlen,
		         "the org key must be 1-%d bytes without a space or control byte",
		         MID_KEY_MAX);
		return MID_ERR_INVAL;
	}
	if(timeout_ms < 1 || timeout_ms > MID_TIMEOUT_MAX_MS) {
		snprintf(err, errlen, "the timeout must be 1-%d ms, not %ld",
		         MID_TIMEOUT_MAX_MS, timeout_ms);
		return MID_ERR_INVAL;
	}
	return MID_OK;
}

enum mid_rc mid_client_check(const char *url, const char *org_key, long timeout_ms,
                             char *err, size_t errlen)
{
	struct mid_url u[MID_URLS_MAX];
	size_t n;
	enum mid_rc rc = check_args(url, org_key, timeout_ms, u, &n, err, errlen);

	if(rc == MID_OK && u[0].scheme == MID_SCHEME_HTTPS)
		rc = mid_https_load(err, errlen);
	return rc;
}

enum mid_rc mid_client_new(const char *url, const char *org_key, long timeout_ms,
                           struct mid_client **out, char *err, size_t errlen)
{
	struct mid_client *c = NULL;
	enum mid_rc rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if(!c) {
		rc = MID_ERR_NOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	c->fd = -1;
	c->curl_fd = -1;
	c->curl_call = -1;
	rc = check_args(url, org_key, timeout_ms, c->urls, &c->nurls, err, errlen);
	if(rc)
		goto out;
	memcpy(c->key, org_key, strlen(org_key) + 1);
	c->timeout_ms = timeout_ms;
	rc = MID_ERR_NOMEM;
	c->req = malloc(MID_REQUEST_MAX);
	c->rbuf = malloc(MID_REPLY_MAX + 1);
	if(!c->req || !c->rbuf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = MID_OK;
	for(size_t i = c->nurls; i-- > 0;) {
		c->url = c->urls[i];
		c->addrlen = 0;
		if(c->url.scheme == MID_SCHEME_HTTP)
			resolve_numeric(c);
		c->addrs[i] = c->addr;
		c->addrlens[i] = c->addrlen;
	}
	mid_url_format(&c->url, c->url_text, sizeof(c->url_text));
	if(c->url.scheme == MID_SCHEME_HTTPS)
		rc = mid_https_load(err, errlen);
out:
	if(rc)
		mid_client_free(c);
	else
		*out = c;
	return rc;
}

enum mid_rc mid_client_set_ca_file(struct mid_client *c, const char *path)
{
	if(!c || !path || strlen(path) >= sizeof(c->ca_file))
		return MID_ERR_INVAL;
	mid_strlcpy(c->ca_file, path, sizeof(c->ca_file));
	/* A handle made with the old setting is made again. */
	mid_https_close(c, 0);
	return MID_OK;
}

enum mid_rc mid_client_set_mode(struct mid_client *c, const char *mode)
{
	if(!mode)
		mode = "";
	if(!c || (*mode && strcmp(mode, "enforce") && strcmp(mode, "audit")))
		return MID_ERR_INVAL;
	mid_strlcpy(c->mode, mode, sizeof(c->mode));
	c->req_ready = 0;
	return MID_OK;
}

/*
 * Is c->fd still the socket this client connected? A program can close
 * the number behind the shim's back (fclose(fdopen(fd)), fcloseall) and
 * put a socket of its own there. The inode of a socket names that socket
 * alone (a copy the program dup'ed from ours is the same connection, to
 * the same midd), so it says more than the peer's address would.
 */
static int own_fd(const struct mid_client *c)
{
	struct stat st;

	return c->fd >= 0 && fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       st.st_dev == c->fd_dev && st.st_ino == c->fd_ino;
}

/* Let go of c->fd: closed when it is still ours, else only forgotten,
 * since the number now holds the program's descriptor. */
static void let_go(struct mid_client *c)
{
	if(own_fd(c))
		close(c->fd);
	c->fd = -1;
	c->served = 0;
	c->unread = 0;
}

int mid_client_fd_raise(int fd)
{
	struct rlimit rl;
	long base = 1024;
	int hi;

	if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)base)
		base = (long)rl.rlim_cur;
	base -= 32;
	if(base > fd && (hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)base)) >= 0) {
		close(fd);
		fd = hi;
	}
	return fd;
}

/* Move a fresh connection out of the program's way and remember what it
 * is. 0, or -1 when it cannot be told apart. */
static int settle(struct mid_client *c, int fd)
{
	struct stat st;

	fd = mid_client_fd_raise(fd);
	if(fstat(fd, &st)) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->fd_dev = st.st_dev;
	c->fd_ino = st.st_ino;
	return 0;
}

static void nonce_seed(struct mid_client *c)
{
	uint64_t t = mid_now_ns();

	if(getrandom(c->nonce_seed, sizeof(c->nonce_seed), GRND_NONBLOCK) !=
	   (ssize_t)sizeof(c->nonce_seed))
		memcpy(c->nonce_seed, &t, sizeof(c->nonce_seed));
	c->nonce_count = 0;
}

void mid_client_bind(struct mid_client *c)
{
	if(!c || c->url.scheme == MID_SCHEME_HTTPS || c->bind)
		return;
	c->bind = 1;
	c->req_ready = 0;
	nonce_seed(c);
}

void mid_client_disconnect(struct mid_client *c)
{
	if(!c)
		return;
	let_go(c);
	c->rlen = 0;
	mid_https_close(c, 0);
}

void mid_client_forget(struct mid_client *c)
{
	if(!c)
		return;
	/* Only the child's copy goes: a shutdown() or a write would end
	 * or corrupt the parent's connection. The child's nonces must not
	 * repeat the parent's. */
	if(c->bind)
		nonce_seed(c);
	if(own_fd(c))
		close(c->fd);
	c->fd = -1;
	c->served = 0;
	c->unread = 0;
	c->rlen = 0;
	mid_https_close(c, 1);
}

void mid_client_free(struct mid_client *c)
{
	if(!c)
		return;
	mid_client_disconnect(c);
	if(c->req)
		explicit_bzero(c->req, MID_REQUEST_MAX);
	explicit_bzero(c->key, sizeof(c->key));
	explicit_bzero(c->skey, sizeof(c->skey));
	free(c->req);
	free(c->rbuf);
	free(c);
}

int mid_client_fd(const struct mid_client *c)
{
	if(!c)
		return -1;
	if(c->url.scheme == MID_SCHEME_HTTPS)
		return c->curl_fd;
	return own_fd(c) ? c->fd : -1;
}

unsigned long mid_client_connects(const struct mid_client *c)
{
	return c ? c->connects : 0;
}

const char *mid_client_url(const struct mid_client *c)
{
	return c ? c->url_text : "";
}

size_t mid_client_url_count(const struct mid_client *c)
{
	return c ? c->nurls : 0;
}

const char *mid_client_detail(const struct mid_client *c)
{
	return c ? c->detail : "";
}

/*
 * Make the request for 'call' and 'device' ready in c->req, unless it
 * already is: a repeated validate only writes the buffer. The sizes are
 * bounded (key, host, 6 bytes per device byte), so MID_REQUEST_MAX holds
 * the largest request.
 */
void mid_client_set_counts(struct mid_client *c, const uint64_t counts[MID_CLIENT_COUNTS])
{
	int any = 0;

	if(!c)
		return;
	for(int i = 0; counts && i < MID_CLIENT_COUNTS; i++)
		any |= counts[i] != 0;
	if(any)
		memcpy(c->counts, counts, sizeof(c->counts));
	c->have_counts = any;
	/* A request with counts is written anew, and so is the plain one
	 * after it. */
	if(any || c->req_counts)
		c->req_ready = 0;
}

/* The "counts" member of a validate body, into 'out' (room for 160). */
static size_t counts_member(const struct mid_client *c, char *out)
{
	return (size_t)sprintf(out, ",\"counts\":{\"execs\":%llu,\"connects\":%llu,"
			       "\"bytesOut\":%llu,\"writes\":%llu}",
			       (unsigned long long)c->counts[0], (unsigned long long)c->counts[1],
			       (unsigned long long)c->counts[2], (unsigned long long)c->counts[3]);
}

static enum mid_rc prepare(struct mid_client *c, enum mid_call call, const char *device)
{
	char body[48 + 6 * MID_DEVICE_MAX + 160];
	size_t n, blen;
	int h;

	n = device ? strnlen(device, MID_DEVICE_MAX + 1) : 0;
	if(n == 0 || n > MID_DEVICE_MAX)
		return MID_ERR_INVAL;
	if(c->req_ready && c->req_call == call &&
	   memcmp(c->req_device, device, n + 1) == 0)
		return MID_OK;
	c->req_ready = 0;
	memcpy(body, "{\"deviceId\":", 12);
	blen = mid_json_str(body + 12, sizeof(body) - 12, device);
	if(!blen)
		return MID_ERR_TOO_BIG;
	blen += 12;
	if(call == MID_CALL_VALIDATE && c->mode[0])
		blen += (size_t)sprintf(body + blen, ",\"mode\":\"%s\"", c->mode);
	c->req_counts = call == MID_CALL_VALIDATE && c->have_counts;
	if(c->req_counts)
		blen += counts_member(c, body + blen);
	memcpy(body + blen, "}", 2);
	blen += 1;
	if(c->url.scheme == MID_SCHEME_UNIX)
		h = snprintf(c->req, MID_REQUEST_MAX,
		             "POST %s HTTP/1.1\r\nHost: localhost\r\n",
		             call == MID_CALL_VALIDATE ? "/api/v1/devices/validate"
		                                       : "/api/v1/devices/register");
	else
		h = snprintf(
		    c->req, MID_REQUEST_MAX, "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n",
		    call == MID_CALL_VALIDATE ? "/api/v1/devices/validate"
		                              : "/api/v1/devices/register",
		    c->url.bracket ? "[" : "", c->url.host, c->url.bracket ? "]" : "",
		    strcmp(c->url.port, c->url.scheme == MID_SCHEME_HTTP ? "80" : "443")
		        ? ":"
		        : "",
		    strcmp(c->url.port, c->url.scheme == MID_SCHEME_HTTP ? "80" : "443")
		        ? c->url.port
		        : "");
	if(h < 0 || (size_t)h >= MID_REQUEST_MAX)
		return MID_ERR_TOO_BIG;
	n = (size_t)h;
	if(c->bind) {
		/* The nonce's digits are written per request (stamp). */
		h = snprintf(c->req + n, MID_REQUEST_MAX - n, "%s: %0*d\r\n%s: %s\r\n",
		             MID_BIND_NONCE_HEADER, MID_BIND_HEX, 0, MID_BIND_SESSION_HEADER,
		             c->have_session ? c->sid : MID_BIND_NEW);
		if(h < 0 || (size_t)h >= MID_REQUEST_MAX - n)
			return MID_ERR_TOO_BIG;
		c->nonce_off = n + strlen(MID_BIND_NONCE_HEADER) + 2;
		n += (size_t)h;
	}
	h = snprintf(c->req + n, MID_REQUEST_MAX - n,
	             "x-org-key: %s\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\n\r\n",
	             c->key, blen);
	if(h < 0 || (size_t)h + blen >= MID_REQUEST_MAX - n)
		return MID_ERR_TOO_BIG;
	n += (size_t)h;
	memcpy(c->req + n, body, blen);
	c->body_off = n;
	c->req_len = n + blen;
	c->req_call = call;
	memcpy(c->req_device, device, strlen(device) + 1);
	c->req_ready = 1;
	return MID_OK;
}

/* Wait for 'events' on 'fd' until 'deadline' (ms, CLOCK_MONOTONIC). */
enum mid_rc mid_client_wait_fd(int fd, short events, uint64_t deadline)
{
	for(;;) {
		uint64_t now = mid_now_ms(), left;
		struct pollfd p = {.fd = fd, .events = events};
		int n;

		if(now >= deadline)
			return MID_ERR_TIMEOUT;
		left = deadline - now;
		n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if(n > 0)
			return MID_OK; /* POLLERR/POLLHUP: the next call says which */
		if(n < 0 && errno != EINTR)
			return MID_ERR_IO;
	}
}

/* Connect to one address with a non-blocking connect bounded by
 * 'deadline'. '*e' gets the errno of a failure. */
static enum mid_rc dial(const struct sockaddr *sa, socklen_t salen, uint64_t deadline,
                        int *fdout, int *e)
{
	int fd, one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);
	enum mid_rc rc = MID_OK;

	*e = 0;
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if(fd < 0) {
		*e = errno;
		return MID_ERR_IO;
	}
	if(sa->sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for(;;) {
		if(connect(fd, sa, salen) == 0)
			break;
		if(errno == EINPROGRESS || errno == EINTR) {
			rc = mid_client_wait_fd(fd, POLLOUT, deadline);
			if(rc == MID_OK &&
			   getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
				soerr = errno;
			if(rc == MID_OK && soerr) {
				*e = soerr;
				rc = MID_ERR_UNREACHABLE;
			}
			break;
		}
		if(errno == EAGAIN && sa->sa_family == AF_UNIX) {
			/* The listener's backlog is full; a unix socket cannot
			 * be polled for that, so try again shortly. */
			if(mid_now_ms() >= deadline) {
				rc = MID_ERR_TIMEOUT;
				break;
			}
			poll(NULL, 0, 1);
			continue;
		}
		*e = errno;
		rc = MID_ERR_UNREACHABLE;
		break;
	}
	if(rc)
		close(fd);
	else
		*fdout = fd;
	return rc;
}

/* Open a fresh connection: the unix socket, the numeric address, or each
 * address a name resolves to in turn. Fills 'd' on failure, and '*err'
 * with the errno of a refused or failed connect (0 for other faults). */
static enum mid_rc open_conn(struct mid_client *c, uint64_t deadline,
                             struct mid_decision *d, int *err)
{
	enum mid_rc rc;
	int e = 0;

	*err = 0;

	if(c->url.scheme == MID_SCHEME_UNIX) {
		struct sockaddr_un sun;

		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, c->url.path, strlen(c->url.path) + 1);
		rc = dial((struct sockaddr *)&sun, sizeof(sun), deadline, &c->fd, &e);
	} else if(c->addrlen) {
		rc = dial((struct sockaddr *)&c->addr, c->addrlen, deadline, &c->fd, &e);
	} else {
		struct addrinfo hints, *res = NULL, *ai;
		int g;

		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		g = getaddrinfo(c->url.host, c->url.port, &hints, &res);
		if(g) {
			snprintf(c->detail, sizeof(c->detail), "resolve %.120s: %.80s",
			         c->url.host, gai_strerror(g));
			return mid_reply_fault(d, MID_ERR_UNREACHABLE,
			                       MID_CODE_UNREACHABLE);
		}
		rc = MID_ERR_UNREACHABLE;
		for(ai = res; ai; ai = ai->ai_next) {
			rc = dial(ai->ai_addr, ai->ai_addrlen, deadline, &c->fd, &e);
			if(rc != MID_ERR_UNREACHABLE)
				break;
		}
		freeaddrinfo(res);
	}
	if(rc == MID_OK) {
		if(settle(c, c->fd) == 0) {
			c->connects++;
			c->served = 0;
			return MID_OK;
		}
		e = errno;
		rc = MID_ERR_IO;
	}
	c->fd = -1;
	*err = e;
	if(rc == MID_ERR_TIMEOUT) {
		set_detail(c, "connect", ETIMEDOUT);
		return mid_reply_fault(d, rc, MID_CODE_TIMEOUT);
	}
	set_detail(c, "connect", e);
	return mid_reply_fault(d, rc,
	                       rc == MID_ERR_IO ? MID_CODE_IO : MID_CODE_UNREACHABLE);
}

static void drop(struct mid_client *c)
{
	let_go(c);
}

/* Write a fresh nonce into the ready request. */
static void stamp(struct mid_client *c)
{
	unsigned char id[MID_BIND_ID_BYTES];
	uint64_t n = ++c->nonce_count;
	int i;

	memcpy(id, c->nonce_seed, 8);
	for(i = 0; i < 8; i++)
		id[8 + i] = (unsigned char)(n >> (56 - 8 * i));
	mid_hex(id, sizeof(id), c->nonce);
	memcpy(c->req + c->nonce_off, c->nonce, MID_BIND_HEX);
}

/* A bound client's answer: take the session a first answer opens, then
 * accept a validate answer only with midd's proof over this request's
 * nonce and the decision. */
static enum mid_rc bind_check(struct mid_client *c, enum mid_call kind, const char *device,
                              struct mid_decision *d)
{
	char want[2 * MID_SHA256_LEN + 1];
	int good;

	if(!c->have_session && d->session[0] && d->session_key[0] &&
	   mid_unhex(d->session_key, c->skey, sizeof(c->skey))) {
		memcpy(c->sid, d->session, sizeof(c->sid));
		c->have_session = 1;
		c->req_ready = 0; /* the next request names the session */
	}
	explicit_bzero(d->session_key, sizeof(d->session_key));
	if(kind != MID_CALL_VALIDATE)
		return MID_OK;
	good = 0;
	if(c->have_session && d->proof[0]) {
		mid_bind_proof(c->skey, c->nonce, device, d->allowed, d->code, d->request_id,
		               want);
		good = mid_ct_equal(want, d->proof, sizeof(want) - 1);
	}
	if(good)
		return MID_OK;
	mid_strlcpy(c->detail,
	            c->have_session ? "the answer carries no valid proof for this request"
	                            : "the answer opens no session, so it proves nothing",
	            sizeof(c->detail));
	return mid_reply_fault(d, MID_ERR_BAD_REPLY, MID_CODE_BAD_PROOF);
}

/*
 * Write the ready request and read one reply on c->fd. '*early' says the
 * peer closed before the first reply byte, the one case where a kept-alive
 * connection may be retried. The connection is kept only after a good
 * reply that does not ask for a close.
 */
static enum mid_rc exchange(struct mid_client *c, uint64_t deadline,
                            struct mid_decision *d, int *early)
{
	struct mid_reply r;
	enum mid_rc rc;
	size_t off = 0;
	ssize_t n;

	*early = 0;
	c->rlen = 0;
	memset(&r, 0, sizeof(r));
	/* The request holds the org key: it goes only to the socket this
	 * client connected. */
	if(!own_fd(c)) {
		snprintf(c->detail, sizeof(c->detail),
		         "the connection's descriptor was replaced; not sent");
		c->fd = -1;
		c->served = 0;
		return mid_reply_fault(d, MID_ERR_IO, MID_CODE_IO);
	}
	while(off < c->req_len) {
		n = send(c->fd, c->req + off, c->req_len - off,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
		if(n > 0) {
			off += (size_t)n;
		} else if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			rc = mid_client_wait_fd(c->fd, POLLOUT, deadline);
			if(rc)
				goto fault;
		} else if(n < 0 && errno == EINTR) {
			continue;
		} else {
			*early = errno == EPIPE || errno == ECONNRESET;
			set_detail(c, "send to", errno);
			rc = mid_reply_fault(d, MID_ERR_IO,
			                     *early ? MID_CODE_TRUNCATED : MID_CODE_IO);
			goto out;
		}
	}
	for(;;) {
		rc = mid_client_wait_fd(c->fd, POLLIN, deadline);
		if(rc)
			goto fault;
		n = recv(c->fd, c->rbuf + c->rlen, MID_REPLY_MAX + 1 - c->rlen,
		         MSG_DONTWAIT);
		if(n > 0) {
			c->rlen += (size_t)n;
			rc = mid_reply_read(c->req_call, c->rbuf, c->rlen, 0, &r, d);
			if(rc != MID_ERR_PARSE)
				break;
		} else if(n == 0) {
			*early = c->rlen == 0;
			rc = mid_reply_read(c->req_call, c->rbuf, c->rlen, 1, &r, d);
			if(rc == MID_ERR_IO)
				set_detail(c, "reply from", EPIPE);
			break;
		} else if(errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			*early = c->rlen == 0 && errno == ECONNRESET;
			set_detail(c, "reply from", errno);
			rc = mid_reply_fault(d, MID_ERR_IO,
			                     errno == ECONNRESET ? MID_CODE_TRUNCATED
			                                         : MID_CODE_IO);
			goto out;
		}
	}
	goto out;
fault:
	if(rc == MID_ERR_TIMEOUT) {
		set_detail(c, "reply from", ETIMEDOUT);
		rc = mid_reply_fault(d, rc, MID_CODE_TIMEOUT);
	} else {
		set_detail(c, "poll on", errno);
		rc = mid_reply_fault(d, MID_ERR_IO, MID_CODE_IO);
	}
out:
	if(rc == MID_OK && !own_fd(c)) {
		/* Replaced while the call ran: the answer is not midd's. */
		snprintf(c->detail, sizeof(c->detail),
		         "the connection's descriptor was replaced during the call");
		rc = mid_reply_fault(d, MID_ERR_IO, MID_CODE_IO);
	}
	if(rc == MID_OK && !r.close && r.consumed == c->rlen)
		c->served++;
	else
		drop(c);
	return rc;
}

static int stale(int fd);

/* Read and drop the answer to a report sent without waiting for it, so
 * the connection carries the next call in step; a connection that does
 * not give a whole answer by 'deadline' is dropped. */
static void drain(struct mid_client *c, uint64_t deadline)
{
	struct mid_decision d;
	struct mid_reply r;
	enum mid_rc rc;
	ssize_t n;

	c->unread = 0;
	c->rlen = 0;
	for(;;) {
		if(mid_client_wait_fd(c->fd, POLLIN, deadline))
			break;
		n = recv(c->fd, c->rbuf + c->rlen, MID_REPLY_MAX + 1 - c->rlen, MSG_DONTWAIT);
		if(n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if(n <= 0)
			break;
		c->rlen += (size_t)n;
		rc = mid_reply_read(MID_CALL_REGISTER, c->rbuf, c->rlen, 0, &r, &d);
		if(rc == MID_ERR_PARSE)
			continue;
		c->rlen = 0;
		if(r.consumed && !r.close)
			return;
		break;
	}
	c->rlen = 0;
	drop(c);
}

/*
 * Makes the kept connection fit for the next request, or forgets it. A
 * number that no longer holds our socket is the program's now: forgotten,
 * never written to, and a fresh connection made. One answer is outstanding
 * at a time: an earlier report's is read first. An idle connection the
 * server has closed is replaced before use.
 */
static void conn_check(struct mid_client *c, uint64_t deadline)
{
	if(c->fd >= 0 && !own_fd(c)) {
		c->fd = -1;
		c->served = 0;
		c->unread = 0;
	}
	if(c->fd >= 0 && c->unread)
		drain(c, deadline);
	if(c->fd >= 0 && stale(c->fd))
		drop(c);
}

enum mid_rc mid_client_report(struct mid_client *c, const char *body, size_t len)
{
	char req[MID_REQUEST_MAX];
	struct mid_decision d;
	uint64_t deadline;
	size_t off = 0;
	enum mid_rc rc = MID_OK;
	int h, e;

	if(!c || c->url.scheme == MID_SCHEME_HTTPS || !body || len > MID_REPORT_BODY_MAX)
		return MID_ERR_INVAL;
	deadline = mid_now_ms() +
	           (uint64_t)(c->timeout_ms < MID_REPORT_WAIT_MS ? c->timeout_ms : MID_REPORT_WAIT_MS);
	h = snprintf(req, sizeof(req),
	             "POST " MID_REPORT_PATH " HTTP/1.1\r\nHost: %s\r\nx-org-key: %s\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%.*s",
	             c->url.scheme == MID_SCHEME_UNIX ? "localhost" : c->url.host, c->key, len,
	             (int)len, body);
	if(h < 0 || (size_t)h >= sizeof(req))
		return MID_ERR_TOO_BIG;
	conn_check(c, deadline);
	if(c->fd < 0)
		rc = open_conn(c, deadline, &d, &e);
	while(!rc && off < (size_t)h) {
		ssize_t n = send(c->fd, req + off, (size_t)h - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if(n > 0)
			off += (size_t)n;
		else if(n < 0 && (errno == EAGAIN || errno == EINTR))
			rc = mid_client_wait_fd(c->fd, POLLOUT, deadline);
		else
			rc = MID_ERR_IO;
	}
	explicit_bzero(req, sizeof(req));
	if(rc) {
		/* Half a request would put the connection out of step. */
		if(c->fd >= 0)
			drop(c);
		return rc;
	}
	c->unread = 1;
	return MID_OK;
}

/* Has the peer closed (or sent unasked bytes on) the idle connection? */
static int stale(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) != 0;
}

/* A control plane that restarts refuses connections, or has no socket
 * file, for a moment: worth another try within the deadline. */
static int passing(int e)
{
	return e == ECONNREFUSED || e == ENOENT || e == ECONNRESET || e == EAGAIN;
}

/*
 * Wait before the next try: 'delay' ms (doubled each time, at most
 * MID_RETRY_MAX_MS), never past 'deadline'. 0 when the deadline has
 * come, so the caller gives up with the fault it has.
 */
static int backoff(uint64_t deadline, unsigned *delay)
{
	uint64_t now = mid_now_ms(), left;

	/* The last try needs a moment of its own: a connect that cannot
	 * finish before the deadline would turn "refused" into a timeout. */
	if(now + MID_RETRY_LAST_MS >= deadline)
		return 0;
	left = deadline - now - MID_RETRY_LAST_MS;
	poll(NULL, 0, (int)(left < *delay ? left : *delay));
	*delay = *delay * 2 > MID_RETRY_MAX_MS ? MID_RETRY_MAX_MS : *delay * 2;
	return 1;
}

/* Make urls['i'] the control plane in use: the connection to another
 * one goes, and the request is made again for its Host. */
static void use(struct mid_client *c, size_t i)
{
	if(i == c->at)
		return;
	drop(c);
	c->rlen = 0;
	mid_https_close(c, 0);
	c->at = i;
	c->url = c->urls[i];
	c->addr = c->addrs[i];
	c->addrlen = c->addrlens[i];
	c->req_ready = 0;
	mid_url_format(&c->url, c->url_text, sizeof(c->url_text));
}

/*
 * One try at the control plane in use, until 'deadline': a kept-alive
 * connection the server closed before any reply byte is replaced once.
 * '*e' gets the errno of a refused or failed connect; '*closed' is set
 * when a fresh connection was closed before any reply byte.
 */
static enum mid_rc attempt(struct mid_client *c, enum mid_call kind, const char *device,
                           uint64_t deadline, struct mid_decision *d, int *e, int *closed)
{
	enum mid_rc rc;
	int early = 0, reused = 0;

	*e = 0;
	*closed = 0;
	memset(d, 0, sizeof(*d));
	rc = prepare(c, kind, device);
	if(rc) {
		snprintf(c->detail, sizeof(c->detail), "the deviceId must be 1-%d bytes",
		         MID_DEVICE_MAX);
		return mid_reply_fault(d, rc, MID_CODE_INVALID);
	}
	if(c->url.scheme == MID_SCHEME_HTTPS)
		return mid_https_call(c, deadline, d);
	/* The retry below covers a close that races with our request. */
	conn_check(c, deadline);
	for(;;) {
		reused = c->fd >= 0;
		if(!reused) {
			rc = open_conn(c, deadline, d, e);
			if(rc)
				return rc;
		}
		if(c->bind)
			stamp(c);
		rc = exchange(c, deadline, d, &early);
		/* Closed before the reply: a kept-alive connection is
		 * replaced at once; a fresh one is a fault of this round,
		 * which call() may try again (every call is safe to
		 * repeat: a validate decides again, a register of a
		 * device that exists answers "exists"). */
		if(!rc || !early || !reused)
			break;
	}
	*closed = rc != MID_OK && early && !reused;
	if(rc == MID_OK && c->bind)
		rc = bind_check(c, kind, device, d);
	return rc;
}

/* A fault another control plane of the list may not have: it cannot be
 * reached, it failed, or it has lost its database (MIDD_STALE). */
static int try_next(enum mid_rc rc, const struct mid_decision *d)
{
	return rc == MID_ERR_UNREACHABLE || rc == MID_ERR_TIMEOUT || rc == MID_ERR_IO ||
	       (rc == MID_ERR_HTTP && d->http_status >= 500) ||
	       (rc == MID_OK && !d->allowed && !strcmp(d->code, "MIDD_STALE"));
}

/*
 * One call within one deadline. The control planes are tried in order,
 * the one that answered last first; each but the last of a round gets an
 * even share of the time left, so one that hangs cannot take it all. A
 * refused connection or a missing unix socket (a control plane
 * restarting) is worth another round, after a backoff, until the
 * deadline; only then is it a denial. With one URL that is the same
 * control plane tried again.
 */
static enum mid_rc call(struct mid_client *c, enum mid_call kind, const char *device,
                        struct mid_decision *d)
{
	uint64_t deadline, t0, now;
	unsigned delay = MID_RETRY_FIRST_MS, tries = 0, closes = 0;
	struct mid_decision kept;
	size_t k, i, kept_at = 0;
	enum mid_rc rc = MID_OK;
	int e = 0, refused = 0, again, have_kept = 0, closed;

	memset(d, 0, sizeof(*d));
	if(!c)
		return mid_reply_fault(d, MID_ERR_INVAL, MID_CODE_INVALID);
	c->detail[0] = '\0';
	t0 = mid_now_ms();
	deadline = t0 + (uint64_t)c->timeout_ms;
	for(;;) {
		again = 0;
		for(k = 0; k < c->nurls; k++) {
			uint64_t until = deadline;

			/* The preferred one, then the others in list order. */
			i = k == 0 ? c->pref : k <= c->pref ? k - 1 : k;
			use(c, i);
			now = mid_now_ms();
			if(now >= deadline)
				break;
			if(k + 1 < c->nurls)
				until = now + (deadline - now) / (c->nurls - k);
			tries++;
			rc = attempt(c, kind, device, until, d, &e, &closed);
			if(rc == MID_ERR_UNREACHABLE && passing(e)) {
				refused = e;
				again = 1;
			}
			if(closed && closes++ < MID_RETRY_CLOSED)
				again = 1;
			/* A decision, or a fault every control plane would give. */
			if(!try_next(rc, d))
				goto done;
			if(rc == MID_OK) {
				/* MIDD_STALE: a denial, kept unless another answers. */
				kept = *d;
				kept_at = i;
				have_kept = 1;
			}
		}
		if(!again || tries >= MID_RETRY_TRIES || !backoff(deadline, &delay))
			break;
	}
	/* A last connect that the deadline cut short does not hide that the
	 * server was refusing until then. */
	if(rc == MID_ERR_TIMEOUT && refused) {
		set_detail(c, "connect", refused);
		rc = mid_reply_fault(d, MID_ERR_UNREACHABLE, MID_CODE_UNREACHABLE);
	}
	if(rc != MID_OK && have_kept) {
		use(c, kept_at);
		*d = kept;
		rc = MID_OK;
	}
done:
	if(rc == MID_OK && (d->allowed || strcmp(d->code, "MIDD_STALE")))
		c->pref = c->at;
	if(rc == MID_OK) {
		c->detail[0] = '\0';
	} else if(tries > 1) {
		size_t n = strlen(c->detail);

		snprintf(c->detail + n, sizeof(c->detail) - n, " (%u tries in %llu ms)", tries,
		         (unsigned long long)(mid_now_ms() - t0));
	}
	return rc;
}

enum mid_rc mid_client_chan_request(const struct mid_client *c, const char *device,
                                    const char *hello, char *req, size_t n, int *len)
{
	if(!device || strnlen(device, MID_DEVICE_MAX + 1) > MID_DEVICE_MAX)
		return MID_ERR_INVAL;
	/* deviceId is printable ASCII without spaces; only '&', '#', '%'
	 * and '+' would change the query's meaning. */
	if(strpbrk(device, "&#%+"))
		return MID_ERR_INVAL;
	*len = snprintf(req, n,
	                "GET " MID_PUSH_PATH "?deviceId=%s HTTP/1.1\r\nHost: %s\r\n"
	                "x-org-key: %s\r\nConnection: Upgrade\r\nUpgrade: " MID_PUSH_PROTOCOL
	                "\r\n%s\r\n",
	                device, c->url.scheme == MID_SCHEME_UNIX ? "localhost" : c->url.host,
	                c->key, hello ? hello : "");
	if(*len < 0 || (size_t)*len >= n) {
		explicit_bzero(req, n);
		return MID_ERR_TOO_BIG;
	}
	return MID_OK;
}

enum mid_rc mid_client_channel(struct mid_client *c, const char *device, const char *hello,
                               int *fdout)
{
	char req[MID_REQUEST_MAX], head[1024];
	struct mid_decision d;
	uint64_t deadline;
	size_t off = 0, hl = 0;
	struct {
		int fd;
		dev_t dev;
		ino_t ino;
		unsigned long served, connects;
	} keep;
	enum mid_rc rc;
	int fd, h, e;

	*fdout = -1;
	if(!c || c->url.scheme == MID_SCHEME_HTTPS)
		return MID_ERR_INVAL;
	rc = mid_client_chan_request(c, device, hello, req, sizeof(req), &h);
	if(rc)
		return rc;
	deadline = mid_now_ms() + (uint64_t)c->timeout_ms;
	/* A connection of its own: the kept-alive one carries validates,
	 * and keeps its identity and its count of replies, or the next
	 * validate would take it for the program's, leave it open and dial
	 * again. */
	keep.fd = c->fd;
	keep.dev = c->fd_dev;
	keep.ino = c->fd_ino;
	keep.served = c->served;
	keep.connects = c->connects;
	c->fd = -1;
	rc = open_conn(c, deadline, &d, &e);
	fd = c->fd;
	c->fd = keep.fd;
	c->fd_dev = keep.dev;
	c->fd_ino = keep.ino;
	c->served = keep.served;
	c->connects = keep.connects;
	if(rc)
		goto out;
	while(off < (size_t)h) {
		ssize_t n = send(fd, req + off, (size_t)h - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if(n > 0)
			off += (size_t)n;
		else if(n < 0 && (errno == EAGAIN || errno == EINTR))
			rc = mid_client_wait_fd(fd, POLLOUT, deadline);
		else
			rc = MID_ERR_IO;
		if(rc)
			goto out;
	}
	explicit_bzero(req, sizeof(req));
	/* Peek, and take only the head: the first byte after it is a kill. */
	for(;;) {
		ssize_t n = recv(fd, head, sizeof(head) - 1, MSG_PEEK | MSG_DONTWAIT);
		char *end;

		if(n > 0) {
			head[n] = '\0';
			end = strstr(head, "\r\n\r\n");
			if(end) {
				hl = (size_t)(end + 4 - head);
				if(recv(fd, head, hl, MSG_DONTWAIT) != (ssize_t)hl)
					rc = MID_ERR_IO;
				break;
			}
			if((size_t)n == sizeof(head) - 1) {
				rc = MID_ERR_TOO_BIG;
				goto out;
			}
		} else if(n == 0 || (errno != EAGAIN && errno != EINTR)) {
			rc = MID_ERR_IO;
			goto out;
		}
		/* Part of the head, or none yet: wait for more. A peek
		 * leaves the bytes readable, so wait a little instead. */
		rc = n > 0 ? (poll(NULL, 0, 1), mid_now_ms() >= deadline ? MID_ERR_TIMEOUT : MID_OK)
			   : mid_client_wait_fd(fd, POLLIN, deadline);
		if(rc)
			goto out;
	}
	if(rc)
		goto out;
	head[hl] = '\0';
	if(strncmp(head, MID_CHAN_SWITCHED, strlen(MID_CHAN_SWITCHED)))
		rc = MID_ERR_HTTP;
out:
	explicit_bzero(req, sizeof(req));
	if(rc && fd >= 0)
		close(fd);
	else if(!rc)
		*fdout = fd;
	return rc;
}

enum mid_rc mid_client_validate(struct mid_client *c, const char *device,
                                struct mid_decision *d)
{
	enum mid_rc rc = call(c, MID_CALL_VALIDATE, device, d);

	/* Counts go with one validate: sent, or lost with a process that
	 * is denied for want of an answer. */
	if(c && c->have_counts)
		mid_client_set_counts(c, NULL);
	return rc;
}

enum mid_rc mid_client_register(struct mid_client *c, const char *device,
                                struct mid_decision *d)
{
	return call(c, MID_CALL_REGISTER, device, d);
}
