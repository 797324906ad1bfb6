/* SPDX-License-Identifier: MIT */
/*
 * The slow lane's queues and threads; see lane.h. One thread per
 * priority, so an admin job never waits behind an org job, not even the
 * one in progress. Both run at midd's own CPU priority: a niced org
 * thread starved under load, and with it the register of a new device,
 * which a gated process waits for at its start.
 */
#define _GNU_SOURCE
#include "lane.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
	mid_lane_fn fn;
	void *arg;
};

struct worker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t tid;
	int stopping, started, joined;
	struct job j[MID_LANE_QUEUE];
	unsigned head, n;
};

struct mid_lane {
	struct worker w[2]; /* by enum mid_lane_prio */
};

static void *run(void *arg)
{
	struct worker *w = arg;
	struct job j;

	pthread_mutex_lock(&w->mu);
	for(;;) {
		if(w->n) {
			j = w->j[w->head];
			w->head = (w->head + 1) % MID_LANE_QUEUE;
			w->n--;
			pthread_mutex_unlock(&w->mu);
			j.fn(j.arg);
			pthread_mutex_lock(&w->mu);
		} else if(w->stopping) {
			break;
		} else {
			pthread_cond_wait(&w->cv, &w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

enum mid_rc mid_lane_new(struct mid_lane **out)
{
	struct mid_lane *l = calloc(1, sizeof(*l));
	int p;

	*out = NULL;
	if(!l)
		return MID_ERR_NOMEM;
	for(p = 0; p < 2; p++) {
		struct worker *w = &l->w[p];

		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		w->started = pthread_create(&w->tid, NULL, run, w) == 0;
		if(!w->started) {
			mid_lane_free(l);
			return MID_ERR_NOMEM;
		}
	}
	*out = l;
	return MID_OK;
}

enum mid_rc mid_lane_push(struct mid_lane *l, enum mid_lane_prio prio, mid_lane_fn fn, void *arg)
{
	struct worker *w = &l->w[prio == MID_LANE_ADMIN ? MID_LANE_ADMIN : MID_LANE_ORG];
	enum mid_rc rc = MID_ERR_DENIED;

	pthread_mutex_lock(&w->mu);
	if(!w->stopping && w->n < MID_LANE_QUEUE) {
		w->j[(w->head + w->n) % MID_LANE_QUEUE] = (struct job){fn, arg};
		w->n++;
		pthread_cond_signal(&w->cv);
		rc = MID_OK;
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void mid_lane_stop(struct mid_lane *l)
{
	int p, join;

	for(p = 0; p < 2; p++) {
		struct worker *w = &l->w[p];

		pthread_mutex_lock(&w->mu);
		join = w->started && !w->joined;
		w->stopping = 1;
		w->joined = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		if(join)
			pthread_join(w->tid, NULL);
	}
}

void mid_lane_free(struct mid_lane *l)
{
	int p;

	if(!l)
		return;
	mid_lane_stop(l);
	for(p = 0; p < 2; p++) {
		pthread_cond_destroy(&l->w[p].cv);
		pthread_mutex_destroy(&l->w[p].mu);
	}
	free(l);
}
