/* SPDX-License-Identifier: MIT */
/*
 * Network hooks: connect and the send family, and the resolver entry
 * points whose answers the shim remembers so host-name rules can match
 * the connect that follows. glibc's resolver uses internal sockets that
 * never reach these hooks; the program's own connect does.
 */
/* Not _GNU_SOURCE: with it glibc declares connect and the send family
 * with a transparent-union address type that ISO C cannot define. The
 * two GNU names needed are declared here. */
#define _DEFAULT_SOURCE
#include <sys/socket.h>

#include "hooks.h"
#include "enforce.h"
#include "net.h"

#include <fcntl.h>
#include <netdb.h>
#include <string.h>

struct mmsghdr {
	struct msghdr msg_hdr;
	unsigned int msg_len;
};
int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags);
int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);

REAL_DECL(connect);
REAL_DECL_HOT(send);
REAL_DECL_HOT(sendto);
REAL_DECL_HOT(sendmsg);
REAL_DECL_HOT(sendmmsg);
REAL_DECL(getaddrinfo);
REAL_DECL(gethostbyname);
REAL_DECL(gethostbyname2);
REAL_DECL(gethostbyname_r);
REAL_DECL(gethostbyname2_r);
REAL_DECL(socket);
REAL_DECL(socketpair);
REAL_DECL(accept);
REAL_DECL(accept4);

/* The socket facts an unreadable address is decided on. */
static void sock_facts(int fd, struct mid_sock *sock)
{
	struct sockaddr_storage peer;
	socklen_t n = sizeof(int), pn = sizeof(peer);

	memset(sock, 0, sizeof(*sock));
	if(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &sock->domain, &n))
		sock->domain = -1;
	n = sizeof(int);
	if(getsockopt(fd, SOL_SOCKET, SO_TYPE, &sock->type, &n))
		sock->type = -1;
	sock->connected = getpeername(fd, (struct sockaddr *)&peer, &pn) == 0;
}

/*
 * Gate a connect or send to 'sa' on 'fd'. 0: go on. An address the gate
 * cannot read alone is decided on the socket: a connected one sends to
 * its peer, which is gated like any send; with no peer the call fails
 * closed.
 */
static int gate_addr(enum mid_kind kind, int fd, const struct sockaddr *sa, socklen_t len)
{
	struct mid_event ev;
	struct mid_sock sock;
	enum mid_addr_way way;
	char host[256];
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	way = mid_sockaddr_way(sa, len, kind, NULL, &ev);
	if(way == MID_ADDR_ASK) {
		sock_facts(fd, &sock);
		errno = e;
		way = mid_sockaddr_way(sa, len, kind, &sock, &ev);
	}
	switch(way) {
	case MID_ADDR_GATE:
		if(kind == MID_EV_SEND)
			ev.fdkind = MID_FD_SOCKET;
		ev.host = mid_names_lookup(&ev, host, sizeof(host));
		return mid_hook_check(&ev, e);
	case MID_ADDR_DESCRIPTOR:
		if(mid_gate_fd(fd)) {
			errno = EPERM;
			return -1;
		}
		errno = e;
		return 0;
	case MID_ADDR_REFUSE:
		ev.fdkind = MID_FD_SOCKET;
		if(mid_gate_unreadable(&ev))
			return -1;
		errno = e;
		return 0;
	default:
		errno = e;
		return 0;
	}
}

MID_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if(gate_addr(MID_EV_CONNECT, fd, sa, len))
		return -1;
	mid_side_add(MID_SIDE_CONNECTS, 1);
	return REAL(connect)(fd, sa, len);
}

MID_ALIAS(connect, __connect)

MID_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r;

	GATE_FD_OR_FAIL(fd, -1);
	r = REAL(send)(fd, buf, n, flags);
	mid_side_sent(r);
	return r;
}
MID_ALIAS(send, __send)

/* sendto with an address names its peer (UDP); without one it is send. */
MID_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *sa, socklen_t len)
{
	ssize_t r;

	if(sa) {
		if(gate_addr(MID_EV_SEND, fd, sa, len))
			return -1;
	} else {
		GATE_FD_OR_FAIL(fd, -1);
	}
	r = REAL(sendto)(fd, buf, n, flags, sa, len);
	mid_side_sent(r);
	return r;
}

