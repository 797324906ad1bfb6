/* SPDX-License-Identifier: MIT */
/*
 * The re-entrancy guard's flag and the shim's one stderr line, which
 * every module may use (base.h). The line is written with the guard up,
 * so the write hook lets it through, and with stack buffers only.
 */
#define _GNU_SOURCE
#include "base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

__thread int mid_in_shim __attribute__((tls_model("initial-exec")));
__thread int mid_forking __attribute__((tls_model("initial-exec")));

/* The process that forked, and the child's reset (both set by the
 * preload's fork handlers; the launcher never forks in that window). */
pid_t mid_fork_parent;
void (*mid_fork_child_reset)(void);

bool mid_fork_window_child(void)
{
	if(getpid() == mid_fork_parent)
		return false;
	mid_forking = 0;
	if(mid_fork_child_reset)
		mid_fork_child_reset();
	return true;
}

static void put(int fd, const char *s, size_t n)
{
	while(n > 0) {
		ssize_t w = write(fd, s, n);
		if(w < 0 && errno == EINTR)
			continue;
		if(w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void mid_shim_say(const char *fmt, ...)
{
	char line[1024];
	sigset_t mask;
	va_list ap;
	int n, e = errno;

	memcpy(line, "midshim: ", 9);
	va_start(ap, fmt);
	n = vsnprintf(line + 9, sizeof(line) - 10, fmt, ap);
	va_end(ap);
	if(n < 0)
		n = 0;
	n += 9;
	if(n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	mid_shim_enter(&mask);
	put(2, line, (size_t)n);
	mid_shim_leave(&mask);
	errno = e;
}
