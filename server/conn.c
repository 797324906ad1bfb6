/* SPDX-License-Identifier: MIT */
/*
 * The connection table. One mutex guards it; libmicrohttpd's threads call
 * in when a connection opens or closes and when a request starts or ends,
 * and one thread of ours closes connections past their deadline. A
 * connection is closed by shutdown(2) on its socket, never close(2):
 * libmicrohttpd then reads the end of the stream and closes and forgets
 * it as usual. That is safe from any thread because libmicrohttpd tells
 * us (NOTIFY_CLOSED, which removes the record under the mutex) before it
 * closes the descriptor, so a shutdown never reaches a reused number.
 *
 * Waiting connections sit on two lists in the order they began to wait,
 * so the deadlines are checked at the lists' heads only: 'fresh' (never
 * sent a whole head; deadline head_ms) and 'wait' (kept alive after an
 * answer, or in a request; deadline idle_ms). Each peer keeps its fresh
 * and its idle connections on lists of its own, for eviction.
 */
#define _GNU_SOURCE
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SWEEP_MS 100
#define EXPIRE_BATCH 32

enum phase {
	PH_FRESH,  /* accepted, no whole head yet */
	PH_IDLE,   /* kept alive, waiting for the next head */
	PH_BUSY,   /* a request between its head and its answer */
	PH_PINNED, /* a push channel */
	PH_DOOMED, /* shut down by us, waiting for libmicrohttpd to close it */
};

struct peer_key {
	unsigned char kind; /* 'u' uid, '4' IPv4, '6' IPv6 */
	unsigned char addr[16];
	uint32_t uid;
};

/* A doubly linked list membership, and a list. */
struct link {
	struct link *prev, *next;
	struct conn *c;
};

struct list {
	struct link *head, *tail;
};

struct peer {
	struct peer *next; /* hash chain */
	struct peer *prev_all, *next_all; /* every peer, for eviction */
	struct peer_key key;
	unsigned n;        /* connections, doomed ones included */
	unsigned live;     /* not doomed: what its share counts */
	struct list fresh, idle; /* its FRESH and IDLE connections, oldest first */
};

struct conn {
	struct mid_conns *t;
	struct link g;     /* on t->fresh or t->wait by phase */
	struct link p;     /* on its peer's fresh or idle list by phase */
	struct peer *peer;
	int fd;
	enum phase phase;
	uint64_t since;    /* ms, monotonic: when the phase began */
};

struct mid_conns {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t sweeper;
	int running;
	struct mid_conn_opts o;
	unsigned high;           /* eviction starts at this many live connections */
	unsigned live;           /* not doomed */
	unsigned total;          /* doomed included */
	unsigned peers;
	struct list fresh, wait;
	struct peer **buckets;
	size_t nbuckets;
	struct peer *all;
	unsigned long accepted, refused, evicted, expired_head, expired_idle;
	unsigned long reported;  /* closed and refused, as last logged */
	uint64_t reported_at;
};

static uint64_t now_ms(void)
{
	return mid_now_ms();
}

/* ---- lists ----------------------------------------------------------- */

static void list_push(struct link **head, struct link **tail, struct link *l)
{
	l->next = NULL;
	l->prev = *tail;
	if(*tail)
		(*tail)->next = l;
	else
		*head = l;
	*tail = l;
}

static void list_drop(struct link **head, struct link **tail, struct link *l)
{
	if(l->prev)
		l->prev->next = l->next;
	else if(*head == l)
		*head = l->next;
	else
		return; /* not on this list */
	if(l->next)
		l->next->prev = l->prev;
	else
		*tail = l->prev;
	l->prev = l->next = NULL;
}

static struct list *phase_list(struct mid_conns *t, enum phase ph)
{
	return ph == PH_FRESH ? &t->fresh : ph == PH_IDLE || ph == PH_BUSY ? &t->wait : NULL;
}

static struct list *peer_list(struct peer *p, enum phase ph)
{
	return ph == PH_FRESH ? &p->fresh : ph == PH_IDLE ? &p->idle : NULL;
}

