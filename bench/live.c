/* SPDX-License-Identifier: MIT */
/*
 * One of many live gated processes: run under the shim, it has validated
 * in its startup gate before main(); then it sleeps, and every PERIOD
 * seconds writes a byte to DIR/live.PID, a gated write whose validate
 * reuses the kept-alive connection (the cached allow has long run out),
 * so the connection stays in use. A file of its own: thousands of
 * processes appending to one file queue on its lock. It exits after
 * SECONDS.
 *
 *   live SECONDS DIR [PERIOD]
 *
 * Bounds: SECONDS 1..3600, PERIOD 1..25 (default 20, under midd's 30 s
 * deadline for an idle connection).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long arg(const char *s, long lo, long hi)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *end || v < lo || v > hi ? -1 : v;
}

int main(int argc, char **argv)
{
	long secs = argc > 2 ? arg(argv[1], 1, 3600) : -1;
	long period = argc > 3 ? arg(argv[3], 1, 25) : 20;
	char path[4096];
	time_t end;
	int n;

	n = argc > 2 ? snprintf(path, sizeof(path), "%s/live.%ld", argv[2], (long)getpid()) : -1;
	if(secs < 0 || period < 0 || n < 0 || (size_t)n >= sizeof(path)) {
		fputs("usage: live SECONDS DIR [PERIOD]\n", stderr);
		return 2;
	}
	end = time(NULL) + secs;
	while(time(NULL) < end) {
		int fd;

		sleep((unsigned)(end - time(NULL) < period ? end - time(NULL) : period));
		fd = open(path, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0600);
		if(fd < 0 || write(fd, ".", 1) != 1)
			return 1;
		close(fd);
	}
	return 0;
}
