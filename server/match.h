/* SPDX-License-Identifier: MIT */
/*
 * Revoke by glob: every active device of an org whose deviceId matches a
 * shell pattern (fnmatch(3) without flags, so '*' also crosses ':'), e.g.
 * "svc:prod:*". Each device is revoked by mid_service_set_state, the same
 * call the one-device route makes, under the caller's one request ID.
 */
#ifndef MID_MATCH_H
#define MID_MATCH_H

#include <stddef.h>

#include "mid.h"
#include "service.h"

#define MID_MATCH_MAX 100000 /* most devices one bulk revoke changes */

struct mid_match {
	char **ids;     /* the matching devices, in creation order */
	size_t n;
	size_t revoked; /* how many mid_match_revoke changed */
	int persisted;  /* every change is in the database */
	int journaled;  /* the rest is in the deny journal */
};

/* 1 when 'glob' is a pattern midd takes: a valid deviceId (mid_device_ok)
 * that holds at least one of * ? [. */
int mid_match_glob_ok(const char *glob);

/* Collect the active devices of 'org' matching 'glob' into 'm'.
 * MID_ERR_TOO_BIG when more than MID_MATCH_MAX match. */
enum mid_rc mid_match_find(struct mid_org *org, const char *glob, struct mid_match *m) MID_WUR;

/* Revoke each device of 'm'. A device revoked or removed meanwhile by
 * someone else is left as it is. Stops at the first failure. */
enum mid_rc mid_match_revoke(struct mid_service *svc, struct mid_org *org, struct mid_match *m,
			     const struct mid_caller *c) MID_WUR;

void mid_match_free(struct mid_match *m);

#endif
