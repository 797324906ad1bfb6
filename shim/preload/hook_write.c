/* SPDX-License-Identifier: MIT */
/*
 * Data hooks: every way to write bytes to a descriptor (a file write, or a
 * send when the descriptor is a socket), and the calls that end or copy a
 * descriptor, which keep the fd-kind table true. A descriptor the shim
 * uses for its own connection is released before the program reuses it.
 */
#define _GNU_SOURCE
#include "hooks.h"

#include <aio.h>
#include <stdint.h>
#include <execinfo.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdarg.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Where the hot path finds its counts (hooks.h). */
MID_HOT struct mid_side_off mid_side_off;

REAL_DECL(close);
REAL_DECL(dup);
REAL_DECL(dup2);
REAL_DECL(dup3);
REAL_DECL(close_range);
REAL_DECL(closefrom);
REAL_DECL(pipe);
REAL_DECL(pipe2);
REAL_DECL(fcntl);

FD_HOOK((write), fd, ssize_t, -1, (int fd, const void *buf, size_t n), (fd, buf, n))
FD_HOOK((writev), fd, ssize_t, -1, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))
FD_HOOK((pwrite, pwrite64), fd, ssize_t, -1, (int fd, const void *buf, size_t n, off_t off),
	(fd, buf, n, off))
FD_HOOK((pwritev, pwritev64), fd, ssize_t, -1, (int fd, const struct iovec *iov, int cnt, off_t off),
	(fd, iov, cnt, off))
FD_HOOK((pwritev2, pwritev64v2), fd, ssize_t, -1,
	(int fd, const struct iovec *iov, int cnt, off_t off, int flags), (fd, iov, cnt, off, flags))
/* cp uses copy_file_range: the bytes land in 'out'. */
FD_HOOK((copy_file_range), out, ssize_t, -1,
	(int in, off64_t *inoff, int out, off64_t *outoff, size_t n, unsigned int flags),
	(in, inoff, out, outoff, n, flags))
FD_HOOK((sendfile, sendfile64), out, ssize_t, -1, (int out, int in, off_t *off, size_t n),
	(out, in, off, n))
FD_HOOK((splice), out, ssize_t, -1,
	(int in, off64_t *inoff, int out, off64_t *outoff, size_t n, unsigned int flags),
	(in, inoff, out, outoff, n, flags))

/* glibc's other names of the same functions. */
MID_ALIAS(write, __write)
MID_ALIAS(pwrite64, __pwrite64)
MID_ALIAS(pwrite64, __libc_pwrite)

/* ---- descriptor lifetime ---------------------------------------------- */

MID_EXPORT int close(int fd)
{
	mid_fd_forget(fd);
	if(!mid_in_shim) {
		/* The program closing the shim's connection (a daemon
		 * closing every fd): the shim lets go of it. */
		if(mid_shim_release_fd(fd))
			return 0;
	}
	return REAL(close)(fd);
}

MID_EXPORT int dup(int fd)
{
	int nfd = REAL(dup)(fd);

	mid_fd_forget(nfd);
	return nfd;
}

MID_EXPORT int dup2(int fd, int nfd)
{
	if(!mid_in_shim && fd != nfd)
		mid_shim_release_fd(nfd);
	mid_fd_forget(nfd);
	return REAL(dup2)(fd, nfd);
}

MID_EXPORT int dup3(int fd, int nfd, int flags)
{
	if(!mid_in_shim && fd != nfd)
		mid_shim_release_fd(nfd);
	mid_fd_forget(nfd);
	return REAL(dup3)(fd, nfd, flags);
}

MID_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags)
{
	if(!mid_in_shim && !(flags & CLOSE_RANGE_CLOEXEC))
		mid_shim_release_range(lo, hi);
	mid_fd_forget_range(lo, hi);
	return REAL(close_range)(lo, hi, flags);
}

MID_EXPORT void closefrom(int lo)
{
	if(!mid_in_shim && lo >= 0)
		mid_shim_release_range((unsigned)lo, ~0u);
	if(lo >= 0)
		mid_fd_forget_range((unsigned)lo, ~0u);
	REAL(closefrom)(lo);
}

