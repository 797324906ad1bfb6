/* SPDX-License-Identifier: MIT */
/*
 * The gate: one decision path for every hook. Policy first; for
 * "validate", a process-wide cached allow read without a lock; on a miss,
 * exactly one thread asks the control plane while the others wait for its
 * answer (a mutex is the whole single-flight: whoever gets it second finds
 * the cache fresh). Anything but a well-formed allow is a deny.
 */
#define _GNU_SOURCE
#include "gate.h"
#include "base.h"
#include "config.h"
#include "enforce.h"
#include "fdtab.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

MID_HOT static const struct mid_config *cfg;
/* Per kind: does the policy look at targets? If not, hooks skip the
 * system call that would find one. */
MID_HOT static bool need_target[MID_EV_KIND_COUNT];
/* When write (send) rules do not look at targets, the policy's answer for
 * a write (send) depends on the descriptor's kind alone: decided once
 * here, it makes a gated write a table load and a clock read. */
MID_HOT static enum mid_action fd_verdict[2][MID_FD_KIND_COUNT];
MID_HOT static mid_validate_fn validate_fn;
MID_HOT static void *validate_ctx;

/* Expiry of the cached allow, CLOCK_MONOTONIC ms; 0 means none. Hooks
 * read mid_allow_coarse first, the same expiry less 'coarse_lag' on the
 * cheaper clock, and this one only when that says stale. */
MID_HOT static _Atomic uint64_t allow_until;
MID_HOT _Atomic uint64_t mid_allow_coarse;
MID_HOT static uint64_t coarse_lag; /* 0: no coarse clock, hooks always ask this one */
MID_HOT static struct mid_forklock flight = MID_FORKLOCK_INIT;

/* The flight lock, except on the forking thread between the shim's
 * prepare handler and its parent handler, which holds it already: a hook
 * another library's fork handler reaches there passes. (In the child the
 * reset runs first, and the lock is taken as usual.) */
static bool flight_held_for_fork(void)
{
	return __builtin_expect(mid_forking, 0) && !mid_fork_window_child();
}

static void flight_lock(void)
{
	if(!flight_held_for_fork())
		mid_forklock_lock(&flight);
}

static void flight_unlock(void)
{
	if(!__builtin_expect(mid_forking, 0))
		mid_forklock_unlock(&flight);
}
/* An allow inherited across exec (MIDSHIM_ALLOW_UNTIL), not judged yet:
 * a start reads no clock (the clock's libc page and the vvar page, two
 * page faults), and the first check that needs the cache judges it. */
MID_HOT static _Atomic uint64_t inherited;

/* clock_getres without libc's wrapper: every gated process asks once,
 * before main, and libc's function lies on a page of its text that a
 * small program never touches (a page fault, here dearer than the
 * system call). */
MID_STARTUP static int coarse_res(struct timespec *res)
{
#if defined(__x86_64__)
	long rc;

	__asm__ volatile("syscall"
			 : "=a"(rc)
			 : "0"((long)SYS_clock_getres), "D"((long)CLOCK_MONOTONIC_COARSE), "S"(res)
			 : "rcx", "r11", "memory");
	return rc == 0 ? 0 : -1;
#else
	return clock_getres(CLOCK_MONOTONIC_COARSE, res);
#endif
}

MID_STARTUP void mid_gate_setup(const struct mid_config *c, mid_validate_fn fn, void *ctx)
{
	enum mid_fast fast[MID_FD_KIND_COUNT];
	struct timespec res;

	cfg = c;
	validate_fn = fn;
	validate_ctx = ctx;
	for(int k = 0; k < MID_EV_KIND_COUNT; k++)
		need_target[k] = mid_policy_needs_target(c->policy, (enum mid_kind)k);
	for(int s = 0; s < 2; s++) {
		for(int k = 0; k < MID_FD_KIND_COUNT; k++) {
			struct mid_event ev;
			int rule;

			memset(&ev, 0, sizeof(ev));
			ev.kind = s ? MID_EV_SEND : MID_EV_WRITE;
			ev.fdkind = (enum mid_fdkind)k;
			fd_verdict[s][k] = mid_policy_match(c->policy, &ev, &rule);
		}
	}
	for(int k = 0; k < MID_FD_KIND_COUNT; k++) {
		int send = k == MID_FD_SOCKET;
		enum mid_action a = fd_verdict[send][k];

		fast[k] = MID_FAST_NONE;
		if(!need_target[send ? MID_EV_SEND : MID_EV_WRITE])
			fast[k] = a == MID_ACT_ALLOW ? MID_FAST_ALLOW :
				  a == MID_ACT_VALIDATE ? MID_FAST_FRESH : MID_FAST_NONE;
	}
	mid_fd_setup(fast);
	/* The coarse clock trails the precise one by up to a timer tick
	 * (4 ms at HZ=250): twice the tick, rounded up to whole ms, plus one
	 * (11 ms there) keeps the fast path from ever honouring an allow past
	 * its expiry. */
	if(coarse_res(&res) == 0 && res.tv_sec == 0)
		coarse_lag = 2 * ((uint64_t)res.tv_nsec / 1000000u + 1) + 1;
}

