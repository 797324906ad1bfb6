/* SPDX-License-Identifier: MIT */
/*
 * The bounded queue between validate and the audit table. Validate pushes
 * a row and moves on: a full queue drops the row and counts it, it never
 * waits. One consumer (the flush thread) takes everything queued at once.
 * Rows are packed (strings without padding) into a fixed byte budget, so
 * typical rows of ~120 bytes fit by the tens of thousands.
 */
#ifndef MID_AUDIT_H
#define MID_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "store.h"

#define MID_AUDIT_QUEUE_BYTES (4u << 20) /* per buffer; there are two */

struct mid_audit;

/* Rows taken from the queue, read one by one with mid_audit_next. */
struct mid_audit_batch {
	const unsigned char *p, *end;
	size_t rows;
};

/* A queue of 'cap' bytes per buffer. */
enum mid_rc mid_audit_new(size_t cap, struct mid_audit **out) MID_WUR;
void mid_audit_free(struct mid_audit *q);

/* Queue a copy of 'row'. Returns 0, or -1 when the queue is full and the
 * row was dropped (and counted). */
int mid_audit_push(struct mid_audit *q, const struct mid_audit_row *row);

/* Take every queued row into 'b', which stays valid until the next call;
 * '*dropped' is the number of rows lost since the last call. Returns the
 * bytes taken. Only one thread may take. */
size_t mid_audit_take(struct mid_audit *q, struct mid_audit_batch *b, uint64_t *dropped);

/* Rows waiting in the queue now, and rows dropped since the start. */
void mid_audit_depth(struct mid_audit *q, size_t *rows, uint64_t *dropped_total);

/* Unpack the next row of 'b' into 'row'; 0 when there is none left. */
int mid_audit_next(struct mid_audit_batch *b, struct mid_audit_row *row);

#endif
