/* SPDX-License-Identifier: MIT */
/*
 * The push registry (see push.h): a table of channels under one mutex,
 * and one thread that waits in epoll for channels whose far end closed.
 * The table only grows up to its limit; a kill or an EOF removes an
 * entry by moving the last one into its place.
 */
#define _GNU_SOURCE
#include "push.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define RECORD_TIMEOUT_MS 2000 /* a keeper's hand-back, record to record */
#define KEEPER_RETRY_MS 50      /* between attempts to reach a keeper */

struct slot {
	int fd;
	struct mid_push_chan ch;
};

struct mid_push {
	pthread_mutex_t mu;
	struct slot *s;
	size_t n, cap, limit, reserved;
	uint64_t next_id;
	int ep, wake;
	int keeper; /* connection to the keeper, -1 without one */
	long keeper_pid;
	unsigned restored;
	char *keeper_path; /* NULL: no keeper wanted */
	char *exe;
	uint64_t keeper_retry_ms; /* when to look for a keeper again */
	pthread_t thread;
	int running;
};

static void keeper_lost(struct mid_push *p)
{
	mid_log("push-keeper lost: a new one is started; until it answers, a restart of midd"
		" closes the channels");
	close(p->keeper);
	p->keeper = -1;
	p->keeper_retry_ms = 0;
}

/* Under the mutex. */
static void keeper_tell(struct mid_push *p, enum mid_keeper_op op, const struct slot *sl)
{
	if(p->keeper >= 0 && mid_keeper_send(p->keeper, op, &sl->ch, op == MID_KEEPER_ADD ?
					     sl->fd : -1))
		keeper_lost(p);
}

/* Under the mutex: forget slot 'i', closing midd's copy. */
static void drop(struct mid_push *p, size_t i)
{
	epoll_ctl(p->ep, EPOLL_CTL_DEL, p->s[i].fd, NULL);
	close(p->s[i].fd);
	keeper_tell(p, MID_KEEPER_DEL, &p->s[i]);
	p->s[i] = p->s[--p->n];
}

/* Under the mutex. */
static enum mid_rc insert_locked(struct mid_push *p, int fd, struct mid_push_chan *ch, int tell)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};

	/* A new channel takes the place reserved for it; one taken back
	 * from the keeper is a live process and is held whatever the limit,
	 * since refusing it would kill it. */
	if(tell && p->reserved)
		p->reserved--;
	if(p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		struct slot *s;

		if(p->cap >= MID_PUSH_MAX)
			return MID_ERR_TOO_BIG;
		if(cap > MID_PUSH_MAX)
			cap = MID_PUSH_MAX;
		s = realloc(p->s, cap * sizeof(*s));
		if(!s)
			return MID_ERR_NOMEM;
		p->s = s;
		p->cap = cap;
	}
	if(tell)
		ch->id = ++p->next_id;
	else if(ch->id > p->next_id)
		p->next_id = ch->id;
	ev.data.u64 = ch->id;
	if(epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev))
		return MID_ERR_IO;
	p->s[p->n].fd = fd;
	p->s[p->n].ch = *ch;
	if(tell)
		keeper_tell(p, MID_KEEPER_ADD, &p->s[p->n]);
	p->n++;
	return MID_OK;
}

/* Take back what the keeper holds, until its END. 0: got it all.
 * Under the mutex. */
static int restore(struct mid_push *p)
{
	struct mid_keeper_msg m;
	int fd;

	for(;;) {
		if(mid_keeper_recv(p->keeper, &m, &fd, RECORD_TIMEOUT_MS)) {
			close(p->keeper);
			p->keeper = -1;
			return -1;
		}
		if(m.op == MID_KEEPER_END) {
			p->keeper_pid = (long)m.ch.pid;
			return 0;
		}
		if(m.op != MID_KEEPER_ENT || fd < 0) {
			if(fd >= 0)
				close(fd);
			continue;
		}
		if(insert_locked(p, fd, &m.ch, 0) == MID_OK)
			p->restored++;
		else
			close(fd);
	}
}

/*
 * Under the mutex: without a keeper, look for one, or start one. midd
 * never waits for a keeper it starts; the watcher comes back every
 * KEEPER_RETRY_MS until it answers, then hands it every channel midd
 * holds (a keeper takes a second ADD of an id as a replacement).
 */
