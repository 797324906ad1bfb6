/* SPDX-License-Identifier: MIT */
/*
 * Side-effect counts between validates (execs, connects, bytes sent,
 * writes), for the budgets midd keeps (server/budget.h). The hot path is
 * a plain add into a slot only this thread writes: no lock, no atomic
 * read-modify-write, no system call. A thread claims a slot at its first
 * count and gives it back when it ends; the slots outlive their threads,
 * so the counts stay. The validating thread sums every slot under the
 * gate's flight lock and remembers what it sent.
 *
 * Execs are rare and are often made by a forked child just before its
 * image goes away: they are counted with an atomic add into a page the
 * first fork shares with the children, so the parent's next validate
 * reports a child's exec.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <sys/mman.h>

#define SLOTS 256

/* Counted with atomic adds: execs, and every count of a thread that
 * found no free slot. Shared with fork children from the first fork. */
struct shared {
	_Atomic uint64_t n[MID_SIDE_KINDS];
	_Atomic uint64_t sent[MID_SIDE_KINDS];
};

static struct mid_side_slot slots[SLOTS];
static _Atomic unsigned used; /* slots ever claimed: the sum looks no further */
static struct shared own_shared;
static struct shared *_Atomic common = &own_shared;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int have_key;

__thread struct mid_side_slot *mid_side_mine __attribute__((tls_model("initial-exec")));

static void release(void *p)
{
	struct mid_side_slot *s = p;

	if(s)
		atomic_store_explicit(&s->owned, 0, memory_order_release);
}

static void make_key(void)
{
	have_key = pthread_key_create(&key, release) == 0;
}

void mid_side_add_common(enum mid_side k, uint64_t n)
{
	atomic_fetch_add_explicit(&atomic_load_explicit(&common, memory_order_relaxed)->n[k], n,
				  memory_order_relaxed);
}

/* A free slot for this thread, or NULL: the count then goes to the
 * common counters. Once per thread. */
struct mid_side_slot *mid_side_claim(void)
{
	unsigned i, n;

	pthread_once(&key_once, make_key);
	if(!have_key)
		return NULL;
	n = atomic_load_explicit(&used, memory_order_acquire);
	for(i = 0; i < SLOTS; i++) {
		int free_ = 0;

		if(!atomic_compare_exchange_strong_explicit(&slots[i].owned, &free_, 1,
							    memory_order_acquire,
							    memory_order_relaxed))
			continue;
		if(pthread_setspecific(key, &slots[i])) {
			release(&slots[i]);
			return NULL;
		}
		while(i >= n && !atomic_compare_exchange_weak_explicit(&used, &n, i + 1,
								       memory_order_release,
								       memory_order_acquire))
			;
		mid_side_mine = &slots[i];
		return &slots[i];
	}
	return NULL;
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
		for(int k = 0; k < MID_SIDE_KINDS; k++) {
			uint64_t now = atomic_load_explicit(&slots[i].n[k], memory_order_relaxed);

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
 * no thread but this one exists to own a slot. */
void mid_side_atfork_child(void)
{
	unsigned n = atomic_load_explicit(&used, memory_order_relaxed);

	for(int k = 0; k < MID_SIDE_KINDS; k++)
		atomic_store(&own_shared.sent[k], atomic_load(&own_shared.n[k]));
	for(unsigned i = 0; i < n && i < SLOTS; i++) {
		for(int k = 0; k < MID_SIDE_KINDS; k++)
			slots[i].sent[k] = atomic_load_explicit(&slots[i].n[k],
								memory_order_relaxed);
		if(&slots[i] != mid_side_mine)
			atomic_store_explicit(&slots[i].owned, 0, memory_order_relaxed);
	}
}
_Static_assert(MID_SIDE_KINDS == MID_CLIENT_COUNTS, "the client sends the shim's counts in order");
