/* SPDX-License-Identifier: MIT */
/*
 * Signals as events. A signal to another process is a side effect (it
 * stops a service, or kills the supervisor that would have noticed); a
 * signal to this process itself or one of its threads, and signal 0,
 * which only asks whether the target exists, are not, and pass without
 * the gate. The target's program is read from /proc for the policy's
 * "path" rules; a group or every process has no one program. The
 * launcher's supervisor (cli/midshim_sup.c) asks the same questions of
 * a process it supervises, naming it by its PID.
 */
#define _GNU_SOURCE
#include "sigevent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mid_signal_describe(int pid, int sig, struct mid_event *ev, char *buf, size_t buflen)
{
	char link[64];
	ssize_t n;
	int e = errno;

	memset(ev, 0, sizeof(*ev));
	ev->kind = MID_EV_SIGNAL;
	ev->pid = pid;
	ev->sig = sig;
	if(pid > 0 && buflen > 1) {
		snprintf(link, sizeof(link), "/proc/%d/exe", pid);
		n = readlink(link, buf, buflen - 1);
		if(n > 0 && (size_t)n < buflen - 1) {
			buf[n] = '\0';
			ev->path = buf;
		}
	}
	errno = e;
}

bool mid_signal_event(int pid, int sig, struct mid_event *ev, char *buf, size_t buflen)
{
	if(sig == 0 || pid == (int)getpid())
		return false;
	mid_signal_describe(pid, sig, ev, buf, buflen);
	return true;
}

bool mid_signal_thread_of(int proc, int tid)
{
	char task[64];
	int e = errno;
	bool own;

	if(tid <= 0 || proc < 0)
		return false;
	/* /proc/TID/task lists every thread of TID's process, so 'proc'
	 * may be any of its threads, as a seccomp notification names it. */
	if(proc)
		snprintf(task, sizeof(task), "/proc/%d/task/%d", proc, tid);
	else
		snprintf(task, sizeof(task), "/proc/self/task/%d", tid);
	own = access(task, F_OK) == 0;
	errno = e;
	return own;
}

bool mid_signal_own_thread(int tid)
{
	if(tid == (int)gettid() || tid == (int)getpid())
		return true;
	return mid_signal_thread_of(0, tid);
}

int mid_signal_pidfd_pid(int proc, int pidfd)
{
	char path[64], info[4096];
	const char *p;
	int fd, pid = MID_SIGNAL_UNKNOWN, e = errno;
	ssize_t n;

	if(proc)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", proc, pidfd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		goto out;
	/* "Pid:" follows a few short lines: the first 4 KiB hold it. */
	n = read(fd, info, sizeof(info) - 1);
	close(fd);
	if(n <= 0)
		goto out;
	info[n] = '\0';
	p = strstr(info, "\nPid:\t");
	if(!p)
		goto out;
	pid = atoi(p + strlen("\nPid:\t"));
	/* 0: a process outside this PID namespace, a process all the same */
	if(pid == 0)
		pid = MID_SIGNAL_UNKNOWN;
out:
	errno = e;
	return pid;
}
