/* SPDX-License-Identifier: MIT */
/*
 * Socket addresses as events, and the resolver's memory (net.c): how
 * connect and send describe their target, and which host name resolved
 * to which address. Owns the name ring; calls base and the policy's
 * event type only.
 */
#ifndef MID_SHIM_NET_H
#define MID_SHIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "policy.h"

/* Describe a socket address as a connect/send event ('kind'). Returns
 * false for families the gate does not cover (netlink, packet...). */
bool mid_sockaddr_event(const struct sockaddr *sa, socklen_t len,
			enum mid_kind kind, struct mid_event *ev);

/* What the gate does with an address given to connect or a send. */
enum mid_addr_way {
	MID_ADDR_GATE,       /* 'ev' names the peer: gate it */
	MID_ADDR_PASS,       /* no peer is reached: netlink, connect(AF_UNSPEC) */
	MID_ADDR_ASK,        /* not readable alone: ask again with the socket */
	MID_ADDR_DESCRIPTOR, /* the data goes to the socket's peer: gate that */
	MID_ADDR_REFUSE,     /* nothing the gate can name: fail closed */
};

/* The socket an address is used on (SO_DOMAIN, SO_TYPE, getpeername). */
struct mid_sock {
	int domain, type;
	bool connected;
};

/* Decide 'sa' as the kernel will read it; 'sock' is NULL on the first
 * try and the socket's facts once MID_ADDR_ASK asked for them. Fills
 * 'ev' (kind set; family 0 when the address says nothing). */
enum mid_addr_way mid_sockaddr_way(const struct sockaddr *sa, socklen_t len, enum mid_kind kind,
				   const struct mid_sock *sock, struct mid_event *ev);

/* Remember that 'host' resolved to 'sa'; look a name up for an event. */
void mid_names_atfork_child(void);
void mid_names_remember(const char *host, const struct sockaddr *sa);
const char *mid_names_lookup(const struct mid_event *ev, char *buf, size_t buflen);

#endif
