/* SPDX-License-Identifier: MIT */
/*
 * Paths of file-system events (fspath.c): absolute and lexically normal,
 * in the caller's buffer, without asking the file system what they are.
 * Owns nothing; calls libc only, so the launcher's supervisor makes the
 * same paths the preload makes.
 */
#ifndef MID_SHIM_FSPATH_H
#define MID_SHIM_FSPATH_H

#include <stddef.h>

#include "mid.h"
#include "policy.h"

/*
 * Join 'path' to the absolute 'base' (when 'path' is relative) and remove
 * '.', '..' and repeated '/' by text alone: no symlink is followed and
 * the file need not exist. '..' stops at the root. Writes "/" for the
 * root. MID_ERR_TOO_BIG when the result does not fit 'outlen',
 * MID_ERR_INVAL when a relative path meets a base that is not absolute.
 */
MID_WUR enum mid_rc mid_path_join(const char *base, const char *path, char *out,
				  size_t outlen);

/*
 * The absolute, normal form of 'path' as seen from 'dirfd' (AT_FDCWD: the
 * working directory; else the directory open as 'dirfd', found through
 * /proc/self/fd). A NULL or empty 'path' names 'dirfd' itself. Keeps
 * errno on success; on failure errno says why (ENAMETOOLONG, EBADF,
 * ENOTDIR, or getcwd's reason) and 'out' is "".
 */
MID_WUR enum mid_rc mid_path_abs(int dirfd, const char *path, char *out, size_t outlen);

/* The path open as 'fd', from /proc/self/fd, or the link's own name
 * when it cannot be read. Keeps errno. */
void mid_path_fd(int fd, char *out, size_t outlen);

/* What an open with write intent does to 'path' seen from 'dirfd': create
 * it (O_CREAT and it does not exist yet, one faccessat finds out unless
 * O_EXCL settles it; O_TMPFILE), truncate it, or open it for writing.
 * Keeps errno. */
enum mid_fsop mid_open_op(int dirfd, const char *path, int flags);

#endif
