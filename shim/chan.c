/* SPDX-License-Identifier: MIT */
/*
 * The process's push channel. After its first allow from the control
 * plane a process opens one channel of its own and arms it so that any
 * event on it (a kill line from midd, or the socket's close) sends the
 * process SIGKILL, through the kernel's O_ASYNC signal: no thread and no
 * signal handler is added to the program, and SIGKILL can be neither
 * blocked nor ignored. A child that inherits a fresh allow opens none
 * until its own first validate, so short-lived children pay nothing.
 * Ownership of the signal does not pass to fork children: each process
 * drops its parent's copy and opens its own at its own first validate.
 */
#define _GNU_SOURCE
#include "base.h"
#include "chan.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* After a failed open the next try waits: 1 s, doubling to a minute.
 * Without it every uncached validate of a process whose control plane
 * has no push route would pay a second round trip. */
#define CHAN_RETRY_MIN_MS 1000u
#define CHAN_RETRY_MAX_MS 60000u

MID_HOT static int chan_fd = -1;
MID_HOT static pid_t chan_pid;
static uint64_t chan_retry_at_ms;
static unsigned chan_retry_ms;

void mid_chan_open(struct mid_client *c, const char *device)
{
	char hello[256];
	pid_t me = getpid();
	int fd;

	if(chan_pid != me) {
		chan_fd = -1;
		chan_pid = me;
		chan_retry_at_ms = 0;
		chan_retry_ms = 0;
	}
	if(chan_fd >= 0 || mid_now_ms() < chan_retry_at_ms)
		return;
	snprintf(hello, sizeof(hello),
		 "x-midshim-pid: %ld\r\nx-midshim-program: %.60s\r\nx-midshim-kind: preload\r\n"
		 "x-midshim-since: %lld\r\n", (long)me, program_invocation_short_name,
		 (long long)time(NULL) * 1000);
	if(mid_client_channel(c, device, hello, &fd)) {
		/* the TTL gate still holds; try again later */
		chan_retry_ms = chan_retry_ms ? chan_retry_ms * 2 : CHAN_RETRY_MIN_MS;
		if(chan_retry_ms > CHAN_RETRY_MAX_MS)
			chan_retry_ms = CHAN_RETRY_MAX_MS;
		chan_retry_at_ms = mid_now_ms() + chan_retry_ms;
		return;
	}
	chan_retry_ms = 0;
	fd = mid_client_fd_raise(fd);
	if(fcntl(fd, F_SETOWN, me) || fcntl(fd, F_SETSIG, SIGKILL) ||
	   fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC)) {
		close(fd);
		return;
	}
	/* A kill (or a close) that arrived before the socket was armed
	 * raised no signal: look once now. */
	{
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if(poll(&p, 1, 0) > 0) {
			char b;

			if(recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
				kill(me, SIGKILL);
			close(fd);
			return;
		}
	}
	chan_fd = fd;
}

int mid_chan_fd(void)
{
	return chan_pid == getpid() ? chan_fd : -1;
}

void mid_chan_atfork_child(void)
{
	/* The parent's channel signals the parent only; the child's copy
	 * would keep it open after the parent is gone. */
	if(chan_fd >= 0) {
		close(chan_fd);
		chan_fd = -1;
	}
}

void mid_chan_forget(void)
{
	chan_fd = -1;
}
