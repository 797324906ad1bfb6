/* SPDX-License-Identifier: MIT */
/*
 * The one background thread that moves what validate keeps in memory to
 * the database: queued audit rows about every 100 ms, device counters
 * (validates, last_seen) about every 2 s, each batch in one transaction.
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

/* Start the thread; it borrows 'st', 'db' and 'q' until mid_flush_stop. */
enum mid_rc mid_flush_start(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
			    struct mid_flush **out) MID_WUR;

/* Write everything pending once more, stop the thread and free it. */
void mid_flush_stop(struct mid_flush *f);

/* Write everything pending now (the thread's own step; tests call it);
 * with 'counters' the device counters too. Returns the audit bytes taken. */
size_t mid_flush_now(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
		     int counters);

#endif
