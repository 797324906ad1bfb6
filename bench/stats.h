/* SPDX-License-Identifier: MIT */
/*
 * Percentiles of latency samples, for the bench programs that time one
 * call at a time (validate, roundtrip): sort the nanoseconds, then read
 * a percentile in microseconds.
 */
#ifndef MID_BENCH_STATS_H
#define MID_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort the 'n' samples of 'v' (ns) in place. */
static inline void sort_ns(uint64_t *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
}

/* The 'p' quantile (0..1) of the sorted samples, in µs. */
static inline double pct(const uint64_t *v, long n, double p)
{
	long i = (long)(p * (double)n);

	if(i >= n)
		i = n - 1;
	return (double)v[i] / 1e3;
}

#endif
