/* SPDX-License-Identifier: MIT */
/*
 * File-system hooks: opens with write intent, the stdio opens, temporary
 * files, and every call that creates, truncates, removes, renames, links
 * or changes the metadata of a file. Each becomes an fs event with an
 * absolute, normal path. glibc's fopen, tmpfile, mkstemp and remove reach
 * the kernel through internal calls that never pass these hooks, so each
 * is hooked by its own name. A read-only open is not gated at all.
 */
#undef _FORTIFY_SOURCE /* the fortified inline open would clash with ours */
#define _GNU_SOURCE
#include "hooks.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

/* Entry points the headers declare only for fortified or old builds. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);

REAL_DECL(open);
REAL_DECL(open64);
REAL_DECL(openat);
REAL_DECL(openat64);
REAL_DECL(__open_2);
REAL_DECL(__open64_2);
REAL_DECL(__openat_2);
REAL_DECL(__openat64_2);
REAL_DECL(creat);
REAL_DECL(creat64);
REAL_DECL(fopen);
REAL_DECL(fopen64);
REAL_DECL(freopen);
REAL_DECL(freopen64);
REAL_DECL(fdopen);
REAL_DECL(fclose);
REAL_DECL(tmpfile);
REAL_DECL(tmpfile64);
REAL_DECL(mkstemp);
REAL_DECL(mkstemp64);
REAL_DECL(mkostemp);
REAL_DECL(mkostemp64);
REAL_DECL(mkstemps);
REAL_DECL(mkstemps64);
REAL_DECL(mkostemps);
REAL_DECL(mkostemps64);
REAL_DECL(mkdtemp);
REAL_DECL(truncate);
REAL_DECL(truncate64);
REAL_DECL(ftruncate);
REAL_DECL(ftruncate64);
REAL_DECL(fallocate);
REAL_DECL(fallocate64);
REAL_DECL(posix_fallocate);
REAL_DECL(posix_fallocate64);
REAL_DECL(unlink);
REAL_DECL(unlinkat);
REAL_DECL(remove);
REAL_DECL(rmdir);
REAL_DECL(rename);
REAL_DECL(renameat);
REAL_DECL(renameat2);
REAL_DECL(link);
REAL_DECL(linkat);
REAL_DECL(symlink);
REAL_DECL(symlinkat);
REAL_DECL(mkdir);
REAL_DECL(mkdirat);
REAL_DECL(mknod);
REAL_DECL(mknodat);
REAL_DECL(__xmknod);
REAL_DECL(__xmknodat);
REAL_DECL(mkfifo);
REAL_DECL(mkfifoat);
REAL_DECL(chmod);
REAL_DECL(fchmod);
REAL_DECL(fchmodat);
REAL_DECL(lchmod);
REAL_DECL(chown);
REAL_DECL(fchown);
REAL_DECL(lchown);
REAL_DECL(fchownat);
REAL_DECL(utime);
REAL_DECL(utimes);
REAL_DECL(lutimes);
REAL_DECL(futimes);
REAL_DECL(futimesat);
REAL_DECL(utimensat);
REAL_DECL(futimens);
REAL_DECL(setxattr);
REAL_DECL(lsetxattr);
REAL_DECL(fsetxattr);
REAL_DECL(removexattr);
REAL_DECL(lremovexattr);
REAL_DECL(fremovexattr);

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* Ask the gate about 'ev'. 0: go on, errno back to 'e'; -1: the call
 * fails with EPERM. */
static int check(struct mid_event *ev, int e)
{
	ev->kind = MID_EV_FS;
	if(mid_gate_check(ev)) {
		errno = EPERM;
		return -1;
	}
	errno = e;
	return 0;
}

/*
 * Gate 'op' on 'path' seen from 'dirfd'. A path the shim cannot place
 * (a bad dirfd, longer than PATH_MAX with the working directory) fails
 * the call with the reason: gating it as written would let a relative
 * path slip past a rule on an absolute one.
 */
