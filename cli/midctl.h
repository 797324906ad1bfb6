/* SPDX-License-Identifier: MIT */
/*
 * midctl's internal interface: the HTTP helper that talks to midd
 * (midctl_http.c), the commands that turn midd's answers into exit codes
 * and readable output (midctl_cmd.c), and the interactive console
 * (midctl_console.c). main() in midctl.c parses the command line and
 * builds one struct mid_ctl for all of them.
 */
#ifndef MIDCTL_H
#define MIDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "mid.h"

/* Exit statuses, documented in midctl(1). */
#define MID_CTL_EXIT_OK 0
#define MID_CTL_EXIT_REFUSED 1     /* midd said no, or answered badly */
#define MID_CTL_EXIT_USAGE 2       /* bad command line or configuration */
#define MID_CTL_EXIT_UNREACHABLE 3 /* midd could not be reached in time */

#define MID_CTL_REPLY_MAX (1024 * 1024) /* largest reply body read */
#define MID_CTL_TIMEOUT_DEFAULT 5000
/* An operator's call may wait longer than a gated program's validate
 * (MID_TIMEOUT_MAX_MS): nothing is held up but the operator; midctl(1). */
#define MID_CTL_TIMEOUT_MAX_MS 600000L

struct mid_ctl_http; /* opaque: one libcurl handle and where it points */

/* One HTTP answer. 'body' (NUL-terminated) and 'json' (NULL when the
 * body is not JSON) belong to the reply until mid_ctl_reply_cleanup(). */
struct mid_ctl_reply {
	long status;
	char *body;
	size_t len;
	cJSON *json;
};

/*
 * Prepare calls to midd at 'url' ("http://HOST[:PORT]", "https://...", or
 * "unix:/PATH" for HTTP over a unix socket), or several, comma-separated
 * (replicas: a call moves on to the next when one cannot be reached or
 * answers 503), sending 'key' in the header 'key_hdr'. Each call is
 * bounded by 'timeout_ms' from start to last byte. No connection is made yet. On MID_ERR_INVAL 'err' says what is
 * wrong with the URL. The caller frees '*out' with mid_ctl_http_free().
 */
MID_WUR enum mid_rc mid_ctl_http_new(const char *url, const char *key_hdr, const char *key,
				     long timeout_ms, struct mid_ctl_http **out, char *err,
				     size_t errlen);

/* Close connections, wipe the key and free. Accepts NULL. */
void mid_ctl_http_free(struct mid_ctl_http *h);

/*
 * 'method' ("GET" or "POST") 'path' (starting with '/', query already
 * escaped) with the JSON 'body' (POST only; NULL sends none). MID_OK means
 * an HTTP answer arrived, whatever its status, and fills 'r'. Otherwise
 * 'err' holds one line naming the URL: MID_ERR_UNREACHABLE or
 * MID_ERR_TIMEOUT when midd could not be reached or did not answer in
 * time, MID_ERR_TOO_BIG for a reply over MID_CTL_REPLY_MAX, MID_ERR_NOMEM,
 * MID_ERR_PROTOCOL for anything else libcurl reports.
 */
MID_WUR enum mid_rc mid_ctl_http_call(struct mid_ctl_http *h, const char *method,
				      const char *path, const char *body,
				      struct mid_ctl_reply *r, char *err, size_t errlen);

/* Escape 's' for a query string. Caller frees the result with free(). */
char *mid_ctl_http_escape(struct mid_ctl_http *h, const char *s);

/* Free what a reply holds and zero it. Accepts a zeroed reply. */
void mid_ctl_reply_cleanup(struct mid_ctl_reply *r);

/* What every command needs: the connection and how to print. */
/* How long the old org key works after rotate-key org: 10 minutes. */
#define MID_CTL_GRACE_DEFAULT 600

struct mid_ctl {
	struct mid_ctl_http *http;
	const char *url;  /* as configured, for messages */
	bool admin;       /* the key sent is the admin key */
	bool json;        /* print midd's JSON instead of text */
	long timeout_ms;
};

/*
 * The commands. Each prints its result on stdout, a failure as one line
 * "midctl: ..." on stderr, and returns a MID_CTL_EXIT_* status.
 * 'action' is "register", "revoke", "restore" or "remove".
 */
int mid_ctl_device(struct mid_ctl *c, const char *action, const char *device);

/* One call to midd: MID_CTL_EXIT_OK with a 2xx JSON object in 'r' (the
 * caller cleans it up in every case), else the reason printed, prefixed
 * by 'what', and the exit status. */
