/* SPDX-License-Identifier: MIT */
/*
 * The floor under a cold validate: the same exchange with no work on
 * either side. A child echoes a 200-byte answer to each 400-byte request
 * over a unix stream socket pair; the parent waits for it with poll, as
 * the shim's client does. Each round trip is timed on CLOCK_MONOTONIC.
 *
 *   roundtrip N
 *
 * Prints "roundtrip <N> p50 <us> p99 <us>". Run it under taskset to put
 * both processes on one CPU; unpinned, the scheduler puts them on two,
 * and each round trip waits for two cross-CPU wake-ups. Exit 1 when a
 * send or receive fails.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mid.h"
#include "stats.h"

#define N_MAX 1000000L
#define REQ 400
#define ANS 200

/* Answer every request read from 'fd' until the other end closes. */
static void echo_loop(int fd)
{
	char buf[REQ], ans[ANS];

	memset(ans, 'a', sizeof(ans));
	for(;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if(poll(&p, 1, -1) < 0 || recv(fd, buf, sizeof(buf), 0) <= 0 ||
		   send(fd, ans, sizeof(ans), MSG_NOSIGNAL) != ANS)
			_exit(0);
	}
}

/* One request and its whole answer. 0, or -1 on an error. */
static int exchange(int fd, const char *req)
{
	char buf[ANS];
	size_t got = 0;

	if(send(fd, req, REQ, MSG_NOSIGNAL) != REQ)
		return -1;
	while(got < ANS) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if(poll(&p, 1, -1) < 0 || (n = recv(fd, buf, ANS - got, MSG_DONTWAIT)) <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char req[REQ];
	uint64_t *t;
	long n, i;
	int sv[2], st;
	pid_t pid;

	if(argc != 2 || (n = strtol(argv[1], NULL, 10)) < 1 || n > N_MAX) {
		fprintf(stderr, "usage: roundtrip N   (1..%ld)\n", N_MAX);
		return 2;
	}
	if(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) || !(t = calloc((size_t)n, sizeof(*t)))) {
		perror("roundtrip");
		return 1;
	}
	if((pid = fork()) < 0) {
		perror("roundtrip: fork");
		return 1;
	}
	if(pid == 0) {
		close(sv[0]);
		echo_loop(sv[1]);
	}
	close(sv[1]);
	memset(req, 'r', sizeof(req));
	for(i = 0; i < n; i++) {
		uint64_t t0 = mid_now_ns();

		if(exchange(sv[0], req)) {
			perror("roundtrip: exchange");
			return 1;
		}
		t[i] = mid_now_ns() - t0;
	}
	close(sv[0]);
	waitpid(pid, &st, 0);
	sort_ns(t, n);
	printf("roundtrip %ld p50 %.1f p99 %.1f\n", n, pct(t, n, 0.50), pct(t, n, 0.99));
	free(t);
	return 0;
}