static int gate_path(enum mid_fsop op, int dirfd, const char *path)
{
	char abs[PATH_MAX];
	struct mid_event ev;
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	if(mid_path_abs(dirfd, path, abs, sizeof(abs)))
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.op = op;
	ev.path = abs;
	return check(&ev, e);
}

/* A rename or link: 'path' is the existing name, 'path2' the new one. */
static int gate_pair(enum mid_fsop op, int dirfd, const char *path, int dirfd2, const char *path2)
{
	char abs[PATH_MAX], abs2[PATH_MAX];
	struct mid_event ev;
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	if(mid_path_abs(dirfd, path, abs, sizeof(abs)) ||
	   mid_path_abs(dirfd2, path2, abs2, sizeof(abs2)))
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.op = op;
	ev.path = abs;
	ev.path2 = abs2;
	return check(&ev, e);
}

/* A symlink's target is text the kernel stores, not a path it resolves
 * now: it goes into the event as written; 'path2' is the new link. */
static int gate_symlink(const char *target, int dirfd, const char *linkpath)
{
	char abs2[PATH_MAX];
	struct mid_event ev;
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	if(mid_path_abs(dirfd, linkpath, abs2, sizeof(abs2)))
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.op = MID_FS_LINK;
	ev.path = target;
	ev.path2 = abs2;
	return check(&ev, e);
}

/* 'op' on the file open as 'fd' (ftruncate, fchmod, fdopen...). */
static int gate_fd_op(enum mid_fsop op, int fd)
{
	char path[PATH_MAX];
	struct mid_event ev;
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.op = op;
	ev.fdkind = mid_fd_kind(fd);
	mid_path_fd(fd, path, sizeof(path));
	ev.path = path;
	return check(&ev, e);
}

/*
 * An open is gated only with write intent. Its op is what it will do to
 * the file: create it (O_CREAT and it does not exist yet; one faccessat
 * finds out, skipped when O_EXCL settles it), truncate it, or open it for
 * writing. O_TMPFILE creates an unnamed file in the directory 'path'.
 * With O_PATH the kernel ignores every other flag: nothing is written.
 */
int mid_fs_gate_open(int dirfd, const char *path, int flags)
{
	enum mid_fsop op = MID_FS_OPEN;
	int e;

	if(!(flags & WRITE_INTENT) || (flags & O_PATH) || !path || mid_in_shim)
		return 0;
	if((flags & O_TMPFILE) == O_TMPFILE) {
		op = MID_FS_CREATE;
	} else if(flags & O_CREAT) {
		e = errno;
		if((flags & O_EXCL) || faccessat(dirfd, path, F_OK, 0) != 0)
			op = MID_FS_CREATE;
		else if(flags & O_TRUNC)
			op = MID_FS_TRUNCATE;
		errno = e;
	} else if(flags & O_TRUNC) {
		op = MID_FS_TRUNCATE;
	}
	return gate_path(op, dirfd, path);
}

/* open's mode is there only with O_CREAT or O_TMPFILE; reading it
 * otherwise would read whatever the caller left in a register. */
static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

/* The open flags an fopen mode stands for, read the way glibc reads it:
 * 'r', 'w' or 'a', then '+' or 'x' among the next six characters. */
static int mode_flags(const char *mode)
{
	int flags, i;

	if(!mode)
		return 0;
	switch(mode[0]) {
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	default: flags = 0; break;
	}
	for(i = 1; i < 7 && mode[i] && mode[i] != ','; i++) {
		if(mode[i] == '+')
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		else if(mode[i] == 'x')
			flags |= O_EXCL;
	}
	return flags;
}

/* A new descriptor may reuse a number the fd-kind table remembers. */
static void forget_stream(FILE *f)
{
	int e = errno;

	if(f)
		mid_fd_forget(fileno_unlocked(f));
	errno = e;
}

/* ---- open -------------------------------------------------------------- */

