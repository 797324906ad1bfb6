/* SPDX-License-Identifier: MIT */
/*
 * Keeping children gated (exec.c): the environment every exec path hands
 * down, and the gate of an exec. Owns the settings captured at start;
 * calls base, execfile, side, record and the gate.
 */
#ifndef MID_SHIM_EXEC_H
#define MID_SHIM_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "mid.h"

/* Capture LD_PRELOAD and MIDSHIM_* at start (the library's own path is
 * added to LD_PRELOAD when it is not named there). */
void mid_exec_init(void);

/* The value of the MIDSHIM_* setting 'name' as captured at start, or
 * NULL: what this process started with, whatever it did to environ since. */
const char *mid_exec_setting(const char *name);

/* Room for a child's environment on the caller's stack (4 KiB). */
struct mid_envbuf {
	void *space[512];
};

/*
 * Build the environment for a child: 'envp' without any LD_PRELOAD,
 * MIDSHIM_* or LD_AUDIT entries, plus the ones captured at start and the
 * inherited allow. The
 * result lives in 'buf' when it fits (buf may be NULL), else in one
 * mmap'd block (no malloc: safe in a vfork child); release it with
 * mid_exec_env_free() if the exec returns.
 */
MID_WUR char **mid_exec_env(char *const envp[], struct mid_envbuf *buf);
void mid_exec_env_free(char **env);

/* Make this process's environ hold exactly the captured settings (for
 * system and popen, which pass environ to the child themselves): every
 * other MIDSHIM_* and LD_AUDIT removed, the captured ones set again. */
void mid_exec_fix_environ(void);

/* Gate an exec of 'path' with 'argv'; handles unfollowable binaries. */
int mid_exec_gate(const char *path, char *const argv[]);

#endif