/* Cache an allow until 'until' (0: drop it). The fast copy goes first
 * when dropping and last when granting, so it never outlives the other. */
MID_STARTUP static void set_allow(uint64_t until)
{
	if(!until || !coarse_lag || until <= coarse_lag) {
		atomic_store_explicit(&mid_allow_coarse, 0, memory_order_release);
		atomic_store_explicit(&allow_until, until, memory_order_release);
		return;
	}
	atomic_store_explicit(&allow_until, until, memory_order_release);
	atomic_store_explicit(&mid_allow_coarse, until - coarse_lag, memory_order_release);
}

static void judge_inherited(void);

/* Fresh by either clock: the coarse one first, it costs a few ns. */
MID_STARTUP static bool fresh(void)
{
	if(atomic_load_explicit(&inherited, memory_order_relaxed))
		judge_inherited();
	return mid_gate_fresh() ||
	       mid_now_ms() < atomic_load_explicit(&allow_until, memory_order_acquire);
}

MID_STARTUP uint64_t mid_gate_allow_until(void)
{
	if(atomic_load_explicit(&inherited, memory_order_relaxed))
		judge_inherited();
	return atomic_load_explicit(&allow_until, memory_order_acquire);
}

MID_STARTUP bool mid_gate_has_allow(void)
{
	return atomic_load_explicit(&inherited, memory_order_relaxed) ||
	       atomic_load_explicit(&allow_until, memory_order_relaxed);
}

MID_STARTUP void mid_gate_inherit(uint64_t until_ms)
{
	if(cfg)
		atomic_store_explicit(&inherited, until_ms, memory_order_relaxed);
}

/* Take the inherited allow (one thread does) and keep it if it lies
 * within one TTL from now: a parent's allow may be reused, never
 * lengthened. The coarse clock decides unless the expiry is within its
 * lag of either bound. */
static void judge_inherited(void)
{
	uint64_t until_ms = atomic_exchange_explicit(&inherited, 0, memory_order_relaxed);
	uint64_t ttl, c, now;

	if(!until_ms || !cfg)
		return;
	ttl = (uint64_t)cfg->ttl_ms;
	c = coarse_lag ? mid_coarse_ms() : 0;
	if(c && (until_ms <= c || until_ms - c > ttl + coarse_lag))
		return;
	if(!c || until_ms - c <= coarse_lag || until_ms - c > ttl) {
		now = mid_now_ms();
		if(until_ms <= now || until_ms - now > ttl)
			return;
	}
	set_allow(until_ms);
}

void mid_gate_atfork_child(void)
{
	mid_forklock_atfork_child(&flight);
}

/* Enforce a denial; a write/send event gets its target now, for the log. */
static int deny(const struct mid_event *ev, int fd, const char *code, const char *rid, int rule)
{
	struct mid_event full;
	char buf[1024];

	if(fd >= 0 && !ev->path && !ev->family) {
		mid_fd_event(fd, ev->fdkind, &full, buf, sizeof(buf), true);
		ev = &full;
	}
	return mid_enforce(cfg, ev, code, rid, rule);
}

/*
 * Ask the control plane unless another thread just did. Signals are
 * blocked meanwhile: a handler that writes must not run on a thread that
 * holds the flight lock (it would wait for itself) nor slip through the
 * re-entrancy guard.
 */