MID_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if(needs_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if(mid_fs_gate_open(AT_FDCWD, path, flags))
		return -1;
	fd = REAL(open)(path, flags, mode);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if(needs_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if(mid_fs_gate_open(AT_FDCWD, path, flags))
		return -1;
	fd = REAL(open64)(path, flags, mode);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if(needs_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if(mid_fs_gate_open(dirfd, path, flags))
		return -1;
	fd = REAL(openat)(dirfd, path, flags, mode);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;
	int fd;

	if(needs_mode(flags)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if(mid_fs_gate_open(dirfd, path, flags))
		return -1;
	fd = REAL(openat64)(dirfd, path, flags, mode);
	mid_fd_forget(fd);
	return fd;
}

/* The fortified opens (-D_FORTIFY_SOURCE): called when the flags are not
 * known at compile time; they have no mode. */
MID_EXPORT int __open_2(const char *path, int flags)
{
	int fd;

	if(mid_fs_gate_open(AT_FDCWD, path, flags))
		return -1;
	fd = REAL(__open_2)(path, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int __open64_2(const char *path, int flags)
{
	int fd;

	if(mid_fs_gate_open(AT_FDCWD, path, flags))
		return -1;
	fd = REAL(__open64_2)(path, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd;

	if(mid_fs_gate_open(dirfd, path, flags))
		return -1;
	fd = REAL(__openat_2)(dirfd, path, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd;

	if(mid_fs_gate_open(dirfd, path, flags))
		return -1;
	fd = REAL(__openat64_2)(dirfd, path, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int creat(const char *path, mode_t mode)
{
	int fd;

	if(mid_fs_gate_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC))
		return -1;
	fd = REAL(creat)(path, mode);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int creat64(const char *path, mode_t mode)
{
	int fd;

	if(mid_fs_gate_open(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC))
		return -1;
	fd = REAL(creat64)(path, mode);
	mid_fd_forget(fd);
	return fd;
}

/* ---- stdio opens --------------------------------------------------------- */

/* glibc's fopen opens through an internal call, never through open. */
MID_EXPORT FILE *fopen(const char *path, const char *mode)
{
	FILE *f;

	if(mid_fs_gate_open(AT_FDCWD, path, mode_flags(mode)))
		return NULL;
	f = REAL(fopen)(path, mode);
	forget_stream(f);
	return f;
}

MID_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	FILE *f;

	if(mid_fs_gate_open(AT_FDCWD, path, mode_flags(mode)))
		return NULL;
	f = REAL(fopen64)(path, mode);
	forget_stream(f);
	return f;
}

/* freopen with no path reopens the stream's own file in a new mode. It
 * closes the old descriptor internally, so the table forgets it first. */
static int gate_reopen(const char *path, const char *mode, FILE *stream)
{
	int flags = mode_flags(mode);

	if(path)
		return mid_fs_gate_open(AT_FDCWD, path, flags);
	if(flags && stream)
		return gate_fd_op(MID_FS_OPEN, fileno_unlocked(stream));
	return 0;
}

MID_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream)
{
	FILE *f;

	if(gate_reopen(path, mode, stream))
		return NULL;
	forget_stream(stream);
	f = REAL(freopen)(path, mode, stream);
	forget_stream(f);
	return f;
}

MID_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream)
{
	FILE *f;

	if(gate_reopen(path, mode, stream))
		return NULL;
	forget_stream(stream);
	f = REAL(freopen64)(path, mode, stream);
	forget_stream(f);
	return f;
}

MID_EXPORT FILE *fdopen(int fd, const char *mode)
{
	if(mode_flags(mode) && gate_fd_op(MID_FS_OPEN, fd))
		return NULL;
	return REAL(fdopen)(fd, mode);
}

/* glibc's fclose closes the descriptor internally, never through the
 * close hook: the table must forget it here. */
MID_EXPORT int fclose(FILE *f)
{
	forget_stream(f);
	return REAL(fclose)(f);
}

/* ---- temporary files ----------------------------------------------------- */

/* tmpfile makes an unnamed file in P_tmpdir (glibc ignores TMPDIR). */
MID_EXPORT FILE *tmpfile(void)
{
	FILE *f;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, P_tmpdir))
		return NULL;
	f = REAL(tmpfile)();
	forget_stream(f);
	return f;
}

MID_EXPORT FILE *tmpfile64(void)
{
	FILE *f;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, P_tmpdir))
		return NULL;
	f = REAL(tmpfile64)();
	forget_stream(f);
	return f;
}

/* The mkstemp family is gated on the template as given ("/tmp/aXXXXXX"):
 * the name is only chosen inside the call. */
MID_EXPORT int mkstemp(char *tmpl)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkstemp)(tmpl);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkstemp64(char *tmpl)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkstemp64)(tmpl);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkostemp(char *tmpl, int flags)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkostemp)(tmpl, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkostemp64(char *tmpl, int flags)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkostemp64)(tmpl, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkstemps(char *tmpl, int suffixlen)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkstemps)(tmpl, suffixlen);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkstemps64(char *tmpl, int suffixlen)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkstemps64)(tmpl, suffixlen);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkostemps(char *tmpl, int suffixlen, int flags)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkostemps)(tmpl, suffixlen, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT int mkostemps64(char *tmpl, int suffixlen, int flags)
{
	int fd;

	if(gate_path(MID_FS_CREATE, AT_FDCWD, tmpl))
		return -1;
	fd = REAL(mkostemps64)(tmpl, suffixlen, flags);
	mid_fd_forget(fd);
	return fd;
}

MID_EXPORT char *mkdtemp(char *tmpl)
{
	if(gate_path(MID_FS_MKDIR, AT_FDCWD, tmpl))
		return NULL;
	return REAL(mkdtemp)(tmpl);
}

/* ---- truncate and allocate ----------------------------------------------- */

MID_EXPORT int truncate(const char *path, off_t len)
{
	if(gate_path(MID_FS_TRUNCATE, AT_FDCWD, path))
		return -1;
	return REAL(truncate)(path, len);
}

MID_EXPORT int truncate64(const char *path, off64_t len)
{
	if(gate_path(MID_FS_TRUNCATE, AT_FDCWD, path))
		return -1;
	return REAL(truncate64)(path, len);
}

MID_EXPORT int ftruncate(int fd, off_t len)
{
	if(gate_fd_op(MID_FS_TRUNCATE, fd))
		return -1;
	return REAL(ftruncate)(fd, len);
}

MID_EXPORT int ftruncate64(int fd, off64_t len)
{
	if(gate_fd_op(MID_FS_TRUNCATE, fd))
		return -1;
	return REAL(ftruncate64)(fd, len);
}

MID_EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	if(gate_fd_op(MID_FS_TRUNCATE, fd))
		return -1;
	return REAL(fallocate)(fd, mode, off, len);
}

