/* SPDX-License-Identifier: MIT */
/*
 * What supervise mode costs a statically linked program (built -static,
 * so `midshim run` supervises it without the preload):
 *
 *   static_supcost gated N DIR    N opens with write intent (+ close) of DIR/f
 *   static_supcost writes N FILE  one open of FILE with write intent, N writes
 *                                 of one byte to it
 *   static_supcost ungated N      N getppid calls, which the filter lets through
 *   static_supcost spawn N        N posix_spawns of itself ("true"), each waited for
 *   static_supcost true
 *
 * Prints "<mode> <N> <ns per op>": for gated, writes and ungated the median of
 * the N calls' own wall times (a call preempted by another tenant of a
 * shared machine moves the median little), for spawn the mean. The
 * harness (bench/supervise.sh) takes the difference between a supervised
 * and a plain run.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 0;
	char path[4096];
	uint64_t t0, *lat = NULL;

	if(argc > 1 && !strcmp(argv[1], "true"))
		return 0;
	if(argc < 3 || n <= 0 || n > 10000000) {
		fprintf(stderr, "usage: static_supcost gated N DIR | writes N FILE | ungated N | spawn N\n");
		return 2;
	}
	if(!strcmp(argv[1], "gated")) {
		if(argc < 4)
			return 2;
		snprintf(path, sizeof(path), "%s/f", argv[3]);
		lat = malloc(sizeof(*lat) * (size_t)n);
		if(!lat)
			return 1;
		for(long i = 0; i < n; i++) {
			int fd;

			t0 = now_ns();
			fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
			if(fd < 0) {
				perror(path);
				return 1;
			}
			close(fd);
			lat[i] = now_ns() - t0;
		}
	} else if(!strcmp(argv[1], "writes")) {
		int fd = argc > 3 ? open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;

		lat = malloc(sizeof(*lat) * (size_t)n);
		if(fd < 0 || !lat)
			return 1;
		for(long i = 0; i < n; i++) {
			t0 = now_ns();
			if(write(fd, "x", 1) != 1)
				return 1;
			lat[i] = now_ns() - t0;
		}
		close(fd);
	} else if(!strcmp(argv[1], "ungated")) {
		lat = malloc(sizeof(*lat) * (size_t)n);
		if(!lat)
			return 1;
		for(long i = 0; i < n; i++) {
			t0 = now_ns();
			syscall(SYS_getppid);
			lat[i] = now_ns() - t0;
		}
	} else if(!strcmp(argv[1], "spawn")) {
		char *child[] = {argv[0], "true", NULL};

		t0 = now_ns();
		for(long i = 0; i < n; i++) {
			pid_t pid;
			int st;

			if(posix_spawn(&pid, "/proc/self/exe", NULL, NULL, child, environ) ||
			   waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
				fprintf(stderr, "spawn %ld failed\n", i);
				return 1;
			}
		}
	} else {
		return 2;
	}
	if(lat) {
		qsort(lat, (size_t)n, sizeof(*lat), cmp);
		printf("%s %ld %.1f\n", argv[1], n, (double)lat[n / 2]);
		free(lat);
		return 0;
	}
	printf("%s %ld %.1f\n", argv[1], n, (double)(now_ns() - t0) / (double)n);
	return 0;
}
