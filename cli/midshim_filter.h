/* SPDX-License-Identifier: MIT */
/*
 * The seccomp filter of `midshim run --supervise` (midshim_filter.c): a
 * classic BPF program, built by hand, that hands the system calls the gate
 * decides to the launcher (SECCOMP_RET_USER_NOTIF), fails io_uring_setup
 * and openat2 with ENOSYS, kills a process that calls through another
 * architecture or the x32 ABI, and lets everything else through inside
 * the kernel. Opens are sent only with write intent, signals only when
 * they are not signal 0, ioctl only for TIOCSTI and TIOCLINUX, each
 * tested in the filter.
 */
#ifndef MID_MIDSHIM_FILTER_H
#define MID_MIDSHIM_FILTER_H

#include <fcntl.h>
#include <linux/filter.h>
#include <stddef.h>

/* What the filter does with one call. */
enum mid_route {
	MID_ROUTE_ALLOW = 0, /* SECCOMP_RET_ALLOW */
	MID_ROUTE_NOTIFY,    /* SECCOMP_RET_USER_NOTIF: the supervisor decides */
	MID_ROUTE_ENOSYS,    /* SECCOMP_RET_ERRNO | ENOSYS */
	MID_ROUTE_KILL,      /* SECCOMP_RET_KILL_PROCESS */
};

/* When a listed call is sent to the supervisor. */
enum mid_when {
	MID_WHEN_ALWAYS = 0,
	MID_WHEN_WRITE_INTENT, /* open flags in argument 'arg' have write intent */
	MID_WHEN_ARG_SET,      /* argument 'arg' (a pointer) is not NULL */
	MID_WHEN_SIGNAL,       /* argument 'arg' (a signal, an int) is not 0 */
	MID_WHEN_TG_SIGNAL,    /* the same, and argument 0 (a tgid, an int) is > 0 */
	MID_WHEN_TTY_INJECT,   /* argument 'arg' (32 bits) is TIOCSTI or TIOCLINUX */
};

/* Open flags with write intent, as the preload reads them; with O_PATH
 * the kernel ignores them all. */
#define MID_FILTER_WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

struct mid_filter_call {
	const char *name;
	int nr;
	enum mid_route route;
	enum mid_when when;
	int arg;
};

/* Every call the filter names, in the order it tests them. */
extern const struct mid_filter_call mid_filter_calls[];
extern const size_t mid_filter_ncalls;

/* Room for the whole program (mid_filter_build checks it fits). */
#define MID_FILTER_MAX 256

/* The filter's architecture (AUDIT_ARCH_*), the one it lets through. */
unsigned mid_filter_arch(void);

/* Write the program into 'prog' (room for 'cap' instructions); returns
 * its length, or -1 when it does not fit or a jump is too far. */
int mid_filter_build(struct sock_filter *prog, size_t cap);

/* The listed call named 'nr', or NULL. */
const struct mid_filter_call *mid_filter_call(int nr);

#endif