MID_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	if(gate_fd_op(MID_FS_TRUNCATE, fd))
		return -1;
	return REAL(fallocate64)(fd, mode, off, len);
}

/* posix_fallocate returns the error number and leaves errno alone. */
MID_EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	int e = errno;

	if(gate_fd_op(MID_FS_TRUNCATE, fd)) {
		errno = e;
		return EPERM;
	}
	return REAL(posix_fallocate)(fd, off, len);
}

MID_EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	int e = errno;

	if(gate_fd_op(MID_FS_TRUNCATE, fd)) {
		errno = e;
		return EPERM;
	}
	return REAL(posix_fallocate64)(fd, off, len);
}

/* ---- delete, rename, link ------------------------------------------------ */

MID_EXPORT int unlink(const char *path)
{
	if(gate_path(MID_FS_DELETE, AT_FDCWD, path))
		return -1;
	return REAL(unlink)(path);
}

/* With AT_REMOVEDIR this is rmdir: still a delete. */
MID_EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	if(gate_path(MID_FS_DELETE, dirfd, path))
		return -1;
	return REAL(unlinkat)(dirfd, path, flags);
}

/* glibc's remove calls unlink and rmdir internally. */
MID_EXPORT int remove(const char *path)
{
	if(gate_path(MID_FS_DELETE, AT_FDCWD, path))
		return -1;
	return REAL(remove)(path);
}

MID_EXPORT int rmdir(const char *path)
{
	if(gate_path(MID_FS_DELETE, AT_FDCWD, path))
		return -1;
	return REAL(rmdir)(path);
}

