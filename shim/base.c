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
