/* SPDX-License-Identifier: MIT */
/*
 * escape: the roads around the gate that review found, one per op, each
 * a public libc call (an alias, a versioned lookup, an address the gate
 * once could not read...):
 *   escape OP ARGS...     (escape with no arguments lists the ops)
 * Like sidefx: exit 0 when the side effect happened, 1 with a line
 * "escape: OP: <strerror>" when it failed; when GO names a FIFO, "ready"
 * is printed and the FIFO read just before the side effect, everything
 * it needs (an open file, a connection, bytes in a buffer) set up first.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <arpa/inet.h>
#include <execinfo.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "go.h"
#include "ops.h"

/* glibc's other names, which no header declares. */
ssize_t __write(int fd, const void *buf, size_t n);
ssize_t __pwrite64(int fd, const void *buf, size_t n, off_t off);
int __open(const char *path, int flags, ...);
int __connect(int fd, const struct sockaddr *sa, socklen_t len);
ssize_t __send(int fd, const void *buf, size_t n, int flags);
int _IO_fputs(const char *s, FILE *f);
FILE *_IO_fopen(const char *path, const char *mode);
FILE *_IO_popen(const char *cmd, const char *mode);
int _IO_fflush(FILE *f);
int _IO_do_write(FILE *f, const char *p, size_t n);

static const char payload[] = "payload\n";
#define PAYLOAD_LEN (sizeof(payload) - 1)

static int out_fd(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

/* A write through the function 'w' (write's shape). */
typedef ssize_t write_fn(int fd, const void *buf, size_t n);

static int write_via(const char *path, write_fn *w)
{
	int fd = out_fd(path);

	if(fd < 0)
		return fail();
	wait_go();
	if(!w || w(fd, payload, PAYLOAD_LEN) != (ssize_t)PAYLOAD_LEN)
		return fail();
	return 0;
}

/* A looked-up symbol as a write function (ISO C has no cast). */
static write_fn *as_write(void *p)
{
	write_fn *w;

	memcpy(&w, &p, sizeof(w));
	return w;
}

/* ---- class: other names and lookups ---------------------------------------- */

static int op___write(char **av)
{
	return write_via(av[0], __write);
}

static int op___pwrite64(char **av)
{
	int fd = out_fd(av[0]);

	if(fd < 0)
		return fail();
	wait_go();
	return __pwrite64(fd, payload, PAYLOAD_LEN, 0) == (ssize_t)PAYLOAD_LEN ? 0 : fail();
}

/* Truncates FILE. */
static int op___open(char **av)
{
	wait_go();
	return __open(av[0], O_WRONLY | O_TRUNC) >= 0 ? 0 : fail();
}

static int op__IO_fopen(char **av)
{
	wait_go();
	return _IO_fopen(av[0], "w") ? 0 : fail();
}

static int op__IO_fputs(char **av)
{
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	setvbuf(f, NULL, _IONBF, 0);
	wait_go();
	return _IO_fputs(payload, f) >= 0 ? 0 : fail();
}

static int op__IO_popen(char **av)
{
	FILE *p;

	wait_go();
	p = _IO_popen(av[0], "r");
	if(!p)
		return fail();
	return pclose(p) == 0 ? 0 : 1;
}

/* Bytes go into the buffer while allowed; the flush comes after. _exit
 * then leaves whatever was not flushed unwritten. */
static FILE *buffered(const char *path)
{
	FILE *f = fopen(path, "w");

	if(f)
		fputs(payload, f);
	return f;
}

static int op__IO_fflush(char **av)
{
	FILE *f = buffered(av[0]);

	if(!f)
		return fail();
	wait_go();
	if(_IO_fflush(f))
		return fail();
	_exit(0);
}

static int op_fcloseall(char **av)
{
	FILE *f = buffered(av[0]);

	if(!f)
		return fail();
	wait_go();
	if(fcloseall())
		return fail();
	_exit(0);
}

static int op__flushlbf(char **av)
{
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	setvbuf(f, NULL, _IOLBF, 0);
	fputs("payload", f); /* no newline: it waits in the buffer */
	wait_go();
	_flushlbf();
	_exit(0);
}

static int op__IO_do_write(char **av)
{
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	wait_go();
	if(_IO_do_write(f, payload, PAYLOAD_LEN))
		return fail();
	_exit(0);
}

static int op_dlvsym(char **av)
{
	return write_via(av[0], as_write(dlvsym(RTLD_DEFAULT, "write", "GLIBC_2.2.5")));
}

/* Through a handle: its own scope, where the preload is not. */
static int op_dlsym_libc(char **av)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY);

	return write_via(av[0], h ? as_write(dlsym(h, "write")) : NULL);
}

static int op_dlvsym_libc(char **av)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY);

	return write_via(av[0], h ? as_write(dlvsym(h, "write", "GLIBC_2.2.5")) : NULL);
}

/* ---- class: signal handlers --------------------------------------------- */

extern char **environ;
static const char *alarm_file;

