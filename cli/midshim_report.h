/* SPDX-License-Identifier: MIT */
/*
 * Events the launcher tells midd about (POST /api/v1/report, with the org
 * key): they land in midd's audit trail. Best effort: the launcher has
 * already acted when it reports, and a report that cannot be sent only
 * leaves a line in the launcher's log.
 */
#ifndef MID_MIDSHIM_REPORT_H
#define MID_MIDSHIM_REPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Report 'event' (ADOPT, RELEASE, KILLED...) for 'device' to the control
 * plane at 'url' (http:// or unix:), with optional 'pid' (0: none),
 * 'program' and 'detail'. Returns the HTTP status (202 when accepted),
 * or -1 with 'err' saying why nothing was answered. */
int mid_report_send(const char *url, const char *org_key, long timeout_ms, const char *device,
		    const char *event, pid_t pid, const char *program, const char *detail,
		    char *err, size_t errlen);

#endif
