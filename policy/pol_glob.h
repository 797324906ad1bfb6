/* SPDX-License-Identifier: MIT */
/*
 * Glob matching for policy rules, beyond the two entry points in policy.h:
 * a load-time syntax check, argv matching without joining, and host names
 * without regard to case. All of it is allocation-free and iterative.
 */
#ifndef MID_POL_GLOB_H
#define MID_POL_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "mid.h"

#define MID_GLOB_MAX 4096 /* bytes in one glob */

/* Check 'pattern' once at load so the matcher never meets a malformed
 * class or a dangling escape. On error 'why' says what is wrong. */
MID_WUR enum mid_rc mid_glob_check(const char *pattern, char *why, size_t whylen);

/* Match a text glob against the words of 'argv' joined by single spaces,
 * without building the joined string. NULL or empty 'argv' is "". */
bool mid_glob_argv(const char *pattern, char *const *argv);

/* Match a text glob against a host name, ignoring ASCII case. */
bool mid_glob_host(const char *pattern, const char *host);

/* Flags of the matcher: path rules ('*' stops at '/', '**' is special),
 * and ASCII case folding. */
enum { MID_GLOB_PATH = 1, MID_GLOB_FOLD = 2 };

#ifdef MID_UNIT_TEST
/* The matcher behind all of the above; '*steps' receives the number of
 * loop turns it took, so a test can bound the work on a bad pattern. */
bool glob_run(const char *pattern, const char *const *words, unsigned flags, size_t *steps);
#endif

#endif
