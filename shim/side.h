/* SPDX-License-Identifier: MIT */
/*
 * Side-effect counts between validates (side.c), for the budgets midd
 * keeps: each thread adds into its own TLS block, the validating thread
 * takes the sums under the gate's flight lock. Owns the counters; calls
 * base and the gate's lock.
 */
#ifndef MID_SHIM_SIDE_H
#define MID_SHIM_SIDE_H

#include <stdatomic.h>
#include <stdint.h>

#include "base.h"

/* What a budget counts (server/budget.h), sent with the next validate. */
enum mid_side {
	MID_SIDE_EXECS = 0, /* exec family, posix_spawn, system, popen */
	MID_SIDE_CONNECTS,  /* connect */
	MID_SIDE_BYTES_OUT, /* bytes a send or write on a socket took */
	MID_SIDE_WRITES,    /* writes to anything but a socket */
	MID_SIDE_KINDS
};

/* One thread's counts, in its TLS block: the page a hook already
 * touches for mid_in_shim, so counting adds no page to what a system
 * call's return may have left out of the TLB. Only the thread writes
 * them; 'reg' says whether a validating thread can find them. */
struct mid_side_tls {
	_Atomic uint64_t n[MID_SIDE_KINDS];
	int reg; /* 0 not yet, 1 registered, 2 no room: counts go to the common ones */
};
extern __thread struct mid_side_tls mid_side_tls __attribute__((tls_model("initial-exec")));

/* The first count of a thread, or any when it found no room. */
void mid_side_slow(enum mid_side k, uint64_t n);
/* An atomic add to the counters fork children share (execs). */
void mid_side_add_common(enum mid_side k, uint64_t n);

/* Count 'n' of 'k' for this thread: a load and a store in its own TLS.
 * The shim's own traffic is not counted. */
static inline void mid_side_add(enum mid_side k, uint64_t n)
{
	if(mid_in_shim)
		return;
	if(__builtin_expect(mid_side_tls.reg != 1, 0)) {
		mid_side_slow(k, n);
		return;
	}
	/* One writer: a plain add, without a locked instruction. */
	atomic_store_explicit(&mid_side_tls.n[k],
			      atomic_load_explicit(&mid_side_tls.n[k], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* What was counted since the last take, per kind (flight lock held). */
void mid_side_take(uint64_t out[MID_SIDE_KINDS]);
/* Before a fork: share the common counters with the child. */
void mid_side_share(void);
void mid_side_atfork_child(void);

#endif
