/* SPDX-License-Identifier: MIT */
/*
 * The shim's hot path: how long one write(2) takes when the gate's answer
 * is already known. Run it with and without LD_PRELOAD and compare.
 *
 *   hotpath null N        N one-byte writes to /dev/null
 *   hotpath file N DIR    N 4 KiB writes to a file in DIR
 *   hotpath busy SECS DIR 4 KiB writes to a file in DIR for SECS seconds
 *   hotpath pause DIR     one write of each kind, "ready", then sleep
 *   hotpath turns KIND N CHUNK [DIR]
 *                         N writes of KIND (null, or file in DIR) in
 *                         chunks of CHUNK, taking turns with another
 *                         hotpath (see turns())
 *
 * null and file print "<mode> <N> <wall ns per op> ns/op <CPU ns per op>
 * cpu-ns/op" after a warm-up of N/10 operations. The CPU time (this
 * process's, user and system) is what the harness compares: unlike the
 * wall clock it does not count time spent waiting for a core that
 * another program holds. busy is the victim of the revoke-to-halt benchmark:
 * it prints "ready" after its first write and exits 0 when its time is
 * up, so a kill shows. pause holds still for
 * the RSS benchmark (at most 60 s). turns prints the CPU ns per write of
 * each chunk, one a line. The file never grows past 1 MiB: the writer
 * seeks back to its start every 256 blocks (and before each chunk).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mid.h"

#define BLOCK 4096
#define WRAP 256         /* blocks before seeking back: 1 MiB file */
#define N_MAX 100000000L /* a run is bounded even with a typo in N */
#define BUSY_MAX_S 120L
#define PAUSE_S 60
#define CHUNKS_MAX 1000000L
#define TURN_IN 3  /* a byte here: our turn */
#define TURN_OUT 4 /* a byte there: the other's turn */

static char block[BLOCK];

static int usage(void)
{
	fputs("usage: hotpath null N | file N DIR | busy SECONDS DIR | pause DIR\n"
	      "       hotpath turns null|file N CHUNK [DIR]\n",
	      stderr);
	return 2;
}

static long arg_long(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno || *end || v < 1 || v > max)
		return -1;
	return v;
}

/* Open a fresh file "hotpath.<pid>" in 'dir'; it is unlinked at once so
 * nothing is left behind whatever happens to us. */
