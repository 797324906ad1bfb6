/* SPDX-License-Identifier: MIT */
/*
 * What each file descriptor is, one byte per descriptor (fdtab.c): its
 * kind, and what the gate decided for a write on that kind. Owns
 * mid_fd_table; calls base and net (a socket's peer for an event).
 */
#ifndef MID_SHIM_FDTAB_H
#define MID_SHIM_FDTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

#define MID_FD_TABLE 4096

/* What a write or send on a descriptor needs, when the policy decides it
 * by the descriptor's kind alone: nothing, or a fresh cached allow. */
enum mid_fast {
	MID_FAST_NONE = 0, /* ask the gate */
	MID_FAST_ALLOW,    /* the policy allows it */
	MID_FAST_FRESH,    /* allowed while the cached allow is fresh */
};

/* Per descriptor below MID_FD_TABLE: bits 0-3 its kind + 1 (0: not known
 * yet), bits 4-5 its enum mid_fast. */
extern _Atomic unsigned char mid_fd_table[MID_FD_TABLE];

/* The gate's verdict per kind, stored with each kind learnt from now on. */
void mid_fd_setup(const enum mid_fast fast[MID_FD_KIND_COUNT]);

/* Kind of 'fd', from the table or one fstat on a miss. */
enum mid_fdkind mid_fd_kind(int fd);
/* Forget what is known of 'fd' (close, dup2 target, new fd). */
void mid_fd_forget(int fd);
void mid_fd_forget_range(unsigned lo, unsigned hi);

/* Fill 'ev' for a write or send on 'fd' of kind 'k'. With 'target', also
 * the file path (into 'buf') or the socket's peer: one system call, made
 * only when the policy looks at targets or a denial is logged. */
void mid_fd_event(int fd, enum mid_fdkind k, struct mid_event *ev,
		  char *buf, size_t buflen, bool target);

#endif
