/* SPDX-License-Identifier: MIT */
/*
 * The bounded queue between validate and the audit table. Validate pushes
 * a row and moves on: a full queue drops the row and counts it, it never
 * waits. One consumer (the flush thread) takes everything queued at once.
 */
#ifndef MID_AUDIT_H
#define MID_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "store.h"

#define MID_AUDIT_QUEUE 8192 /* rows between two flushes */

struct mid_audit;

enum mid_rc mid_audit_new(size_t cap, struct mid_audit **out) MID_WUR;
void mid_audit_free(struct mid_audit *q);

/* Queue a copy of 'row'. Returns 0, or -1 when the queue is full and the
 * row was dropped (and counted). */
int mid_audit_push(struct mid_audit *q, const struct mid_audit_row *row);

/* Take every queued row: '*rows' points into the queue and stays valid
 * until the next call; '*dropped' is the number of rows lost since the
 * last call. Only one thread may take. */
size_t mid_audit_take(struct mid_audit *q, const struct mid_audit_row **rows,
		      uint64_t *dropped);

#endif
