/* SPDX-License-Identifier: MIT */
/*
 * Side-effect counts between validates (execs, connects, bytes sent,
 * writes), for the budgets midd keeps (server/budget.h). The hot path is
 * a plain add into counters in the thread's own TLS block: no lock, no
 * atomic read-modify-write, no system call, and no page the hook has not
 * touched already (a new one per call showed as ~3% on a write to
 * /dev/null here, a TLB refill after each system call). A thread puts the
 * address of its counters in a slot at its first count; when it ends,
 * what it has not sent moves to the common counters and the slot is free
 * again. The validating thread sums every slot under the gate's flight
 * lock and remembers what it sent.
 *
 * Execs are rare and are often made by a forked child just before its
 * image goes away: they are counted with an atomic add into a page the
 * first fork shares with the children, so the parent's next validate
 * reports a child's exec.
 */
#define _GNU_SOURCE
#include "side.h"
#include "base.h"
#include "gate.h"

#include <sys/mman.h>

#define SLOTS 256

/* Where a validating thread finds each live thread's counts. */
struct slot {
	struct mid_side_tls *_Atomic p; /* NULL: free */
	uint64_t sent[MID_SIDE_KINDS];  /* under the flight lock */
};

/* Counted with atomic adds: execs, the counts of a thread that found no
 * free slot, and what an ending thread had not sent yet. Shared with
 * fork children from the first fork. */
struct shared {
	_Atomic uint64_t n[MID_SIDE_KINDS];
	_Atomic uint64_t sent[MID_SIDE_KINDS];
};

static struct slot slots[SLOTS];
static _Atomic unsigned used; /* slots ever taken: the sum looks no further */
static struct shared own_shared;
static struct shared *_Atomic common = &own_shared;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int have_key;

__thread struct mid_side_tls mid_side_tls __attribute__((tls_model("initial-exec")));

void mid_side_add_common(enum mid_side k, uint64_t n)
{
	atomic_fetch_add_explicit(&atomic_load_explicit(&common, memory_order_relaxed)->n[k], n,
				  memory_order_relaxed);
}

/* A thread ends: what it counted and did not send goes to the common
 * counters, and its slot is free again before its TLS goes away. Under
 * the flight lock, which every reader of the slots holds. */
static void release(void *p)
{
	struct slot *s = p;
	sigset_t old;

	if(!s)
		return;
	mid_shim_enter(&old);
	mid_gate_lock();
	for(int k = 0; k < MID_SIDE_KINDS; k++)
		mid_side_add_common((enum mid_side)k,
				    atomic_load_explicit(&mid_side_tls.n[k], memory_order_relaxed) -
					    s->sent[k]);
	atomic_store_explicit(&s->p, NULL, memory_order_release);
	mid_side_tls.reg = 0;
	mid_gate_unlock();
	mid_shim_leave(&old);
}

static void make_key(void)
{
	have_key = pthread_key_create(&key, release) == 0;
}

/* Take a free slot for this thread: 0, or -1 when there is none. */
static int take(void)
{
	unsigned n;

	pthread_once(&key_once, make_key);
	if(!have_key)
		return -1;
	for(unsigned i = 0; i < SLOTS; i++) {
		struct mid_side_tls *none = NULL;

		if(atomic_load_explicit(&slots[i].p, memory_order_relaxed))
			continue;
		/* What this thread counted before is the thread's own. */
		for(int k = 0; k < MID_SIDE_KINDS; k++)
			slots[i].sent[k] = atomic_load_explicit(&mid_side_tls.n[k],
								memory_order_relaxed);
		if(!atomic_compare_exchange_strong_explicit(&slots[i].p, &none, &mid_side_tls,
							    memory_order_release,
							    memory_order_relaxed))
			continue;
		if(pthread_setspecific(key, &slots[i])) {
			atomic_store_explicit(&slots[i].p, NULL, memory_order_release);
			return -1;
		}
		n = atomic_load_explicit(&used, memory_order_relaxed);
		while(i >= n && !atomic_compare_exchange_weak_explicit(&used, &n, i + 1,
								       memory_order_release,
								       memory_order_relaxed))
			;
		return 0;
	}
	return -1;
}

void mid_side_slow(enum mid_side k, uint64_t n)
{
	if(mid_side_tls.reg == 0)
		mid_side_tls.reg = take() ? 2 : 1;
	if(mid_side_tls.reg != 1) {
		mid_side_add_common(k, n);
		return;
	}
	atomic_store_explicit(&mid_side_tls.n[k],
			      atomic_load_explicit(&mid_side_tls.n[k], memory_order_relaxed) + n,
			      memory_order_relaxed);
}

/* What was counted since the last take, per kind; with the flight lock
 * held. The common counters are taken with a compare-and-swap, so a
 * count a fork child shares is reported by one process only. */
void mid_side_take(uint64_t out[MID_SIDE_KINDS])
{
	struct shared *c = atomic_load_explicit(&common, memory_order_acquire);
	unsigned n = atomic_load_explicit(&used, memory_order_acquire);

	for(int k = 0; k < MID_SIDE_KINDS; k++) {
		uint64_t sent = atomic_load_explicit(&c->sent[k], memory_order_relaxed), now;

		do {
			now = atomic_load_explicit(&c->n[k], memory_order_relaxed);
		} while(!atomic_compare_exchange_weak_explicit(&c->sent[k], &sent, now,
							       memory_order_relaxed,
							       memory_order_relaxed));
		out[k] = now - sent;
	}
	for(unsigned i = 0; i < n && i < SLOTS; i++) {
		struct mid_side_tls *t = atomic_load_explicit(&slots[i].p, memory_order_acquire);

		for(int k = 0; t && k < MID_SIDE_KINDS; k++) {
			uint64_t now = atomic_load_explicit(&t->n[k], memory_order_relaxed);

			out[k] += now - slots[i].sent[k];
			slots[i].sent[k] = now;
		}
	}
}

/* Before a fork, in the parent: from now on the common counters live in
 * a page the children share. Without one they stay per process. */
void mid_side_share(void)
{
	struct shared *p;

	if(atomic_load_explicit(&common, memory_order_relaxed) != &own_shared)
		return;
	p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if(p == MAP_FAILED)
		return;
	for(int k = 0; k < MID_SIDE_KINDS; k++) {
		atomic_store(&p->n[k], atomic_load(&own_shared.n[k]));
		atomic_store(&p->sent[k], atomic_load(&own_shared.sent[k]));
	}
	atomic_store_explicit(&common, p, memory_order_release);
}

/* In a fork child: the parent's counts are the parent's to report, and
 * no thread but this one lives to own a slot. */
void mid_side_atfork_child(void)
{
	unsigned n = atomic_load_explicit(&used, memory_order_relaxed);

	for(int k = 0; k < MID_SIDE_KINDS; k++)
		atomic_store(&own_shared.sent[k], atomic_load(&own_shared.n[k]));
	for(unsigned i = 0; i < n && i < SLOTS; i++) {
		struct mid_side_tls *t = atomic_load_explicit(&slots[i].p, memory_order_relaxed);

		if(t != &mid_side_tls) {
			atomic_store_explicit(&slots[i].p, NULL, memory_order_relaxed);
			continue;
		}
		for(int k = 0; k < MID_SIDE_KINDS; k++)
			slots[i].sent[k] = atomic_load_explicit(&t->n[k], memory_order_relaxed);
	}
}

_Static_assert(MID_SIDE_KINDS == MID_CLIENT_COUNTS, "the client sends the shim's counts in order");
