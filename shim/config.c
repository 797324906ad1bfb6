/* SPDX-License-Identifier: MIT */
/*
 * The shim's configuration: MIDSHIM_* environment variables over the
 * policy file's settings over built-in defaults. Every bad value is a
 * one-line error naming the variable (or file:line) and what to do, so a
 * gated program with a bad configuration never starts.
 */
#define _GNU_SOURCE
#include "config.h"
#include "base.h"
#include "client.h"
#include "mid_key.h"
#include "mid_url.h"
#include "orgkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Every variable the shim reads; any other MIDSHIM_* name is a typo.
 * With their lengths: this check runs at every gated start, and a
 * strlen per name per variable was 1,300 instructions of it. */
#define KNOWN(name) {name, sizeof(name) - 1}
static const struct {
	const char *name;
	size_t len;
} known_vars[] = {
	KNOWN(MID_ENV_URL), KNOWN(MID_ENV_ORG_KEY), KNOWN(MID_ENV_ORG_KEY_FILE),
	KNOWN(MID_ENV_DEVICE_ID), KNOWN(MID_ENV_POLICY), KNOWN(MID_ENV_TTL_MS),
	KNOWN(MID_ENV_TIMEOUT_MS), KNOWN(MID_ENV_ON_DENY), KNOWN(MID_ENV_MODE),
	KNOWN(MID_ENV_AUDIT_LOG), KNOWN(MID_ENV_PUSH), KNOWN(MID_ENV_QUIET), KNOWN(MID_ENV_SYSLOG),
	KNOWN(MID_ENV_SYSLOG_SOCKET), KNOWN(MID_ENV_CA_FILE),
	/* read by the launcher only */
	KNOWN(MID_ENV_CONFIG),
	/* set by the shim for its children */
	KNOWN(MID_ENV_ALLOW_UNTIL), KNOWN(MID_ENV_REGISTERED),
};
#undef KNOWN

/* Is the 'n'-byte name at 'e' (of "NAME=value") exactly 'name'? */
MID_STARTUP static bool name_is(const char *e, size_t n, const char *name)
{
	return strlen(name) == n && mid_mem_eq(e, name, n);
}

MID_STARTUP static enum mid_rc check_names(char *const *envp, char *err, size_t errlen)
{
	size_t i, k;

	for(i = 0; envp && envp[i]; i++) {
		const char *e = envp[i];
		size_t n;
		int known = 0;

		/* The first byte first: most of an environment is not ours. */
		if(e[0] != MID_ENV_PREFIX[0] || !MID_STARTS(e, MID_ENV_PREFIX))
			continue;
		for(n = 0; e[n] && e[n] != '='; n++)
			;
		/* The operator's key must not reach a gated program: with it
		 * the program could restore its own device. */
		if(name_is(e, n, MID_ENV_ADMIN_KEY) || name_is(e, n, MID_ENV_ADMIN_KEY_FILE)) {
			snprintf(err, errlen,
				 "%.*s is set: a gated program must not hold the operator's admin key "
				 "(it could restore itself); remove it from this program's environment",
				 (int)n, e);
			return MID_ERR_INVAL;
		}
		for(k = 0; k < MID_ARRAY_LEN(known_vars) && !known; k++)
			known = known_vars[k].len == n && mid_mem_eq(e, known_vars[k].name, n);
		if(!known && !MID_STARTS(e, MID_ENV_TEST_PREFIX)) {
			snprintf(err, errlen,
				 "unknown variable %.*s; the shim reads MIDSHIM_URL, MIDSHIM_ORG_KEY(_FILE), "
				 "MIDSHIM_DEVICE_ID, MIDSHIM_POLICY, MIDSHIM_TTL_MS, MIDSHIM_TIMEOUT_MS, "
				 "MIDSHIM_ON_DENY, MIDSHIM_MODE, MIDSHIM_AUDIT_LOG, MIDSHIM_PUSH, "
				 "MIDSHIM_QUIET, MIDSHIM_SYSLOG(_SOCKET), MIDSHIM_CA_FILE",
				 (int)(n > 64 ? 64 : n), e);
			return MID_ERR_INVAL;
		}
	}
	return MID_OK;
}

