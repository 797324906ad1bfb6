/* SPDX-License-Identifier: MIT */
/*
 * Webhook alerts. An operator registers a URL for some kinds of event
 * (revoke, restore, remove, org, deny, budget); each event is queued in
 * the database in the same transaction as the audit row that records it
 * (the store calls mid_alert_kind on every row it writes), so an event
 * is never lost that the audit trail holds. A delivery thread of its own
 * posts the queue: JSON signed with HMAC-SHA256 under the hook's secret,
 * at least once, with exponential backoff and a capped number of tries,
 * never on the validate path.
 */
#ifndef MID_ALERT_H
#define MID_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "store.h"

struct mid_audit;
struct mid_store;

#define MID_ALERT_KINDS "revoke,restore,remove,org,deny,budget"
#define MID_ALERT_HOOKS_MAX 16      /* per org */
#define MID_ALERT_TRIES 10          /* then the event is marked failed */
#define MID_ALERT_BACKOFF_MS 1000   /* before the second try; doubled each time */
#define MID_ALERT_BACKOFF_MAX_MS 300000
#define MID_ALERT_TIMEOUT_MS 5000   /* one delivery, connect and answer */
#define MID_ALERT_LEASE_MS 15000    /* an event in flight is not taken again before */
#define MID_ALERT_REPLY_MAX 4096    /* bytes of a receiver's answer read */
#define MID_ALERT_BATCH 32          /* events taken from the queue at once */

/*
 * Raise an alert of 'kind' (one of MID_ALERT_KINDS, e.g. "budget") for
 * 'device' (NULL or "" for the whole org) of org 'org_id'. It is written
 * as an audit row (route 'kind', decision "alert", 'code', details the
 * JSON object 'detail_json' or NULL) through the audit queue 'q', which
 * never waits: the row and the alert reach the database together with
 * the next batch. Returns 0, or -1 when the queue was full (counted as a
 * dropped audit row) or 'detail_json' is too long.
 */
int mid_alert_event(struct mid_audit *q, int64_t org_id, const char *kind, const char *device,
		    const char *code, const char *detail_json);

/* The alert kind of audit row 'a' (static storage), or NULL when it
 * raises none: a device revoked, restored or removed, the org switch
 * flipped (only the change itself, not the later row saying it became
 * durable), a shim's report, or a row of mid_alert_event. */
const char *mid_alert_kind(const struct mid_audit_row *a);

/* The event's details as a JSON object into 'out' (the row's route,
 * decision, code, request_id, peer and its own details); 0 when it does
 * not fit. */
int mid_alert_detail(const struct mid_audit_row *a, char *out, size_t n);

/* Whether 'events' is a comma-separated list of known kinds, each once. */
int mid_alert_events_ok(const char *events);

/* Whether 'url' may receive alerts: https://HOST[:PORT][/PATH], or
 * http:// to a loopback host (127.0.0.0/8, [::1], localhost); no user
 * info, no fragment, no spaces, at most MID_ALERT_URL_MAX - 1 bytes.
 * 'err' says what is wrong. */
int mid_alert_url_ok(const char *url, char *err, size_t errlen);

/* The delivery thread. */
struct mid_alert;

/* Start delivering the queue of 'db' (borrowed until mid_alert_stop). */
enum mid_rc mid_alert_start(struct mid_store *db, struct mid_alert **out, char *err,
			    size_t errlen) MID_WUR;

/* Stop the thread (an attempt in flight ends first) and free. NULL is fine. */
void mid_alert_stop(struct mid_alert *al);

/* For /metrics: events waiting and failed in the queue (as of the last
 * look, at most a second old), deliveries and failed attempts since the
 * start. Zero when no thread runs. */
struct mid_alert_stats {
	uint64_t pending, failed;
	uint64_t delivered_total, attempt_errors_total;
};
void mid_alert_stats(struct mid_alert_stats *st);

/* The body and the signature header value ("sha256=HEX") of one event
 * for a hook in 'format' ("json" or "slack"). The body is malloc'd (the
 * caller frees it); NULL when out of memory. Exposed for the tests. */
char *mid_alert_body(const struct mid_alert_item *it);
void mid_alert_sign(const char *secret, const char *body, size_t len, char out[72]);

#endif
