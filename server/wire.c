/* SPDX-License-Identifier: MIT */
/*
 * Request bodies and answer fragments shared by every route. Pure code,
 * no HTTP and no state, so the unit tests cover it whole.
 */
#define _GNU_SOURCE
#include "wire.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* 1 when a string in the JSON text 'body' holds a NUL, raw or as the
 * escape \u0000. cJSON ends its copy of a string there, so "a\u0000b"
 * would be read as "a": a value we cannot hold whole is refused. */
static int holds_nul(const char *body, size_t len)
{
	int in_string = 0;
	size_t i;

	for(i = 0; i < len; i++) {
		if(body[i] == '"') {
			in_string = !in_string;
		} else if(!in_string) {
			continue;
		} else if(body[i] == '\0') {
			return 1;
		} else if(body[i] == '\\' && i + 1 < len) {
			if(body[i + 1] == 'u' && len - i >= 6 && !memcmp(body + i + 2, "0000", 4))
				return 1;
			i++; /* the escaped character: "\\u0000" is a backslash and text */
		}
	}
	return 0;
}

/* The JSON object in 'body', or NULL with 'e' filled; 'name' is the
 * member the example in a message shows. */
static cJSON *body_object(const char *body, size_t len, const char *name,
			  struct mid_wire_err *e)
{
	cJSON *root;

	e->code = MID_E_BAD_JSON;
	e->message[0] = '\0';
	if(len == 0) {
		snprintf(e->message, sizeof(e->message),
			 "empty body; send a JSON object like {\"%s\":\"...\"}", name);
		return NULL;
	}
	if(holds_nul(body, len)) {
		e->code = strcmp(name, "deviceId") ? MID_E_BAD_REQUEST : MID_E_BAD_DEVICE_ID;
		snprintf(e->message, sizeof(e->message),
			 "the body holds a NUL character (\\u0000), which no member may contain");
		return NULL;
	}
	root = cJSON_ParseWithLength(body, len);
	if(!root) {
		snprintf(e->message, sizeof(e->message),
			 "body is not JSON; send a JSON object like {\"%s\":\"...\"}", name);
		return NULL;
	}
	if(!cJSON_IsObject(root)) {
		snprintf(e->message, sizeof(e->message),
			 "body must be a JSON object like {\"%s\":\"...\"}", name);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* Copy the string member 'name' of 'root' into 'out'; with 'optional',
 * an absent member gives "". */
static enum mid_rc member_string(const cJSON *root, const char *name, int device, int optional,
				 char *out, size_t outlen, struct mid_wire_err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
	size_t n;

	e->code = device ? MID_E_BAD_DEVICE_ID : MID_E_BAD_REQUEST;
	if(!v && optional) {
		out[0] = '\0';
		return MID_OK;
	}
	if(!v) {
		snprintf(e->message, sizeof(e->message), "member \"%s\" is missing", name);
		return MID_ERR_PARSE;
	}
	if(!cJSON_IsString(v) || !v->valuestring) {
		snprintf(e->message, sizeof(e->message), "member \"%s\" must be a string", name);
		return MID_ERR_PARSE;
	}
	n = strlen(v->valuestring);
	if(device && !mid_device_ok(v->valuestring, n)) {
		snprintf(e->message, sizeof(e->message),
			 "deviceId must be 1 to %d bytes of printable ASCII without spaces",
			 MID_DEVICE_MAX);
		return MID_ERR_PARSE;
	}
	if(n >= outlen) {
		snprintf(e->message, sizeof(e->message), "member \"%s\" is too long", name);
		return MID_ERR_PARSE;
	}
	memcpy(out, v->valuestring, n + 1);
	return MID_OK;
}

enum mid_rc mid_wire_body_string(const char *body, size_t len, const char *name, int device,
				 char *out, size_t outlen, struct mid_wire_err *e)
{
	cJSON *root = body_object(body, len, name, e);
	enum mid_rc rc;

	if(!root)
		return MID_ERR_PARSE;
	rc = member_string(root, name, device, 0, out, outlen, e);
	cJSON_Delete(root);
	return rc;
}

/* The optional "counts" of a validate: {"execs", "connects", "bytesOut",
 * "writes"}, each a whole number from 0 to 2^53; absent ones are 0. */
static enum mid_rc member_counts(const cJSON *root, uint64_t counts[4], struct mid_wire_err *e)
{
	static const char *const names[4] = {"execs", "connects", "bytesOut", "writes"};
	const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "counts");

	memset(counts, 0, 4 * sizeof(counts[0]));
	if(!o)
		return MID_OK;
	e->code = MID_E_BAD_REQUEST;
	if(!cJSON_IsObject(o)) {
		snprintf(e->message, sizeof(e->message), "member \"counts\" must be an object");
		return MID_ERR_PARSE;
	}
	for(int k = 0; k < 4; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[k]);

		if(!v)
			continue;
		if(!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
		   v->valuedouble != (double)(uint64_t)v->valuedouble) {
			snprintf(e->message, sizeof(e->message),
				 "counts.%s must be a whole number from 0", names[k]);
			return MID_ERR_PARSE;
		}
		counts[k] = (uint64_t)v->valuedouble;
	}
	return MID_OK;
}

enum mid_rc mid_wire_body_validate(const char *body, size_t len, char *dev, size_t devlen,
				   char mode[8], uint64_t counts[4], struct mid_wire_err *e)
{
	cJSON *root = body_object(body, len, "deviceId", e);
	enum mid_rc rc;

	if(!root)
		return MID_ERR_PARSE;
	rc = member_string(root, "deviceId", 1, 0, dev, devlen, e);
	if(!rc)
		rc = member_string(root, "mode", 0, 1, mode, 8, e);
	if(!rc && mode[0] && strcmp(mode, "enforce") && strcmp(mode, "audit")) {
		snprintf(e->message, sizeof(e->message),
			 "member \"mode\" must be \"enforce\" or \"audit\"");
		rc = MID_ERR_PARSE;
	}
	if(rc == MID_ERR_PARSE && !strncmp(e->message, "member \"mode\" is too long", 26))
		snprintf(e->message, sizeof(e->message),
			 "member \"mode\" must be \"enforce\" or \"audit\"");
	if(!rc && counts)
		rc = member_counts(root, counts, e);
	cJSON_Delete(root);
	return rc;
}

void mid_wire_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if(ms < 0 || !gmtime_r(&s, &tm)) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

int64_t mid_wire_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *mid_wire_error(const char *code, const char *message, const char *request_id)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if(o && cJSON_AddStringToObject(o, "error", code) &&
	   cJSON_AddStringToObject(o, "message", message) &&
	   cJSON_AddStringToObject(o, "request_id", request_id))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

void mid_wire_request_id(char out[37])
{
	static _Thread_local unsigned char pool[512];
	static _Thread_local size_t used = sizeof(pool);

	if(used == sizeof(pool)) {
		if(mid_random(pool, sizeof(pool))) {
			mid_uuid4(out); /* its fallback never fails */
			return;
		}
		used = 0;
	}
	mid_uuid4_format(pool + used, out);
	memset(pool + used, 0, 16);
	used += 16;
}
