/* SPDX-License-Identifier: MIT */
/*
 * midd's /metrics: counters kept as the requests are answered, and
 * gauges read at the scrape, in the Prometheus text exposition format
 * (version 0.0.4). Only totals over every org: no deviceId, org name or
 * key appears, so the route needs no key, as /healthz needs none.
 * The counters are process-wide relaxed atomics; counting a validate
 * costs two additions and one clock read it shares with nothing.
 */
#ifndef MID_METRICS_H
#define MID_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct mid_service;
struct mid_conns;

/* A validate answered with 'code' (ALLOW, DEVICE_REVOKED, ...) after
 * 'ns' nanoseconds since its request began. */
void mid_metrics_validate(const char *code, uint64_t ns);

/* An answer with HTTP status 'status' was queued. */
void mid_metrics_status(unsigned status);

/* The exposition text for a scrape (malloc'd, NUL-terminated; NULL when
 * out of memory). 'conns' may be NULL. */
char *mid_metrics_text(struct mid_service *svc, struct mid_conns *conns);

/* Note the time midd began answering (the first call counts), and read
 * it back (Unix time; 0 before). */
void mid_metrics_start(void);
long long mid_metrics_started(void);

/* Forget every counter (tests). */
void mid_metrics_reset(void);

#endif