MID_EXPORT int pipe(int fds[2])
{
	int rc = REAL(pipe)(fds);

	if(rc == 0) {
		mid_fd_forget(fds[0]);
		mid_fd_forget(fds[1]);
	}
	return rc;
}

MID_EXPORT int pipe2(int fds[2], int flags)
{
	int rc = REAL(pipe2)(fds, flags);

	if(rc == 0) {
		mid_fd_forget(fds[0]);
		mid_fd_forget(fds[1]);
	}
	return rc;
}

/* fcntl's third argument is an int or a pointer; reading it as a long
 * is what glibc's own wrapper does on every ABI it supports. */
MID_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;
	int rc;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	rc = REAL(fcntl)(fd, cmd, arg);
	if(rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		mid_fd_forget(rc);
	return rc;
}

MID_ALIAS(close, __close)
MID_ALIAS(dup2, __dup2)
MID_ALIAS(pipe, __pipe)
/* fcntl64 is fcntl under its 2.28 name (one address in libc). */
MID_ALIAS(fcntl, __fcntl)
MID_ALIAS(fcntl, fcntl64)
MID_ALIAS(fcntl, __libc_fcntl64)

/* ---- other writers ---------------------------------------------------------- */

/* A message queue descriptor: a send is a write to it. */
FD_HOOK((mq_send), q, int, -1, (mqd_t q, const char *p, size_t n, unsigned prio), (q, p, n, prio))
FD_HOOK((mq_timedsend), q, int, -1,
	(mqd_t q, const char *p, size_t n, unsigned prio, const struct timespec *t),
	(q, p, n, prio, t))

/* POSIX AIO: the request names its descriptor. */
FD_HOOK((aio_write), cb->aio_fildes, int, -1, (struct aiocb *cb), (cb))
FD_HOOK((aio_write64), cb->aio_fildes, int, -1, (struct aiocb64 *cb), (cb))

/* lio_listio: every LIO_WRITE in the list, before any is queued. The
 * 64-bit request has the same head (descriptor, opcode) on every ABI. */
static int gate_lio(struct aiocb *const list[], int n)
{
	int i;

	for(i = 0; list && i < n; i++)
		if(list[i] && list[i]->aio_lio_opcode == LIO_WRITE)
			GATE_FD_OR_FAIL(list[i]->aio_fildes, -1);
	return 0;
}

REAL_DECL(lio_listio);
MID_EXPORT int lio_listio(int mode, struct aiocb *const list[], int n, struct sigevent *sev)
{
	if(gate_lio(list, n))
		return -1;
	return REAL(lio_listio)(mode, list, n, sev);
}

REAL_DECL(lio_listio64);
MID_EXPORT int lio_listio64(int mode, struct aiocb64 *const list[], int n, struct sigevent *sev)
{
	if(gate_lio((struct aiocb *const *)(uintptr_t)list, n))
		return -1;
	return REAL(lio_listio64)(mode, list, n, sev);
}

/* backtrace_symbols_fd writes through an internal call; it reports
 * nothing, so a refused one writes nothing. */
REAL_DECL(backtrace_symbols_fd);
MID_EXPORT void backtrace_symbols_fd(void *const *buf, int n, int fd)
{
	GATE_FD_OR_FAIL(fd, );
	REAL(backtrace_symbols_fd)(buf, n, fd);
}

MID_ALIAS(backtrace_symbols_fd, __backtrace_symbols_fd)
MID_VERSIONS(aio_write, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS(aio_write64, "GLIBC_2.34", "GLIBC_2.2.5")
MID_VERSIONS2(lio_listio, "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.4")
MID_VERSIONS2(lio_listio64, "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.4")
MID_VERSIONS(mq_send, "GLIBC_2.34", "GLIBC_2.3.4")
MID_VERSIONS(mq_timedsend, "GLIBC_2.34", "GLIBC_2.3.4")
