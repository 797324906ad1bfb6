/* SPDX-License-Identifier: MIT */
/*
 * syscall(): a program may skip libc's wrapper and name a system call by
 * number. For every number the shim gates, the call is handed to the
 * libc function of the same meaning, which is the shim's own hook, so
 * the decision is made in one place; a number on the list of harmless
 * calls (shim/syscalls.c) goes straight to the real syscall(); any other
 * is refused with ENOSYS, which programs treat as a kernel without the
 * call. This costs a switch on the hot path of programs that use
 * syscall() for futex or gettid.
 */
#define _GNU_SOURCE
#include "hooks.h"
#include "syscalls.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <signal.h>
#include <sys/pidfd.h>
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
 * the real call. 'how' is copied once and the copy passed on: another
 * thread could change the flags between the gate's read and the
 * kernel's. A short or missing 'how' is the kernel's to refuse. */
static long openat2_gated(long nr, const long a[6])
{
	struct open_how how;
	long b[6], fd;
	size_t n = (size_t)a[3];

	memcpy(b, a, sizeof(b));
	if(P(2) && n >= sizeof(how.flags)) {
		memset(&how, 0, sizeof(how));
		if(n > sizeof(how)) {
			/* Larger structs are the kernel's to check for zeros. */
			errno = E2BIG;
			return -1;
		}
		memcpy(&how, P(2), n);
		if(mid_fs_gate_open(I(0), P(1), (int)how.flags))
			return -1;
		b[2] = (long)(uintptr_t)&how;
	}
	fd = real(nr, b);
	mid_fd_forget((int)fd);
	return fd;
}

/* A number the shim does not know: refused, with one line per number. */
static long refuse(long nr)
{
	static _Atomic unsigned long said[1024 / (8 * sizeof(unsigned long))];
	unsigned long bit = 1ul << ((unsigned long)nr % (8 * sizeof(unsigned long)));
	size_t word = ((unsigned long)nr / (8 * sizeof(unsigned long))) % (sizeof(said) / sizeof(said[0]));

	if(!(atomic_fetch_or(&said[word], bit) & bit))
		mid_shim_say("syscall(%ld) refused: the shim does not know what it does; "
			     "call the libc function instead", nr);
	errno = ENOSYS;
	return -1;
}

/* Signals with no libc function of their own: gated here, then made. */
static long signal_gated(long nr, const long a[6])
{
	int gated = 0;

	switch(nr) {
	case SYS_tkill: gated = mid_signal_gate_tkill(I(0), I(1)); break;
	case SYS_rt_sigqueueinfo: gated = mid_signal_gate(I(0), I(1)); break;
	/* a tgid of 0 or less is the kernel's to refuse */
	case SYS_rt_tgsigqueueinfo: gated = I(0) > 0 ? mid_signal_gate(I(0), I(2)) : 0; break;
	default: break;
	}
	return gated ? -1 : real(nr, a);
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
	/* The kernel reads flags as an int: high bits are not flags. */
	case SYS_utimensat:
		if(!a[1] && !I(3))
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
	case SYS_fcntl: return fcntl(I(0), I(1), a[2]);
	case SYS_dup: return dup(I(0));
	case SYS_pipe2: return pipe2(P(0), I(1));
#ifdef SYS_pipe
	case SYS_pipe: return pipe(P(0));
#endif
	case SYS_socket: return socket(I(0), I(1), I(2));
	case SYS_socketpair: return socketpair(I(0), I(1), I(2), P(3));
	case SYS_accept: return accept(I(0), P(1), P(2));
	case SYS_accept4: return accept4(I(0), P(1), P(2), I(3));
	case SYS_bind: return bind(I(0), P(1), (socklen_t)a[2]);
	/* signals */
	case SYS_kill: return kill(I(0), I(1));
	case SYS_tgkill: return tgkill(I(0), I(1), I(2));
	case SYS_pidfd_send_signal: return pidfd_send_signal(I(0), I(1), P(2), U(3));
	case SYS_tkill:
	case SYS_rt_sigqueueinfo:
	case SYS_rt_tgsigqueueinfo: return signal_gated(nr, a);
	default: return mid_syscall_harmless(nr) ? real(nr, a) : refuse(nr);
	}
}
