/* SPDX-License-Identifier: MIT */
/*
 * syscall(): a program may skip libc's wrapper and name a system call by
 * number. For every number the shim gates, the call is handed to the
 * libc function of the same meaning, which is the shim's own hook, so
 * the decision is made in one place; any other number goes straight to
 * the real syscall(). This costs a switch on the hot path of programs
 * that use syscall() for futex or gettid.
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

REAL_DECL(syscall);

/* Argument 'i' as an int, an unsigned or a pointer. */
#define I(i) ((int)a[i])
#define U(i) ((unsigned)a[i])
#define P(i) ((void *)(uintptr_t)a[i])

static long real(long nr, const long a[6])
{
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* openat2 has no libc wrapper: gate it as the openat it is, then make
 * the real call. A short or missing 'how' is the kernel's to refuse. */
static long openat2_gated(long nr, const long a[6])
{
	const struct open_how *how = P(2);
	long fd;

	if(how && (size_t)a[3] >= sizeof(how->flags) &&
	   mid_fs_gate_open(I(0), P(1), (int)how->flags))
		return -1;
	fd = real(nr, a);
	mid_fd_forget((int)fd);
	return fd;
}

/* Reads six arguments whatever the number, as glibc's own syscall()
 * does: the unused ones are whatever the registers held. */
MID_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	int i;

	va_start(ap, nr);
	for(i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if(mid_in_shim)
		return real(nr, a);
	switch(nr) {
	/* data */
	case SYS_write: return write(I(0), P(1), (size_t)a[2]);
	case SYS_pwrite64: return pwrite64(I(0), P(1), (size_t)a[2], (off64_t)a[3]);
	case SYS_writev: return writev(I(0), P(1), I(2));
	/* The offset comes as low and high words; on 64-bit the low word
	 * holds it all. */
	case SYS_pwritev: return pwritev64(I(0), P(1), I(2), (off64_t)a[3]);
	case SYS_pwritev2: return pwritev64v2(I(0), P(1), I(2), (off64_t)a[3], I(5));
	case SYS_copy_file_range:
		return copy_file_range(I(0), P(1), I(2), P(3), (size_t)a[4], U(5));
	case SYS_sendfile: return sendfile64(I(0), I(1), P(2), (size_t)a[3]);
	case SYS_splice: return splice(I(0), P(1), I(2), P(3), (size_t)a[4], U(5));
	/* network */
	case SYS_sendto: return sendto(I(0), P(1), (size_t)a[2], I(3), P(4), (socklen_t)a[5]);
	case SYS_sendmsg: return sendmsg(I(0), P(1), I(2));
	case SYS_sendmmsg: return sendmmsg(I(0), P(1), U(2), I(3));
	case SYS_connect: return connect(I(0), P(1), (socklen_t)a[2]);
	/* exec */
	case SYS_execve: return execve(P(0), P(1), P(2));
	case SYS_execveat: return execveat(I(0), P(1), P(2), P(3), I(4));
	/* file system */
#ifdef SYS_open
	case SYS_open: return open(P(0), I(1), (mode_t)a[2]);
	case SYS_creat: return creat(P(0), (mode_t)a[1]);
	case SYS_unlink: return unlink(P(0));
	case SYS_rename: return rename(P(0), P(1));
	case SYS_mkdir: return mkdir(P(0), (mode_t)a[1]);
	case SYS_rmdir: return rmdir(P(0));
	case SYS_link: return link(P(0), P(1));
	case SYS_symlink: return symlink(P(0), P(1));
	case SYS_chmod: return chmod(P(0), (mode_t)a[1]);
	case SYS_chown: return chown(P(0), (uid_t)a[1], (gid_t)a[2]);
	case SYS_lchown: return lchown(P(0), (uid_t)a[1], (gid_t)a[2]);
	case SYS_mknod: return mknod(P(0), (mode_t)a[1], (dev_t)a[2]);
	case SYS_utime: return utime(P(0), P(1));
	case SYS_utimes: return utimes(P(0), P(1));
	case SYS_futimesat: return futimesat(I(0), P(1), P(2));
#endif
	case SYS_openat: return openat(I(0), P(1), I(2), (mode_t)a[3]);
	case SYS_openat2: return openat2_gated(nr, a);
	case SYS_unlinkat: return unlinkat(I(0), P(1), I(2));
	case SYS_renameat: return renameat(I(0), P(1), I(2), P(3));
	case SYS_renameat2: return renameat2(I(0), P(1), I(2), P(3), U(4));
	case SYS_mkdirat: return mkdirat(I(0), P(1), (mode_t)a[2]);
	case SYS_linkat: return linkat(I(0), P(1), I(2), P(3), I(4));
	case SYS_symlinkat: return symlinkat(P(0), I(1), P(2));
	case SYS_fchmod: return fchmod(I(0), (mode_t)a[1]);
	/* The kernel's fchmodat has no flags argument. */
	case SYS_fchmodat: return fchmodat(I(0), P(1), (mode_t)a[2], 0);
	case SYS_fchown: return fchown(I(0), (uid_t)a[1], (gid_t)a[2]);
	case SYS_fchownat: return fchownat(I(0), P(1), (uid_t)a[2], (gid_t)a[3], I(4));
	case SYS_truncate: return truncate64(P(0), (off64_t)a[1]);
	case SYS_ftruncate: return ftruncate64(I(0), (off64_t)a[1]);
	case SYS_fallocate: return fallocate64(I(0), I(1), (off64_t)a[2], (off64_t)a[3]);
	case SYS_mknodat: return mknodat(I(0), P(1), (mode_t)a[2], (dev_t)a[3]);
	/* A NULL path is futimens, which glibc's utimensat refuses. */
	case SYS_utimensat:
		if(!a[1] && !a[3])
			return futimens(I(0), P(2));
		if(!a[1])
			return real(nr, a);
		return utimensat(I(0), P(1), P(2), I(3));
	case SYS_setxattr: return setxattr(P(0), P(1), P(2), (size_t)a[3], I(4));
	case SYS_lsetxattr: return lsetxattr(P(0), P(1), P(2), (size_t)a[3], I(4));
	case SYS_fsetxattr: return fsetxattr(I(0), P(1), P(2), (size_t)a[3], I(4));
	case SYS_removexattr: return removexattr(P(0), P(1));
	case SYS_lremovexattr: return lremovexattr(P(0), P(1));
	case SYS_fremovexattr: return fremovexattr(I(0), P(1));
	/* descriptor lifetime: keeps the fd-kind table and the shim's own
	 * connection right */
	case SYS_close: return close(I(0));
#ifdef SYS_dup2
	case SYS_dup2: return dup2(I(0), I(1));
#endif
	case SYS_dup3: return dup3(I(0), I(1), I(2));
	case SYS_close_range: return close_range(U(0), U(1), I(2));
	default: return real(nr, a);
	}
}