/* Runs while execve is busy with the program: it writes, and ends. */
static void on_alarm(int sig)
{
	int fd = open(alarm_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	(void)sig;
	if(fd >= 0 && write(fd, payload, PAYLOAD_LEN) == (ssize_t)PAYLOAD_LEN)
		_exit(0);
	_exit(3);
}

/* execve of a FIFO: whatever looks at the file first must not sit in a
 * blocking open while a SIGALRM handler acts. */
static int op_fifo_exec(char **av)
{
	char *argv[] = {av[1], NULL};

	alarm_file = av[0];
	signal(SIGALRM, on_alarm);
	wait_go();
	alarm(1);
	execve(av[1], argv, environ);
	return fail();
}

/* ---- class: stale state --------------------------------------------------- */

/* putc_unlocked's inline body fills the buffer with no call at all;
 * exit flushes it. */
static int op_exit_putc(char **av)
{
	FILE *f = fopen(av[0], "w");
	size_t i;

	if(!f || fputc('\n', f) == EOF)
		return fail(); /* the buffer now exists: no __overflow below */
	wait_go();
	for(i = 0; i < PAYLOAD_LEN; i++)
		__putc_unlocked_body(payload[i], f);
	exit(0);
}

/* After pclose, a file put on the pipe's old number by a raw fcntl
 * F_DUPFD: the fd-kind table must not still call it a pipe (pipes are
 * written without asking the control plane). */
static int op_pclose_dupfd(char **av)
{
	FILE *p = popen("cat >/dev/null", "w");
	int n, fd;

	if(!p)
		return fail();
	n = fileno(p);
	if(fputs("x\n", p) < 0 || fflush(p))
		return fail(); /* the table learns: a pipe */
	pclose(p);
	fd = out_fd(av[0]);
	if(fd < 0 || syscall(SYS_fcntl, fd, F_DUPFD, n) != n)
		return fail();
	close(fd);
	wait_go();
	return write(n, payload, PAYLOAD_LEN) == (ssize_t)PAYLOAD_LEN ? 0 : fail();
}

/* ---- class: side effects by other roads --------------------------------- */

/* fchmodat2 (Linux 6.6), by number: the syscall() hook must not pass a
 * number it does not know. */
static int op_syscall_fchmodat2(char **av)
{
	wait_go();
	return syscall(452, AT_FDCWD, av[0], 0600, 0) ? fail() : 0;
}

static int op_shm_open(char **av)
{
	wait_go();
	return shm_open(av[0], O_CREAT | O_RDWR, 0600) >= 0 ? 0 : fail();
}

static int op_mq_send(char **av)
{
	struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
	mqd_t q = mq_open(av[0], O_CREAT | O_RDWR, 0600, &attr);

	if(q == (mqd_t)-1)
		return fail();
	wait_go();
	return mq_send(q, payload, PAYLOAD_LEN, 0) ? fail() : 0;
}

static int op_aio_write(char **av)
{
	struct aiocb cb;
	const struct aiocb *list[1] = {&cb};
	int fd = out_fd(av[0]);

	if(fd < 0)
		return fail();
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = (void *)(uintptr_t)payload;
	cb.aio_nbytes = PAYLOAD_LEN;
	wait_go();
	if(aio_write(&cb) || aio_suspend(list, 1, NULL) || aio_return(&cb) != (ssize_t)PAYLOAD_LEN)
		return fail();
	return 0;
}

/* An open the spawned child makes before its exec, where no hook runs. */
static int op_spawn_addopen(char **av)
{
	char *argv[] = {"echo", "payload", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	if(posix_spawn_file_actions_init(&fa))
		return fail();
	wait_go();
	errno = posix_spawn_file_actions_addopen(&fa, 1, av[0], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if(errno)
		return fail();
	errno = posix_spawn(&pid, "/bin/echo", &fa, NULL, argv, environ);
	if(errno)
		return fail();
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : fail();
}

static int op_bind_unix(char **av)
{
	struct sockaddr_un un;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if(fd < 0)
		return fail();
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", av[0]);
	wait_go();
	return bind(fd, (struct sockaddr *)&un, sizeof(un)) ? fail() : 0;
}

static int op_backtrace_symbols_fd(char **av)
{
	void *frames[4];
	int n = backtrace(frames, 4), fd = out_fd(av[0]);

	if(fd < 0)
		return fail();
	wait_go();
	backtrace_symbols_fd(frames, n, fd);
	return 0;
}

static int op_putpwent(char **av)
{
	struct passwd pw = {.pw_name = "payload", .pw_passwd = "x", .pw_dir = "/", .pw_shell = "/"};
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	setvbuf(f, NULL, _IONBF, 0);
	wait_go();
	return putpwent(&pw, f) ? fail() : 0;
}

/* ---- class: addresses ------------------------------------------------------ */

static int tcp_to(const char *host, const char *port, int fd)
{
	struct sockaddr_in in;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons((unsigned short)atoi(port));
	if(inet_pton(AF_INET, host, &in.sin_addr) != 1)
		return -1;
	return connect(fd, (struct sockaddr *)&in, sizeof(in));
}

static int op___connect(char **av)
{
	struct sockaddr_in in;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(fd < 0)
		return fail();
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons((unsigned short)atoi(av[1]));
	inet_pton(AF_INET, av[0], &in.sin_addr);
	wait_go();
	return __connect(fd, (struct sockaddr *)&in, sizeof(in)) ? fail() : 0;
}

static int op___send(char **av)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(fd < 0 || tcp_to(av[0], av[1], fd))
		return fail();
	wait_go();
	return __send(fd, payload, PAYLOAD_LEN, 0) == (ssize_t)PAYLOAD_LEN ? 0 : fail();
}

/* sendto on a connected TCP socket with an AF_UNSPEC address: the
 * kernel ignores the address and sends to the peer. */
static int op_sendto_unspec(char **av)
{
	struct sockaddr sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(fd < 0 || tcp_to(av[0], av[1], fd))
		return fail();
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	wait_go();
	return sendto(fd, payload, PAYLOAD_LEN, 0, &sa, sizeof(sa)) == (ssize_t)PAYLOAD_LEN ? 0
											   : fail();
}

/* An IPv6 address in the 24 bytes of RFC 2133's sockaddr_in6 (no scope
 * id): the kernel takes it. 'how': connect, sendto (UDP) or fastopen. */
static int in6_24(const char *how, const char *host, const char *port)
{
	struct sockaddr_in6 in6;
	int udp = !strcmp(how, "sendto");
	int fd = socket(AF_INET6, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	ssize_t n;

	if(fd < 0)
		return fail();
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons((unsigned short)atoi(port));
	if(inet_pton(AF_INET6, host, &in6.sin6_addr) != 1)
		return fail();
	wait_go();
	if(!strcmp(how, "connect"))
		return connect(fd, (struct sockaddr *)&in6, 24) ? fail() : 0;
	n = sendto(fd, payload, PAYLOAD_LEN, udp ? 0 : MSG_FASTOPEN, (struct sockaddr *)&in6, 24);
	return n == (ssize_t)PAYLOAD_LEN ? 0 : fail();
}

static int op_connect_in6_24(char **av)
{
	return in6_24("connect", av[0], av[1]);
}

static int op_sendto_in6_24(char **av)
{
	return in6_24("sendto", av[0], av[1]);
}

static int op_fastopen_in6_24(char **av)
{
	return in6_24("fastopen", av[0], av[1]);
}

/* ---- the table ------------------------------------------------------------- */

static const struct op ops[] = {
	{"__write", op___write, 1, "FILE"},
	{"__pwrite64", op___pwrite64, 1, "FILE"},
	{"__open", op___open, 1, "FILE"},
	{"_IO_fopen", op__IO_fopen, 1, "FILE"},
	{"_IO_fputs", op__IO_fputs, 1, "FILE"},
	{"_IO_popen", op__IO_popen, 1, "CMD"},
	{"_IO_fflush", op__IO_fflush, 1, "FILE"},
	{"fcloseall", op_fcloseall, 1, "FILE"},
	{"_flushlbf", op__flushlbf, 1, "FILE"},
	{"_IO_do_write", op__IO_do_write, 1, "FILE"},
	{"dlvsym", op_dlvsym, 1, "FILE"},
	{"dlsym-libc", op_dlsym_libc, 1, "FILE"},
	{"dlvsym-libc", op_dlvsym_libc, 1, "FILE"},
	{"exit-putc", op_exit_putc, 1, "FILE"},
	{"fifo-exec", op_fifo_exec, 2, "FILE FIFO"},
	{"pclose-dupfd", op_pclose_dupfd, 1, "FILE"},
	{"syscall-fchmodat2", op_syscall_fchmodat2, 1, "FILE"},
	{"shm_open", op_shm_open, 1, "NAME"},
	{"mq_send", op_mq_send, 1, "NAME"},
	{"aio_write", op_aio_write, 1, "FILE"},
	{"bind-unix", op_bind_unix, 1, "PATH"},
	{"spawn-addopen", op_spawn_addopen, 1, "FILE"},
	{"backtrace_symbols_fd", op_backtrace_symbols_fd, 1, "FILE"},
	{"putpwent", op_putpwent, 1, "FILE"},
	{"__connect", op___connect, 2, "HOST PORT"},
	{"__send", op___send, 2, "HOST PORT"},
	{"sendto-unspec", op_sendto_unspec, 2, "HOST PORT"},
	{"connect-in6-24", op_connect_in6_24, 2, "HOST6 PORT"},
	{"sendto-in6-24", op_sendto_in6_24, 2, "HOST6 PORT"},
	{"fastopen-in6-24", op_fastopen_in6_24, 2, "HOST6 PORT"},
};

int main(int argc, char **argv)
{
	return ops_main("escape", ops, sizeof(ops) / sizeof(ops[0]), argc, argv);
}