static int ask(const struct mid_event *ev, int fd, int force)
{
	struct mid_decision d;
	sigset_t old;
	uint64_t t0;
	int allowed;

	memset(&d, 0, sizeof(d));
	mid_shim_enter(&old);
	flight_lock();
	t0 = mid_now_ms();
	if(!force && t0 < atomic_load_explicit(&allow_until, memory_order_acquire)) {
		allowed = 1;
	} else {
		enum mid_rc rc = validate_fn(validate_ctx, &d);

		allowed = rc == MID_OK && d.allowed;
		/* The allow is timed from before the request went out, so
		 * the cache never outlives the answer by more than TTL. */
		set_allow(allowed && cfg->ttl_ms > 0 ? t0 + (uint64_t)cfg->ttl_ms : 0);
	}
	flight_unlock();
	mid_shim_leave(&old);
	if(allowed)
		return 0;
	return deny(ev, fd, d.code[0] ? d.code : "MIDSHIM_BAD_REPLY",
		    d.request_id[0] ? d.request_id : "-", -1);
}

/* A denial the shim decides itself (policy, unfollowable, unreadable).
 * Audit mode lets it through (0), but never past the operator's
 * decision: the event still needs the control plane's allow, so a
 * revoked device is stopped there as everywhere else. */
static int deny_local(const struct mid_event *ev, int fd, const char *code, int rule)
{
	int r = deny(ev, fd, code, "-", rule);

	if(r || !cfg || fresh())
		return r;
	return ask(ev, fd, 0);
}

static int decide(const struct mid_event *ev, int fd)
{
	enum mid_action a;
	int rule;

	a = mid_policy_match(cfg->policy, ev, &rule);
	if(a == MID_ACT_ALLOW)
		return 0;
	if(a == MID_ACT_DENY)
		return deny_local(ev, fd, "POLICY_DENY", rule);
	if(fresh())
		return 0;
	return ask(ev, fd, 0);
}

int mid_gate_check(const struct mid_event *ev)
{
	if(mid_in_shim || !cfg)
		return 0;
	return decide(ev, -1);
}

bool mid_gate_allows_any(enum mid_kind k)
{
	enum mid_action a;

	if(mid_in_shim || !cfg || !mid_policy_uniform(cfg->policy, k, &a))
		return false;
	return a == MID_ACT_ALLOW || (a == MID_ACT_VALIDATE && fresh());
}

int mid_gate_exec(const struct mid_event *ev, const char *why)
{
	if(why) {
		if(cfg && cfg->unfollowable == MID_UNFOLLOW_DENY)
			return deny_local(ev, -1, "UNFOLLOWABLE", -1);
		mid_shim_say("warning: %s is %s: the shim cannot gate what it does "
			     "(policy \"unfollowable\": \"deny\" refuses such programs)", ev->path,
			     why);
	}
	return mid_gate_check(ev);
}

int mid_gate_unreadable(const struct mid_event *ev)
{
	return deny_local(ev, -1, MID_CODE_BAD_ADDRESS, -1);
}

int mid_gate_fd(int fd)
{
	struct mid_event ev;
	enum mid_fdkind k;
	char buf[1024];
	int send;

	if(mid_in_shim || !cfg)
		return 0;
	k = mid_fd_kind(fd);
	send = k == MID_FD_SOCKET;
	if(!need_target[send ? MID_EV_SEND : MID_EV_WRITE]) {
		enum mid_action a = fd_verdict[send][k];

		if(a == MID_ACT_ALLOW)
			return 0;
		if(a == MID_ACT_VALIDATE && fresh())
			return 0;
	}
	mid_fd_event(fd, k, &ev, buf, sizeof(buf), need_target[send ? MID_EV_SEND : MID_EV_WRITE]);
	return decide(&ev, fd);
}

int mid_gate_fork(void)
{
	struct mid_event ev;

	if(mid_in_shim || !cfg)
		return 0;
	if(fresh())
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_FORK;
	return ask(&ev, -1, 0);
}

MID_STARTUP int mid_gate_startup(void)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_START;
	if(!cfg)
		return 0;
	/* An inherited allow waits for the first gated call to be judged:
	 * the parent's gate let this program start. */
	if(atomic_load_explicit(&inherited, memory_order_relaxed) || fresh())
		return 0;
	return ask(&ev, -1, 1);
}

void mid_gate_lock(void)
{
	flight_lock();
}

int mid_gate_trylock(void)
{
	if(flight_held_for_fork())
		return 1;
	atomic_fetch_add_explicit(&flight.users, 1, memory_order_acq_rel);
	if(pthread_mutex_trylock(&flight.m) == 0)
		return 1;
	atomic_fetch_sub_explicit(&flight.users, 1, memory_order_acq_rel);
	return 0;
}

void mid_gate_unlock(void)
{
	flight_unlock();
}
