/* SPDX-License-Identifier: MIT */
/*
 * A rate on registrations that create a device: a token bucket per org,
 * 'rate' new devices a second with bursts of 'burst'. Without it the org
 * key, which every gated program holds, fills the org's device limit in
 * under a second. Not thread-safe: the service calls it under its writer
 * mutex.
 */
#ifndef MID_QUOTA_H
#define MID_QUOTA_H

#include <stdint.h>

#include "mid.h"

#define MID_QUOTA_RATE 20   /* default: new devices a second, per org */
#define MID_QUOTA_BURST 200 /* default: new devices at once, per org */
#define MID_QUOTA_ORGS 64   /* orgs with their own bucket; the rest share one */

struct mid_quota {
	unsigned rate, burst; /* rate 0: no limit */
	struct {
		int64_t org;
		double tokens;
		uint64_t at; /* ms, monotonic: tokens as of then */
	} b[MID_QUOTA_ORGS + 1];
	unsigned used;   /* own buckets in use */
	int shared;      /* the shared bucket is in use */
};

/* 'rate' a second (0 = unlimited) in bursts of 'burst' (at least 1). */
void mid_quota_init(struct mid_quota *q, unsigned rate, unsigned burst);

/* Take one token of 'org' at 'now_ms' (monotonic); 0 when there is none,
 * with '*retry_ms' the wait until there is. */
int mid_quota_take(struct mid_quota *q, int64_t org, uint64_t now_ms, unsigned *retry_ms);

#endif
