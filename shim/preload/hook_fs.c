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
#include "fspath.h"

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
#include <mqueue.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <utime.h>
#include <utmp.h>

/* Entry points the headers declare only for fortified or old builds. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
int __xmknod(int ver, const char *path, mode_t mode, dev_t *dev);
int __xmknodat(int ver, int dirfd, const char *path, mode_t mode, dev_t *dev);

#define WRITE_INTENT (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)

/* Ask the gate about 'ev'. 0: go on, errno back to 'e'; -1: the call
 * fails with EPERM. */
static int check(struct mid_event *ev, int e)
{
	ev->kind = MID_EV_FS;
	return mid_hook_check(ev, e);
}

/*
 * The fs event 'op' on 'path', taken as it is, and on 'path2' seen from
 * 'dirfd2' when there is one (the new name of a rename or link). 'e' is
 * the caller's errno.
 */
static int gate_names(enum mid_fsop op, const char *path, int dirfd2, const char *path2, int e)
{
	char abs2[PATH_MAX];
	struct mid_event ev;

	if(path2 && mid_path_abs(dirfd2, path2, abs2, sizeof(abs2)))
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.op = op;
	ev.path = path;
	ev.path2 = path2 ? abs2 : NULL;
	return check(&ev, e);
}

/*
 * Gate 'op' on 'path' seen from 'dirfd' and, for a rename or link, on
 * 'path2' seen from 'dirfd2' (NULL otherwise). A path the shim cannot
 * place (a bad dirfd, longer than PATH_MAX with the working directory)
 * fails the call with the reason: gating it as written would let a
 * relative path slip past a rule on an absolute one.
 */
static int gate_pair(enum mid_fsop op, int dirfd, const char *path, int dirfd2, const char *path2)
{
	char abs[PATH_MAX];
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	if(mid_path_abs(dirfd, path, abs, sizeof(abs)))
		return -1;
	return gate_names(op, abs, dirfd2, path2, e);
}

static int gate_path(enum mid_fsop op, int dirfd, const char *path)
{
	return gate_pair(op, dirfd, path, AT_FDCWD, NULL);
}

int mid_fs_gate_path(enum mid_fsop op, int dirfd, const char *path)
{
	return gate_path(op, dirfd, path);
}

/* A symlink's target is text the kernel stores, not a path it resolves
 * now: it goes into the event as written; the new link is 'path2'. */
