/* SPDX-License-Identifier: MIT */
/*
 * The report route's body and its per-device rate. A report is one event
 * a client saw (a policy denial, an adoption, a kill) that midd should
 * keep in its audit trail: {"deviceId", "event", "program", "pid",
 * "rule", "detail"}, all but the first two optional, each bounded.
 */
#ifndef MID_REPORT_H
#define MID_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"

#define MID_REPORT_EVENT_MAX 24   /* bytes of an event name, NUL included */
#define MID_REPORT_PROGRAM_MAX 64
#define MID_REPORT_RULE_MAX 128
#define MID_REPORT_DETAIL_MAX 512
#define MID_REPORT_RATE 10   /* reports a second per device, after... */
#define MID_REPORT_BURST 40  /* ...this many at once */

struct mid_report {
	char device[MID_DEVICE_MAX + 1];
	char event[MID_REPORT_EVENT_MAX];
	char program[MID_REPORT_PROGRAM_MAX];
	char rule[MID_REPORT_RULE_MAX];
	char detail[MID_REPORT_DETAIL_MAX];
	int64_t pid; /* 0: none */
};

/* Parse and check a report body. On failure 'err' holds one sentence. */
MID_WUR enum mid_rc mid_report_parse(const char *body, size_t len, struct mid_report *r,
				     char *err, size_t errlen);

/* Take one report from the bucket of 'device' in 'org_id' at 'now_ms':
 * 1 when allowed, else 0 with '*retry_ms' set. Thread-safe. Devices
 * share a bucket when their hashes meet (a fixed table bounds memory). */
int mid_report_take(int64_t org_id, const char *device, uint64_t now_ms, unsigned *retry_ms);

#endif
