/* SPDX-License-Identifier: MIT */
/*
 * The push keeper process and its wire (see keeper.h). The keeper is
 * deliberately dull: it accepts one midd at a time (a newer connection
 * replaces an older one), hands it every channel it holds, then holds
 * what midd adds and lets go of what midd deletes or what its far end
 * closes. It never writes to a channel.
 */
#define _GNU_SOURCE
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEPER_MAGIC 0x4d53484bu /* "KHSM" */
#define KEEPER_GRACE_MS 4000     /* how long a new keeper waits for its first midd */
#define HELLO_TIMEOUT_MS 1000    /* from a connection to its HELLO */

struct held {
	int fd;
	struct mid_push_chan ch;
};

static int unix_addr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if(strlen(path) >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

enum mid_rc mid_keeper_send(int fd, enum mid_keeper_op op, const struct mid_push_chan *ch,
			    int passfd)
{
	struct mid_keeper_msg m;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.magic = KEEPER_MAGIC;
	m.op = (uint32_t)op;
	if(ch)
		m.ch = *ch;
	if(passfd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &passfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while(n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(m) ? MID_OK : MID_ERR_IO;
}

enum mid_rc mid_keeper_recv(int fd, struct mid_keeper_msg *m, int *passfd, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
	struct pollfd p = {.fd = fd, .events = POLLIN};
	struct cmsghdr *c;
	ssize_t n;
	int r;

	*passfd = -1;
	do
		r = poll(&p, 1, timeout_ms);
	while(r < 0 && errno == EINTR);
	if(r <= 0)
		return r == 0 ? MID_ERR_TIMEOUT : MID_ERR_IO;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while(n < 0 && errno == EINTR);
	for(c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
		if(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		   c->cmsg_len == CMSG_LEN(sizeof(int)) && *passfd < 0)
			memcpy(passfd, CMSG_DATA(c), sizeof(int));
	}
	if(n != (ssize_t)sizeof(*m) || m->magic != KEEPER_MAGIC || (mh.msg_flags & MSG_CTRUNC)) {
		if(*passfd >= 0)
			close(*passfd);
		*passfd = -1;
		return MID_ERR_IO;
	}
	m->ch.device[sizeof(m->ch.device) - 1] = '\0';
	m->ch.program[sizeof(m->ch.program) - 1] = '\0';
	m->ch.kind[sizeof(m->ch.kind) - 1] = '\0';
	m->ch.peer[sizeof(m->ch.peer) - 1] = '\0';
	return MID_OK;
}

/* Room for every channel plus the keeper's own few descriptors. */
static void raise_nofile(void)
{
	struct rlimit r;

	if(getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < MID_PUSH_MAX + 64) {
		r.rlim_cur = r.rlim_max < MID_PUSH_MAX + 64 ? r.rlim_max : MID_PUSH_MAX + 64;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* Bind 'path', replacing a stale socket file but never a live keeper:
 * 0 bound, 1 another keeper answers, -1 error. */
static int keeper_bind(const char *path, int *lfd)
{
	struct sockaddr_un sun;
	int fd, probe;

	if(unix_addr(path, &sun))
		return -1;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return -1;
	if(bind(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		if(errno != EADDRINUSE)
			goto fail;
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if(probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			close(fd);
			return 1;
		}
		if(probe >= 0)
			close(probe);
		unlink(path);
		if(bind(fd, (struct sockaddr *)&sun, sizeof(sun)))
			goto fail;
	}
	if(listen(fd, 4))
		goto fail;
	*lfd = fd;
	return 0;
fail:
	close(fd);
	return -1;
}

/* Only a midd of the keeper's own user may talk to it. */
static int same_user(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 && cr.uid == getuid();
}

static void drop_held(struct held *h, size_t *n, size_t i)
{
	close(h[i].fd);
	h[i] = h[--*n];
}

static int is_hello(int c)
{
	struct mid_keeper_msg m;
	int fd = -1, ok;

	ok = mid_keeper_recv(c, &m, &fd, HELLO_TIMEOUT_MS) == MID_OK && m.op == MID_KEEPER_HELLO;
	if(fd >= 0)
		close(fd);
	return ok;
}

/* A new midd: give it everything, then END with the keeper's pid. */
static int hand_back(int conn, const struct held *h, size_t n)
{
	struct mid_push_chan end;
	size_t i;

	for(i = 0; i < n; i++)
		if(mid_keeper_send(conn, MID_KEEPER_ENT, &h[i].ch, h[i].fd))
			return -1;
	memset(&end, 0, sizeof(end));
	end.pid = getpid();
	return mid_keeper_send(conn, MID_KEEPER_END, &end, -1) ? -1 : 0;
}

/* One record from midd. -1: the connection is done. */
static int from_midd(int conn, struct held *h, size_t *n)
{
	struct mid_keeper_msg m;
	int fd = -1;
	size_t i;

	if(mid_keeper_recv(conn, &m, &fd, 0))
		return -1;
	/* A second ADD of an id (a midd handing over its table again)
	 * replaces the first. */
	if(m.op == MID_KEEPER_ADD && fd >= 0)
		for(i = 0; i < *n; i++)
			if(h[i].ch.id == m.ch.id) {
				drop_held(h, n, i);
				break;
			}
	if(m.op == MID_KEEPER_ADD && fd >= 0 && *n < MID_PUSH_MAX) {
		h[*n].fd = fd;
		h[*n].ch = m.ch;
		++*n;
		return 0;
	}
	if(fd >= 0)
		close(fd);
	if(m.op == MID_KEEPER_DEL)
		for(i = 0; i < *n; i++)
			if(h[i].ch.id == m.ch.id) {
				drop_held(h, n, i);
				break;
			}
	return 0;
}

int mid_keeper_main(const char *path)
{
	struct pollfd *p = NULL;
	struct held *h = NULL;
	uint64_t idle_until = mid_now_ms() + KEEPER_GRACE_MS;
	size_t n = 0, i;
	int lfd = -1, conn = -1, r, ret = 1;
	char junk[256];

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	umask(077);
	raise_nofile();
	r = keeper_bind(path, &lfd);
	if(r)
		return r > 0 ? 0 : 1;
	h = calloc(MID_PUSH_MAX, sizeof(*h));
	p = calloc(MID_PUSH_MAX + 2, sizeof(*p));
	if(!h || !p)
		goto out;
	for(;;) {
		/* Nothing to keep and nobody to keep it for: done (after a
		 * grace period at start, for the midd that started it). A
		 * midd that starts later finds no socket and starts another. */
		if(conn < 0 && n == 0 && mid_now_ms() >= idle_until)
			break;
		p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = conn, .events = POLLIN};
		for(i = 0; i < n; i++)
			p[i + 2] = (struct pollfd){.fd = h[i].fd, .events = POLLIN | POLLRDHUP};
		r = poll(p, n + 2, conn < 0 ? 200 : -1);
		if(r < 0 && errno != EINTR)
			break;
		if(r <= 0)
			continue;
		/* Channels first, from the end, so removal keeps indexes. */
		for(i = n; i-- > 0;) {
			short re = p[i + 2].revents;
			ssize_t got;

			if(!re)
				continue;
			got = re & (POLLHUP | POLLERR | POLLRDHUP) ? 0 :
			      recv(h[i].fd, junk, sizeof(junk), MSG_DONTWAIT);
			if(got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
				drop_held(h, &n, i);
		}
		if(p[1].revents && from_midd(conn, h, &n)) {
			close(conn);
			conn = -1;
		}
		if(p[0].revents & POLLIN) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			/* A midd says HELLO first; a starting keeper's probe of
			 * this socket says nothing and must not replace it. */
			if(c >= 0 && (!same_user(c) || !is_hello(c) || hand_back(c, h, n))) {
				close(c);
				c = -1;
			}
			if(c >= 0) {
				if(conn >= 0)
					close(conn);
				conn = c;
				idle_until = 0;
			}
		}
	}
	ret = 0;
out:
	/* Unlink first, then close: a midd that connected meanwhile is
	 * reset at once and starts a fresh keeper. */
	unlink(path);
	close(lfd);
	free(h);
	free(p);
	return ret;
}

/* Start a keeper as a grandchild in its own session, so that it neither
 * dies with midd's process group nor stays midd's child. Only
 * async-signal-safe calls between fork and exec. */
static enum mid_rc spawn(const char *path, const char *exe)
{
	char a0[] = "midd", a1[] = "push-keeper", a2[4096];
	char *const argv[] = {a0, a1, a2, NULL};
	pid_t pid;
	int st;

	if(mid_strlcpy(a2, path, sizeof(a2)) >= sizeof(a2))
		return MID_ERR_INVAL;
	pid = fork();
	if(pid < 0)
		return MID_ERR_IO;
	if(pid == 0) {
		int nul;

		setsid();
		if(fork() != 0)
			_exit(0);
		nul = open("/dev/null", O_RDWR);
		if(nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
		}
		close_range(3, ~0u, 0);
		execv(exe, argv);
		_exit(127);
	}
	while(waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return MID_OK;
}

enum mid_rc mid_keeper_dial(const char *path, int *fd)
{
	struct sockaddr_un sun;
	int s;

	*fd = -1;
	if(unix_addr(path, &sun))
		return MID_ERR_INVAL;
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if(s < 0)
		return MID_ERR_IO;
	if(connect(s, (struct sockaddr *)&sun, sizeof(sun))) {
		close(s);
		return MID_ERR_UNREACHABLE;
	}
	*fd = s;
	return MID_OK;
}

enum mid_rc mid_keeper_spawn(const char *path, const char *exe)
{
	return spawn(path, exe);
}
