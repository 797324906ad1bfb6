/* SPDX-License-Identifier: MIT */
/*
 * The system calls syscall() may make without the gate (syscalls.c).
 * Owns the list; calls nothing.
 */
#ifndef MID_SHIM_SYSCALLS_H
#define MID_SHIM_SYSCALLS_H

#include <stdbool.h>

/* May syscall() make call 'nr' without the gate? */
bool mid_syscall_harmless(long nr);

#endif
