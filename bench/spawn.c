/* SPDX-License-Identifier: MIT */
/*
 * The exec storm: start a program N times with posix_spawn and wait for
 * each, so every start crosses the gate's exec boundary and, under the
 * shim, loads the preload into a fresh process.
 *
 *   spawn N [PROGRAM [ARGS...]]     (default /bin/true)
 *
 * Prints "spawn <N> <wall ms> ms <CPU ms> cpu-ms <F> faults": the wall
 * time of the whole storm, the CPU time (user and system) it took, this
 * process's and its children's, and the page faults (minor and major) of
 * its children per start, which do not depend on how busy the machine is. The harness compares CPU time, which does not count
 * waiting for a core another program holds. "spawn 1 /bin/sh -c LOOP"
 * times a shell loop the same way. Exit 1 when a spawn fails or a child
 * does not exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "mid.h"

#define N_MAX 100000L

extern char **environ;

static char *default_argv[] = {"/bin/true", NULL};

static uint64_t tv_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
}

/* CPU time used so far by this process and its waited-for children;
 * the children's page faults in '*faults'. */
static uint64_t cpu_ns(long *faults)
{
	struct rusage self, kids;

	*faults = 0;
	if(getrusage(RUSAGE_SELF, &self) < 0 || getrusage(RUSAGE_CHILDREN, &kids) < 0)
		return 0;
	*faults = kids.ru_minflt + kids.ru_majflt;
	return tv_ns(&self.ru_utime) + tv_ns(&self.ru_stime) + tv_ns(&kids.ru_utime) +
	       tv_ns(&kids.ru_stime);
}

int main(int argc, char **argv)
{
	char **child_argv = argc > 2 ? argv + 2 : default_argv;
	uint64_t t0, t1, c0, c1;
	long f0, f1;
	char *end;
	long n, i;
	pid_t pid;
	int st, e;

	if(argc < 2) {
		fputs("usage: spawn N [PROGRAM [ARGS...]]\n", stderr);
		return 2;
	}
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if(errno || *end || n < 1 || n > N_MAX) {
		fprintf(stderr, "spawn: N must be 1..%ld\n", N_MAX);
		return 2;
	}
	c0 = cpu_ns(&f0);
	t0 = mid_now_ns();
	for(i = 0; i < n; i++) {
		e = posix_spawn(&pid, child_argv[0], NULL, NULL, child_argv, environ);
		if(e) {
			fprintf(stderr, "spawn: %s: %s (after %ld)\n", child_argv[0],
			        strerror(e), i);
			return 1;
		}
		if(waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr,
			        "spawn: child %ld of %s did not exit 0 (status %#x)\n", i,
			        child_argv[0], (unsigned)st);
			return 1;
		}
	}
	t1 = mid_now_ns();
	c1 = cpu_ns(&f1);
	printf("spawn %ld %.1f ms %.1f cpu-ms %.1f faults\n", n, (double)(t1 - t0) / 1e6,
	       (double)(c1 - c0) / 1e6, (double)(f1 - f0) / (double)n);
	return 0;
}
