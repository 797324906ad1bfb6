/* SPDX-License-Identifier: MIT */
/*
 * `midctl audit --since TIME` and `--follow`. midd pages its audit trail
 * newest first with a "before" cursor; both walk those pages back until
 * they reach a row older than what they want (the --since time, or the
 * newest row already printed), then print what they found oldest first,
 * one row a line. --follow polls once a second and stops cleanly on
 * SIGINT, SIGTERM or a closed stdout (SIGPIPE is ignored, the failed write
 * ends it).
 */
#define _GNU_SOURCE
#include "midctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 1000               /* rows midd gives at most per call */
#define FOLLOW_INTERVAL_MS 1000 /* between two polls */
#define WALK_MAX 100            /* pages one poll walks back at most */
#define SEEN_MAX 256            /* rows of the newest ms remembered */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* "2026-12-02T15:00:00.123Z" (as midd writes it) or any RFC 3339 time:
 * ms since the epoch, or -1. */
static long long parse_rfc3339(const char *s)
{
	struct tm tm;
	const char *p;
	long long ms = 0, off = 0;
	int n = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if(!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if(!p)
		return -1;
	if(*p == '.') {
		int digits = 0;

		for(p++; *p >= '0' && *p <= '9'; p++, digits++)
			if(digits < 3)
				ms = ms * 10 + (*p - '0');
		if(!digits)
			return -1;
		for(; digits < 3; digits++)
			ms *= 10;
	}
	if(*p == 'Z' || *p == 'z') {
		p++;
	} else if((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
		  p[2] <= '9' && p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' &&
		  p[5] <= '9') {
		n = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
		off = (*p == '-' ? -1 : 1) * (long long)n * 60;
		p += 6;
	} else {
		return -1;
	}
	if(*p)
		return -1;
	return ((long long)timegm(&tm) - off) * 1000 + ms;
}

int mid_ctl_parse_since(const char *s, long long *out_ms)
{
	char *end;
	long long v, unit = 0;
	struct timespec now;

	errno = 0;
	v = strtoll(s, &end, 10);
	if(end != s && !errno && v >= 0 && end[0] && !end[1]) {
		unit = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 :
		       *end == 'd' ? 86400 : 0;
		if(unit && v <= 3650LL * 86400 / unit) {
			clock_gettime(CLOCK_REALTIME, &now);
			*out_ms = ((long long)now.tv_sec - v * unit) * 1000 + now.tv_nsec / 1000000;
			return 0;
		}
	}
	*out_ms = parse_rfc3339(s);
	return *out_ms < 0 ? -1 : 0;
}

/* A row's position: its time, and its identity within that ms. */
struct seen {
	long long ms;
	char keys[SEEN_MAX][160];
	size_t n;
};

static void row_key(const cJSON *e, char *out, size_t len)
{
	static const char *const f[] = {"request_id", "route", "deviceId", "decision", "code"};
	size_t o = 0;

	for(size_t i = 0; i < MID_ARRAY_LEN(f) && o < len; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, f[i]);
		int k = snprintf(out + o, len - o, "%s|", cJSON_IsString(v) ? v->valuestring : "-");

		o += k > 0 ? (size_t)k : 0;
	}
}

static long long row_ms(const cJSON *e)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");

	return cJSON_IsString(t) ? parse_rfc3339(t->valuestring) : -1;
}

/* Is row 'e' (at 'ms') new past 'seen'? */
static bool is_new(const struct seen *seen, const cJSON *e, long long ms)
{
	char k[160];

	if(ms != seen->ms)
		return ms > seen->ms;
	row_key(e, k, sizeof(k));
	for(size_t i = 0; i < seen->n; i++)
		if(!strcmp(seen->keys[i], k))
			return false;
	return true;
}

static void remember(struct seen *seen, const cJSON *e, long long ms)
{
	if(ms > seen->ms) {
		seen->ms = ms;
		seen->n = 0;
	}
	if(ms == seen->ms && seen->n < SEEN_MAX)
		row_key(e, seen->keys[seen->n++], sizeof(seen->keys[0]));
}

/* One row a line: JSON with --json, else the audit table's columns. */
static int print_row(const struct mid_ctl *c, const cJSON *e)
{
	static const char *const f[] = {"time", "deviceId", "route", "decision", "code",
					"request_id", "peer"};
	char *text;
	int rc = 0;

	if(c->json) {
		if(!(text = cJSON_PrintUnformatted(e)))
			return -1;
		rc = puts(text) < 0;
		free(text);
	} else {
		for(size_t i = 0; i < MID_ARRAY_LEN(f); i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, f[i]);
			char buf[300];
			size_t k;

			snprintf(buf, sizeof(buf), "%s", cJSON_IsString(v) ? v->valuestring : "-");
			for(k = 0; buf[k]; k++)
				if((unsigned char)buf[k] < ' ' || buf[k] == 0x7f)
					buf[k] = '?';
			if(printf(i ? (i == 1 ? "  %-28s" : "  %s") : "%s", buf) < 0)
				rc = 1;
		}
		if(putchar('\n') == EOF)
			rc = 1;
	}
	return rc || fflush(stdout) ? -1 : 0;
}

/*
 * Collect into 'rows' (newest first) the rows newer than 'seen' (or, when
 * 'seen' is NULL, not older than 'since_ms'), walking pages back from the
 * newest. '*gap' is set when the walk stopped at WALK_MAX pages or 'cap'
 * rows with older new rows left.
 */