static int open_scratch(const char *dir)
{
	char path[4096];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/hotpath.%ld", dir, (long)getpid());
	if(n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "hotpath: directory name too long\n");
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0) {
		fprintf(stderr, "hotpath: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if(unlink(path) < 0) {
		fprintf(stderr, "hotpath: unlink %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* 'n' writes of 'len' bytes to 'fd'; a file is rewound every WRAP writes. */
static int write_loop(int fd, size_t len, long n, int wrap)
{
	long i;

	for(i = 0; i < n; i++) {
		if(write(fd, block, len) != (ssize_t)len) {
			fprintf(stderr, "hotpath: write: %s\n", strerror(errno));
			return -1;
		}
		if(wrap && (i + 1) % WRAP == 0 && lseek(fd, 0, SEEK_SET) < 0) {
			fprintf(stderr, "hotpath: lseek: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	if(clock_gettime(c, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static int timed(const char *mode, int fd, size_t len, long n, int wrap)
{
	uint64_t t0, t1, c0, c1;

	if(write_loop(fd, len, n / 10 + 1, wrap) < 0)
		return 1;
	c0 = cpu_ns();
	t0 = mid_now_ns();
	if(write_loop(fd, len, n, wrap) < 0)
		return 1;
	t1 = mid_now_ns();
	c1 = cpu_ns();
	printf("%s %ld %.2f ns/op %.2f cpu-ns/op\n", mode, n,
	       (double)(t1 - t0) / (double)n, (double)(c1 - c0) / (double)n);
	return 0;
}

/*
 * Two hotpaths, each under another preload, taking turns chunk by chunk:
 * the one whose turn it is finds a byte on TURN_IN, writes its chunk and
 * passes the turn with a byte on TURN_OUT (bench/counts.sh gives one the
 * first byte). Neighbouring chunks of the two meet the same disturbances
 * of a shared machine, which whole runs one after the other do not. Each
 * chunk is timed on this thread's CPU clock, so time spent waiting for a
 * core, or for the turn, is left out.
 */
static int turns(int fd, size_t len, long n, long chunk, int wrap)
{
	long k, nk = n / chunk;
	double *ns = calloc((size_t)nk, sizeof(*ns));
	uint64_t c0;
	int rc = 1;
	char t;

	if(!ns || write_loop(fd, len, n / 10 + 1, wrap) < 0)
		goto out;
	for(k = 0; k < nk; k++) {
		if(wrap && lseek(fd, 0, SEEK_SET) < 0)
			goto out;
		if(read(TURN_IN, &t, 1) != 1) {
			fprintf(stderr, "hotpath: no turn on descriptor %d\n", TURN_IN);
			goto out;
		}
		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		if(write_loop(fd, len, chunk, wrap) < 0)
			goto out;
		ns[k] = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)chunk;
		if(write(TURN_OUT, "t", 1) != 1) {
			fprintf(stderr, "hotpath: passing the turn: %s\n", strerror(errno));
			goto out;
		}
	}
	for(k = 0; k < nk; k++)
		printf("%.2f\n", ns[k]);
	rc = 0;
out:
	free(ns);
	return rc;
}

/* hotpath turns KIND N CHUNK [DIR] */
static int turns_main(int argc, char **argv)
{
	long n, chunk;
	int fd, rc, file;

	if(argc < 5 || argc > 6)
		return usage();
	file = !strcmp(argv[2], "file");
	if((!file && strcmp(argv[2], "null")) || argc != 5 + file)
		return usage();
	n = arg_long(argv[3], N_MAX);
	chunk = arg_long(argv[4], n < 0 ? 1 : n);
	if(n < 0 || chunk < 0 || n / chunk > CHUNKS_MAX)
		return usage();
	fd = file ? open_scratch(argv[5]) : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if(fd < 0) {
		if(!file)
			fprintf(stderr, "hotpath: /dev/null: %s\n", strerror(errno));
		return 1;
	}
	rc = turns(fd, file ? BLOCK : 1, n, chunk, file);
	close(fd);
	return rc;
}

static int busy(long secs, const char *dir)
{
	uint64_t end = mid_now_ms() + (uint64_t)secs * 1000;
	int fd = open_scratch(dir);

	if(fd < 0 || write_loop(fd, BLOCK, 1, 1) < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	while(mid_now_ms() < end) {
		if(write_loop(fd, BLOCK, WRAP, 1) < 0)
			return 1;
	}
	close(fd);
	return 0;
}

static int pause_ready(const char *dir)
{
	struct timespec ts = {.tv_sec = PAUSE_S};
	int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int fd = open_scratch(dir);

	if(nul < 0 || fd < 0)
		return 1;
	if(write_loop(nul, 1, 1, 0) < 0 || write_loop(fd, BLOCK, 1, 1) < 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	/* A signal ends the sleep early; that is how the harness stops us. */
	while(nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

int main(int argc, char **argv)
{
	long n;
	int fd, rc;

	memset(block, 'x', sizeof(block));
	if(argc == 3 && !strcmp(argv[1], "null")) {
		n = arg_long(argv[2], N_MAX);
		if(n < 0)
			return usage();
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if(fd < 0) {
			fprintf(stderr, "hotpath: /dev/null: %s\n", strerror(errno));
			return 1;
		}
		rc = timed("null", fd, 1, n, 0);
		close(fd);
		return rc;
	}
	if(argc == 4 && !strcmp(argv[1], "file")) {
		n = arg_long(argv[2], N_MAX);
		if(n < 0)
			return usage();
		fd = open_scratch(argv[3]);
		if(fd < 0)
			return 1;
		rc = timed("file", fd, BLOCK, n, 1);
		close(fd);
		return rc;
	}
	if(argc == 4 && !strcmp(argv[1], "busy")) {
		n = arg_long(argv[2], BUSY_MAX_S);
		if(n < 0)
			return usage();
		return busy(n, argv[3]);
	}
	if(argc >= 2 && !strcmp(argv[1], "turns"))
		return turns_main(argc, argv);
	if(argc == 3 && !strcmp(argv[1], "pause"))
		return pause_ready(argv[2]);
	return usage();
}
