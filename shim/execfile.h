/* SPDX-License-Identifier: MIT */
/*
 * The file an exec runs (execfile.c): a PATH search, and whether the
 * shim can follow the program. Owns nothing; calls base (the guard) and
 * libc only, so the launcher links it without the gate.
 */
#ifndef MID_SHIM_EXECFILE_H
#define MID_SHIM_EXECFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Resolve 'file' the way execvp does (PATH search when it has no '/').
 * Returns false when not found. */
bool mid_exec_resolve(const char *file, const char *path_env, char *out, size_t outlen);

/* Can the shim follow an exec of 'path'? Sets '*why' to a reason when not
 * ("statically linked", "setuid"). Reads the ELF header. */
bool mid_exec_followable(const char *path, const char **why);

/* In a fork child: the verdicts kept for the files exec'd are dropped
 * when the fork caught another thread writing one. */
void mid_exec_seen_atfork_child(void);

#endif
