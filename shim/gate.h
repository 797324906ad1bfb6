/* SPDX-License-Identifier: MIT */
/*
 * The gate (gate.c): the one decision path of every hook. Policy first,
 * then the cached allow, then exactly one thread asks the control plane.
 * Owns the cached allow, the flight lock, and every decision: only the
 * gate calls mid_enforce. Calls config, fdtab, enforce and the validator it is given
 * (the client in the preload, the supervisor in the launcher, a stub in
 * tests). Nothing below it calls it but side (the flight lock).
 */
#ifndef MID_SHIM_GATE_H
#define MID_SHIM_GATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base.h"
#include "client.h"
#include "config.h"
#include "fdtab.h"
#include "policy.h"

/* Asks the control plane; the shim uses the client, tests a stub. Fills
 * 'd' and returns what mid_client_validate returns. */
typedef enum mid_rc (*mid_validate_fn)(void *ctx, struct mid_decision *d);

/* Install the configuration and validator. Called by the constructor. */
void mid_gate_setup(const struct mid_config *cfg, mid_validate_fn fn, void *ctx);

/*
 * Decide 'ev'. Returns 0 when the call may proceed; -1 when it must fail
 * with EPERM (on_deny=errno); does not return for kill, abort and exit.
 * Thread-safe; with a fresh cached allow it takes no lock, allocates
 * nothing and makes no system call beyond reading the clock.
 */
int mid_gate_check(const struct mid_event *ev);

/* Decide an exec 'ev' (its path and argv). 'why' says why the shim
 * cannot follow the program (statically linked, setuid...), NULL when it
 * can: such an exec is refused with UNFOLLOWABLE when the policy says
 * "unfollowable": "deny", whatever else decides it, else let through
 * with a warning to what the policy says. Returns like mid_gate_check. */
int mid_gate_exec(const struct mid_event *ev, const char *why);

/* Would every event of kind 'k' be allowed now, whatever it names, without
 * asking the control plane? True when no policy rule names the kind and
 * its default allows, or validates while the cached allow is fresh. Such
 * an event's arguments cannot change its answer. */
bool mid_gate_allows_any(enum mid_kind k);

/* A connect or send to an address the gate cannot read, on a socket with
 * no peer to decide it on: refused with UNREADABLE_ADDRESS, in every
 * policy (fail closed). Returns like mid_gate_check. */
int mid_gate_unreadable(const struct mid_event *ev);

/* Ask the control plane now, ignoring the cache (startup gate). Same
 * return as mid_gate_check, for an event of kind MID_EV_START. */
int mid_gate_startup(void);

/* Before fork: a process that only starts children (a shell loop whose
 * commands die at their exec) must itself stop after a revoke, so fork
 * asks the control plane when the cached allow is stale. Policy rules do
 * not apply: fork is no side effect, only a sign of life. */
int mid_gate_fork(void);

/* Cached allow: its expiry on CLOCK_MONOTONIC in ms (0 = none). A child
 * may inherit it across exec; it is never extended. */
uint64_t mid_gate_allow_until(void);
void mid_gate_inherit(uint64_t until_ms);
/* An allow is cached or inherited (not judged yet): reads no clock. */
bool mid_gate_has_allow(void);

/* Hold off validation while the shim's own connection is replaced. */
void mid_gate_lock(void);
/* The same, 0 without waiting when another thread holds it. */
int mid_gate_trylock(void);
void mid_gate_unlock(void);

/* After fork in the child: reset the flight lock if it was in use. */
void mid_gate_atfork_child(void);

/* The cached allow's expiry on CLOCK_MONOTONIC_COARSE, in ms, already
 * moved earlier by the most that clock lags behind CLOCK_MONOTONIC; 0 when
 * there is none. */
extern _Atomic uint64_t mid_allow_coarse;

/* Is the cached allow fresh? Reads the coarse clock. False also when it
 * may be fresh: the caller then asks the precise clock. */
static inline bool mid_gate_fresh(void)
{
	uint64_t until = atomic_load_explicit(&mid_allow_coarse, memory_order_acquire);

	return until && mid_coarse_ms() < until;
}

/* May a write or send on 'fd' go ahead without asking the gate? One table
 * load, and a clock read when the policy says validate. Touches no errno. */
static inline bool mid_gate_fd_fresh(int fd)
{
	unsigned f;

	if((unsigned)fd >= MID_FD_TABLE)
		return false;
	f = atomic_load_explicit(&mid_fd_table[fd], memory_order_relaxed) >> 4;
	return f == MID_FAST_ALLOW || (f == MID_FAST_FRESH && mid_gate_fresh());
}

/* Gate a write or send on 'fd' (write, writev, pwrite*, sendfile,
 * splice, stdio). Returns like mid_gate_check. */
int mid_gate_fd(int fd);

#endif