MID_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r;

	if(msg && msg->msg_name) {
		if(gate_addr(MID_EV_SEND, fd, msg->msg_name, msg->msg_namelen))
			return -1;
	} else {
		GATE_FD_OR_FAIL(fd, -1);
	}
	r = REAL(sendmsg)(fd, msg, flags);
	mid_side_sent(r);
	return r;
}

MID_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	unsigned i;
	int named = 0;

	for(i = 0; vec && i < vlen; i++) {
		if(vec[i].msg_hdr.msg_name) {
			named = 1;
			if(gate_addr(MID_EV_SEND, fd, vec[i].msg_hdr.msg_name,
				     vec[i].msg_hdr.msg_namelen))
				return -1;
		}
	}
	if(!named)
		GATE_FD_OR_FAIL(fd, -1);
	named = REAL(sendmmsg)(fd, vec, vlen, flags);
	for(i = 0; vec && named > 0 && i < (unsigned)named; i++)
		mid_side_sent(vec[i].msg_len);
	return named;
}
MID_ALIAS(sendmmsg, __sendmmsg)

MID_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
			   struct addrinfo **res)
{
	int rc = REAL(getaddrinfo)(node, service, hints, res);
	const struct addrinfo *ai;

	if(rc == 0 && node && res && !mid_in_shim) {
		for(ai = *res; ai; ai = ai->ai_next)
			if(ai->ai_addr && (ai->ai_family == AF_INET || ai->ai_family == AF_INET6))
				mid_names_remember(node, ai->ai_addr);
	}
	return rc;
}

static void remember_hostent(const char *name, const struct hostent *h)
{
	char **a;

	if(!h || !name || mid_in_shim)
		return;
	for(a = h->h_addr_list; a && *a; a++) {
		if(h->h_addrtype == AF_INET) {
			struct sockaddr_in in;
			memset(&in, 0, sizeof(in));
			in.sin_family = AF_INET;
			memcpy(&in.sin_addr, *a, 4);
			mid_names_remember(name, (struct sockaddr *)&in);
		} else if(h->h_addrtype == AF_INET6) {
			struct sockaddr_in6 in6;
			memset(&in6, 0, sizeof(in6));
			in6.sin6_family = AF_INET6;
			memcpy(&in6.sin6_addr, *a, 16);
			mid_names_remember(name, (struct sockaddr *)&in6);
		}
	}
}

MID_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct hostent *h = REAL(gethostbyname)(name);

	remember_hostent(name, h);
	return h;
}

MID_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct hostent *h = REAL(gethostbyname2)(name, af);

	remember_hostent(name, h);
	return h;
}

MID_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *h_errnop)
{
	int rc = REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);

	if(rc == 0 && result)
		remember_hostent(name, *result);
	return rc;
}

MID_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
				size_t buflen, struct hostent **result, int *h_errnop)
{
	int rc = REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, h_errnop);

	if(rc == 0 && result)
		remember_hostent(name, *result);
	return rc;
}

/* bind to an AF_UNIX path makes a socket file: gated as the mknod it is
 * (an abstract name, starting with NUL, makes none). */
REAL_DECL(bind);
MID_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct mid_event ev;
	int e = errno;

	if(!mid_in_shim && READY() && mid_sockaddr_event(sa, len, MID_EV_FS, &ev) &&
	   ev.family == AF_UNIX && ev.path && ev.path[0] && ev.path[0] != '@' &&
	   mid_fs_gate_path(MID_FS_MKNOD, AT_FDCWD, ev.path))
		return -1;
	errno = e;
	return REAL(bind)(fd, sa, len);
}

/* New descriptors: forget what the table knew of a reused number. */
MID_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);

	mid_fd_forget(fd);
	return fd;
}
MID_ALIAS(socket, __socket)

MID_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	int rc = REAL(socketpair)(domain, type, protocol, sv);

	if(rc == 0) {
		mid_fd_forget(sv[0]);
		mid_fd_forget(sv[1]);
	}
	return rc;
}

MID_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	int c = REAL(accept)(fd, sa, len);

	mid_fd_forget(c);
	return c;
}

MID_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int c = REAL(accept4)(fd, sa, len, flags);

	mid_fd_forget(c);
	return c;
}
