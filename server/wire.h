/* SPDX-License-Identifier: MIT */
/*
 * The API's wire format apart from HTTP: what a deviceId may hold, how a
 * request body is read, how times and error answers are written.
 */
#ifndef MID_WIRE_H
#define MID_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"

/* Error codes of the API's 4xx/5xx answers. */
#define MID_E_BAD_JSON "BAD_JSON"
#define MID_E_BAD_DEVICE_ID "BAD_DEVICE_ID"
#define MID_E_BAD_REQUEST "BAD_REQUEST"
#define MID_E_TOO_LARGE "BODY_TOO_LARGE"
#define MID_E_NOT_FOUND "NOT_FOUND"
#define MID_E_METHOD "METHOD_NOT_ALLOWED"
#define MID_E_UNAUTHORIZED "UNAUTHORIZED"
#define MID_E_ADMIN "ADMIN_KEY_REQUIRED"
#define MID_E_ADMIN_REFUSED "ADMIN_KEY_REFUSED"
#define MID_E_DEVICE_NOT_FOUND "DEVICE_NOT_FOUND"
#define MID_E_INTERNAL "INTERNAL_ERROR"
#define MID_E_STORAGE "STORAGE_UNAVAILABLE"
#define MID_E_RATE "RATE_LIMITED"
#define MID_E_BUSY "BUSY"
#define MID_E_MATCH_CHANGED "MATCH_CHANGED"
#define MID_E_CSRF "CSRF_REQUIRED"
#define MID_E_ALERT_LIMIT "ALERT_LIMIT"

/* A parse failure: the answer's error code and a message for the caller. */
struct mid_wire_err {
	const char *code;
	char message[160];
};

/* Read the string member 'name' of the JSON object in 'body' ('len' bytes,
 * need not be terminated) into 'out'. When 'device' is set the value must
 * be a valid deviceId (mid_device_ok). On failure fills 'e' and returns MID_ERR_PARSE. */
enum mid_rc mid_wire_body_string(const char *body, size_t len, const char *name, int device,
				 char *out, size_t outlen, struct mid_wire_err *e) MID_WUR;

/* The validate body: "deviceId" as above into 'dev', the optional
 * "mode" ("enforce" or "audit"; "" when absent) into 'mode', and the
 * optional side-effect "counts" of a shim (budget.h; all 0 when absent)
 * into 'counts' unless it is NULL. */
enum mid_rc mid_wire_body_validate(const char *body, size_t len, char *dev, size_t devlen,
				   char mode[8], uint64_t counts[4], struct mid_wire_err *e) MID_WUR;

/* 'ms' since the epoch as ISO-8601 UTC with milliseconds, e.g.
 * 2024-05-01T12:00:00.000Z. */
void mid_wire_time(int64_t ms, char out[32]);

/* Wall-clock milliseconds since the epoch. */
int64_t mid_wire_now_ms(void);

/* A fresh request_id (UUID v4) in 'out'. Like mid_uuid4, but draws its
 * randomness from a per-thread pool refilled 32 ids at a time, so the
 * validate path spends no system call on it. */
void mid_wire_request_id(char out[37]);

/* {"error":'code',"message":'message',"request_id":'request_id'}; the
 * caller frees the result. NULL when out of memory. */
char *mid_wire_error(const char *code, const char *message, const char *request_id);

#endif
