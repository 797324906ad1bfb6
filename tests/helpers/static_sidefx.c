/* SPDX-License-Identifier: MIT */
/*
 * A statically linked program that makes the three side effects a
 * supervisor must gate, for tests/e2e/supervise.sh:
 *
 *   static_sidefx MODE WAITFILE OUTFILE PORT CHILD [ARGS...]
 *
 * waits (at most 10 s) until WAITFILE exists ("-": not at all), writes
 * OUTFILE, connects to 127.0.0.1:PORT and sends a line, runs CHILD and
 * prints its output; one line per step. MODE "libc" calls libc's
 * wrappers; "raw" makes every gated call with its own `syscall`
 * instruction; "uring" first tries to set up an io_uring, then falls back
 * to libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int raw_mode;

/* A system call through this program's own instruction: no libc in the
 * way, nothing a preload could hook. */
static long sys6(long n, long a, long b, long c, long d)
{
#if defined(__x86_64__)
	long r;
	register long r10 __asm__("r10") = d;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	if(r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
#else
	return syscall(n, a, b, c, d);
#endif
}

static int do_open(const char *path, int flags, int mode)
{
	if(raw_mode)
		return (int)sys6(__NR_openat, AT_FDCWD, (long)path, flags, mode);
	return open(path, flags, mode);
}

static int do_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if(raw_mode)
		return (int)sys6(__NR_connect, fd, (long)sa, len, 0);
	return connect(fd, sa, len);
}

static void do_exec(const char *path, char **argv)
{
	extern char **environ;

	if(raw_mode)
		sys6(__NR_execve, (long)path, (long)argv, (long)environ, 0);
	else
		execve(path, argv, environ);
}

static void step_write(const char *file)
{
	static const char text[] = "written by static_sidefx\n";
	int fd = do_open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if(fd < 0 || write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1) {
		printf("write error: %s\n", strerror(errno));
	} else {
		printf("write ok\n");
	}
	if(fd >= 0)
		close(fd);
}

static void step_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if(fd < 0 || do_connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	   write(fd, "hello from static_sidefx\n", 25) != 25)
		printf("connect error: %s\n", strerror(errno));
	else
		printf("connect ok\n");
	if(fd >= 0)
		close(fd);
}

static void step_exec(char **argv)
{
	int out[2], status[2], e = 0, st;
	char buf[256];
	ssize_t n, got = 0;
	pid_t pid;

	if(pipe2(out, O_CLOEXEC) || pipe2(status, O_CLOEXEC)) {
		printf("exec error: %s\n", strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if(pid == 0) {
		dup2(out[1], 1);
		do_exec(argv[0], argv);
		e = errno;
		if(write(status[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(out[1]);
	close(status[1]);
	while(got < (ssize_t)sizeof(buf) - 1 && (n = read(out[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	if(read(status[0], &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = 0;
	waitpid(pid, &st, 0);
	if(e)
		printf("exec error: %s\n", strerror(e));
	else
		printf("exec ok: %s", buf);
	close(out[0]);
	close(status[0]);
}

/* io_uring_setup: a ring would carry writes past any gate. */
static void step_uring(void)
{
	unsigned char params[120];
	long fd;

	memset(params, 0, sizeof(params));
	fd = sys6(__NR_io_uring_setup, 4, (long)params, 0, 0);
	if(fd >= 0) {
		printf("io_uring: set up\n");
		close((int)fd);
	} else {
		printf("io_uring: %s; falling back\n", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	if(argc < 6) {
		fprintf(stderr, "usage: static_sidefx libc|raw|uring WAITFILE OUTFILE PORT CHILD [ARGS...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	raw_mode = !strcmp(argv[1], "raw");
	if(!strcmp(argv[1], "uring"))
		step_uring();
	if(strcmp(argv[2], "-")) {
		for(int i = 0; i < 1000 && access(argv[2], F_OK); i++)
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	step_write(argv[3]);
	step_connect(atoi(argv[4]));
	step_exec(argv + 5);
	return 0;
}
