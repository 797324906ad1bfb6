/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

struct find {
	const char *glob;
	struct mid_match *m;
	size_t cap;
	enum mid_rc rc;
};

int mid_match_glob_ok(const char *glob)
{
	return glob && mid_device_ok(glob, strlen(glob)) && strpbrk(glob, "*?[") != NULL;
}

static int find_one(const struct mid_dev_info *d, void *arg)
{
	struct find *f = arg;
	char **grown;

	if(d->state != MID_DEV_ACTIVE || fnmatch(f->glob, d->id, 0))
		return 0;
	if(f->m->n == MID_MATCH_MAX) {
		f->rc = MID_ERR_TOO_BIG;
		return 1;
	}
	if(f->m->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		grown = realloc(f->m->ids, f->cap * sizeof(*grown));
		if(!grown) {
			f->rc = MID_ERR_NOMEM;
			return 1;
		}
		f->m->ids = grown;
	}
	f->m->ids[f->m->n] = strdup(d->id);
	if(!f->m->ids[f->m->n]) {
		f->rc = MID_ERR_NOMEM;
		return 1;
	}
	f->m->n++;
	return 0;
}

enum mid_rc mid_match_find(struct mid_org *org, const char *glob, struct mid_match *m)
{
	struct find f = {glob, m, 0, MID_OK};

	memset(m, 0, sizeof(*m));
	mid_state_each(org, find_one, &f);
	return f.rc;
}

enum mid_rc mid_match_revoke(struct mid_service *svc, struct mid_org *org, struct mid_match *m,
			     const struct mid_caller *c)
{
	struct mid_dev_info info;
	struct mid_change res;
	enum mid_rc rc;
	size_t i;

	m->persisted = 1;
	m->journaled = 1;
	for(i = 0; i < m->n; i++) {
		if(mid_state_get(org, m->ids[i], &info) || info.state != MID_DEV_ACTIVE)
			continue;
		rc = mid_service_set_state(svc, org, m->ids[i], "revoke", MID_DEV_REVOKED, c, &res);
		if(rc)
			return rc;
		m->revoked++;
		m->persisted &= res.persisted;
		m->journaled &= res.persisted || res.journaled;
	}
	return MID_OK;
}

void mid_match_free(struct mid_match *m)
{
	size_t i;

	for(i = 0; i < m->n; i++)
		free(m->ids[i]);
	free(m->ids);
	memset(m, 0, sizeof(*m));
}
