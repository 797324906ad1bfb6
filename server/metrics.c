/* SPDX-License-Identifier: MIT */
/*
 * /metrics in the Prometheus text format: what a monitor needs to see
 * that midd answers, how fast, what it decides, and whether anything
 * piles up (deny changes not yet durable, audit rows queued or dropped,
 * connections refused or evicted). See metrics.h.
 */
#define _GNU_SOURCE
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "api.h"
#include "conn.h"
#include "mid.h"
#include "service.h"
#include "state.h"

/* The validate answers by code; a code not listed counts as OTHER. */
static const char *const codes[] = {
	"ALLOW", "DEVICE_REVOKED", "DEVICE_REMOVED", "DEVICE_NOT_FOUND", "ORG_DISABLED",
	"BUDGET_EXCEEDED", "OTHER",
};
#define NCODES MID_ARRAY_LEN(codes)

/* Upper bounds of the latency buckets, ns; the last bucket is +Inf. */
static const uint64_t bounds_ns[] = {
	10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000, 100000000,
};
#define NBOUNDS MID_ARRAY_LEN(bounds_ns)

/* Statuses counted by name; any other counts as "other". */
static const unsigned statuses[] = {101, 200, 202, 400, 401, 403, 404, 405,
				    409, 413, 429, 500, 503};
#define NSTATUS MID_ARRAY_LEN(statuses)

static _Atomic uint64_t by_code[NCODES];
static _Atomic uint64_t bucket[NBOUNDS + 1]; /* not cumulative here */
static _Atomic uint64_t sum_ns;
static _Atomic uint64_t by_status[NSTATUS + 1];
static time_t started = 0;

static void add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void mid_metrics_validate(const char *code, uint64_t ns)
{
	size_t i, b;

	for(i = 0; i < NCODES - 1 && strcmp(codes[i], code); i++)
		;
	for(b = 0; b < NBOUNDS && ns > bounds_ns[b]; b++)
		;
	add(&by_code[i], 1);
	add(&bucket[b], 1);
	add(&sum_ns, ns);
}

void mid_metrics_status(unsigned status)
{
	size_t i;

	for(i = 0; i < NSTATUS && statuses[i] != status; i++)
		;
	add(&by_status[i], 1);
}

void mid_metrics_start(void)
{
	if(!started)
		started = time(NULL);
}

long long mid_metrics_started(void)
{
	return (long long)started;
}

void mid_metrics_reset(void)
{
	size_t i;

	for(i = 0; i < NCODES; i++)
		atomic_store(&by_code[i], 0);
	for(i = 0; i <= NBOUNDS; i++)
		atomic_store(&bucket[i], 0);
	for(i = 0; i <= NSTATUS; i++)
		atomic_store(&by_status[i], 0);
	atomic_store(&sum_ns, 0);
}

/* The text grows in a buffer; a failed allocation sets 'failed'. */
struct out {
	char *p;
	size_t len, cap;
	int failed;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(o->failed)
		return;
	for(;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if(n < 0) {
			o->failed = 1;
			return;
		}
		if((size_t)n < o->cap - o->len)
			break;
		{
			size_t cap = o->cap * 2 + (size_t)n;
			char *p = realloc(o->p, cap);

			if(!p) {
				o->failed = 1;
				return;
			}
			o->p = p;
			o->cap = cap;
		}
	}
	o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, double v)
{
	head(o, name, type, help);
	put(o, "%s %.17g\n", name, v);
}

