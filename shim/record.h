/* SPDX-License-Identifier: MIT */
/*
 * The records of denials (shim/record.c): one structured JSON line per
 * event in MIDSHIM_AUDIT_LOG, repeats of the same event counted in a
 * small per-process table instead of written again, and, with
 * MIDSHIM_SYSLOG=1, one key=value line per denial to syslog.
 */
#ifndef MID_SHIM_RECORD_H
#define MID_SHIM_RECORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "policy.h"

/* The process a denial is about, for its lines and its report (0: this
 * one). The launcher's supervisor sets it before each decision. */
extern pid_t mid_record_subject;

/* Slots of the repeat table, and how long repeats of one event are only
 * counted before their count is written (ms). */
#define MID_RECORD_SLOTS 16
#define MID_RECORD_WINDOW_MS 10000

/* One denial, as enforce.c has described it. 'kind' and 'target' are the
 * cleaned words of the stderr line; 'rule' is the 0-based deciding rule
 * or -1; 'decision' is "deny" or "would_deny"; 'say' is the stderr line
 * (without "midshim: "), printed unless 'quiet'. */
struct mid_record_denial {
	const struct mid_event *ev;
	const char *kind, *target, *code, *request_id, *action, *decision, *say;
	int rule;
	bool quiet;
};

/*
 * Record 'd': its stderr line, its audit-log line and its syslog line.
 * When 'repeatable' (the denied call returns to the program, so the same
 * event can come again), an event already recorded in the last
 * MID_RECORD_WINDOW_MS is only counted; the count is written later as a
 * line with "repeat": true and "count": N. Uses stack buffers and a
 * static table under a try-lock: safe in a signal handler and a vfork
 * child (when busy, the line is written uncounted).
 */
void mid_record_denial(const struct mid_config *cfg, const struct mid_record_denial *d,
		      bool repeatable);

/* Write the counts of repeats not yet written (before exec and at exit).
 * Costs one atomic load when there are none. */
void mid_record_flush(void);

/* In a fork child: forget the parent's counts, which are the parent's to
 * write. */
void mid_record_atfork_child(void);

#endif
