/* SPDX-License-Identifier: MIT */
/*
 * Token buckets for registrations; see quota.h.
 */
#include "quota.h"

#include <string.h>

void mid_quota_init(struct mid_quota *q, unsigned rate, unsigned burst)
{
	memset(q, 0, sizeof(*q));
	q->rate = rate;
	q->burst = burst ? burst : 1;
}

int mid_quota_take(struct mid_quota *q, int64_t org, uint64_t now_ms, unsigned *retry_ms)
{
	unsigned i;

	*retry_ms = 0;
	if(!q->rate)
		return 1;
	for(i = 0; i < q->used && q->b[i].org != org; i++)
		;
	if(i == q->used) {
		/* A new org starts full; past MID_QUOTA_ORGS they share the
		 * last bucket, which only makes them stricter. */
		if(q->used < MID_QUOTA_ORGS)
			q->used++;
		else
			i = MID_QUOTA_ORGS;
		if(i < MID_QUOTA_ORGS || !q->shared) {
			q->shared |= i == MID_QUOTA_ORGS;
			q->b[i].org = org;
			q->b[i].tokens = q->burst;
			q->b[i].at = now_ms;
		}
	}
	if(now_ms > q->b[i].at) {
		q->b[i].tokens += (double)(now_ms - q->b[i].at) * q->rate / 1000.0;
		if(q->b[i].tokens > q->burst)
			q->b[i].tokens = q->burst;
		q->b[i].at = now_ms;
	}
	if(q->b[i].tokens >= 1.0) {
		q->b[i].tokens -= 1.0;
		return 1;
	}
	*retry_ms = (unsigned)((1.0 - q->b[i].tokens) * 1000.0 / q->rate) + 1;
	return 0;
}
