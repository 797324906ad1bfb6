/* SPDX-License-Identifier: MIT */
/*
 * Signals to other processes and input pushed into a terminal: each is a
 * side effect on something outside the program, decided by the gate as a
 * "signal" or "tty-inject" event. glibc's killpg, sigqueue and tgkill
 * make their system calls themselves, not through kill, so each is
 * hooked by its own name; syscall() hands the raw numbers here too.
 */
#define _GNU_SOURCE
#include "hooks.h"
#include "fspath.h"
#include "sigevent.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <unistd.h>

REAL_DECL(kill);
REAL_DECL(killpg);
REAL_DECL(sigqueue);
REAL_DECL(tgkill);
REAL_DECL(pidfd_send_signal);
REAL_DECL(ioctl);

int mid_signal_gate(int pid, int sig)
{
	struct mid_event ev;
	char exe[512];
	int e = errno;

	if(mid_in_shim || !READY() || !mid_signal_event(pid, sig, &ev, exe, sizeof(exe))) {
		errno = e;
		return 0;
	}
	return mid_hook_check(&ev, e);
}

int mid_signal_gate_tkill(int tid, int sig)
{
	return mid_signal_own_thread(tid) ? 0 : mid_signal_gate(tid, sig);
}

MID_EXPORT int kill(pid_t pid, int sig)
{
	if(mid_signal_gate(pid, sig))
		return -1;
	return REAL(kill)(pid, sig);
}

MID_EXPORT int killpg(pid_t pgrp, int sig)
{
	/* kill(-pgrp), as glibc makes it: group 1 is every process, a
	 * negative group the kernel's to refuse (EINVAL). */
	if(pgrp >= 0 && mid_signal_gate(-pgrp, sig))
		return -1;
	return REAL(killpg)(pgrp, sig);
}

MID_EXPORT int sigqueue(pid_t pid, int sig, const union sigval val)
{
	if(mid_signal_gate(pid, sig))
		return -1;
	return REAL(sigqueue)(pid, sig, val);
}

MID_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig)
{
	/* A tgid of 0 or less is the kernel's to refuse (EINVAL). */
	if(tgid > 0 && mid_signal_gate(tgid, sig))
		return -1;
	return REAL(tgkill)(tgid, tid, sig);
}

MID_EXPORT int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
{
	int pid = sig ? mid_signal_pidfd_pid(0, pidfd) : 0;

	/* -1: the process has exited; the kernel answers ESRCH. */
	if(sig && pid != -1 && mid_signal_gate(pid, sig))
		return -1;
	return REAL(pidfd_send_signal)(pidfd, sig, info, flags);
}

/* TIOCSTI pushes a byte into a terminal's input, as if typed there (the
 * shell that reads it runs it ungated); TIOCLINUX's selection paste does
 * the same on a virtual console, and its other requests are rare enough
 * to be gated with it. The kernel reads the request as an unsigned int:
 * high bits set by the caller are no other request. */
static int tty_inject_gate(int fd)
{
	struct mid_event ev;
	char path[512];
	int e = errno;

	if(mid_in_shim || !READY())
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_TTY_INJECT;
	ev.fdkind = MID_FD_TTY;
	mid_path_fd(fd, path, sizeof(path));
	ev.path = path;
	return mid_hook_check(&ev, e);
}

_Static_assert((TIOCSTI | 0xe) == (TIOCLINUX | 0xe), "one compare finds both requests");

MID_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	unsigned r = (unsigned)req;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	/* Every other request costs this one compare. */
	if(__builtin_expect((r | 0xe) == (TIOCSTI | 0xe), 0) && (r == TIOCSTI || r == TIOCLINUX) &&
	   tty_inject_gate(fd))
		return -1;
	return REAL(ioctl)(fd, req, arg);
}
