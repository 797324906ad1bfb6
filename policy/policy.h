/* SPDX-License-Identifier: MIT */
/*
 * The policy model: a JSON document (see midshim-policy(5) and doc/design.md)
 * loaded once, checked strictly, then matched against events without
 * allocating. Pure code: no network, no hooks, no global state.
 */
#ifndef MID_POLICY_H
#define MID_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mid.h"

/* What a hooked call is about to do. */
enum mid_kind {
	MID_EV_EXEC = 0,
	MID_EV_CONNECT,
	MID_EV_SEND,
	MID_EV_WRITE,
	MID_EV_FS,
	MID_EV_SIGNAL,     /* a signal to another process */
	MID_EV_TTY_INJECT, /* input pushed into a terminal (TIOCSTI, TIOCLINUX) */
	MID_EV_KIND_COUNT,
	/* The shim's own questions to the control plane, no side effect a
	 * rule can name (the policy never sees them): a process's start,
	 * and a fork while the cached allow is stale. */
	MID_EV_START = MID_EV_KIND_COUNT,
	MID_EV_FORK,
};

/* The file-system operation of an MID_EV_FS event. */
enum mid_fsop {
	MID_FS_NONE = 0,
	MID_FS_OPEN,     /* open an existing file with write intent */
	MID_FS_CREATE,   /* create a file (O_CREAT, creat, mkstemp, mkfifo) */
	MID_FS_TRUNCATE, /* truncate, ftruncate, fallocate, O_TRUNC */
	MID_FS_DELETE,   /* unlink, unlinkat, remove, rmdir */
	MID_FS_RENAME,   /* rename, renameat, renameat2 */
	MID_FS_LINK,     /* link, linkat, symlink, symlinkat */
	MID_FS_MKDIR,    /* mkdir, mkdirat */
	MID_FS_MKNOD,    /* mknod, mknodat */
	MID_FS_CHMOD,    /* chmod, fchmod, fchmodat */
	MID_FS_CHOWN,    /* chown, fchown, lchown, fchownat */
	MID_FS_UTIME,    /* utime, utimes, utimensat, futimens */
	MID_FS_XATTR,    /* *setxattr, *removexattr */
	MID_FS_OP_COUNT
};

/* What the file descriptor of a write or send refers to. */
enum mid_fdkind {
	MID_FD_UNKNOWN = 0,
	MID_FD_FILE,   /* regular file */
	MID_FD_DIR,
	MID_FD_TTY,
	MID_FD_PIPE,   /* pipe or FIFO */
	MID_FD_CHR,    /* character device other than a tty (/dev/null) */
	MID_FD_BLK,
	MID_FD_SOCKET,
	MID_FD_OTHER,  /* eventfd, memfd, anon inode, ... */
	MID_FD_KIND_COUNT
};

enum mid_action {
	MID_ACT_ALLOW = 0,
	MID_ACT_DENY,
	MID_ACT_VALIDATE,
	MID_ACT_COUNT
};

enum mid_on_deny {
	MID_DENY_KILL = 0, /* SIGKILL the whole process (default) */
	MID_DENY_ABORT,    /* SIGABRT, leaves a core */
	MID_DENY_EXIT,     /* _exit(exit_code) */
	MID_DENY_ERRNO     /* the call fails with EPERM */
};

enum mid_mode {
	MID_MODE_ENFORCE = 0,
	MID_MODE_AUDIT
};

enum mid_unfollowable {
	MID_UNFOLLOW_WARN = 0,
	MID_UNFOLLOW_DENY
};

/*
 * One event, as a hook describes it. Every pointer is borrowed from the
 * hook for the duration of the match; unused fields are zero/NULL.
 *  exec:    path (resolved program), argv
 *  connect: family + addr + port (AF_INET/AF_INET6; IPv4-mapped IPv6 is
 *           given as AF_INET), host (a name it was resolved from, or
 *           NULL), or family AF_UNIX + path
 *  send:    as connect, for the peer; fdkind MID_FD_SOCKET
 *  write:   path (may be NULL when unknown), fdkind
 *  fs:      op, path, path2 (rename/link target)
 *  signal:  pid as kill(2) takes it (> 0 one process, 0 this process's
 *           group, -1 every process it may signal, < -1 the group -pid),
 *           sig, path (the target's program from /proc/PID/exe; NULL for
 *           a group, or when it cannot be read)
 *  tty-inject: path (the terminal), fdkind MID_FD_TTY
 */
struct mid_event {
	enum mid_kind kind;
	enum mid_fsop op;
	enum mid_fdkind fdkind;
	const char *path;
	const char *path2;
	char *const *argv;
	int family;          /* AF_INET, AF_INET6, AF_UNIX, or 0 */
	uint8_t addr[16];    /* network byte order; 4 bytes used for AF_INET */
	uint16_t port;       /* host byte order */
	const char *host;
	int pid;             /* signal: the target */
	int sig;             /* signal: its number */
};

