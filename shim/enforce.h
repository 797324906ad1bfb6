/* SPDX-License-Identifier: MIT */
/*
 * Enforcement (enforce.c): a denial's lines (through record), its report
 * to midd, then the configured action. Owns the action and the report
 * rate; calls base, config and record. Only the gate calls mid_enforce.
 */
#ifndef MID_SHIM_ENFORCE_H
#define MID_SHIM_ENFORCE_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"
#include "policy.h"

/* The denial code of an address the gate cannot read, on a socket with
 * no peer to decide it on. */
#define MID_CODE_BAD_ADDRESS "UNREADABLE_ADDRESS"

/* With several control planes, 'fn' names the one that decided, for the
 * denial line; NULL (or 'fn' returning NULL) names none. */
void mid_enforce_origin(const char *(*fn)(void));

/* Log one denial (stderr + audit log) and carry out the action 'cfg' (the
 * gate's configuration; NULL kills the process) sets. 'code' and
 * 'request_id' may be NULL. Returns like mid_gate_check. */
int mid_enforce(const struct mid_config *cfg, const struct mid_event *ev, const char *code,
		const char *request_id, int rule);

/* When set, names the program of the process a denial is about, for the
 * report to midd (the supervisor's subject; the preload reports its own
 * argv[0]). Read only when a denial is reported. */
extern const char *(*mid_enforce_subject_name)(pid_t pid);
/* Send the JSON report 'body' ('len' bytes) of a denial to midd without
 * waiting; called with the re-entrancy guard up. */
typedef void (*mid_report_fn)(const char *body, size_t len);
#define MID_REPORT_PER_S 10 /* reports a process sends at most each second */

/* mid_enforce reports what the shim stops itself (POLICY_DENY,
 * UNFOLLOWABLE, UNREADABLE_ADDRESS, and their would-deny in audit mode)
 * through 'fn' after its log lines and before it acts. */
void mid_enforce_set_report(mid_report_fn fn);

#endif