/* Take 'c' off the lists of its phase. */
static void leave(struct mid_conns *t, struct conn *c)
{
	struct list *l = phase_list(t, c->phase);

	if(l)
		list_drop(&l->head, &l->tail, &c->g);
	l = peer_list(c->peer, c->phase);
	if(l)
		list_drop(&l->head, &l->tail, &c->p);
}

/* Put 'c' in phase 'ph', starting now. */
static void enter(struct mid_conns *t, struct conn *c, enum phase ph)
{
	struct list *l = phase_list(t, ph);

	c->phase = ph;
	c->since = now_ms();
	if(l)
		list_push(&l->head, &l->tail, &c->g);
	l = peer_list(c->peer, ph);
	if(l)
		list_push(&l->head, &l->tail, &c->p);
}

/*
 * Shut 'fd' down for good: libmicrohttpd's close then resets it instead
 * of leaving it in TIME_WAIT. A connection midd closes first would
 * otherwise wait out TIME_WAIT on midd's side, and under churn (every
 * kept-alive connection of a peer past its share is closed in turn)
 * a client's next connection from the same port meets that socket, its
 * SYN is answered with an ACK and it tries again a second later: past
 * a 2 s deadline, a kill. What comes here is a connection with no
 * request in it, or one past its deadline: no answer is cut short.
 */
static void shut(int fd)
{
	static const struct linger now = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
	shutdown(fd, SHUT_RDWR);
}

/* Shut 'c' down; libmicrohttpd closes it and tells us. */
static void doom(struct mid_conns *t, struct conn *c)
{
	leave(t, c);
	c->phase = PH_DOOMED;
	t->live--;
	c->peer->live--;
	shut(c->fd);
}

/* ---- peers ----------------------------------------------------------- */