/* A 0/1 setting 'name' into '*out' (unset: left as it is). */
MID_STARTUP static enum mid_rc parse_flag(const char *(*getenv_fn)(const char *), const char *name, int *out,
			      char *err, size_t errlen)
{
	const char *v = getenv_fn(name);

	if(!v || !*v)
		return MID_OK;
	if(strcmp(v, "0") && strcmp(v, "1")) {
		snprintf(err, errlen, "%s=%.64s: use 1 or 0", name, v);
		return MID_ERR_INVAL;
	}
	*out = v[0] == '1';
	return MID_OK;
}

MID_STARTUP static enum mid_rc parse_long(const char *name, const char *v, long lo, long hi,
			      long *out, char *err, size_t errlen)
{
	uint64_t x;

	if(!mid_parse_u64(v, &x)) {
		snprintf(err, errlen, "%s=%.64s is not a whole number; set %ld..%ld (milliseconds)",
			 name, v, lo, hi);
		return MID_ERR_INVAL;
	}
	if(x < (uint64_t)lo || x > (uint64_t)hi) {
		snprintf(err, errlen, "%s=%.64s is out of range; set %ld..%ld (milliseconds)",
			 name, v, lo, hi);
		return MID_ERR_INVAL;
	}
	*out = (long)x;
	return MID_OK;
}

/* An absolute file path 'name' into '*out', allocated only when set. */
MID_STARTUP static enum mid_rc file_setting(const char *(*getenv_fn)(const char *),
					    const char *name, char **out, char *err, size_t errlen)
{
	const char *v = getenv_fn(name);

	if(!v || !*v)
		return MID_OK;
	if(v[0] != '/' || strlen(v) >= PATH_MAX) {
		snprintf(err, errlen, "%s=%.128s: use an absolute file path", name, v);
		return MID_ERR_INVAL;
	}
	*out = strdup(v);
	if(!*out) {
		snprintf(err, errlen, "%s: out of memory", name);
		return MID_ERR_NOMEM;
	}
	return MID_OK;
}

/* A CA file that is missing or unreadable would only show at the first
 * https:// answer, as libcurl's reason for a denial: say it at start. */
