/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses as events, and the resolver's memory: which host name
 * resolved to which address, so a rule on "*.example.com" matches the
 * connect that follows getaddrinfo("api.example.com"). The memory is a
 * small ring under a mutex: it is written on name lookups and read on
 * connects, neither of which is a hot loop's cost worth a lock-free table.
 */
#define _GNU_SOURCE
#include "net.h"
#include "base.h"

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/un.h>

bool mid_sockaddr_event(const struct sockaddr *sa, socklen_t len, enum mid_kind kind,
			struct mid_event *ev)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	ev->kind = kind;
	if(!sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	switch(sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if(len < (socklen_t)sizeof(*in))
			return false;
		ev->family = AF_INET;
		memcpy(ev->addr, &in->sin_addr, 4);
		ev->port = ntohs(in->sin_port);
		return true;
	}
	case AF_INET6: {
		/* The kernel takes RFC 2133's 24-byte form, without the
		 * scope id. */
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if(len < (socklen_t)offsetof(struct sockaddr_in6, sin6_scope_id))
			return false;
		ev->port = ntohs(in6->sin6_port);
		/* An IPv4-mapped address is an IPv4 peer: rules on
		 * 127.0.0.0/8 must see it as such. */
		if(!memcmp(in6->sin6_addr.s6_addr, mapped, 12)) {
			ev->family = AF_INET;
			memcpy(ev->addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			ev->family = AF_INET6;
			memcpy(ev->addr, in6->sin6_addr.s6_addr, 16);
		}
		return true;
	}
	case AF_UNIX: {
		/* The path is not NUL-terminated when it fills sun_path;
		 * abstract names start with NUL. Both are copied into a
		 * thread-local buffer the event may point at. */
		static __thread char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = len > offsetof(struct sockaddr_un, sun_path)
				   ? (size_t)len - offsetof(struct sockaddr_un, sun_path) : 0;
		if(n > sizeof(un->sun_path))
			n = sizeof(un->sun_path);
		if(n > 0 && un->sun_path[0] == '\0') {
			path[0] = '@';
			memcpy(path + 1, un->sun_path + 1, n - 1);
			path[n] = '\0';
		} else {
			memcpy(path, un->sun_path, n);
			path[n] = '\0';
		}
		ev->family = AF_UNIX;
		ev->path = path;
		return true;
	}
	default:
		return false;
	}
}

enum mid_addr_way mid_sockaddr_way(const struct sockaddr *sa, socklen_t len, enum mid_kind kind,
				   const struct mid_sock *sock, struct mid_event *ev)
{
	struct sockaddr_in in;
	int family;

	memset(ev, 0, sizeof(*ev));
	if(mid_sockaddr_event(sa, len, kind, ev))
		return MID_ADDR_GATE;
	family = sa && len >= (socklen_t)sizeof(sa_family_t) ? sa->sa_family : AF_UNSPEC;
	ev->kind = kind;
	ev->family = 0;
	/* Netlink talks to the kernel of this machine, not to a peer. */
	if(family == AF_NETLINK)
		return MID_ADDR_PASS;
	/* connect(AF_UNSPEC) dissolves an association: nothing is sent. */
	if(kind == MID_EV_CONNECT && family == AF_UNSPEC)
		return MID_ADDR_PASS;
	if(!sock)
		return MID_ADDR_ASK;
	/* An IPv4 datagram or raw socket reads an AF_UNSPEC address as an
	 * AF_INET one (the kernel's compatibility rule). */
	if(family == AF_UNSPEC && sock->domain == AF_INET && sock->type != SOCK_STREAM &&
	   len >= (socklen_t)sizeof(in)) {
		memcpy(&in, sa, sizeof(in));
		in.sin_family = AF_INET;
		if(mid_sockaddr_event((const struct sockaddr *)&in, sizeof(in), kind, ev))
			return MID_ADDR_GATE;
	}
	/* Otherwise a connected socket sends to its peer (TCP ignores the
	 * address; the kernel refuses the rest): decide on the descriptor.
	 * With no peer there is nothing the gate can name: refuse. */
	return sock->connected ? MID_ADDR_DESCRIPTOR : MID_ADDR_REFUSE;
}

#define NAMES 128
#define NAME_MAX_LEN 256

struct name {
	int family;
	uint8_t addr[16];
	char host[NAME_MAX_LEN];
};

MID_HOT static struct mid_forklock names_lock = MID_FORKLOCK_INIT;
static struct name names[NAMES];
static unsigned names_next;

void mid_names_remember(const char *host, const struct sockaddr *sa)
{
	struct mid_event ev;
	struct name *n;

	memset(&ev, 0, sizeof(ev));
	if(!host || !mid_sockaddr_event(sa, sa->sa_family == AF_INET
				 ? (socklen_t)sizeof(struct sockaddr_in)
				 : (socklen_t)sizeof(struct sockaddr_in6),
				 MID_EV_CONNECT, &ev) || ev.family == AF_UNIX)
		return;
	mid_forklock_lock(&names_lock);
	n = &names[names_next++ % NAMES];
	n->family = ev.family;
	memcpy(n->addr, ev.addr, sizeof(n->addr));
	mid_strlcpy(n->host, host, sizeof(n->host));
	mid_forklock_unlock(&names_lock);
}

const char *mid_names_lookup(const struct mid_event *ev, char *buf, size_t buflen)
{
	const char *found = NULL;
	unsigned i;

	if(ev->family != AF_INET && ev->family != AF_INET6)
		return NULL;
	mid_forklock_lock(&names_lock);
	/* Newest first: the latest lookup of an address names it. */
	for(i = 0; i < NAMES; i++) {
		struct name *n = &names[(names_next - 1 - i) % NAMES];
		if(n->host[0] && n->family == ev->family &&
		   !memcmp(n->addr, ev->addr, ev->family == AF_INET ? 4 : 16)) {
			mid_strlcpy(buf, n->host, buflen);
			found = buf;
			break;
		}
	}
	mid_forklock_unlock(&names_lock);
	return found;
}

void mid_names_atfork_child(void)
{
	mid_forklock_atfork_child(&names_lock);
}
