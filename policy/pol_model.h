/* SPDX-License-Identifier: MIT */
/*
 * The compiled form of a policy, shared by the parser that builds it, the
 * matcher that reads it and the describer that prints it. Everything a
 * match needs was decided at load: kinds and ops are enums and bitmasks,
 * address blocks are bytes, ports are ranges; only globs stay text.
 */
#ifndef MID_POL_MODEL_H
#define MID_POL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pol_net.h"
#include "policy.h"

#define MID_POLICY_FILE_MAX (1024 * 1024) /* bytes in a policy file */
#define MID_POLICY_RULES_MAX 4096
#define MID_POLICY_LIST_MAX 256           /* entries in one matcher's array */
#define MID_POLICY_DEPTH_MAX 64           /* JSON nesting */

/* Which matchers a rule has. */
enum {
	MID_M_PATH = 1 << 0,
	MID_M_ARGV = 1 << 1,
	MID_M_ADDR = 1 << 2,
	MID_M_PORT = 1 << 3,
	MID_M_HOST = 1 << 4,
	MID_M_OP = 1 << 5,
	MID_M_FD = 1 << 6,
	/* the ones that look at an event's target */
	MID_M_TARGET = MID_M_PATH | MID_M_ARGV | MID_M_ADDR | MID_M_PORT | MID_M_HOST
};

struct mid_rule {
	enum mid_kind kind;
	enum mid_action action;
	unsigned line;  /* of the rule's '{'; 0 for the built-in policy */
	unsigned have;  /* MID_M_* */
	char **path;    /* globs; any one may match */
	size_t npath;
	char **argv;
	size_t nargv;
	char **host;    /* lower case */
	size_t nhost;
	struct mid_cidr *addr;
	size_t naddr;
	struct mid_portrange *port;
	size_t nport;
	uint32_t ops;   /* bit (1 << enum mid_fsop) */
	uint32_t fds;   /* bit (1 << enum mid_fdkind) */
};

struct mid_policy {
	struct mid_policy_settings settings;
	enum mid_action def[MID_EV_KIND_COUNT];
	struct mid_rule *rules;
	size_t nrules;
	/* per kind, the indexes of its rules in order, so a match never
	 * walks rules of another kind and a kind without rules is one test */
	size_t *bykind[MID_EV_KIND_COUNT];
	size_t nbykind[MID_EV_KIND_COUNT];
	bool needs_target[MID_EV_KIND_COUNT];
	bool builtin;
};

/* The spellings of kinds, actions, fs ops and fd kinds (names.c),
 * indexed by the enum, for the parser's lists of valid values. */
extern const char *const mid_kind_names[MID_EV_KIND_COUNT];
extern const char *const mid_action_names[MID_ACT_COUNT];
extern const char *const mid_fsop_names[MID_FS_OP_COUNT];
extern const char *const mid_fdkind_names[MID_FD_KIND_COUNT];

/* Sets '*out' to the index of 's' among the 'n' names of 't', looking from
 * index 'first' on (the op "none" is no name a policy may give). */
MID_WUR enum mid_rc mid_name_lookup(const char *const *t, size_t n, size_t first, const char *s,
				    unsigned *out);

/* Index the rules by kind and note which kinds look at targets; the
 * parser and the built-in policy call it once the rules are final. */
MID_WUR enum mid_rc mid_policy_index(struct mid_policy *pol);

#endif
