/* SPDX-License-Identifier: MIT */
/*
 * The matcher: decide an event by the first rule of its kind whose every
 * matcher agrees, else by the kind's default. It runs inside every hooked
 * call, so it allocates nothing, takes no lock and makes no system call;
 * all it reads was compiled by the parser.
 */
#define _GNU_SOURCE
#include "pol_glob.h"
#include "pol_model.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Whether 's' (no value: never) matches any of the 'n' 'globs' by 'match'. */
static bool any_glob(char *const *globs, size_t n, const char *s,
		     bool (*match)(const char *, const char *))
{
	size_t i;

	if(!s)
		return false;
	for(i = 0; i < n; i++)
		if(match(globs[i], s))
			return true;
	return false;
}

static bool any_path(char *const *globs, size_t n, const char *s)
{
	return any_glob(globs, n, s, mid_glob_path);
}

static bool any_argv(char *const *globs, size_t n, char *const *argv)
{
	size_t i;

	for(i = 0; i < n; i++)
		if(mid_glob_argv(globs[i], argv))
			return true;
	return false;
}


static bool inet(const struct mid_event *ev)
{
	return ev->family == AF_INET || ev->family == AF_INET6;
}

/* The path a rule's "path" reads for this event: a program, a file, or
 * for connect and send the peer's unix socket. */
static bool path_matches(const struct mid_rule *r, const struct mid_event *ev)
{
	switch(ev->kind) {
	case MID_EV_FS:
		return any_path(r->path, r->npath, ev->path) ||
		       any_path(r->path, r->npath, ev->path2);
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		return ev->family == AF_UNIX && any_path(r->path, r->npath, ev->path);
	default:
		return any_path(r->path, r->npath, ev->path);
	}
}

static bool rule_matches(const struct mid_rule *r, const struct mid_event *ev)
{
	size_t i;

	/* cheap bit tests before globs */
	if((r->have & MID_M_OP) && ((unsigned)ev->op >= 32 || !(r->ops & (1u << ev->op))))
		return false;
	if((r->have & MID_M_FD) &&
	   ((unsigned)ev->fdkind >= 32 || !(r->fds & (1u << ev->fdkind))))
		return false;
	if(r->have & MID_M_PORT) {
		bool hit = false;
		if(!inet(ev))
			return false;
		for(i = 0; i < r->nport && !hit; i++)
			hit = ev->port >= r->port[i].lo && ev->port <= r->port[i].hi;
		if(!hit)
			return false;
	}
	if(r->have & MID_M_ADDR) {
		bool hit = false;
		for(i = 0; i < r->naddr && !hit; i++)
			hit = mid_cidr_match(&r->addr[i], ev->family, ev->addr);
		if(!hit)
			return false;
	}
	if((r->have & MID_M_HOST) && !any_glob(r->host, r->nhost, ev->host, mid_glob_host))
		return false;
	if((r->have & MID_M_PATH) && !path_matches(r, ev))
		return false;
	if((r->have & MID_M_ARGV) && !any_argv(r->argv, r->nargv, ev->argv))
		return false;
	return true;
}

MID_STARTUP enum mid_action mid_policy_match(const struct mid_policy *pol, const struct mid_event *ev,
				 int *rule)
{
	size_t i, k;

	if(rule)
		*rule = -1;
	/* Not an event this module knows: ask the control plane. */
	if(!pol || !ev || (unsigned)ev->kind >= MID_EV_KIND_COUNT)
		return MID_ACT_VALIDATE;
	k = (size_t)ev->kind;
	for(i = 0; i < pol->nbykind[k]; i++) {
		size_t idx = pol->bykind[k][i];
		if(rule_matches(&pol->rules[idx], ev)) {
			if(rule)
				*rule = (int)idx;
			return pol->rules[idx].action;
		}
	}
	return pol->def[k];
}

MID_STARTUP bool mid_policy_needs_target(const struct mid_policy *pol, enum mid_kind k)
{
	if(!pol || (unsigned)k >= MID_EV_KIND_COUNT)
		return true;
	return pol->needs_target[k];
}

bool mid_policy_uniform(const struct mid_policy *pol, enum mid_kind k, enum mid_action *act)
{
	if(!pol || (unsigned)k >= MID_EV_KIND_COUNT || pol->nbykind[k])
		return false;
	*act = pol->def[k];
	return true;
}

size_t mid_policy_rule_count(const struct mid_policy *pol)
{
	return pol ? pol->nrules : 0;
}

enum mid_rc mid_policy_index(struct mid_policy *pol)
{
	size_t i, k;

	for(k = 0; k < MID_EV_KIND_COUNT; k++) {
		free(pol->bykind[k]);
		pol->bykind[k] = NULL;
		pol->nbykind[k] = 0;
		pol->needs_target[k] = false;
	}
	for(i = 0; i < pol->nrules; i++) {
		k = (size_t)pol->rules[i].kind;
		pol->nbykind[k]++;
		if(pol->rules[i].have & MID_M_TARGET)
			pol->needs_target[k] = true;
	}
	for(k = 0; k < MID_EV_KIND_COUNT; k++) {
		if(!pol->nbykind[k])
			continue;
		pol->bykind[k] = calloc(pol->nbykind[k], sizeof(size_t));
		if(!pol->bykind[k]) {
			/* leave no count that points past a missing list */
			memset(pol->nbykind, 0, sizeof(pol->nbykind));
			return MID_ERR_NOMEM;
		}
	}
	memset(pol->nbykind, 0, sizeof(pol->nbykind));
	for(i = 0; i < pol->nrules; i++) {
		k = (size_t)pol->rules[i].kind;
		pol->bykind[k][pol->nbykind[k]++] = i;
	}
	return MID_OK;
}
