/* SPDX-License-Identifier: MIT */
/*
 * Private to the hook files: how a hook finds the real libc function and
 * makes sure the shim is set up before it decides anything.
 */
#ifndef MID_HOOKS_H
#define MID_HOOKS_H

#include <dlfcn.h>
#include <errno.h>

#include "shim.h"

/* Set once the constructor finished. */
extern int mid_shim_ready;

/* Run the constructor now if a hook fires before it (another preloaded
 * library's constructor, say). Returns 1. */
int mid_shim_init_now(void);

/* dlsym(RTLD_NEXT, name), or a clear message and exit 127 when libc has
 * no such function (the symbol test keeps that from happening). */
void *mid_real(const char *name);

/* Close the shim's own connection when the program closes, dup2s over or
 * close_ranges its descriptor; true when 'fd' was the shim's. */
int mid_shim_release_fd(int fd);
void mid_shim_release_range(unsigned lo, unsigned hi);

/* Resolve the real exec functions and bind the calls the exec gate makes
 * (once, before the first fork: see hook_init.c). */
void mid_hook_exec_warm(void);

/* Gate an open of 'path' (seen from 'dirfd') with open flags 'flags', as
 * the open hooks do; for openat2, which has no libc wrapper. 0: go on;
 * -1: fail the call, errno set. */
int mid_fs_gate_open(int dirfd, const char *path, int flags);

#define READY() (__builtin_expect(mid_shim_ready, 1) || mid_shim_init_now())

/* Declare and fetch the real 'fn' with the hook's own prototype. */
#define REAL_DECL(fn) MID_HOT static __typeof__(fn) *real_##fn
#define REAL(fn) \
	(real_##fn ? real_##fn : (*(void **)&real_##fn = mid_real(#fn), real_##fn))

/* Gate an event; on a denial in errno mode, fail the call with 'ret'. */
#define GATE_OR_FAIL(evp, ret) \
	do { \
		int e_ = errno; \
		if(!mid_in_shim && READY() && mid_gate_check(evp)) { \
			errno = EPERM; \
			return ret; \
		} \
		errno = e_; \
	} while(0)

/* The same for a write or send on 'fd'. A fresh descriptor (see
 * mid_gate_fd_fresh) goes straight through: this is the hot path. */
#define GATE_FD_OR_FAIL(fd, ret) \
	do { \
		if(__builtin_expect(mid_gate_fd_fresh(fd), 1)) \
			break; \
		int e_ = errno; \
		if(!mid_in_shim && READY() && mid_gate_fd(fd)) { \
			errno = EPERM; \
			return ret; \
		} \
		errno = e_; \
	} while(0)

#endif