MID_STARTUP static enum mid_rc ca_file_setting(const char *(*getenv_fn)(const char *),
					       char **out, char *err, size_t errlen)
{
	enum mid_rc rc = file_setting(getenv_fn, MID_ENV_CA_FILE, out, err, errlen);
	struct stat st;
	const char *why = NULL;

	if(rc || !*out)
		return rc;
	if(stat(*out, &st))
		why = strerror(errno);
	else if(!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if(access(*out, R_OK))
		why = strerror(errno);
	if(!why)
		return MID_OK;
	snprintf(err, errlen, "%s=%.256s: %s; point it at a readable PEM file of CA certificates",
		 MID_ENV_CA_FILE, *out, why);
	return MID_ERR_INVAL;
}

MID_STARTUP enum mid_rc mid_config_load_settings(struct mid_config *cfg,
				     const char *(*getenv_fn)(const char *), char *const *envp,
				     char *err, size_t errlen)
{
	const struct mid_policy_settings *ps;
	struct mid_url url[MID_URLS_MAX];
	size_t nurl;
	char why[384];
	const char *v;
	enum mid_rc rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->ttl_ms = MID_TTL_DEFAULT_MS;
	cfg->timeout_ms = MID_TIMEOUT_DEFAULT_MS;
	cfg->url = "http://127.0.0.1:7070";

	rc = check_names(envp, err, errlen);
	if(rc)
		goto out;

	v = getenv_fn(MID_ENV_POLICY);
	if(v && *v) {
		rc = mid_policy_load(v, &cfg->policy, err, errlen);
		if(rc)
			goto out;
	} else {
		rc = mid_policy_builtin(&cfg->policy);
		if(rc) {
			snprintf(err, errlen, "cannot build the built-in policy: %s", mid_rc_str(rc));
			goto out;
		}
	}

	/* Settings the policy file named come first; the environment wins. */
	ps = mid_policy_settings(cfg->policy);
	if(ps->set & MID_SET_DEVICE)
		cfg->device = ps->device;
	if(ps->set & MID_SET_URL)
		cfg->url = ps->url;
	if(ps->set & MID_SET_TTL)
		cfg->ttl_ms = ps->ttl_ms;
	if(ps->set & MID_SET_TIMEOUT)
		cfg->timeout_ms = ps->timeout_ms;
	if(ps->set & MID_SET_ON_DENY) {
		cfg->on_deny = ps->on_deny;
		cfg->exit_code = ps->exit_code;
	}
	if(ps->set & MID_SET_MODE)
		cfg->mode = ps->mode;
	if(ps->set & MID_SET_UNFOLLOWABLE)
		cfg->unfollowable = ps->unfollowable;

	rc = MID_ERR_INVAL;
	if((v = getenv_fn(MID_ENV_DEVICE_ID)) && *v) {
		if(!mid_device_ok(v, mid_len(v))) {
			snprintf(err, errlen, "MIDSHIM_DEVICE_ID must be 1..%d bytes of printable "
				 "ASCII without spaces, like service:env:role:instance",
				 MID_DEVICE_MAX);
			goto out;
		}
		cfg->device = v;
	}
	if(!cfg->device || !cfg->device[0]) {
		snprintf(err, errlen, "no device: set MIDSHIM_DEVICE_ID (e.g. tool:prod:report:01) "
			 "or \"device\" in the policy file");
		goto out;
	}
	if((v = getenv_fn(MID_ENV_URL)) && *v) {
		if(mid_len(v) >= MID_URL_MAX) {
			snprintf(err, errlen, "MIDSHIM_URL is longer than %d bytes", MID_URL_MAX - 1);
			goto out;
		}
		cfg->url = v;
	}
	if(mid_url_parse_list(cfg->url, url, &nurl, why, sizeof(why))) {
		snprintf(err, errlen, "MIDSHIM_URL %s", why);
		goto out;
	}
	if((v = getenv_fn(MID_ENV_TTL_MS)) && *v) {
		if(parse_long(MID_ENV_TTL_MS, v, 0, MID_TTL_MAX_MS, &cfg->ttl_ms, err, errlen))
			goto out;
	}
	if((v = getenv_fn(MID_ENV_TIMEOUT_MS)) && *v) {
		if(parse_long(MID_ENV_TIMEOUT_MS, v, 1, MID_TIMEOUT_MAX_MS, &cfg->timeout_ms, err,
			      errlen))
			goto out;
	}
	if((v = getenv_fn(MID_ENV_ON_DENY)) && *v) {
		if(mid_on_deny_parse(v, &cfg->on_deny, &cfg->exit_code)) {
			snprintf(err, errlen, "MIDSHIM_ON_DENY=%.64s: use kill, abort, exit:N (0..255) "
				 "or errno", v);
			goto out;
		}
	}
	if((v = getenv_fn(MID_ENV_MODE)) && *v) {
		if(!strcmp(v, "enforce")) {
			cfg->mode = MID_MODE_ENFORCE;
		} else if(!strcmp(v, "audit")) {
			cfg->mode = MID_MODE_AUDIT;
		} else {
			snprintf(err, errlen, "MIDSHIM_MODE=%.64s: use enforce or audit", v);
			goto out;
		}
	}
	if((v = getenv_fn(MID_ENV_PUSH)) && *v) {
		if(!strcmp(v, "on")) {
			cfg->no_push = 0;
		} else if(!strcmp(v, "off")) {
			cfg->no_push = 1;
		} else {
			snprintf(err, errlen, "MIDSHIM_PUSH=%.64s: use on or off", v);
			goto out;
		}
	}
	if(parse_flag(getenv_fn, MID_ENV_QUIET, &cfg->quiet, err, errlen) ||
	   parse_flag(getenv_fn, MID_ENV_SYSLOG, &cfg->syslog, err, errlen))
		goto out;
	if((v = getenv_fn(MID_ENV_SYSLOG_SOCKET)) && *v) {
		if(v[0] != '/' || strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			snprintf(err, errlen, "MIDSHIM_SYSLOG_SOCKET=%.128s: use an absolute path "
				 "of at most 107 bytes", v);
			goto out;
		}
		cfg->syslog_socket = strdup(v);
		if(!cfg->syslog_socket) {
			snprintf(err, errlen, "MIDSHIM_SYSLOG_SOCKET: out of memory");
			goto out;
		}
	}
	if(file_setting(getenv_fn, MID_ENV_AUDIT_LOG, &cfg->audit_log, err, errlen) ||
	   ca_file_setting(getenv_fn, &cfg->ca_file, err, errlen))
		goto out;
	rc = MID_OK;
out:
	if(rc)
		mid_config_cleanup(cfg);
	return rc;
}

enum mid_rc mid_config_load_key(struct mid_config *cfg, const char *(*getenv_fn)(const char *),
				char *err, size_t errlen)
{
	char why[384];
	const char *v;

	if(!cfg->org_key && !(cfg->org_key = malloc(MID_KEY_MAX + 1))) {
		snprintf(err, errlen, "org key: out of memory");
		return MID_ERR_NOMEM;
	}
	memset(cfg->org_key, 0, MID_KEY_MAX + 1);
	if((v = getenv_fn(MID_ENV_ORG_KEY)) && *v) {
		if(!mid_key_ok(v)) {
			snprintf(err, errlen, "MIDSHIM_ORG_KEY must be 1 to %d bytes without a space "
				 "or control character", MID_KEY_MAX);
			return MID_ERR_INVAL;
		}
		mid_strlcpy(cfg->org_key, v, MID_KEY_MAX + 1);
		if(mid_org_key_check(cfg->org_key, NULL, err, errlen))
			return MID_ERR_INVAL;
	} else if((v = getenv_fn(MID_ENV_ORG_KEY_FILE)) && *v) {
		if(mid_key_read_file(v, cfg->org_key, MID_KEY_MAX + 1, NULL, why,
				     sizeof(why))) {
			snprintf(err, errlen, "MIDSHIM_ORG_KEY_FILE=%.256s: %s; point it at the file "
				 "holding the org key (see `midd init --write-keys`)", v, why);
			return MID_ERR_INVAL;
		}
		if(mid_org_key_check(cfg->org_key, v, err, errlen))
			return MID_ERR_INVAL;
	} else {
		snprintf(err, errlen, "no org key: set MIDSHIM_ORG_KEY_FILE to the file holding it "
			 "(or MIDSHIM_ORG_KEY)");
		return MID_ERR_INVAL;
	}
	return MID_OK;
}

enum mid_rc mid_config_load(struct mid_config *cfg, const char *(*getenv_fn)(const char *),
			    char *const *envp, char *err, size_t errlen)
{
	enum mid_rc rc = mid_config_load_settings(cfg, getenv_fn, envp, err, errlen);

	if(rc == MID_OK && (rc = mid_config_load_key(cfg, getenv_fn, err, errlen)))
		mid_config_cleanup(cfg);
	return rc;
}

enum mid_rc mid_config_client(const struct mid_config *cfg, struct mid_client **out, char *err,
			      size_t errlen)
{
	enum mid_rc rc = mid_client_new(cfg->url, cfg->org_key, cfg->timeout_ms, out, err, errlen);

	if(rc == MID_OK && cfg->ca_file && (rc = mid_client_set_ca_file(*out, cfg->ca_file))) {
		snprintf(err, errlen, "MIDSHIM_CA_FILE=%.128s: cannot be used", cfg->ca_file);
		mid_client_free(*out);
		*out = NULL;
	}
	return rc;
}

void mid_config_cleanup(struct mid_config *cfg)
{
	if(!cfg)
		return;
	mid_policy_free(cfg->policy);
	cfg->policy = NULL;
	free(cfg->audit_log);
	cfg->audit_log = NULL;
	free(cfg->syslog_socket);
	cfg->syslog_socket = NULL;
	free(cfg->ca_file);
	cfg->ca_file = NULL;
	if(cfg->org_key)
		explicit_bzero(cfg->org_key, MID_KEY_MAX + 1);
	free(cfg->org_key);
	cfg->org_key = NULL;
	/* 'device' and 'url' may point into the policy just freed. */
	cfg->device = NULL;
	cfg->url = NULL;
}
