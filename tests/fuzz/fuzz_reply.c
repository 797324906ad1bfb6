/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target for the control-plane reply reader. The first byte picks
 * the call (validate or register); the rest is the reply, read both as
 * complete (peer closed) and as possibly incomplete. Whatever the bytes,
 * an allow needs a 2xx status and MID_OK, and every decision string must
 * be safe for a log line.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static void check_safe(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if(n == cap)
		abort(); /* not terminated */
	if(strspn(s,
	          "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
	   n)
		abort();
}

static void check(enum mid_rc rc, const struct mid_decision *d, size_t consumed,
                  size_t len)
{
	if(d->allowed && (rc != MID_OK || d->local != MID_OK || d->http_status < 200 ||
	                  d->http_status > 299))
		abort();
	if(rc != MID_OK && d->local != rc)
		abort();
	if(consumed > len || consumed > MID_REPLY_MAX)
		abort();
	check_safe(d->code, sizeof(d->code));
	check_safe(d->request_id, sizeof(d->request_id));
	check_safe(d->status, sizeof(d->status));
	if(!d->code[0] || !d->request_id[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum mid_call call = MID_CALL_VALIDATE;
	struct mid_decision d;
	size_t consumed = 0;
	enum mid_rc rc;

	if(size > 0) {
		call = (data[0] & 1) ? MID_CALL_REGISTER : MID_CALL_VALIDATE;
		data++;
		size--;
	}
	rc = mid_client_parse_reply(call, (const char *)data, size, true, &d, &consumed);
	check(rc, &d, consumed, size);
	if(rc == MID_ERR_PARSE)
		abort(); /* at EOF there is nothing more to wait for */
	rc = mid_client_parse_reply(call, (const char *)data, size, false, &d, &consumed);
	check(rc, &d, consumed, size);
	return 0;
}
