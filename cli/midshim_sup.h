/* SPDX-License-Identifier: MIT */
/*
 * `midshim run --supervise` (midshim_sup.c): the launcher's seccomp
 * supervisor. The child installs the filter of midshim_filter.c with a
 * listener and hands the listener to the launcher (pidfd_getfd) before
 * it execs the program; the launcher then decides every call the filter
 * sends with the preload's gate, policy and cache.
 */
#ifndef MID_MIDSHIM_SUP_H
#define MID_MIDSHIM_SUP_H

#include <sys/types.h>

#include "config.h"

struct mid_sup;

/* What mid_sup_handle asks of the tree keeper. */
enum mid_sup_verdict {
	MID_SUP_GO_ON = 0,
	MID_SUP_KILL, /* a denial in kill, abort or exit:N mode: kill the whole tree */
	MID_SUP_IDLE, /* nothing received (errno says why) */
};

/* A supervisor deciding with 'cfg' (kept; it must outlive the
 * supervisor). 'both': the program also has the preload, whose own
 * connection to the control plane and audit log pass unasked. Makes the
 * pipes the child hands its listener over; -1 with 'err' on failure. */
int mid_sup_new(struct mid_sup **out, struct mid_config *cfg, int both, char *err,
		size_t errlen);

/* In the forked child, before exec: no new privileges, the filter, the
 * listener handed over. -1 (a line on stderr said why) on failure. */
int mid_sup_child(struct mid_sup *s);

/* In the launcher after the fork: take the child's listener and start
 * the thread that receives and answers its notifications. -1 with a line
 * on stderr on failure (the child then exits by itself). */
int mid_sup_attach(struct mid_sup *s, pid_t child);

/* The listener, to poll for its hang-up only (events 0): the thread
 * receives its notifications; -1 once no process of the tree is left
 * under it. */
int mid_sup_fd(const struct mid_sup *s);

/* Readable when a denial in kill mode asks for the whole tree's kill
 * (the thread then answers nothing more). */
int mid_sup_verdict_fd(const struct mid_sup *s);

/* Receive and answer one notification (the thread's loop). */
enum mid_sup_verdict mid_sup_handle(struct mid_sup *s);

/* The listener hung up: every process under the filter is gone. Stops
 * the thread. */
void mid_sup_done(struct mid_sup *s);

/* The exit status the launcher ends with after a MID_SUP_KILL: N for
 * exit:N, else -1 (the program's own, 137). */
int mid_sup_exit_status(const struct mid_sup *s);

/* Does the launcher hold a push channel (MIDSHIM_PUSH not off)? */
int mid_sup_push(const struct mid_sup *s);

void mid_sup_free(struct mid_sup *s);

/* Does 'path' need supervising to be gated: a Go program (its runtime
 * makes its system calls itself) or a statically linked one, or a setuid
 * or setgid one when mid_sup_privileged_ok? Sets '*why'. */
int mid_sup_needed(const char *path, const char **why);

/* May this launcher supervise a setuid or setgid program (it holds
 * CAP_SYS_ADMIN and CAP_SYS_PTRACE)? */
int mid_sup_privileged_ok(void);

#endif
