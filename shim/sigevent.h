/* SPDX-License-Identifier: MIT */
/*
 * Signals as events (sigevent.c): whether a signal touches another
 * process, and which, asked by the preload of its own process or by the
 * launcher's supervisor of one it supervises. Owns nothing; calls libc
 * and /proc only.
 */
#ifndef MID_SHIM_SIGEVENT_H
#define MID_SHIM_SIGEVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy.h"

/* A target the shim cannot name (a pidfd whose process it cannot read). */
#define MID_SIGNAL_UNKNOWN (-2147483647 - 1)

/* Describe signal 'sig' to 'pid' (as kill(2) takes it) as a signal event
 * in 'ev', the target's program read into 'buf'. */
void mid_signal_describe(int pid, int sig, struct mid_event *ev, char *buf, size_t buflen);

/*
 * mid_signal_describe for a signal this process sends. False when it is
 * no side effect: signal 0, or a signal to this process itself.
 */
bool mid_signal_event(int pid, int sig, struct mid_event *ev, char *buf, size_t buflen);

/* Is 'tid' a thread of process 'proc' (any of its thread IDs; 0: this
 * process)? */
bool mid_signal_thread_of(int proc, int tid);

/* Is 'tid' a thread of this process (tkill's target)? */
bool mid_signal_own_thread(int tid);

/* The process a pidfd of process 'proc' (0: this one) stands for, from
 * /proc/PROC/fdinfo: -1 when it has exited, MID_SIGNAL_UNKNOWN when it
 * cannot be read. */
int mid_signal_pidfd_pid(int proc, int pidfd);

#endif
