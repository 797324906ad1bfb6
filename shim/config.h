/* SPDX-License-Identifier: MIT */
/*
 * The shim's configuration (config.c): MIDSHIM_* variables over the
 * policy file over built-in defaults. Owns struct mid_config; calls the
 * policy parser and common/ (URL, key file, org key) only, so the
 * launcher reads a configuration the way the preload does.
 */
#ifndef MID_SHIM_CONFIG_H
#define MID_SHIM_CONFIG_H

#include <stddef.h>

#include "mid.h"
#include "policy.h"

struct mid_client;

/* The shim's configuration, read once from the environment and the
 * policy file. 'device' and 'url' point at the strings they came from:
 * what 'getenv_fn' returned (in the preload, its captured settings), the
 * policy's settings or a built-in default; held by pointer, not copied
 * into buffers, because a gated process's writable data is a page fault
 * at every start and 1 KiB of buffers made it one page more. The other
 * strings are allocated, and owned by the configuration. */
struct mid_config {
	const char *device; /* NULL until loaded */
	const char *url;
	char *org_key; /* NULL until mid_config_load_key; MID_KEY_MAX + 1 bytes */
	char *audit_log; /* NULL: none; allocated only when set */
	long ttl_ms;
	long timeout_ms;
	enum mid_on_deny on_deny;
	int exit_code;
	enum mid_mode mode;
	enum mid_unfollowable unfollowable;
	int no_push; /* MIDSHIM_PUSH=off: no push channel, the TTL gate only */
	int quiet;   /* MIDSHIM_QUIET=1: no stderr line for what audit mode lets through */
	int syslog;  /* MIDSHIM_SYSLOG=1: each denial to syslog as well */
	char *syslog_socket; /* MIDSHIM_SYSLOG_SOCKET; NULL: /dev/log */
	char *ca_file;       /* MIDSHIM_CA_FILE (https://); NULL: the system store */
	/* Set by the launcher's supervisor (not from the environment): a
	 * denial is logged, then returned (-1) whatever on_deny says, and the
	 * supervisor carries the action out on the process tree. */
	int deny_returns;
	struct mid_policy *policy;
};

/*
 * Fill 'cfg' from the environment (MIDSHIM_*; see doc/design.md) and the
 * policy file it names. 'getenv_fn' reads a variable (getenv in the shim,
 * a table in tests); 'envp', when not NULL, is checked for misspelt
 * MIDSHIM_* names. Environment wins over the policy file, which wins
 * over built-in defaults. On error 'err' names the variable or file:line
 * and what to do. The strings 'getenv_fn' returns must outlive 'cfg'
 * (the process environment does: glibc never frees a replaced value). The caller frees cfg->policy with mid_config_cleanup().
 */
MID_WUR enum mid_rc mid_config_load(struct mid_config *cfg,
				    const char *(*getenv_fn)(const char *),
				    char *const *envp, char *err, size_t errlen);
void mid_config_cleanup(struct mid_config *cfg);

/* The control-plane client 'cfg' describes: its URL, key, timeout and,
 * for https://, its CA file. As mid_client_new; caller frees '*out'. */
MID_WUR enum mid_rc mid_config_client(const struct mid_config *cfg, struct mid_client **out,
				      char *err, size_t errlen);

/* mid_config_load in two steps: every setting but the org key, and the
 * org key (MIDSHIM_ORG_KEY or the file MIDSHIM_ORG_KEY_FILE names, with
 * the admin-key checks). A start that inherits a fresh allow needs the
 * key only at its first call to the control plane, and reads it then. */
MID_WUR enum mid_rc mid_config_load_settings(struct mid_config *cfg,
					     const char *(*getenv_fn)(const char *),
					     char *const *envp, char *err, size_t errlen);
MID_WUR enum mid_rc mid_config_load_key(struct mid_config *cfg,
					const char *(*getenv_fn)(const char *), char *err,
					size_t errlen);

#endif