static size_t key_hash(const struct peer_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for(i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static struct peer *peer_get(struct mid_conns *t, const struct peer_key *k)
{
	size_t b = key_hash(k) & (t->nbuckets - 1);
	struct peer *p;

	for(p = t->buckets[b]; p; p = p->next)
		if(!memcmp(&p->key, k, sizeof(*k)))
			return p;
	p = calloc(1, sizeof(*p));
	if(!p)
		return NULL;
	p->key = *k;
	p->next = t->buckets[b];
	t->buckets[b] = p;
	p->next_all = t->all;
	if(t->all)
		t->all->prev_all = p;
	t->all = p;
	t->peers++;
	return p;
}

static void peer_put(struct mid_conns *t, struct peer *p)
{
	struct peer **pp;

	if(--p->n)
		return;
	for(pp = &t->buckets[key_hash(&p->key) & (t->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		if(*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if(p->prev_all)
		p->prev_all->next_all = p->next_all;
	else
		t->all = p->next_all;
	if(p->next_all)
		p->next_all->prev_all = p->prev_all;
	t->peers--;
	free(p);
}

/* The uid owning the client end of a loopback TCP connection, asked of
 * the kernel's socket table (sock_diag); -1 when it does not say. */
static long loopback_uid(const struct sockaddr_storage *cli, const struct sockaddr_storage *srv)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 r;
	} q;
	union {
		struct nlmsghdr nh;
		char buf[1024];
	} a;
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	long uid = -1;
	ssize_t n;
	int s;

	memset(&q, 0, sizeof(q));
	q.nh.nlmsg_len = sizeof(q);
	q.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nh.nlmsg_flags = NLM_F_REQUEST;
	q.r.sdiag_family = (unsigned char)cli->ss_family;
	q.r.sdiag_protocol = IPPROTO_TCP;
	q.r.idiag_states = ~0U;
	q.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	q.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if(cli->ss_family == AF_INET) {
		const struct sockaddr_in *c4 = (const void *)cli, *s4 = (const void *)srv;
		q.r.id.idiag_sport = c4->sin_port;
		q.r.id.idiag_dport = s4->sin_port;
		memcpy(q.r.id.idiag_src, &c4->sin_addr, 4);
		memcpy(q.r.id.idiag_dst, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *c6 = (const void *)cli, *s6 = (const void *)srv;
		q.r.id.idiag_sport = c6->sin6_port;
		q.r.id.idiag_dport = s6->sin6_port;
		memcpy(q.r.id.idiag_src, &c6->sin6_addr, 16);
		memcpy(q.r.id.idiag_dst, &s6->sin6_addr, 16);
	}
	s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if(s < 0)
		return -1;
	if(sendto(s, &q, sizeof(q), 0, (struct sockaddr *)&nl, sizeof(nl)) == (ssize_t)sizeof(q)) {
		n = recv(s, &a, sizeof(a), 0);
		if(n >= (ssize_t)(NLMSG_HDRLEN + sizeof(struct inet_diag_msg)) &&
		   a.nh.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
			const struct inet_diag_msg *m = NLMSG_DATA(&a.nh);
			uid = (long)m->idiag_uid;
		}
	}
	close(s);
	return uid;
}

/* Who is on the other end of 'fd'. */
static void peer_of(int fd, struct peer_key *k)
{
	struct sockaddr_storage cli, srv;
	socklen_t cl = sizeof(cli), sl = sizeof(srv);
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	long uid;

	memset(k, 0, sizeof(*k));
	k->kind = 'u';
	memset(&cli, 0, sizeof(cli));
	if(getpeername(fd, (struct sockaddr *)&cli, &cl) || cli.ss_family == AF_UNIX) {
		if(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crl) == 0)
			k->uid = (uint32_t)cr.uid;
		else
			k->uid = UINT32_MAX;
		return;
	}
	if(cli.ss_family == AF_INET) {
		const struct sockaddr_in *c4 = (const void *)&cli;
		k->kind = '4';
		memcpy(k->addr, &c4->sin_addr, 4);
		if((ntohl(c4->sin_addr.s_addr) >> 24) != 127)
			return;
	} else if(cli.ss_family == AF_INET6) {
		const struct sockaddr_in6 *c6 = (const void *)&cli;
		k->kind = '6';
		memcpy(k->addr, &c6->sin6_addr, 16);
		if(!IN6_IS_ADDR_LOOPBACK(&c6->sin6_addr))
			return;
	} else {
		return;
	}
	/* Loopback: everyone is 127.0.0.1, so tell local users apart. */
	if(getsockname(fd, (struct sockaddr *)&srv, &sl) == 0 &&
	   (uid = loopback_uid(&cli, &srv)) >= 0) {
		memset(k, 0, sizeof(*k));
		k->kind = 'u';
		k->uid = (uint32_t)uid;
	}
}

/* ---- eviction -------------------------------------------------------- */

/*
 * The connection of 'p' to close to make room: the idle one answered
 * last. Programs that ask again every few seconds (a fleet of cron jobs,
 * loops under a TTL) come back in the order they were answered, so the
 * one idle longest is the one due next: closing it made every call of
 * such a round connect anew, and each new connection closed the next one
 * due. The one just answered is due last. A fresh connection (no whole
 * head yet, maybe a request on its way) goes only when no idle one is
 * left, the oldest first. Idle connections nobody uses again end at the
 * idle deadline. NULL when 'p' has nothing to close.
 */
static struct conn *victim(const struct peer *p)
{
	if(p->idle.tail)
		return p->idle.tail->c;
	return p->fresh.head ? p->fresh.head->c : NULL;
}

/* Close a connection of the peer that holds the most; 0 when no
 * connection may be closed. */
static int evict_one(struct mid_conns *t)
{
	struct peer *p, *best = NULL;

	for(p = t->all; p; p = p->next_all)
		if(victim(p) && (!best || p->live > best->live))
			best = p;
	if(!best)
		return 0;
	doom(t, victim(best));
	t->evicted++;
	return 1;
}

static void opened(struct mid_conns *t, struct MHD_Connection *mc, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct peer_key k;
	struct conn *c;
	int fd = ci ? ci->connect_fd : -1;

	*ctx = NULL;
	if(fd < 0)
		return;
	peer_of(fd, &k);
	pthread_mutex_lock(&t->mu);
	c = calloc(1, sizeof(*c));
	if(c)
		c->peer = peer_get(t, &k);
	if(!c || !c->peer) {
		free(c);
		shut(fd);
		t->refused++;
		goto out;
	}
	c->g.c = c->p.c = c;
	c->t = t;
	c->fd = fd;
	c->peer->n++;
	c->peer->live++;
	t->total++;
	t->live++;
	t->accepted++;
	*ctx = c;
	/* A peer at its share makes room among its own waiting connections
	 * or is refused; near the limit the largest peer makes room. */
	if(c->peer->live > t->o.per_peer) {
		struct conn *v = victim(c->peer);

		if(!v) {
			doom(t, c);
			t->refused++;
			goto out;
		}
		doom(t, v);
		t->evicted++;
	}
	while(t->live > t->high && evict_one(t))
		;
	if(t->live > t->o.max) {
		doom(t, c);
		t->refused++;
		goto out;
	}
	enter(t, c, PH_FRESH);
out:
	pthread_mutex_unlock(&t->mu);
}

static void closed(struct mid_conns *t, void **ctx)
{
	struct conn *c = *ctx;

	if(!c)
		return;
	*ctx = NULL;
	pthread_mutex_lock(&t->mu);
	if(c->phase != PH_DOOMED) {
		leave(t, c);
		t->live--;
		c->peer->live--;
	}
	t->total--;
	peer_put(t, c->peer);
	pthread_mutex_unlock(&t->mu);
	free(c);
}

void mid_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode code)
{
	if(code == MHD_CONNECTION_NOTIFY_STARTED)
		opened(cls, conn, socket_context);
	else
		closed(cls, socket_context);
}

static void move(struct MHD_Connection *conn, enum phase to)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *c = ci ? ci->socket_context : NULL;
	struct mid_conns *t;

	if(!c)
		return;
	t = c->t;
	pthread_mutex_lock(&t->mu);
	if(c->phase != PH_DOOMED && c->phase != PH_PINNED && c->phase != to) {
		leave(t, c);
		enter(t, c, to);
	}
	pthread_mutex_unlock(&t->mu);
}

void mid_conn_busy(struct MHD_Connection *conn)
{
	move(conn, PH_BUSY);
}

void mid_conn_idle(struct MHD_Connection *conn)
{
	move(conn, PH_IDLE);
}

void mid_conn_pin(struct MHD_Connection *conn)
{
	move(conn, PH_PINNED);
}

/* ---- deadlines ------------------------------------------------------- */

/* Shut down the connections at the head of 'l' that have waited 'ms',
 * letting go of the mutex every EXPIRE_BATCH so that a burst of them
 * never holds up the requests' own use of the table. */
static void expire(struct mid_conns *t, struct list *l, unsigned ms, uint64_t now,
		   unsigned long *count)
{
	unsigned n = 0;

	while(t->running && l->head && l->head->c->since + ms <= now) {
		doom(t, l->head->c);
		(*count)++;
		if(++n % EXPIRE_BATCH == 0) {
			pthread_mutex_unlock(&t->mu);
			pthread_mutex_lock(&t->mu);
		}
	}
}

/* One line when connections were closed or refused, at most each second. */
static void report(struct mid_conns *t, uint64_t now)
{
	unsigned long sum = t->evicted + t->expired_head + t->expired_idle + t->refused;

	if(sum == t->reported || now < t->reported_at + 1000)
		return;
	t->reported = sum;
	t->reported_at = now;
	mid_log("connections live=%u peers=%u evicted=%lu expired_head=%lu expired_idle=%lu "
		"refused=%lu", t->live, t->peers, t->evicted, t->expired_head, t->expired_idle,
		t->refused);
}

static void *sweep(void *arg)
{
	struct mid_conns *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->mu);
	while(t->running) {
		uint64_t now = now_ms();

		expire(t, &t->fresh, t->o.head_ms, now, &t->expired_head);
		expire(t, &t->wait, t->o.idle_ms, now, &t->expired_idle);
		report(t, now);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += SWEEP_MS * 1000000L;
		if(ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------ */

/* The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open). */
static rlim_t nr_open(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if(f) {
		if(fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v >= 1024 ? (rlim_t)v : 1048576;
}

/*
 * Raise the soft descriptor limit to the hard one, and the hard one to
 * 'want' (at most the kernel's ceiling) when midd may: CAP_SYS_RESOURCE,
 * as when root starts it without a LimitNOFILE=. Every gated process
 * holds two connections, a validate and a push channel. The usable count.
 */
static rlim_t raise_nofile(rlim_t want)
{
	struct rlimit rl;
	rlim_t was, top = nr_open() < want ? nr_open() : want;

	if(getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	was = rl.rlim_cur;
	if(rl.rlim_max != RLIM_INFINITY && rl.rlim_max < top) {
		struct rlimit up = {top, top};

		if(setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	if(rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if(setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if(rl.rlim_cur != was)
		mid_log("raised RLIMIT_NOFILE from %llu to %llu", (unsigned long long)was,
			(unsigned long long)rl.rlim_cur);
	return rl.rlim_cur;
}

enum mid_rc mid_conns_new(const struct mid_conn_opts *o, struct mid_conns **out, char *err,
			  size_t errlen)
{
	struct mid_conns *t;
	pthread_condattr_t ca;
	rlim_t nofile = raise_nofile(o->max ? (rlim_t)o->max + MID_CONN_FD_RESERVE
					    : MID_CONN_NOFILE);
	unsigned budget;

	*out = NULL;
	budget = nofile > MID_CONN_FD_RESERVE + MID_CONN_MIN ?
			 (nofile - MID_CONN_FD_RESERVE > 1000000 ? 1000000 :
			  (unsigned)(nofile - MID_CONN_FD_RESERVE)) : 0;
	if(budget < MID_CONN_MIN || (o->max && o->max > budget)) {
		snprintf(err, errlen, "RLIMIT_NOFILE is %llu: it holds %u connections, not %u; "
			 "raise it (ulimit -Hn, LimitNOFILE=) or lower --max-connections",
			 (unsigned long long)nofile, budget, o->max ? o->max : MID_CONN_MIN);
		return MID_ERR_INVAL;
	}
	t = calloc(1, sizeof(*t));
	if(!t)
		return MID_ERR_NOMEM;
	t->o = *o;
	/* Each gated process holds a connection and a push channel, and
	 * both are midd's descriptors. */
	if(!t->o.max)
		t->o.max = budget / 2 > MID_CONN_MIN ? budget / 2 : MID_CONN_MIN;
	t->o.push = budget - t->o.max;
	if(!t->o.per_peer)
		t->o.per_peer = t->o.max - t->o.max / 8;
	if(t->o.per_peer > t->o.max)
		t->o.per_peer = t->o.max;
	if(!t->o.head_ms)
		t->o.head_ms = MID_CONN_HEAD_MS;
	if(!t->o.idle_ms)
		t->o.idle_ms = MID_CONN_IDLE_MS;
	/* Eviction keeps a margin free so a new connection is always taken
	 * while the closed ones drain. */
	t->high = t->o.max - (t->o.max / 32 > 8 ? t->o.max / 32 : 8);
	for(t->nbuckets = 64; t->nbuckets < t->o.max / 4; t->nbuckets *= 2)
		;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if(!t->buckets) {
		free(t);
		return MID_ERR_NOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	t->running = 1;
	if(pthread_create(&t->sweeper, NULL, sweep, t)) {
		t->running = 0;
		mid_conns_free(t);
		snprintf(err, errlen, "cannot start the connection deadline thread");
		return MID_ERR_NOMEM;
	}
	*out = t;
	return MID_OK;
}

void mid_conns_free(struct mid_conns *t)
{
	size_t b;

	if(!t)
		return;
	pthread_mutex_lock(&t->mu);
	if(t->running) {
		t->running = 0;
		pthread_cond_signal(&t->cv);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->sweeper, NULL);
	} else {
		pthread_mutex_unlock(&t->mu);
	}
	for(b = 0; b < t->nbuckets; b++) {
		while(t->buckets[b]) {
			struct peer *p = t->buckets[b];
			t->buckets[b] = p->next;
			free(p);
		}
	}
	free(t->buckets);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void mid_conns_limits(const struct mid_conns *t, struct mid_conn_opts *o)
{
	*o = t->o;
}

void mid_conns_stats(struct mid_conns *t, struct mid_conn_stats *s)
{
	pthread_mutex_lock(&t->mu);
	s->live = t->live;
	s->peers = t->peers;
	s->accepted = t->accepted;
	s->refused = t->refused;
	s->evicted = t->evicted;
	s->expired_head = t->expired_head;
	s->expired_idle = t->expired_idle;
	pthread_mutex_unlock(&t->mu);
}