int mid_ctl_call(struct mid_ctl *c, const char *what, const char *method, const char *path,
		 const char *body, struct mid_ctl_reply *r);
/* midd's answer as it came, with a newline. */
void mid_ctl_print_raw(const struct mid_ctl_reply *r);

/* Side-effect budgets (midctl_budget.c): execs, connects, bytes out,
 * writes, in this order. */
#define MID_CTL_BUDGET_KINDS 4
/* "N/W" (N with K, M or G for bytes; W a number with s, m, h or d):
 * 0 with the limit and the window in ms, -1 when malformed. */
int mid_ctl_budget_parse(const char *spec, int bytes, unsigned long long *limit,
			 unsigned long long *window_ms);
/* The option that sets kind 'k' ("--execs", ...). */
const char *mid_ctl_budget_flag(int k);
/* 'action' set (the limits 'spec' gives, NULL for those not given),
 * show (limits and use now) or clear. */
int mid_ctl_budget(struct mid_ctl *c, const char *action, const char *device,
		   const char *const spec[MID_CTL_BUDGET_KINDS]);
/* Revoke every active device matching the pattern 'glob', after showing
 * them and, unless 'yes', asking for their count on the terminal. */
int mid_ctl_revoke_match(struct mid_ctl *c, const char *glob, bool yes);
int mid_ctl_status(struct mid_ctl *c, const char *device);
/* The org's audit trail with its hash chain, as JSON lines on stdout. */
int mid_ctl_audit_export(struct mid_ctl *c);
/* Check the chain and checkpoints of midd's trail, or of the export in
 * 'from' (then 'c' may be NULL), against 'pub' (hex; NULL: the key midd
 * or the file names); exit 1 naming the first bad row. */
int mid_ctl_audit_verify(struct mid_ctl *c, const char *from, const char *pub);
/* midd's storage health from /healthz: 0 when every change is persisted. */
int mid_ctl_health(struct mid_ctl *c);
/* 'state' (active, revoked, removed) shows only those devices; NULL all. */
int mid_ctl_list(struct mid_ctl *c, const char *state);
int mid_ctl_usage(struct mid_ctl *c);
int mid_ctl_org(struct mid_ctl *c, bool disable);
/* Register a webhook for 'events' (comma-separated kinds) in 'format'
 * (NULL: json) and print its HMAC secret alone on stdout, once. */
int mid_ctl_alert_add(struct mid_ctl *c, const char *url, const char *events, const char *format);
/* The org's webhooks, or with 'status' their queued, delivered and
 * failed events and last error. */
int mid_ctl_alert_list(struct mid_ctl *c, bool status);
int mid_ctl_alert_remove(struct mid_ctl *c, const char *id);
/* 'device' may be NULL (all devices); 'limit' 0 leaves the server's default. */
/* The newest 'limit' audit entries (all pages needed), below the cursor
 * 'before' unless it is NULL. */
int mid_ctl_audit(struct mid_ctl *c, const char *device, long limit, const char *before);
/* The audit entries since 'since_ms' (ms since the epoch; 0: the newest
 * 'limit'), oldest first, one a line, at most 'limit'; with 'follow',
 * then every new one, polling each second, until SIGINT, SIGTERM or a
 * closed stdout (midctl_follow.c). */
int mid_ctl_audit_since(struct mid_ctl *c, const char *device, long long since_ms, long limit,
			bool follow);
/* "10m", "2h", "30s", "1d" ago, or an RFC 3339 time: ms since the epoch.
 * -1 when 's' is neither. */
int mid_ctl_parse_since(const char *s, long long *out_ms);
/* 'which' is "org" or "admin". */
/* 'grace_s': how long the old org key keeps working (0: not at all). */
int mid_ctl_rotate_key(struct mid_ctl *c, const char *which, long grace_s);
/* Which keys work now (the old org key during a rotation's overlap). */
int mid_ctl_keys(struct mid_ctl *c);

/*
 * Read commands from 'in' until EOF or quit; 'device' (may be NULL) is the
 * default device for revoke, restore and status. Prints a prompt when
 * 'in' is a terminal. Returns 0, or MID_CTL_EXIT_UNREACHABLE when the last
 * command could not reach midd.
 */
int mid_ctl_console(struct mid_ctl *c, const char *device, FILE *in);

/* Print "midctl: " and the formatted message on stderr, after flushing
 * stdout so that the two streams stay in order on a terminal. */
void mid_ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Check a device ID given on the command line; 0 when usable, else
 * prints why and returns MID_CTL_EXIT_USAGE. */
int mid_ctl_check_device(const char *device);

#endif