char *mid_metrics_text(struct mid_service *svc, struct mid_conns *conns)
{
	static const char *const states[] = {"active", "revoked", "removed"};
	struct out o = {.cap = 4096};
	struct mid_health h;
	struct mid_gauges g;
	uint64_t cum = 0;
	size_t i;

	o.p = malloc(o.cap);
	if(!o.p)
		return NULL;
	o.p[0] = '\0';
	mid_service_health(svc, &h);
	mid_service_gauges(svc, &g);

	head(&o, "midd_build_info", "gauge", "midd's version, as a label; the value is 1.");
	put(&o, "midd_build_info{version=\"%s\"} 1\n", MIDD_VERSION);
	one(&o, "midd_start_time_seconds", "gauge", "When midd began answering (Unix time).",
	    (double)(started ? started : time(NULL)));

	head(&o, "midd_validates_total", "counter", "Validates answered, by the answer's code.");
	for(i = 0; i < NCODES; i++)
		put(&o, "midd_validates_total{code=\"%s\"} %llu\n", codes[i],
		    (unsigned long long)get(&by_code[i]));

	head(&o, "midd_validate_duration_seconds", "histogram",
	     "Time from a validate request's arrival to its answer.");
	for(i = 0; i <= NBOUNDS; i++) {
		cum += get(&bucket[i]);
		if(i < NBOUNDS)
			put(&o, "midd_validate_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    (double)bounds_ns[i] / 1e9, (unsigned long long)cum);
		else
			put(&o, "midd_validate_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	put(&o, "midd_validate_duration_seconds_sum %.9f\n", (double)get(&sum_ns) / 1e9);
	put(&o, "midd_validate_duration_seconds_count %llu\n", (unsigned long long)cum);

	head(&o, "midd_http_responses_total", "counter", "HTTP answers, by status.");
	for(i = 0; i <= NSTATUS; i++) {
		if(i < NSTATUS)
			put(&o, "midd_http_responses_total{status=\"%u\"} %llu\n", statuses[i],
			    (unsigned long long)get(&by_status[i]));
		else
			put(&o, "midd_http_responses_total{status=\"other\"} %llu\n",
			    (unsigned long long)get(&by_status[i]));
	}

	head(&o, "midd_devices", "gauge", "Devices, by state, over every org.");
	for(i = 0; i < MID_ARRAY_LEN(states); i++)
		put(&o, "midd_devices{state=\"%s\"} %llu\n", states[i],
		    (unsigned long long)g.devices[MID_DEV_ACTIVE + i]);
	one(&o, "midd_orgs", "gauge", "Organisations.", (double)g.orgs);
	one(&o, "midd_orgs_disabled", "gauge", "Organisations switched off (org disable).",
	    (double)g.orgs_disabled);
	one(&o, "midd_push_channels", "gauge", "Live push channels of gated processes and launchers.",
	    (double)g.push_channels);
	one(&o, "midd_audit_queue_rows", "gauge", "Audit rows waiting for the database.",
	    (double)g.audit_queued);
	one(&o, "midd_audit_dropped_total", "counter",
	    "Audit rows dropped because the queue was full.", (double)g.audit_dropped);
	one(&o, "midd_database_up", "gauge", "1 when the database takes writes, else 0.",
	    h.db == MID_STORE_OK ? 1 : 0);
	one(&o, "midd_pending_persistence", "gauge",
	    "Deny changes in effect but not yet in the database.", (double)h.pending);
	{
		struct mid_alert_stats a;

		mid_alert_stats(&a);
		one(&o, "midd_alert_queue_events", "gauge",
		    "Webhook alert events waiting for delivery.", (double)a.pending);
		one(&o, "midd_alert_failed_events", "gauge",
		    "Webhook alert events given up on after their last try.", (double)a.failed);
		one(&o, "midd_alert_delivered_total", "counter",
		    "Webhook alert events delivered.", (double)a.delivered_total);
		one(&o, "midd_alert_attempt_errors_total", "counter",
		    "Webhook deliveries that failed (and are retried until the last try).",
		    (double)a.attempt_errors_total);
	}
	if(h.journal)
		one(&o, "midd_journal_used", "gauge", "Slots in use in the deny journal.",
		    (double)h.journal_used);
	if(conns) {
		struct mid_conn_stats s;

		mid_conns_stats(conns, &s);
		one(&o, "midd_connections", "gauge", "Open client connections.", (double)s.live);
		one(&o, "midd_connection_peers", "gauge", "Distinct peers holding connections.",
		    (double)s.peers);
		head(&o, "midd_connections_closed_total", "counter",
		     "Connections midd refused or closed, by why.");
		put(&o, "midd_connections_closed_total{reason=\"refused\"} %lu\n", s.refused);
		put(&o, "midd_connections_closed_total{reason=\"evicted\"} %lu\n", s.evicted);
		put(&o, "midd_connections_closed_total{reason=\"head_timeout\"} %lu\n", s.expired_head);
		put(&o, "midd_connections_closed_total{reason=\"idle_timeout\"} %lu\n", s.expired_idle);
		one(&o, "midd_connections_accepted_total", "counter", "Connections accepted.",
		    (double)s.accepted);
	}
	if(o.failed) {
		free(o.p);
		return NULL;
	}
	return o.p;
}
