/* SPDX-License-Identifier: MIT */
/*
 * midd's connection table: how many connections it holds, whose they are
 * and how long they may wait. Every gated process may keep a connection
 * open, so the limit comes from RLIMIT_NOFILE (raised to its hard limit at
 * start) rather than a fixed number. A peer is a uid (unix socket, by
 * SO_PEERCRED; loopback TCP, by the kernel's socket table) or a remote
 * address. No peer may hold more than its share; near the limit the
 * longest-waiting connection of the peer holding the most is closed. A
 * kept-alive client re-opens a closed idle connection by itself. A
 * connection must deliver a request head within an absolute deadline that
 * bytes trickling in do not reset. A pinned connection (a push channel)
 * is never closed by this table.
 */
#ifndef MID_CONN_H
#define MID_CONN_H

#include <stddef.h>
#include <microhttpd.h>

#include "mid.h"

#define MID_CONN_HEAD_MS 5000      /* default: a new connection's first head */
#define MID_CONN_IDLE_MS 30000     /* a kept-alive connection's next head, or one request */
#define MID_CONN_FD_RESERVE 64     /* descriptors kept for the database, log, epoll */
#define MID_CONN_MIN 16            /* smallest accepted --max-connections */
#define MID_CONN_NOFILE 65536      /* RLIMIT_NOFILE midd raises itself to, when it may */

struct mid_conns;

struct mid_conn_opts {
	unsigned max;      /* connections in all; 0: half of RLIMIT_NOFILE less a
			    * reserve (the other half holds push channels) */
	unsigned per_peer; /* one peer's most; 0: max less an eighth */
	unsigned head_ms;  /* deadline of a new connection's first request head */
	unsigned idle_ms;  /* deadline of a kept-alive connection's next head, and of
			    * one request from its head to its answer */
	unsigned push;     /* set by mid_conns_new: push channels the descriptors
			    * leave room for beside 'max' connections */
};

/* Raise RLIMIT_NOFILE's soft limit to its hard limit, then make the table.
 * Fails when the descriptors cannot hold 'o->max' connections, or when the
 * options contradict each other; 'err' then says which. */
enum mid_rc mid_conns_new(const struct mid_conn_opts *o, struct mid_conns **out, char *err,
			  size_t errlen) MID_WUR;

/* Stop the deadline thread and free; every connection must be closed. */
void mid_conns_free(struct mid_conns *t);

/* The effective limits, for the start-up log and libmicrohttpd's own cap. */
void mid_conns_limits(const struct mid_conns *t, struct mid_conn_opts *o);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback; 'cls' is the
 * table. A connection over its peer's share or the limit is shut down at
 * once. */
void mid_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode code);

/* A request's head has arrived ('busy'), or its answer went out and the
 * connection waits for the next head ('idle'). */
void mid_conn_busy(struct MHD_Connection *conn);
void mid_conn_idle(struct MHD_Connection *conn);

/* The connection is a long-lived channel: never evicted, no deadline. */
void mid_conn_pin(struct MHD_Connection *conn);

/* Counters for the log and the tests. */
struct mid_conn_stats {
	unsigned live, peers;
	unsigned long accepted, refused, evicted;
	/* Closed at a deadline: no whole head in time, or idle too long. */
	unsigned long expired_head, expired_idle;
};
void mid_conns_stats(struct mid_conns *t, struct mid_conn_stats *s);

#endif