static void keeper_sync(struct mid_push *p)
{
	uint64_t now = mid_now_ms();
	unsigned before = p->restored;

	if(p->keeper >= 0 || !p->keeper_path || now < p->keeper_retry_ms)
		return;
	p->keeper_retry_ms = now + KEEPER_RETRY_MS;
	if(mid_keeper_dial(p->keeper_path, &p->keeper)) {
		if(mid_keeper_spawn(p->keeper_path, p->exe))
			mid_log("push-keeper cannot be started: %s", strerror(errno));
		return;
	}
	/* A keeper that was just leaving (its last midd gone, nothing to
	 * keep) resets the connection: the next attempt starts another. */
	if(mid_keeper_send(p->keeper, MID_KEEPER_HELLO, NULL, -1)) {
		close(p->keeper);
		p->keeper = -1;
		return;
	}
	if(restore(p))
		return;
	for(size_t i = 0; i < p->n && p->keeper >= 0; i++)
		keeper_tell(p, MID_KEEPER_ADD, &p->s[i]);
	mid_log("push-keeper pid=%ld socket=%s restored=%u", p->keeper_pid, p->keeper_path,
		p->restored - before);
}

enum mid_rc mid_push_add(struct mid_push *p, int fd, struct mid_push_chan *ch)
{
	enum mid_rc rc;

	pthread_mutex_lock(&p->mu);
	keeper_sync(p);
	rc = insert_locked(p, fd, ch, 1);
	pthread_mutex_unlock(&p->mu);
	if(rc)
		close(fd);
	return rc;
}

/* The watcher: a readable channel has closed (its process is gone, or
 * closed the descriptor) or sent bytes nobody asked for; either way it
 * cannot carry a kill any more. */