static int collect(struct mid_ctl *c, const char *esc_dev, const struct seen *seen,
		   long long since_ms, long cap, cJSON *rows, bool *gap)
{
	char path[3 * MID_DEVICE_MAX + 160], err[512], cursor[48] = "";
	bool done = false;

	*gap = false;
	for(int page = 0; !done; page++) {
		struct mid_ctl_reply r = {0};
		const cJSON *n;
		cJSON *entries, *e;

		if(page == WALK_MAX || cJSON_GetArraySize(rows) >= cap) {
			*gap = true;
			break;
		}
		snprintf(path, sizeof(path), "/api/v1/audit?limit=%d%s%s%s%s", PAGE,
			 esc_dev ? "&deviceId=" : "", esc_dev ? esc_dev : "",
			 cursor[0] ? "&before=" : "", cursor);
		if(mid_ctl_http_call(c->http, "GET", path, NULL, &r, err, sizeof(err))) {
			mid_ctl_err("audit: %s", err);
			mid_ctl_reply_cleanup(&r);
			return MID_CTL_EXIT_UNREACHABLE;
		}
		entries = cJSON_GetObjectItemCaseSensitive(r.json, "entries");
		n = cJSON_GetObjectItemCaseSensitive(r.json, "next");
		if(r.status != 200 || !cJSON_IsArray(entries)) {
			mid_ctl_err("audit: midd at %s answered HTTP %ld without entries%s", c->url,
				    r.status, r.status == 401 || r.status == 403 ?
						      " (audit needs the admin key)" : "");
			mid_ctl_reply_cleanup(&r);
			return MID_CTL_EXIT_REFUSED;
		}
		while(!done && (e = cJSON_DetachItemFromArray(entries, 0))) {
			long long ms = row_ms(e);

			if(seen ? !is_new(seen, e, ms) : ms < since_ms) {
				cJSON_Delete(e);
				done = true;
			} else if(cJSON_GetArraySize(rows) >= cap) {
				cJSON_Delete(e);
				*gap = true;
				done = true;
			} else {
				cJSON_AddItemToArray(rows, e);
			}
		}
		if(!cJSON_IsString(n) || strlen(n->valuestring) >= sizeof(cursor))
			done = true;
		else
			snprintf(cursor, sizeof(cursor), "%s", n->valuestring);
		mid_ctl_reply_cleanup(&r);
	}
	return MID_CTL_EXIT_OK;
}

/* Print 'rows' (newest first) oldest first, remembering each. */
static int print_rows(const struct mid_ctl *c, cJSON *rows, struct seen *seen)
{
	for(int i = cJSON_GetArraySize(rows) - 1; i >= 0; i--) {
		const cJSON *e = cJSON_GetArrayItem(rows, i);

		if(print_row(c, e))
			return -1;
		remember(seen, e, row_ms(e));
	}
	return 0;
}

/* Has the reader of stdout gone (a pipe's read end closed)? Checked at
 * each poll, so a quiet trail does not keep midctl running for nobody. */
static bool reader_gone(void)
{
	struct pollfd p = {.fd = 1};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while(!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int mid_ctl_audit_since(struct mid_ctl *c, const char *device, long long since_ms, long limit,
			bool follow)
{
	struct sigaction sa;
	struct seen *seen = calloc(1, sizeof(*seen));
	char *esc = NULL;
	bool gap, warned = false;
	cJSON *rows = cJSON_CreateArray();
	int ex = MID_CTL_EXIT_REFUSED;

	if(!seen || !rows || (device && !(esc = mid_ctl_http_escape(c->http, device)))) {
		mid_ctl_err("audit: out of memory");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	seen->ms = -1;
	/* Without --since, --follow starts with the last 'limit' rows. */
	ex = collect(c, esc, NULL, since_ms, limit, rows, &gap);
	if(ex)
		goto out;
	if(print_rows(c, rows, seen))
		goto closed;
	if(gap && since_ms > 0)
		mid_ctl_err("audit: only the newest %ld entries since then are shown (--limit)",
			    limit);
	while(follow && !stop) {
		sleep_ms(FOLLOW_INTERVAL_MS);
		if(stop)
			break;
		if(reader_gone())
			goto closed;
		cJSON_Delete(rows);
		if(!(rows = cJSON_CreateArray()))
			goto out;
		/* midd may be restarting: say so once, go on polling. */
		ex = collect(c, esc, seen, 0, (long)PAGE * WALK_MAX, rows, &gap);
		if(ex) {
			if(!warned)
				mid_ctl_err("audit: still trying every %d ms", FOLLOW_INTERVAL_MS);
			warned = true;
			continue;
		}
		warned = false;
		if(gap)
			mid_ctl_err("audit: more than %d new entries since the last poll; the oldest "
				    "of them are not shown", PAGE * WALK_MAX);
		if(print_rows(c, rows, seen))
			goto closed;
	}
	ex = MID_CTL_EXIT_OK;
	goto out;
closed:
	/* stdout went away (a pager quit, `| head`): nothing more to say. */
	ex = MID_CTL_EXIT_OK;
out:
	cJSON_Delete(rows);
	free(esc);
	free(seen);
	return ex;
}