/* Settings a policy file may carry; 'set' bits say which it named. */
enum {
	MID_SET_DEVICE = 1 << 0,       /* "device" */
	MID_SET_TTL = 1 << 1,          /* "ttl_ms" */
	MID_SET_ON_DENY = 1 << 2,      /* "on_deny" */
	MID_SET_MODE = 1 << 3,         /* "mode" */
	MID_SET_UNFOLLOWABLE = 1 << 4, /* "unfollowable" */
	MID_SET_URL = 1 << 5,          /* "url" */
	MID_SET_TIMEOUT = 1 << 6       /* "timeout_ms" */
};


struct mid_policy_settings {
	unsigned set;          /* MID_SET_* bits */
	char device[MID_DEVICE_MAX + 1];
	char url[MID_URL_MAX];
	long ttl_ms;
	long timeout_ms;
	enum mid_on_deny on_deny;
	int exit_code;         /* for MID_DENY_EXIT */
	enum mid_mode mode;
	enum mid_unfollowable unfollowable;
};

struct mid_policy; /* opaque */

/*
 * Parse and check a policy from 'text' ('len' bytes). 'name' is used in
 * messages (a file name). On error, 'err' holds one line such as
 * "policy.json:12: rule 3: unknown field \"pth\" (expected one of: ...)".
 * On success the caller owns '*out' and frees it with mid_policy_free().
 */
MID_WUR enum mid_rc mid_policy_parse(const char *text, size_t len,
				     const char *name, struct mid_policy **out,
				     char *err, size_t errlen);

/* Read 'file' (at most 1 MiB) and parse it as mid_policy_parse() does. */
MID_WUR enum mid_rc mid_policy_load(const char *file, struct mid_policy **out,
				    char *err, size_t errlen);

/* The built-in policy used without a policy file: validate every event,
 * except writes and sends to ttys, pipes and character devices. */
MID_WUR enum mid_rc mid_policy_builtin(struct mid_policy **out);

/* Accepts NULL. */
void mid_policy_free(struct mid_policy *pol);

/* The settings the policy named. Owned by 'pol'. */
const struct mid_policy_settings *mid_policy_settings(const struct mid_policy *pol);

/*
 * Decide 'ev': the first matching rule's action, else the default for
 * the event's kind. '*rule' receives the 0-based index of the deciding
 * rule, or -1 when a default decided. Allocates nothing, takes no lock.
 */
enum mid_action mid_policy_match(const struct mid_policy *pol,
				 const struct mid_event *ev, int *rule);

/* True when some rule for kind 'k' looks at an event's target (path,
 * path2, argv, addr, port, host); when false, a decision for 'k' depends
 * only on the fd kind and op, and a hook may skip finding the target. */
bool mid_policy_needs_target(const struct mid_policy *pol, enum mid_kind k);

/* True when no rule names kind 'k': every event of that kind, whatever
 * its target and op, gets the kind's default, put into '*act'. */
bool mid_policy_uniform(const struct mid_policy *pol, enum mid_kind k, enum mid_action *act);

/* Number of rules, and a one-line description of rule 'i' for
 * `midshim explain` (e.g. "rule 3 (line 14): write path /srv/out/x -> allow"). */
size_t mid_policy_rule_count(const struct mid_policy *pol);
void mid_policy_rule_describe(const struct mid_policy *pol, size_t i,
			      char *buf, size_t buflen);

/* Names used in policies, logs and audit lines. */
const char *mid_kind_name(enum mid_kind k);
const char *mid_fsop_name(enum mid_fsop op);
const char *mid_fdkind_name(enum mid_fdkind k);
const char *mid_action_name(enum mid_action a);

/* Policy spellings back to enums (the one table of each is in names.c);
 * MID_ERR_INVAL for an unknown name. The op "none" is no name. */
MID_WUR enum mid_rc mid_kind_from_name(const char *s, enum mid_kind *out);
MID_WUR enum mid_rc mid_action_from_name(const char *s, enum mid_action *out);
MID_WUR enum mid_rc mid_fsop_from_name(const char *s, enum mid_fsop *out);
MID_WUR enum mid_rc mid_fdkind_from_name(const char *s, enum mid_fdkind *out);

/* Parse "kill", "abort", "exit:N" (0..255), "errno". Returns MID_ERR_INVAL
 * on anything else. */
MID_WUR enum mid_rc mid_on_deny_parse(const char *s, enum mid_on_deny *out,
				      int *exit_code);

/*
 * Glob matching used by rules. In paths '*' and '?' do not cross '/',
 * '**' crosses any number of directories, "[abc]"/"[a-z]"/"[!x]" are
 * classes. In host names and argv globs '*' matches any run of
 * characters. Both return true on a match.
 */
bool mid_glob_path(const char *pattern, const char *s);
bool mid_glob_text(const char *pattern, const char *s);

#endif
