/* SPDX-License-Identifier: MIT */
/*
 * What every module of the shim stands on: the re-entrancy guard that
 * lets the shim's own libc calls through the hooks, a mutex safe across
 * fork, the section the hot state lives in, the coarse clock and the one
 * stderr line. Owns mid_in_shim, the fork's window (mid_forking) and
 * mid_shim_say (base.c); calls libc only.
 */
#ifndef MID_SHIM_BASE_H
#define MID_SHIM_BASE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define MID_EXPORT __attribute__((visibility("default")))

/* For the little state every gated process writes before main or in its
 * hot path (configuration, gate, real functions): kept together in .data,
 * next to the page relocation has already copied, instead of spread over
 * .bss between large tables. Every fresh page written costs a new process
 * a page fault, and a start is mostly page faults. */
#define MID_HOT __attribute__((section(".data.mid_hot")))

/* A mutex that a fork child resets only when some thread held it, or
 * waited for it, at the fork: the child of a quiet parent then writes
 * nothing to it, and a page written after fork is a page copied. */
struct mid_forklock {
	pthread_mutex_t m;
	_Atomic int users; /* threads inside lock()..unlock() */
};
#define MID_FORKLOCK_INIT {PTHREAD_MUTEX_INITIALIZER, 0}

/* Set on the thread that forks, from the shim's prepare handler to its
 * parent or child handler (hook_init.c). The handlers are registered at
 * the process's first fork, after other libraries' own, so theirs run
 * inside that window and may reach a hook. */
extern __thread int mid_forking __attribute__((tls_model("initial-exec")));

/* In the fork's window on this thread: in the child, reset what the
 * fork left (the shim's child handler has not run yet) and return true;
 * in the parent, false (this thread holds the flight lock). */
bool mid_fork_window_child(void);
extern pid_t mid_fork_parent;             /* set in the prepare handler */
extern void (*mid_fork_child_reset)(void); /* the child's reset */

static inline void mid_forklock_lock(struct mid_forklock *l)
{
	if(__builtin_expect(mid_forking, 0))
		(void)mid_fork_window_child();
	atomic_fetch_add_explicit(&l->users, 1, memory_order_acq_rel);
	pthread_mutex_lock(&l->m);
}

static inline void mid_forklock_unlock(struct mid_forklock *l)
{
	pthread_mutex_unlock(&l->m);
	atomic_fetch_sub_explicit(&l->users, 1, memory_order_acq_rel);
}

/* In a fork child: no other thread exists any more. */
static inline void mid_forklock_atfork_child(struct mid_forklock *l)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

	if(!atomic_load_explicit(&l->users, memory_order_relaxed))
		return;
	memcpy(&l->m, &fresh, sizeof(fresh));
	atomic_store_explicit(&l->users, 0, memory_order_relaxed);
}

/* Set while this thread runs the shim's own code (the client's socket I/O,
 * log writes): hooks then call the real function at once. Initial-exec TLS
 * so reading it is one instruction, with no lazy TLS allocation. */
extern __thread int mid_in_shim __attribute__((tls_model("initial-exec")));

/* Raise and lower the guard. Every signal is blocked while it is up: a
 * handler that ran then (during a blocking open or a network wait) would
 * have its own calls go through ungated. The only way the guard is
 * raised (tests/static/guard.sh checks). */
static inline void mid_shim_enter(sigset_t *old)
{
	sigset_t all;

	/* sigfillset's page is one more page fault at every start;
	 * pthread_sigmask leaves out the signals libc keeps for itself. */
	memset(&all, 0xff, sizeof(all));
	pthread_sigmask(SIG_BLOCK, &all, old);
	mid_in_shim++;
}

static inline void mid_shim_leave(const sigset_t *old)
{
	mid_in_shim--;
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* memcmp(a, b, n) == 0 without libc's: start-up code compares names, and
 * libc's memcmp lies on a page a small program never touches (a page
 * fault per start). Volatile: the compiler must not make the loop a call
 * to memcmp again. */
static inline bool mid_mem_eq(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;

	for(size_t i = 0; i < n; i++)
		if(x[i] != y[i])
			return false;
	return true;
}

/* Does 's' start with the 'n' bytes of 'p' (which hold no NUL)? As
 * strncmp(s, p, n) == 0, for start-up code, whose every libc string
 * function is a page a small program may never touch (a page fault per
 * start). A mismatch at the end of 's' stops the loop there. */
static inline bool mid_has_prefix(const char *s, const char *p, size_t n)
{
	const volatile char *x = s;

	for(size_t i = 0; i < n; i++)
		if(x[i] != p[i])
			return false;
	return true;
}

#define MID_STARTS(s, lit) mid_has_prefix((s), "" lit, sizeof(lit) - 1)

/* The value in 'e' ("NAME=value") when NAME is 'name', else NULL; the
 * same, without libc's string functions. */
static inline const char *mid_env_value(const char *e, const char *name)
{
	size_t j = 0;

	while(name[j] && e[j] == name[j])
		j++;
	return !name[j] && e[j] == '=' ? e + j + 1 : NULL;
}

/* CLOCK_MONOTONIC_COARSE in ms (a few ns, no rdtsc), or 0. */
static inline uint64_t mid_coarse_ms(void)
{
	struct timespec ts;

	if(clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Write one line to stderr, prefixed "midshim: ", with the real write. */
void mid_shim_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
