/* SPDX-License-Identifier: MIT */
/*
 * midctl budget: set, show and clear a device's side-effect budget
 * (execs, connects, bytes sent, writes per window; midd(8)).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "midctl.h"

static const char *const kinds[MID_CTL_BUDGET_KINDS] = {"execs", "connects", "bytesOut",
							"writes"};
static const char *const flags[MID_CTL_BUDGET_KINDS] = {"--execs", "--connects", "--bytes-out",
							"--writes"};

/* A number with an optional unit from 'units' (each with its factor);
 * the rest of the text in '*end'. 0 on success. */
static int number(const char *s, const char *units, const unsigned long long *factor,
		  unsigned long long *out, const char **end)
{
	unsigned long long v;
	const char *u;
	char *e;

	if(*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &e, 10);
	if(errno)
		return -1;
	if(*e && (u = strchr(units, *e))) {
		unsigned long long f = factor[u - units];

		if(v > (1ull << 53) / f)
			return -1;
		v *= f;
		e++;
	}
	*out = v;
	*end = e;
	return 0;
}

int mid_ctl_budget_parse(const char *spec, int bytes, unsigned long long *limit,
			 unsigned long long *window_ms)
{
	static const unsigned long long size_f[] = {1024ull, 1024ull * 1024, 1024ull * 1024 * 1024};
	static const unsigned long long none_f[] = {1};
	static const unsigned long long time_f[] = {1000ull, 60000ull, 3600000ull, 86400000ull};
	const char *e;

	if(number(spec, bytes ? "KMG" : "", bytes ? size_f : none_f, limit, &e) || *e != '/' ||
	   *limit < 1 || *limit > (1ull << 53))
		return -1;
	spec = e + 1;
	/* "/m" is one minute, as "/1m". */
	if(*spec && strchr("smhd", *spec) && !spec[1]) {
		*window_ms = time_f[strchr("smhd", *spec) - "smhd"];
		return 0;
	}
	if(number(spec, "smhd", time_f, window_ms, &e) || *e || *window_ms < 1000 ||
	   *window_ms > 366ull * 86400000ull || !strpbrk(spec, "smhd"))
		return -1;
	return 0;
}

const char *mid_ctl_budget_flag(int k)
{
	return flags[k];
}

/* "100/1m" for people: the largest whole unit. */
static void limit_text(const cJSON *one, int bytes, char *out, size_t n)
{
	static const struct {
		double f;
		const char *u;
	} t[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(one, "limit");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(one, "windowMs");
	double win = cJSON_IsNumber(w) ? w->valuedouble : 0;
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(t) - 1; i++)
		if(win >= t[i].f && (unsigned long long)win % (unsigned long long)t[i].f == 0)
			break;
	snprintf(out, n, "%.0f%s/%.0f%s", cJSON_IsNumber(l) ? l->valuedouble : 0,
		 bytes ? " bytes" : "", win / t[i].f, t[i].u);
}

static void print_budget(const cJSON *json, int usage)
{
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(json, "budget");
	int shown = 0;

	for(int k = 0; k < MID_CTL_BUDGET_KINDS; k++) {
		const cJSON *one = cJSON_GetObjectItemCaseSensitive(all, kinds[k]);
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(one, "used");
		char lim[96];

		if(!cJSON_IsObject(one))
			continue;
		limit_text(one, k == 2, lim, sizeof(lim));
		if(usage && cJSON_IsNumber(u))
			printf("%-9s %.0f of %s%s\n", kinds[k], u->valuedouble, lim,
			       u->valuedouble > cJSON_GetObjectItemCaseSensitive(one, "limit")
								->valuedouble ?
				       "  EXCEEDED" : "");
		else
			printf("%-9s %s\n", kinds[k], lim);
		shown++;
	}
	if(!shown)
		printf("no budget\n");
}

/* The budget/set body from the option values 'spec' (NULL: not given). */
static char *set_body(const char *device, const char *const spec[MID_CTL_BUDGET_KINDS])
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	int ok = o && cJSON_AddStringToObject(o, "deviceId", device);

	for(int k = 0; ok && k < MID_CTL_BUDGET_KINDS; k++) {
		unsigned long long lim, win;
		cJSON *one;

		if(!spec[k])
			continue;
		if(mid_ctl_budget_parse(spec[k], k == 2, &lim, &win))
			ok = 0;
		one = ok ? cJSON_AddObjectToObject(o, kinds[k]) : NULL;
		ok = one && cJSON_AddNumberToObject(one, "limit", (double)lim) &&
		     cJSON_AddNumberToObject(one, "windowMs", (double)win);
	}
	if(ok)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

int mid_ctl_budget(struct mid_ctl *c, const char *action, const char *device,
		   const char *const spec[MID_CTL_BUDGET_KINDS])
{
	struct mid_ctl_reply r = {0};
	char what[64], *body = NULL, *esc = NULL, *path = NULL;
	int ex = MID_CTL_EXIT_REFUSED;

	snprintf(what, sizeof(what), "budget %s", action);
	if(!strcmp(action, "show")) {
		esc = mid_ctl_http_escape(c->http, device);
		if(!esc || asprintf(&path, "/api/v1/budget?deviceId=%s", esc) < 0) {
			path = NULL;
			mid_ctl_err("out of memory");
			goto out;
		}
		ex = mid_ctl_call(c, what, "GET", path, NULL, &r);
	} else {
		cJSON *o = cJSON_CreateObject();

		if(!strcmp(action, "set"))
			body = set_body(device, spec);
		else if(o && cJSON_AddStringToObject(o, "deviceId", device))
			body = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
		if(!body) {
			mid_ctl_err("out of memory");
			goto out;
		}
		ex = mid_ctl_call(c, what, "POST", !strcmp(action, "set") ? "/api/v1/budget/set" :
					   "/api/v1/budget/clear", body, &r);
	}
	if(ex)
		goto out;
	if(c->json)
		mid_ctl_print_raw(&r);
	else if(!strcmp(action, "clear"))
		printf("budget of %s cleared\n", device);
	else
		print_budget(r.json, !strcmp(action, "show"));
out:
	free(body);
	free(esc);
	free(path);
	mid_ctl_reply_cleanup(&r);
	return ex;
}
