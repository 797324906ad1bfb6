/* SPDX-License-Identifier: MIT */
/*
 * Background flushing. The thread sleeps on a condition variable so that
 * shutdown does not wait out a period; a failed write leaves the counters
 * dirty for the next round, while audit rows of a failed batch are lost
 * and logged (holding them would block validate or grow without bound).
 */
#define _GNU_SOURCE
#include "flush.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"

struct mid_flush {
	struct mid_state *st;
	struct mid_store *db;
	struct mid_audit *q;
	mid_flush_tick_fn tick;
	void *tick_arg;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
};

static _Atomic uint64_t rows_total;

uint64_t mid_flush_rows_total(void)
{
	return rows_total;
}

static int next_row(void *arg, struct mid_audit_row *row)
{
	return mid_audit_next(arg, row);
}

size_t mid_flush_now(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
		     int counters)
{
	struct mid_audit_batch b;
	uint64_t dropped;
	size_t bytes = mid_audit_take(q, &b, &dropped);

	if(dropped)
		mid_log("audit queue full: dropped %llu validate audit rows",
			(unsigned long long)dropped);
	if(b.rows && mid_store_audit_append(db, next_row, &b))
		mid_log("audit flush failed: lost %zu audit rows", b.rows);
	else
		rows_total += b.rows;
	if(counters) {
		struct mid_dirty *d = NULL;
		size_t nd = 0;
		if(mid_state_dirty(st, &d, &nd) == MID_OK && nd) {
			if(mid_store_counters(db, d, nd) == MID_OK)
				mid_state_mark_flushed(d, nd);
			else
				mid_log("counter flush failed; will retry");
		}
		free(d);
	}
	return bytes;
}

/* Sleep up to 'ms' or until told to stop; returns the stop flag. */
static int nap(struct mid_flush *f, long ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&f->mu);
	while(!f->stop && ms > 0 && pthread_cond_timedwait(&f->cv, &f->mu, &ts) != ETIMEDOUT)
		;
	stop = f->stop;
	pthread_mutex_unlock(&f->mu);
	return stop;
}

static void *run(void *arg)
{
	struct mid_flush *f = arg;
	uint64_t last_counters = mid_now_ms();
	size_t taken = 0;
	int stop = 0;

	while(!stop) {
		uint64_t now;
		int counters;

		/* Under heavy load the queue fills faster than a period: go
		 * again at once rather than let validate rows be dropped. */
		stop = nap(f, taken > MID_AUDIT_QUEUE_BYTES / 4 ? 0 : MID_FLUSH_AUDIT_MS);
		now = mid_now_ms();
		counters = stop || now - last_counters >= MID_FLUSH_COUNTERS_MS;
		taken = mid_flush_now(f->st, f->db, f->q, counters);
		if(counters)
			last_counters = now;
		if(f->tick)
			f->tick(f->tick_arg);
	}
	return NULL;
}

enum mid_rc mid_flush_start(struct mid_state *st, struct mid_store *db, struct mid_audit *q,
			    mid_flush_tick_fn tick, void *tick_arg, struct mid_flush **out)
{
	struct mid_flush *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	*out = NULL;
	if(!f)
		return MID_ERR_NOMEM;
	f->st = st;
	f->db = db;
	f->q = q;
	f->tick = tick;
	f->tick_arg = tick_arg;
	pthread_mutex_init(&f->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	if(pthread_create(&f->tid, NULL, run, f)) {
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return MID_ERR_NOMEM;
	}
	*out = f;
	return MID_OK;
}

void mid_flush_stop(struct mid_flush *f)
{
	if(!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->tid, NULL);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
