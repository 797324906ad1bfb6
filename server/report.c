/* SPDX-License-Identifier: MIT */
/*
 * The report route's body and rate (see report.h). Strings must be
 * printable ASCII, so a report cannot break the log line or the audit
 * row it lands in; the event is upper case, digits and '_'.
 */
#define _GNU_SOURCE
#include "report.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define BUCKETS 1024

struct bucket {
	uint64_t key;
	uint64_t at_ms; /* when 'tokens' was last filled */
	double tokens;
};

static struct bucket table[BUCKETS];
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

static int printable(const char *s)
{
	for(; *s; s++)
		if(*s < ' ' || *s > '~')
			return 0;
	return 1;
}

/* Copy the optional string member 'name' into 'out'; -1 when it is not
 * a printable string that fits. */
static int member(const cJSON *o, const char *name, char *out, size_t n, char *err,
		  size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	out[0] = '\0';
	if(!v || cJSON_IsNull(v))
		return 0;
	if(!cJSON_IsString(v) || strlen(v->valuestring) >= n || !printable(v->valuestring)) {
		snprintf(err, errlen, "\"%s\" must be a string of printable ASCII, at most %zu"
			 " bytes", name, n - 1);
		return -1;
	}
	mid_strlcpy(out, v->valuestring, n);
	return 0;
}

enum mid_rc mid_report_parse(const char *body, size_t len, struct mid_report *r, char *err,
			     size_t errlen)
{
	cJSON *o = cJSON_ParseWithLength(body, len);
	const cJSON *pid;
	enum mid_rc rc = MID_ERR_INVAL;

	memset(r, 0, sizeof(*r));
	if(!cJSON_IsObject(o)) {
		snprintf(err, errlen, "the body must be a JSON object");
		goto out;
	}
	if(member(o, "deviceId", r->device, sizeof(r->device), err, errlen) ||
	   member(o, "event", r->event, sizeof(r->event), err, errlen) ||
	   member(o, "program", r->program, sizeof(r->program), err, errlen) ||
	   member(o, "rule", r->rule, sizeof(r->rule), err, errlen) ||
	   member(o, "detail", r->detail, sizeof(r->detail), err, errlen))
		goto out;
	if(!mid_device_ok(r->device, strlen(r->device))) {
		snprintf(err, errlen, "deviceId must be 1 to 256 bytes of printable ASCII without"
			 " spaces");
		goto out;
	}
	if(!r->event[0] || strspn(r->event, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
	   strlen(r->event)) {
		snprintf(err, errlen, "\"event\" must be 1 to %d of A-Z, 0-9 and _",
			 MID_REPORT_EVENT_MAX - 1);
		goto out;
	}
	pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
	if(pid && !cJSON_IsNull(pid)) {
		if(!cJSON_IsNumber(pid) || pid->valuedouble < 0 || pid->valuedouble > 4194304 ||
		   (double)(int64_t)pid->valuedouble != pid->valuedouble) {
			snprintf(err, errlen, "\"pid\" must be a whole number from 0 to 4194304");
			goto out;
		}
		r->pid = (int64_t)pid->valuedouble;
	}
	rc = MID_OK;
out:
	cJSON_Delete(o);
	return rc;
}

static uint64_t hash(int64_t org_id, const char *device)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)org_id;

	for(; *device; device++)
		h = (h ^ (unsigned char)*device) * 1099511628211ull;
	return h ? h : 1;
}

int mid_report_take(int64_t org_id, const char *device, uint64_t now_ms, unsigned *retry_ms)
{
	uint64_t key = hash(org_id, device);
	struct bucket *b = &table[key % BUCKETS];
	int ok;

	pthread_mutex_lock(&table_mu);
	if(b->key != key) {
		b->key = key;
		b->tokens = MID_REPORT_BURST;
		b->at_ms = now_ms;
	}
	if(now_ms > b->at_ms) {
		b->tokens += (double)(now_ms - b->at_ms) * MID_REPORT_RATE / 1000.0;
		if(b->tokens > MID_REPORT_BURST)
			b->tokens = MID_REPORT_BURST;
		b->at_ms = now_ms;
	}
	ok = b->tokens >= 1.0;
	if(ok)
		b->tokens -= 1.0;
	*retry_ms = ok ? 0 : (unsigned)((1.0 - b->tokens) * 1000.0 / MID_REPORT_RATE) + 1;
	pthread_mutex_unlock(&table_mu);
	return ok;
}