static int gate_symlink(const char *target, int dirfd, const char *linkpath)
{
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	return gate_names(MID_FS_LINK, target, dirfd, linkpath, e);
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

/* An open is gated only with write intent (mid_open_op names what it
 * does). With O_PATH the kernel ignores every other flag: nothing is
 * written. */
int mid_fs_gate_open(int dirfd, const char *path, int flags)
{
	if(!(flags & WRITE_INTENT) || (flags & O_PATH) || !path || mid_in_shim)
		return 0;
	return gate_path(mid_open_op(dirfd, path, flags), dirfd, path);
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


/* ---- the shapes ---------------------------------------------------------- */

/* 'op' on 'path' seen from 'dirfd'. */
#define PATH_HOOK(names, ...) MID_HOOKS(names, PATH_HOOK1, __VA_ARGS__)
#define PATH_HOOK1(a, name) MID_CALL(PATH_HOOK_, name, MID_UNPACK a)
#define PATH_HOOK_(name, op, dirfd, path, ret, fail, params, args) \
	MID_HOOK_BODY(name, if(gate_path(op, dirfd, path)) return fail, (void)0, ret, params, args)

/* A rename or link: the existing name, then the new one. */
#define PAIR_HOOK(names, ...) MID_HOOKS(names, PAIR_HOOK1, __VA_ARGS__)
#define PAIR_HOOK1(a, name) MID_CALL(PAIR_HOOK_, name, MID_UNPACK a)
#define PAIR_HOOK_(name, op, d1, p1, d2, p2, params, args) \
	MID_HOOK_BODY(name, if(gate_pair(op, d1, p1, d2, p2)) return -1, (void)0, int, params, args)

/* 'op' on the file open as 'fd'. */
#define FDOP_HOOK(names, ...) MID_HOOKS(names, FDOP_HOOK1, __VA_ARGS__)
#define FDOP_HOOK1(a, name) MID_CALL(FDOP_HOOK_, name, MID_UNPACK a)
#define FDOP_HOOK_(name, op, fd, params, args) \
	MID_HOOK_BODY(name, if(gate_fd_op(op, fd)) return -1, (void)0, int, params, args)

/* A call that makes a descriptor: 'gate' is nonzero to refuse it; the
 * table forgets whatever it knew of the new number. */
#define NEWFD_HOOK(names, ...) MID_HOOKS(names, NEWFD_HOOK1, __VA_ARGS__)
#define NEWFD_HOOK1(a, name) MID_CALL(NEWFD_HOOK_, name, MID_UNPACK a)
#define NEWFD_HOOK_(name, gate, params, args) \
	MID_HOOK_BODY(name, if(gate) return -1, mid_fd_forget(r_), int, params, args)

/* The same for a call that makes a stream. */
#define NEWFILE_HOOK(names, ...) MID_HOOKS(names, NEWFILE_HOOK1, __VA_ARGS__)
#define NEWFILE_HOOK1(a, name) MID_CALL(NEWFILE_HOOK_, name, MID_UNPACK a)
#define NEWFILE_HOOK_(name, gate, params, args) \
	MID_HOOK_BODY(name, if(gate) return NULL, forget_stream(r_), FILE *, params, args)

/* open and openat: the mode is read only when the flags say it is there
 * (reading it otherwise would read whatever was left in a register). */
#define OPEN_HOOK(names, ...) MID_HOOKS(names, OPEN_HOOK1, __VA_ARGS__)
#define OPEN_HOOK1(a, name) MID_CALL(OPEN_HOOK_, name, MID_UNPACK a)
#define OPEN_HOOK_(name, dirfd, params, args) \
	REAL_DECL(name); \
	MID_EXPORT int name params \
	{ \
		mode_t mode = 0; \
		va_list ap; \
		int fd; \
		if(needs_mode(flags)) { \
			va_start(ap, flags); \
			mode = va_arg(ap, mode_t); \
			va_end(ap); \
		} \
		if(mid_fs_gate_open(dirfd, path, flags)) \
			return -1; \
		fd = REAL(name) args; \
		mid_fd_forget(fd); \
		return fd; \
	}

#define TRUNC_FLAGS (O_WRONLY | O_CREAT | O_TRUNC)

/* ---- opens --------------------------------------------------------------- */

OPEN_HOOK((open, open64), AT_FDCWD, (const char *path, int flags, ...), (path, flags, mode))
OPEN_HOOK((openat, openat64), dirfd, (int dirfd, const char *path, int flags, ...),
	  (dirfd, path, flags, mode))
/* The fortified opens (-D_FORTIFY_SOURCE), for flags not known at
 * compile time; they have no mode. */
NEWFD_HOOK((__open_2, __open64_2), mid_fs_gate_open(AT_FDCWD, path, flags),
	   (const char *path, int flags), (path, flags))
NEWFD_HOOK((__openat_2, __openat64_2), mid_fs_gate_open(dirfd, path, flags),
	   (int dirfd, const char *path, int flags), (dirfd, path, flags))
NEWFD_HOOK((creat, creat64), mid_fs_gate_open(AT_FDCWD, path, TRUNC_FLAGS),
	   (const char *path, mode_t mode), (path, mode))

/* glibc's __open and __open64 are open itself under another name. */
MID_ALIAS(open, __open)
MID_ALIAS(open64, __open64)

/* ---- stdio opens ----------------------------------------------------------- */

/* glibc's fopen opens through an internal call, never through open. */
NEWFILE_HOOK((fopen, fopen64), mid_fs_gate_open(AT_FDCWD, path, mode_flags(mode)),
	     (const char *path, const char *mode), (path, mode))
MID_ALIAS(fopen, _IO_fopen)

/* freopen with no path reopens the stream's own file in a new mode. It
 * closes the old descriptor internally, so the table forgets it first. */
static int gate_reopen(const char *path, const char *mode, FILE *stream)
{
	int flags = mode_flags(mode);

	if(path ? mid_fs_gate_open(AT_FDCWD, path, flags)
		: flags && stream && gate_fd_op(MID_FS_OPEN, fileno_unlocked(stream)))
		return -1;
	forget_stream(stream);
	return 0;
}

NEWFILE_HOOK((freopen, freopen64), gate_reopen(path, mode, stream),
	     (const char *path, const char *mode, FILE *stream), (path, mode, stream))

/* glibc's stream internals that open a file, under their own names. */
FILE *_IO_file_fopen(FILE *f, const char *path, const char *mode, int is32);
FILE *_IO_file_open(FILE *f, const char *path, int flags, int prot, int rw, int is32);
NEWFILE_HOOK((_IO_file_fopen), mid_fs_gate_open(AT_FDCWD, path, mode_flags(mode)),
	     (FILE *f, const char *path, const char *mode, int is32), (f, path, mode, is32))
NEWFILE_HOOK((_IO_file_open), mid_fs_gate_open(AT_FDCWD, path, flags),
	     (FILE *f, const char *path, int flags, int prot, int rw, int is32),
	     (f, path, flags, prot, rw, is32))

REAL_DECL(fdopen);
MID_EXPORT FILE *fdopen(int fd, const char *mode)
{
	if(mode_flags(mode) && gate_fd_op(MID_FS_OPEN, fd))
		return NULL;
	return REAL(fdopen)(fd, mode);
}
MID_ALIAS(fdopen, _IO_fdopen)

/* glibc's fclose closes the descriptor internally, never through the
 * close hook: the table must forget it here. */
REAL_DECL(fclose);
MID_EXPORT int fclose(FILE *f)
{
	mid_stdio_gate_close(f);
	forget_stream(f);
	return REAL(fclose)(f);
}
MID_ALIAS(fclose, _IO_fclose)

/* ---- temporary files ------------------------------------------------------- */

/* tmpfile makes an unnamed file in P_tmpdir (glibc ignores TMPDIR). */
NEWFILE_HOOK((tmpfile, tmpfile64), gate_path(MID_FS_CREATE, AT_FDCWD, P_tmpdir), (void), ())

/* The mkstemp family is gated on the template as given ("/tmp/aXXXXXX"):
 * the name is only chosen inside the call. */
#define TMPL_GATE gate_path(MID_FS_CREATE, AT_FDCWD, tmpl)
NEWFD_HOOK((mkstemp, mkstemp64), TMPL_GATE, (char *tmpl), (tmpl))
NEWFD_HOOK((mkostemp, mkostemp64), TMPL_GATE, (char *tmpl, int flags), (tmpl, flags))
NEWFD_HOOK((mkstemps, mkstemps64), TMPL_GATE, (char *tmpl, int n), (tmpl, n))
NEWFD_HOOK((mkostemps, mkostemps64), TMPL_GATE, (char *tmpl, int n, int flags), (tmpl, n, flags))
PATH_HOOK((mkdtemp), MID_FS_MKDIR, AT_FDCWD, tmpl, char *, NULL, (char *tmpl), (tmpl))

/* ---- truncate and allocate ------------------------------------------------- */

PATH_HOOK((truncate, truncate64), MID_FS_TRUNCATE, AT_FDCWD, path, int, -1,
	  (const char *path, off_t len), (path, len))
FDOP_HOOK((ftruncate, ftruncate64), MID_FS_TRUNCATE, fd, (int fd, off_t len), (fd, len))
FDOP_HOOK((fallocate, fallocate64), MID_FS_TRUNCATE, fd, (int fd, int mode, off_t off, off_t len),
	  (fd, mode, off, len))

/* posix_fallocate returns the error number and leaves errno alone. */
#define POSIX_FALLOCATE(name) \
	REAL_DECL(name); \
	MID_EXPORT int name(int fd, off_t off, off_t len) \
	{ \
		int e = errno; \
		if(gate_fd_op(MID_FS_TRUNCATE, fd)) { \
			errno = e; \
			return EPERM; \
		} \
		return REAL(name)(fd, off, len); \
	}
POSIX_FALLOCATE(posix_fallocate)
POSIX_FALLOCATE(posix_fallocate64)

/* ---- delete, rename, link -------------------------------------------------- */

/* remove calls unlink and rmdir internally; unlinkat with AT_REMOVEDIR is
 * rmdir: all of them a delete. */
PATH_HOOK((unlink, remove, rmdir), MID_FS_DELETE, AT_FDCWD, path, int, -1, (const char *path),
	  (path))
PATH_HOOK((unlinkat), MID_FS_DELETE, dirfd, path, int, -1, (int dirfd, const char *path, int flags),
	  (dirfd, path, flags))
PAIR_HOOK((rename), MID_FS_RENAME, AT_FDCWD, from, AT_FDCWD, to, (const char *from, const char *to),
	  (from, to))
PAIR_HOOK((renameat), MID_FS_RENAME, fromfd, from, tofd, to,
	  (int fromfd, const char *from, int tofd, const char *to), (fromfd, from, tofd, to))
PAIR_HOOK((renameat2), MID_FS_RENAME, fromfd, from, tofd, to,
	  (int fromfd, const char *from, int tofd, const char *to, unsigned int flags),
	  (fromfd, from, tofd, to, flags))
PAIR_HOOK((link), MID_FS_LINK, AT_FDCWD, from, AT_FDCWD, to, (const char *from, const char *to),
	  (from, to))
/* With AT_EMPTY_PATH an empty 'from' is 'fromfd' itself. */
PAIR_HOOK((linkat), MID_FS_LINK, fromfd, from, tofd, to,
	  (int fromfd, const char *from, int tofd, const char *to, int flags),
	  (fromfd, from, tofd, to, flags))

REAL_DECL(symlink);
MID_EXPORT int symlink(const char *target, const char *linkpath)
{
	if(gate_symlink(target, AT_FDCWD, linkpath))
		return -1;
	return REAL(symlink)(target, linkpath);
}

REAL_DECL(symlinkat);
MID_EXPORT int symlinkat(const char *target, int dirfd, const char *linkpath)
{
	if(gate_symlink(target, dirfd, linkpath))
		return -1;
	return REAL(symlinkat)(target, dirfd, linkpath);
}

/* ---- mkdir, mknod ---------------------------------------------------------- */

PATH_HOOK((mkdir), MID_FS_MKDIR, AT_FDCWD, path, int, -1, (const char *path, mode_t mode),
	  (path, mode))
PATH_HOOK((mkdirat), MID_FS_MKDIR, dirfd, path, int, -1, (int dirfd, const char *path, mode_t mode),
	  (dirfd, path, mode))
PATH_HOOK((mknod), MID_FS_MKNOD, AT_FDCWD, path, int, -1,
	  (const char *path, mode_t mode, dev_t dev), (path, mode, dev))
PATH_HOOK((mknodat), MID_FS_MKNOD, dirfd, path, int, -1,
	  (int dirfd, const char *path, mode_t mode, dev_t dev), (dirfd, path, mode, dev))
/* What programs built against glibc before 2.33 call for mknod. */
PATH_HOOK((__xmknod), MID_FS_MKNOD, AT_FDCWD, path, int, -1,
	  (int ver, const char *path, mode_t mode, dev_t *dev), (ver, path, mode, dev))
PATH_HOOK((__xmknodat), MID_FS_MKNOD, dirfd, path, int, -1,
	  (int ver, int dirfd, const char *path, mode_t mode, dev_t *dev),
	  (ver, dirfd, path, mode, dev))
/* A FIFO is a node like any other: op mknod, as for mknod(S_IFIFO). */
PATH_HOOK((mkfifo), MID_FS_MKNOD, AT_FDCWD, path, int, -1, (const char *path, mode_t mode),
	  (path, mode))
PATH_HOOK((mkfifoat), MID_FS_MKNOD, dirfd, path, int, -1, (int dirfd, const char *path, mode_t mode),
	  (dirfd, path, mode))

/* ---- metadata -------------------------------------------------------------- */

PATH_HOOK((chmod, lchmod), MID_FS_CHMOD, AT_FDCWD, path, int, -1, (const char *path, mode_t mode),
	  (path, mode))
FDOP_HOOK((fchmod), MID_FS_CHMOD, fd, (int fd, mode_t mode), (fd, mode))
PATH_HOOK((fchmodat), MID_FS_CHMOD, dirfd, path, int, -1,
	  (int dirfd, const char *path, mode_t mode, int flags), (dirfd, path, mode, flags))
PATH_HOOK((chown, lchown), MID_FS_CHOWN, AT_FDCWD, path, int, -1,
	  (const char *path, uid_t uid, gid_t gid), (path, uid, gid))
FDOP_HOOK((fchown), MID_FS_CHOWN, fd, (int fd, uid_t uid, gid_t gid), (fd, uid, gid))
PATH_HOOK((fchownat), MID_FS_CHOWN, dirfd, path, int, -1,
	  (int dirfd, const char *path, uid_t uid, gid_t gid, int flags),
	  (dirfd, path, uid, gid, flags))
PATH_HOOK((utime), MID_FS_UTIME, AT_FDCWD, path, int, -1,
	  (const char *path, const struct utimbuf *times), (path, times))
PATH_HOOK((utimes, lutimes), MID_FS_UTIME, AT_FDCWD, path, int, -1,
	  (const char *path, const struct timeval tv[2]), (path, tv))
FDOP_HOOK((futimes), MID_FS_UTIME, fd, (int fd, const struct timeval tv[2]), (fd, tv))
/* A NULL path names 'dirfd' itself. */
PATH_HOOK((futimesat), MID_FS_UTIME, dirfd, path, int, -1,
	  (int dirfd, const char *path, const struct timeval tv[2]), (dirfd, path, tv))
PATH_HOOK((utimensat), MID_FS_UTIME, dirfd, path, int, -1,
	  (int dirfd, const char *path, const struct timespec ts[2], int flags),
	  (dirfd, path, ts, flags))
FDOP_HOOK((futimens), MID_FS_UTIME, fd, (int fd, const struct timespec ts[2]), (fd, ts))
PATH_HOOK((setxattr, lsetxattr), MID_FS_XATTR, AT_FDCWD, path, int, -1,
	  (const char *path, const char *name, const void *value, size_t size, int flags),
	  (path, name, value, size, flags))
FDOP_HOOK((fsetxattr), MID_FS_XATTR, fd,
	  (int fd, const char *name, const void *value, size_t size, int flags),
	  (fd, name, value, size, flags))
PATH_HOOK((removexattr, lremovexattr), MID_FS_XATTR, AT_FDCWD, path, int, -1,
	  (const char *path, const char *name), (path, name))
FDOP_HOOK((fremovexattr), MID_FS_XATTR, fd, (int fd, const char *name), (fd, name))

/* ---- POSIX shared memory, semaphores and message queues ------------------- */

/* Their names are files under /dev/shm ("sem." first for a semaphore)
 * and /dev/mqueue: the path the gate sees. */
static const char *ipc_path(const char *dir, const char *prefix, const char *name, char *out,
			    size_t outlen)
{
	while(name && *name == '/')
		name++;
	if(!name || (size_t)snprintf(out, outlen, "%s/%s%s", dir, prefix, name) >= outlen)
		return "";
	return out;
}

#define SHM_PATH(name) ipc_path("/dev/shm", "", name, ipc, sizeof(ipc))
#define SEM_PATH(name) ipc_path("/dev/shm", "sem.", name, ipc, sizeof(ipc))
#define MQ_PATH(name) ipc_path("/dev/mqueue", "", name, ipc, sizeof(ipc))

REAL_DECL(shm_open);
MID_EXPORT int shm_open(const char *name, int flags, mode_t mode)
{
	char ipc[PATH_MAX];
	int fd;

	if(mid_fs_gate_open(AT_FDCWD, SHM_PATH(name), flags))
		return -1;
	fd = REAL(shm_open)(name, flags, mode);
	mid_fd_forget(fd);
	return fd;
}

/* A semaphore is always opened for writing: sem_post changes it. */
REAL_DECL(sem_open);
MID_EXPORT sem_t *sem_open(const char *name, int flags, ...)
{
	char ipc[PATH_MAX];
	unsigned value = 0;
	mode_t mode = 0;
	va_list ap;

	if(flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		value = va_arg(ap, unsigned);
		va_end(ap);
	}
	if(mid_fs_gate_open(AT_FDCWD, SEM_PATH(name), flags | O_RDWR))
		return SEM_FAILED;
	return REAL(sem_open)(name, flags, mode, value);
}

/* mq_open's attributes come only with O_CREAT, like its mode. */
REAL_DECL(mq_open);
MID_EXPORT mqd_t mq_open(const char *name, int flags, ...)
{
	struct mq_attr *attr = NULL;
	char ipc[PATH_MAX];
	mode_t mode = 0;
	va_list ap;
	mqd_t q;

	if(flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		attr = va_arg(ap, struct mq_attr *);
		va_end(ap);
	}
	if(mid_fs_gate_open(AT_FDCWD, MQ_PATH(name), flags))
		return (mqd_t)-1;
	q = REAL(mq_open)(name, flags, mode, attr);
	mid_fd_forget(q);
	return q;
}

#define IPC_UNLINK(fn, where) \
	REAL_DECL(fn); \
	MID_EXPORT int fn(const char *name) \
	{ \
		char ipc[PATH_MAX]; \
		if(gate_path(MID_FS_DELETE, AT_FDCWD, where(name))) \
			return -1; \
		return REAL(fn)(name); \
	}
IPC_UNLINK(shm_unlink, SHM_PATH)
IPC_UNLINK(sem_unlink, SEM_PATH)
IPC_UNLINK(mq_unlink, MQ_PATH)

/* The fortified mq_open (flags known only at run time, no O_CREAT). */
int __mq_open_2(const char *name, int flags);
REAL_DECL(__mq_open_2);
MID_EXPORT int __mq_open_2(const char *name, int flags)
{
	char ipc[PATH_MAX];
	int q;

	if(mid_fs_gate_open(AT_FDCWD, MQ_PATH(name), flags))
		return -1;
	q = REAL(__mq_open_2)(name, flags);
	mid_fd_forget(q);
	return q;
}

/* From when these lived in librt. */
MID_VERSIONS(shm_open, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS(shm_unlink, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS(sem_open, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS(sem_unlink, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS(mq_open, "GLIBC_2.34", "GLIBC_2.3.4")
MID_VERSIONS(mq_unlink, "GLIBC_2.34", "GLIBC_2.3.4")
MID_VERSIONS(__mq_open_2, "GLIBC_2.34", "GLIBC_2.7")

/* updwtmp appends a record to the file it names; a refused one is not
 * written (it reports nothing either way). */
REAL_DECL(updwtmp);
MID_EXPORT void updwtmp(const char *file, const struct utmp *ut)
{
	if(!gate_path(MID_FS_OPEN, AT_FDCWD, file))
		REAL(updwtmp)(file, ut);
}

/* open_by_handle_at opens a file by its handle, below 'mount_fd': no
 * path to name, so an open with write intent is gated on the mount. */
REAL_DECL(open_by_handle_at);
MID_EXPORT int open_by_handle_at(int mount_fd, struct file_handle *handle, int flags)
{
	int fd;

	if((flags & WRITE_INTENT) && gate_fd_op(MID_FS_OPEN, mount_fd))
		return -1;
	fd = REAL(open_by_handle_at)(mount_fd, handle, flags);
	mid_fd_forget(fd);
	return fd;
}
