/* SPDX-License-Identifier: MIT */
/*
 * The exec storm: start a program N times with posix_spawn and wait for
 * each, so every start crosses the gate's exec boundary and, under the
 * shim, loads the preload into a fresh process.
 *
 *   spawn N [PROGRAM]     (default /bin/true)
 *
 * Prints "spawn <N> <total ms> ms <us per spawn> us/spawn". Exit 1 when a
 * spawn fails or a child does not exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "mid.h"

#define N_MAX 100000L

extern char **environ;

int main(int argc, char **argv)
{
	const char *prog = argc > 2 ? argv[2] : "/bin/true";
	char *child_argv[2];
	uint64_t t0, t1;
	char *end;
	long n, i;
	pid_t pid;
	int st, e;

	if(argc < 2 || argc > 3) {
		fputs("usage: spawn N [PROGRAM]\n", stderr);
		return 2;
	}
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if(errno || *end || n < 1 || n > N_MAX) {
		fprintf(stderr, "spawn: N must be 1..%ld\n", N_MAX);
		return 2;
	}
	child_argv[0] = (char *)(uintptr_t)prog;
	child_argv[1] = NULL;
	t0 = mid_now_ns();
	for(i = 0; i < n; i++) {
		e = posix_spawn(&pid, prog, NULL, NULL, child_argv, environ);
		if(e) {
			fprintf(stderr, "spawn: %s: %s (after %ld)\n", prog, strerror(e), i);
			return 1;
		}
		if(waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "spawn: child %ld of %s did not exit 0 (status %#x)\n", i,
				prog, (unsigned)st);
			return 1;
		}
	}
	t1 = mid_now_ns();
	printf("spawn %ld %.1f ms %.1f us/spawn\n", n, (double)(t1 - t0) / 1e6,
	       (double)(t1 - t0) / 1e3 / (double)n);
	return 0;
}
