/* SPDX-License-Identifier: MIT */
/*
 * midshim.conf: "key = value" lines, '#' comments, blank lines. Each key
 * stands for one MIDSHIM_* variable; a value is used only when the
 * variable is not set already (by a flag or the environment). The file is
 * small and read once, by the launcher, never by gated programs.
 */
#define _GNU_SOURCE
#include "midshim_conf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mid.h"

#define CONF_LINE_MAX 4096
#define CONF_LINES_MAX 1000

static const struct {
	const char *key, *var;
	int path; /* relative values are taken from the file's directory */
} keys[] = {
	{"url", MID_ENV_URL, 0},
	{"ca_file", MID_ENV_CA_FILE, 1},
	{"org_key_file", MID_ENV_ORG_KEY_FILE, 1},
	{"policy", MID_ENV_POLICY, 1},
	{"ttl_ms", MID_ENV_TTL_MS, 0},
	{"timeout_ms", MID_ENV_TIMEOUT_MS, 0},
	{"on_deny", MID_ENV_ON_DENY, 0},
	{"mode", MID_ENV_MODE, 0},
	{"audit_log", MID_ENV_AUDIT_LOG, 1},
	{"quiet", MID_ENV_QUIET, 0},
	{"syslog", MID_ENV_SYSLOG, 0},
};

static char *trim(char *s)
{
	char *e;

	while(*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while(e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* 'value' joined to 'dir' when relative, into 'out'. */
static int join(const char *dir, const char *value, char *out, size_t outlen)
{
	int n = value[0] == '/' ? snprintf(out, outlen, "%s", value) :
				  snprintf(out, outlen, "%s/%s", dir, value);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int set_from(const char *path, int line, const char *dir, char *key, char *value,
		    char *err, size_t errlen)
{
	char abs[PATH_MAX];
	size_t i;

	for(i = 0; i < MID_ARRAY_LEN(keys); i++)
		if(!strcmp(key, keys[i].key))
			break;
	if(i == MID_ARRAY_LEN(keys)) {
		snprintf(err, errlen, "%s:%d: unknown key '%.64s'; use url, ca_file, org_key_file, "
			 "policy, ttl_ms, timeout_ms, on_deny, mode, audit_log, quiet or syslog", path, line, key);
		return -1;
	}
	if(!*value) {
		snprintf(err, errlen, "%s:%d: %s has no value", path, line, key);
		return -1;
	}
	if(getenv(keys[i].var))
		return 0; /* a flag or the environment wins */
	if(keys[i].path) {
		if(join(dir, value, abs, sizeof(abs))) {
			snprintf(err, errlen, "%s:%d: %s is too long", path, line, key);
			return -1;
		}
		value = abs;
	}
	if(setenv(keys[i].var, value, 1)) {
		snprintf(err, errlen, "cannot set %s: %s", keys[i].var, strerror(errno));
		return -1;
	}
	return 0;
}

int mid_conf_apply(const char *path, int required, char *err, size_t errlen)
{
	char buf[CONF_LINE_MAX + 2], dir[PATH_MAX], *slash;
	FILE *f = fopen(path, "re");
	int line = 0, rc = -1;

	if(!f) {
		if(!required && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "configuration %s: %s; fix it or point --config or "
			 "MIDSHIM_CONFIG at another file", path, strerror(errno));
		return -1;
	}
	if(!realpath(path, dir)) {
		snprintf(err, errlen, "configuration %s: %s", path, strerror(errno));
		goto out;
	}
	slash = strrchr(dir, '/');
	if(slash == dir)
		slash[1] = '\0';
	else if(slash)
		*slash = '\0';
	while(fgets(buf, sizeof(buf), f)) {
		char *s, *eq;

		if(++line > CONF_LINES_MAX || (strlen(buf) > CONF_LINE_MAX && !feof(f))) {
			snprintf(err, errlen, "%s:%d: line too long, or more than %d lines", path,
				 line, CONF_LINES_MAX);
			goto out;
		}
		s = trim(buf);
		if(!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		if(!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, line);
			goto out;
		}
		*eq = '\0';
		if(set_from(path, line, dir, trim(s), trim(eq + 1), err, errlen))
			goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

int mid_conf_absolute(const char *name, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char cwd[PATH_MAX], abs[PATH_MAX];

	if(!v || !*v || v[0] == '/')
		return 0;
	if(!getcwd(cwd, sizeof(cwd)) || join(cwd, v, abs, sizeof(abs))) {
		snprintf(err, errlen, "%s=%.256s: cannot make it absolute: %s", name, v,
			 strerror(errno));
		return -1;
	}
	if(setenv(name, abs, 1)) {
		snprintf(err, errlen, "cannot set %s: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}
