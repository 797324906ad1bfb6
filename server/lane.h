/* SPDX-License-Identifier: MIT */
/*
 * The slow lane: threads that run the requests which touch the database
 * or walk every device, so that libmicrohttpd's threads are left to
 * validate, which is answered from memory. A flood of slow requests then
 * costs validate nothing but CPU: it waits in a bounded queue, not in
 * front of validate. Jobs of the admin key have a thread of their own, so
 * an org-key flood (every gated program holds that key) cannot hold up a
 * revoke.
 */
#ifndef MID_LANE_H
#define MID_LANE_H

#include "mid.h"

#define MID_LANE_QUEUE 64 /* waiting jobs per priority; more are refused */

struct mid_lane;

enum mid_lane_prio {
	MID_LANE_ADMIN, /* its own thread */
	MID_LANE_ORG,   /* its own thread */
};

typedef void (*mid_lane_fn)(void *arg);

enum mid_rc mid_lane_new(struct mid_lane **out) MID_WUR;

/* Queue 'fn(arg)'; MID_ERR_DENIED when that priority's queue is full or the
 * lane is stopping: the caller answers at once instead. */
enum mid_rc mid_lane_push(struct mid_lane *l, enum mid_lane_prio prio, mid_lane_fn fn,
			  void *arg) MID_WUR;

/* Refuse new jobs, run what is queued and stop the thread. */
void mid_lane_stop(struct mid_lane *l);

/* Stop (if not yet) and free. Accepts NULL. */
void mid_lane_free(struct mid_lane *l);

#endif
