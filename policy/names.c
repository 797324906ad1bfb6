/* SPDX-License-Identifier: MIT */
/*
 * The names of kinds, ops, fd kinds and actions as policies, logs and
 * audit lines spell them, in one table each so the two directions of the
 * mapping cannot drift apart.
 */
#include "pol_model.h"

#include <string.h>

const char *const mid_kind_names[MID_EV_KIND_COUNT] = {
	[MID_EV_EXEC] = "exec",
	[MID_EV_CONNECT] = "connect",
	[MID_EV_SEND] = "send",
	[MID_EV_WRITE] = "write",
	[MID_EV_FS] = "fs",
	[MID_EV_SIGNAL] = "signal",
	[MID_EV_TTY_INJECT] = "tty-inject",
};

const char *const mid_fsop_names[MID_FS_OP_COUNT] = {
	[MID_FS_NONE] = "none",
	[MID_FS_OPEN] = "open",
	[MID_FS_CREATE] = "create",
	[MID_FS_TRUNCATE] = "truncate",
	[MID_FS_DELETE] = "delete",
	[MID_FS_RENAME] = "rename",
	[MID_FS_LINK] = "link",
	[MID_FS_MKDIR] = "mkdir",
	[MID_FS_MKNOD] = "mknod",
	[MID_FS_CHMOD] = "chmod",
	[MID_FS_CHOWN] = "chown",
	[MID_FS_UTIME] = "utime",
	[MID_FS_XATTR] = "xattr",
};

const char *const mid_fdkind_names[MID_FD_KIND_COUNT] = {
	[MID_FD_UNKNOWN] = "unknown",
	[MID_FD_FILE] = "file",
	[MID_FD_DIR] = "dir",
	[MID_FD_TTY] = "tty",
	[MID_FD_PIPE] = "pipe",
	[MID_FD_CHR] = "chr",
	[MID_FD_BLK] = "blk",
	[MID_FD_SOCKET] = "socket",
	[MID_FD_OTHER] = "other",
};

const char *const mid_action_names[MID_ACT_COUNT] = {
	[MID_ACT_ALLOW] = "allow",
	[MID_ACT_DENY] = "deny",
	[MID_ACT_VALIDATE] = "validate",
};

static const char *name(const char *const *t, size_t n, unsigned i)
{
	return i < n ? t[i] : "?";
}

enum mid_rc mid_name_lookup(const char *const *t, size_t n, size_t first, const char *s,
			    unsigned *out)
{
	size_t i;

	for(i = first; s && i < n; i++) {
		if(!strcmp(s, t[i])) {
			*out = (unsigned)i;
			return MID_OK;
		}
	}
	return MID_ERR_INVAL;
}

const char *mid_kind_name(enum mid_kind k)
{
	return name(mid_kind_names, MID_ARRAY_LEN(mid_kind_names), (unsigned)k);
}

const char *mid_fsop_name(enum mid_fsop op)
{
	return name(mid_fsop_names, MID_ARRAY_LEN(mid_fsop_names), (unsigned)op);
}

const char *mid_fdkind_name(enum mid_fdkind k)
{
	return name(mid_fdkind_names, MID_ARRAY_LEN(mid_fdkind_names), (unsigned)k);
}

const char *mid_action_name(enum mid_action a)
{
	return name(mid_action_names, MID_ARRAY_LEN(mid_action_names), (unsigned)a);
}

/* FROM_NAME: defines 'fn', which sets '*out' to the value of 'type' whose
 * name in 'table' (from index 'first' on) is 's'. */
#define FROM_NAME(fn, type, table, first)                                    \
	enum mid_rc fn(const char *s, type *out)                              \
	{                                                                     \
		unsigned i;                                                   \
		enum mid_rc rc = mid_name_lookup(table, MID_ARRAY_LEN(table), first, s, &i); \
		                                                              \
		if(!rc)                                                       \
			*out = (type)i;                                       \
		return rc;                                                    \
	}

FROM_NAME(mid_kind_from_name, enum mid_kind, mid_kind_names, 0)
FROM_NAME(mid_action_from_name, enum mid_action, mid_action_names, 0)
FROM_NAME(mid_fsop_from_name, enum mid_fsop, mid_fsop_names, 1)
FROM_NAME(mid_fdkind_from_name, enum mid_fdkind, mid_fdkind_names, 0)

enum mid_rc mid_on_deny_parse(const char *s, enum mid_on_deny *out, int *exit_code)
{
	if(!s)
		return MID_ERR_INVAL;
	if(!strcmp(s, "kill")) {
		*out = MID_DENY_KILL;
	} else if(!strcmp(s, "abort")) {
		*out = MID_DENY_ABORT;
	} else if(!strcmp(s, "errno")) {
		*out = MID_DENY_ERRNO;
	} else if(MID_HAS_PREFIX(s, "exit:")) {
		const char *d = s + strlen("exit:");
		int n = 0, i;

		/* 1 to 3 digits, 0..255: "exit:", "exit:+1", "exit:1x" are typos */
		for(i = 0; d[i] >= '0' && d[i] <= '9' && i < 4; i++)
			n = n * 10 + (d[i] - '0');
		if(i == 0 || i > 3 || d[i] || n > 255)
			return MID_ERR_INVAL;
		*out = MID_DENY_EXIT;
		if(exit_code)
			*exit_code = n;
	} else {
		return MID_ERR_INVAL;
	}
	return MID_OK;
}
