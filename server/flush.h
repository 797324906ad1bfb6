/* SPDX-License-Identifier: MIT */
/*
 * The one background thread that moves what validate keeps in memory to
 * the database: queued audit rows about every 100 ms, device counters
 * (validates, last_seen) about every 2 s, each batch in one transaction;
 * and at each round, its owner's tick (midd retries changes toward deny
 * that the database has not yet taken).
 */
#ifndef MID_FLUSH_H
#define MID_FLUSH_H

#include "audit.h"
#include "mid.h"
#include "state.h"
#include "store.h"

#define MID_FLUSH_AUDIT_MS 100
#define MID_FLUSH_COUNTERS_MS 2000

struct mid_flush;

/* Called by the thread after each round, and once more at stop. */
typedef void (*mid_flush_tick_fn)(void *arg);

/* Start the thread; it borrows 'st', 'db', 'q' and 'tick_arg' until
 * mid_flush_stop. 'tick' may be NULL. */
enum mid_rc mid_flush_start(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
			    mid_flush_tick_fn tick, void *tick_arg,
			    struct mid_flush **out) MID_WUR;

/* Write everything pending once more, stop the thread and free it. */
void mid_flush_stop(struct mid_flush *f);

/* Audit rows written by every flush of this process so far: the console's
 * live view watches it to learn that the trail has grown. */
uint64_t mid_flush_rows_total(void);

/* Write everything pending now (the thread's own step; tests call it);
 * with 'counters' the device counters too. Returns the audit bytes taken. */
size_t mid_flush_now(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
		     int counters);

#endif