MID_EXPORT int rename(const char *from, const char *to)
{
	if(gate_pair(MID_FS_RENAME, AT_FDCWD, from, AT_FDCWD, to))
		return -1;
	return REAL(rename)(from, to);
}

MID_EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	if(gate_pair(MID_FS_RENAME, fromfd, from, tofd, to))
		return -1;
	return REAL(renameat)(fromfd, from, tofd, to);
}

MID_EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to,
			 unsigned int flags)
{
	if(gate_pair(MID_FS_RENAME, fromfd, from, tofd, to))
		return -1;
	return REAL(renameat2)(fromfd, from, tofd, to, flags);
}

MID_EXPORT int link(const char *from, const char *to)
{
	if(gate_pair(MID_FS_LINK, AT_FDCWD, from, AT_FDCWD, to))
		return -1;
	return REAL(link)(from, to);
}

/* With AT_EMPTY_PATH an empty 'from' is 'fromfd' itself. */
MID_EXPORT int linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
	if(gate_pair(MID_FS_LINK, fromfd, from, tofd, to))
		return -1;
	return REAL(linkat)(fromfd, from, tofd, to, flags);
}

MID_EXPORT int symlink(const char *target, const char *linkpath)
{
	if(gate_symlink(target, AT_FDCWD, linkpath))
		return -1;
	return REAL(symlink)(target, linkpath);
}

MID_EXPORT int symlinkat(const char *target, int dirfd, const char *linkpath)
{
	if(gate_symlink(target, dirfd, linkpath))
		return -1;
	return REAL(symlinkat)(target, dirfd, linkpath);
}

/* ---- mkdir, mknod -------------------------------------------------------- */

MID_EXPORT int mkdir(const char *path, mode_t mode)
{
	if(gate_path(MID_FS_MKDIR, AT_FDCWD, path))
		return -1;
	return REAL(mkdir)(path, mode);
}

MID_EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	if(gate_path(MID_FS_MKDIR, dirfd, path))
		return -1;
	return REAL(mkdirat)(dirfd, path, mode);
}

MID_EXPORT int mknod(const char *path, mode_t mode, dev_t dev)
{
	if(gate_path(MID_FS_MKNOD, AT_FDCWD, path))
		return -1;
	return REAL(mknod)(path, mode, dev);
}

MID_EXPORT int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
	if(gate_path(MID_FS_MKNOD, dirfd, path))
		return -1;
	return REAL(mknodat)(dirfd, path, mode, dev);
}

/* What programs built against glibc before 2.33 call for mknod. */
MID_EXPORT int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev)
{
	if(gate_path(MID_FS_MKNOD, AT_FDCWD, path))
		return -1;
	return REAL(__xmknod)(ver, path, mode, dev);
}

MID_EXPORT int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev)
{
	if(gate_path(MID_FS_MKNOD, dirfd, path))
		return -1;
	return REAL(__xmknodat)(ver, dirfd, path, mode, dev);
}

/* A FIFO is a node like any other: op mknod, as for mknod(S_IFIFO). */
MID_EXPORT int mkfifo(const char *path, mode_t mode)
{
	if(gate_path(MID_FS_MKNOD, AT_FDCWD, path))
		return -1;
	return REAL(mkfifo)(path, mode);
}

MID_EXPORT int mkfifoat(int dirfd, const char *path, mode_t mode)
{
	if(gate_path(MID_FS_MKNOD, dirfd, path))
		return -1;
	return REAL(mkfifoat)(dirfd, path, mode);
}

/* ---- metadata ------------------------------------------------------------ */

MID_EXPORT int chmod(const char *path, mode_t mode)
{
	if(gate_path(MID_FS_CHMOD, AT_FDCWD, path))
		return -1;
	return REAL(chmod)(path, mode);
}

MID_EXPORT int fchmod(int fd, mode_t mode)
{
	if(gate_fd_op(MID_FS_CHMOD, fd))
		return -1;
	return REAL(fchmod)(fd, mode);
}

MID_EXPORT int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	if(gate_path(MID_FS_CHMOD, dirfd, path))
		return -1;
	return REAL(fchmodat)(dirfd, path, mode, flags);
}

