/* SPDX-License-Identifier: MIT */
/*
 * midd's log: one line per event on stderr, "midd: " first, key=value
 * after, so operators can grep it. Keys never reach this module.
 */
#ifndef MID_LOG_H
#define MID_LOG_H

/* Log one line (a newline is added). Safe from any thread. */
void mid_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Per-request noise (refused keys and similar): dropped with --quiet. */
void mid_log_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void mid_log_set_quiet(int quiet);

#endif