static void *watch(void *arg)
{
	struct mid_push *p = arg;
	struct epoll_event ev[64];
	char junk[256];

	for(;;) {
		int k = epoll_wait(p->ep, ev, 64, p->keeper < 0 && p->keeper_path ?
				   KEEPER_RETRY_MS : -1);

		if(k == 0 || (k < 0 && errno == EINTR)) {
			pthread_mutex_lock(&p->mu);
			keeper_sync(p);
			pthread_mutex_unlock(&p->mu);
			continue;
		}
		if(k < 0)
			break;
		for(int j = 0; j < k; j++) {
			if(ev[j].data.u64 == 0)
				return NULL; /* the wake eventfd: stop */
			pthread_mutex_lock(&p->mu);
			for(size_t i = 0; i < p->n; i++) {
				ssize_t got;

				if(p->s[i].ch.id != ev[j].data.u64)
					continue;
				got = ev[j].events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP) ? 0 :
				      recv(p->s[i].fd, junk, sizeof(junk), MSG_DONTWAIT);
				if(got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)))
					break;
				mid_log("push-closed device=%s pid=%lld program=%s kind=%s"
					" (the process now meets the TTL gate only)",
					p->s[i].ch.device, (long long)p->s[i].ch.pid,
					p->s[i].ch.program, p->s[i].ch.kind);
				drop(p, i);
				break;
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

static void raise_nofile(void)
{
	struct rlimit r;

	if(getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

enum mid_rc mid_push_new(const char *keeper_path, const char *exe, struct mid_push **out,
			 char *err, size_t errlen)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
	struct mid_push *p = calloc(1, sizeof(*p));
	enum mid_rc rc = MID_ERR_NOMEM;

	*out = NULL;
	err[0] = '\0';
	if(!p)
		return rc;
	pthread_mutex_init(&p->mu, NULL);
	p->limit = MID_PUSH_MAX;
	p->keeper = -1;
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = MID_ERR_IO;
	if(p->ep < 0 || p->wake < 0 || epoll_ctl(p->ep, EPOLL_CTL_ADD, p->wake, &ev))
		goto fail;
	raise_nofile();
	if(keeper_path) {
		p->keeper_path = strdup(keeper_path);
		p->exe = strdup(exe);
		if(!p->keeper_path || !p->exe)
			goto fail;
		/* A keeper that holds channels answers now, and gives them
		 * back before midd serves; otherwise one is started. */
		pthread_mutex_lock(&p->mu);
		keeper_sync(p);
		pthread_mutex_unlock(&p->mu);
	}
	if(pthread_create(&p->thread, NULL, watch, p))
		goto fail;
	p->running = 1;
	*out = p;
	return MID_OK;
fail:
	snprintf(err, errlen, "cannot start the push registry: %s", strerror(errno));
	mid_push_free(p);
	return rc;
}

void mid_push_set_limit(struct mid_push *p, size_t n)
{
	pthread_mutex_lock(&p->mu);
	p->limit = n > MID_PUSH_MAX ? MID_PUSH_MAX : n;
	pthread_mutex_unlock(&p->mu);
}

int mid_push_reserve(struct mid_push *p)
{
	int room;

	pthread_mutex_lock(&p->mu);
	room = p->n + p->reserved < p->limit;
	if(room)
		p->reserved++;
	pthread_mutex_unlock(&p->mu);
	return room;
}

void mid_push_unreserve(struct mid_push *p)
{
	pthread_mutex_lock(&p->mu);
	if(p->reserved)
		p->reserved--;
	pthread_mutex_unlock(&p->mu);
}

void mid_push_free(struct mid_push *p)
{
	uint64_t one = 1;

	if(!p)
		return;
	if(p->running) {
		if(write(p->wake, &one, sizeof(one)) < 0)
			mid_log("push: cannot wake the watcher: %s", strerror(errno));
		pthread_join(p->thread, NULL);
	}
	/* midd's copies only: the keeper keeps the channels open. */
	for(size_t i = 0; i < p->n; i++)
		close(p->s[i].fd);
	if(p->keeper >= 0)
		close(p->keeper);
	if(p->ep >= 0)
		close(p->ep);
	if(p->wake >= 0)
		close(p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->keeper_path);
	free(p->exe);
	free(p->s);
	free(p);
}

/* Under the mutex: send the kill line on slot 'i' and let it go. */
static void kill_slot(struct mid_push *p, size_t i, const char *line, size_t len,
		      mid_push_fn fn, void *arg)
{
	ssize_t w = send(p->s[i].fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if(w < 0)
		mid_log("push: kill of pid=%lld on device=%s could not be sent: %s",
			(long long)p->s[i].ch.pid, p->s[i].ch.device, strerror(errno));
	if(fn)
		fn(arg, &p->s[i].ch);
	drop(p, i);
}

int mid_push_kind_tree(const char *kind)
{
	return !strcmp(kind, MID_KIND_LAUNCHER) || !strcmp(kind, MID_KIND_LAUNCHER_TLS) ||
	       !strcmp(kind, MID_KIND_ADOPT) || !strcmp(kind, MID_KIND_ADOPT_TLS);
}

static size_t kill_line(char *buf, size_t n, const char *code, const char *rid)
{
	int w = snprintf(buf, n, "kill %s %s\n", code, rid);

	return w < 0 ? 0 : (size_t)w >= n ? n - 1 : (size_t)w;
}

/* Kill channel 'id', or (id 0) every channel of 'device' in 'org_id'
 * ('device' NULL: the whole org). */
static unsigned kill_matching(struct mid_push *p, uint64_t id, int64_t org_id,
			      const char *device, const char *code, const char *request_id,
			      mid_push_fn fn, void *arg)
{
	char line[160];
	size_t len = kill_line(line, sizeof(line), code, request_id);
	unsigned k = 0;

	if(!p)
		return 0;
	pthread_mutex_lock(&p->mu);
	/* Launchers (and adopt keepers) first: a launcher that saw its
	 * program die before its own kill line came would miss the rest of
	 * the tree. */
	for(int pass = 0; pass < 2; pass++) {
		for(size_t i = p->n; i-- > 0;) {
			const struct mid_push_chan *ch = &p->s[i].ch;

			if((pass == 0) != mid_push_kind_tree(ch->kind))
				continue;
			if(id ? ch->id != id :
			   ch->org_id != org_id || (device && strcmp(ch->device, device)))
				continue;
			kill_slot(p, i, line, len, fn, arg);
			k++;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return k;
}

unsigned mid_push_kill(struct mid_push *p, int64_t org_id, const char *device,
		       const char *code, const char *request_id, mid_push_fn fn, void *arg)
{
	return kill_matching(p, 0, org_id, device, code, request_id, fn, arg);
}

unsigned mid_push_kill_id(struct mid_push *p, uint64_t id, const char *code,
			  const char *request_id, mid_push_fn fn, void *arg)
{
	return id ? kill_matching(p, id, 0, NULL, code, request_id, fn, arg) : 0;
}

void mid_push_each(struct mid_push *p, int64_t org_id, const char *device, mid_push_fn fn,
		   void *arg)
{
	if(!p)
		return;
	pthread_mutex_lock(&p->mu);
	for(size_t i = 0; i < p->n; i++) {
		const struct mid_push_chan *ch = &p->s[i].ch;

		if((org_id && ch->org_id != org_id) || (device && strcmp(ch->device, device)))
			continue;
		fn(arg, ch);
	}
	pthread_mutex_unlock(&p->mu);
}

void mid_push_keeper_info(struct mid_push *p, unsigned *restored, long *keeper_pid)
{
	*restored = p ? p->restored : 0;
	*keeper_pid = p ? p->keeper_pid : 0;
}