MID_EXPORT int lchmod(const char *path, mode_t mode)
{
	if(gate_path(MID_FS_CHMOD, AT_FDCWD, path))
		return -1;
	return REAL(lchmod)(path, mode);
}

MID_EXPORT int chown(const char *path, uid_t uid, gid_t gid)
{
	if(gate_path(MID_FS_CHOWN, AT_FDCWD, path))
		return -1;
	return REAL(chown)(path, uid, gid);
}

MID_EXPORT int fchown(int fd, uid_t uid, gid_t gid)
{
	if(gate_fd_op(MID_FS_CHOWN, fd))
		return -1;
	return REAL(fchown)(fd, uid, gid);
}

MID_EXPORT int lchown(const char *path, uid_t uid, gid_t gid)
{
	if(gate_path(MID_FS_CHOWN, AT_FDCWD, path))
		return -1;
	return REAL(lchown)(path, uid, gid);
}

MID_EXPORT int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
{
	if(gate_path(MID_FS_CHOWN, dirfd, path))
		return -1;
	return REAL(fchownat)(dirfd, path, uid, gid, flags);
}

MID_EXPORT int utime(const char *path, const struct utimbuf *times)
{
	if(gate_path(MID_FS_UTIME, AT_FDCWD, path))
		return -1;
	return REAL(utime)(path, times);
}

MID_EXPORT int utimes(const char *path, const struct timeval tv[2])
{
	if(gate_path(MID_FS_UTIME, AT_FDCWD, path))
		return -1;
	return REAL(utimes)(path, tv);
}

MID_EXPORT int lutimes(const char *path, const struct timeval tv[2])
{
	if(gate_path(MID_FS_UTIME, AT_FDCWD, path))
		return -1;
	return REAL(lutimes)(path, tv);
}

MID_EXPORT int futimes(int fd, const struct timeval tv[2])
{
	if(gate_fd_op(MID_FS_UTIME, fd))
		return -1;
	return REAL(futimes)(fd, tv);
}

/* A NULL path names 'dirfd' itself. */
MID_EXPORT int futimesat(int dirfd, const char *path, const struct timeval tv[2])
{
	if(gate_path(MID_FS_UTIME, dirfd, path))
		return -1;
	return REAL(futimesat)(dirfd, path, tv);
}

MID_EXPORT int utimensat(int dirfd, const char *path, const struct timespec ts[2], int flags)
{
	if(gate_path(MID_FS_UTIME, dirfd, path))
		return -1;
	return REAL(utimensat)(dirfd, path, ts, flags);
}

MID_EXPORT int futimens(int fd, const struct timespec ts[2])
{
	if(gate_fd_op(MID_FS_UTIME, fd))
		return -1;
	return REAL(futimens)(fd, ts);
}

MID_EXPORT int setxattr(const char *path, const char *name, const void *value, size_t size,
			int flags)
{
	if(gate_path(MID_FS_XATTR, AT_FDCWD, path))
		return -1;
	return REAL(setxattr)(path, name, value, size, flags);
}

MID_EXPORT int lsetxattr(const char *path, const char *name, const void *value, size_t size,
			 int flags)
{
	if(gate_path(MID_FS_XATTR, AT_FDCWD, path))
		return -1;
	return REAL(lsetxattr)(path, name, value, size, flags);
}

MID_EXPORT int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
	if(gate_fd_op(MID_FS_XATTR, fd))
		return -1;
	return REAL(fsetxattr)(fd, name, value, size, flags);
}

MID_EXPORT int removexattr(const char *path, const char *name)
{
	if(gate_path(MID_FS_XATTR, AT_FDCWD, path))
		return -1;
	return REAL(removexattr)(path, name);
}

MID_EXPORT int lremovexattr(const char *path, const char *name)
{
	if(gate_path(MID_FS_XATTR, AT_FDCWD, path))
		return -1;
	return REAL(lremovexattr)(path, name);
}

MID_EXPORT int fremovexattr(int fd, const char *name)
{
	if(gate_fd_op(MID_FS_XATTR, fd))
		return -1;
	return REAL(fremovexattr)(fd, name);
}
