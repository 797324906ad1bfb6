/* SPDX-License-Identifier: MIT */
/*
 * sidefx: perform one named side effect per run, through one exact libc
 * path, so tests can drive each hook on its own:
 *   sidefx OP ARGS...     (sidefx with no arguments lists the ops)
 * Exit 0 on success; on failure one line "sidefx: OP: <strerror>" and
 * exit 1, so a run under MIDSHIM_ON_DENY=errno shows the EPERM. A child
 * that dies by a signal makes sidefx exit 128+signal, as a shell would.
 *
 * When GO names a FIFO, sidefx prints "ready" and blocks reading it just
 * before the side effect: a test can revoke the device meanwhile, unless
 * SIDEFX_NOWAIT is set (then a child it starts does the waiting). What
 * must already exist for the effect to be the next gated call (the open
 * file of a write, the connection of a send) is set up before the wait.
 * Text written to files and sockets gets a trailing newline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "go.h"

extern char **environ;

static const char *op_name;

static int fail(void)
{
	fprintf(stderr, "sidefx: %s: %s\n", op_name, strerror(errno));
	return 1;
}

/* Report an error number returned rather than left in errno. */
static int fail_rc(int rc)
{
	errno = rc;
	return fail();
}

/* The exit status a shell would give for wait status 'st'. */
static int child_status(int st)
{
	if(WIFEXITED(st))
		return WEXITSTATUS(st);
	if(WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

static int open_out(const char *path, int extra)
{
	return open(path, O_WRONLY | O_CREAT | extra | O_CLOEXEC, 0644);
}

/* "TEXT\n" into 'line' (capped). */
static size_t text_line(const char *text, char *line, size_t cap)
{
	int n = snprintf(line, cap, "%s\n", text);

	if(n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* ---- writes ---------------------------------------------------------------- */

/* Open FILE, wait when 'wait' says so, then write TEXT with write(2). */
static int write_text(char **av, int wait)
{
	char line[4096];
	size_t n = text_line(av[1], line, sizeof(line));
	int fd = open_out(av[0], O_TRUNC);

	if(fd < 0)
		return fail();
	if(wait)
		wait_go();
	if(write(fd, line, n) != (ssize_t)n)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_write(char **av)
{
	return write_text(av, 1);
}

static int op_fwrite(char **av)
{
	char line[4096];
	size_t n = text_line(av[1], line, sizeof(line));
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	wait_go();
	if(fwrite(line, 1, n, f) != n)
		return fail();
	return fclose(f) ? fail() : 0;
}

static int op_fprintf(char **av)
{
	FILE *f = fopen(av[0], "w");

	if(!f)
		return fail();
	wait_go();
	if(fprintf(f, "%s\n", av[1]) < 0)
		return fail();
	return fclose(f) ? fail() : 0;
}

static int op_dprintf(char **av)
{
	int fd = open_out(av[0], 0);

	if(fd < 0)
		return fail();
	wait_go();
	if(dprintf(fd, "%s\n", av[1]) < 0)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_pwrite(char **av)
{
	char line[4096];
	size_t n = text_line(av[1] ? av[1] : "pwrite", line, sizeof(line));
	int fd = open_out(av[0], O_TRUNC);

	if(fd < 0)
		return fail();
	wait_go();
	if(pwrite(fd, line, n, 0) != (ssize_t)n)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_writev(char **av)
{
	const char *text = av[1] ? av[1] : "writev";
	struct iovec iov[2];
	int fd = open_out(av[0], O_TRUNC);
	ssize_t want = (ssize_t)strlen(text) + 1;

	if(fd < 0)
		return fail();
	iov[0].iov_base = (void *)(uintptr_t)text;
	iov[0].iov_len = strlen(text);
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	wait_go();
	if(writev(fd, iov, 2) != want)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_syscall_write(char **av)
{
	char line[4096];
	size_t n = text_line(av[1], line, sizeof(line));
	int fd = open_out(av[0], O_TRUNC);

	if(fd < 0)
		return fail();
	wait_go();
	if(syscall(SYS_write, fd, line, n) != (long)n)
		return fail();
	return close(fd) ? fail() : 0;
}

/* Append a numbered line N times, MS ms apart; say each number on
 * stdout as it lands, so a test sees how far it got. */
static int op_loop_write(char **av)
{
	long n = strtol(av[1], NULL, 10), ms = strtol(av[2], NULL, 10), i;
	struct timespec gap;
	char line[64];
	int fd;

	if(n < 0 || n > 1000000 || ms < 0 || ms > 60000) {
		errno = EINVAL;
		return fail();
	}
	gap.tv_sec = ms / 1000;
	gap.tv_nsec = (ms % 1000) * 1000000L;
	fd = open_out(av[0], O_APPEND);
	if(fd < 0)
		return fail();
	wait_go();
	for(i = 1; i <= n; i++) {
		int len = snprintf(line, sizeof(line), "line %ld\n", i);
		if(write(fd, line, (size_t)len) != len)
			return fail();
		printf("%ld\n", i);
		fflush(stdout);
		if(i < n && ms > 0)
			nanosleep(&gap, NULL);
	}
	return close(fd) ? fail() : 0;
}

static int op_fork_write(char **av)
{
	pid_t pid;
	int st;

	wait_go();
	pid = fork();
	if(pid < 0)
		return fail();
	if(pid == 0)
		_exit(write_text(av, 0));
	if(waitpid(pid, &st, 0) < 0)
		return fail();
	return child_status(st);
}

/* ---- file system ----------------------------------------------------------- */

static int op_open_trunc(char **av)
{
	int fd;

	wait_go();
	fd = open(av[0], O_WRONLY | O_TRUNC | O_CLOEXEC);
	if(fd < 0)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_creat(char **av)
{
	int fd;

	wait_go();
	fd = creat(av[0], 0644);
	if(fd < 0)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_syscall_openat(char **av)
{
	long fd;

	wait_go();
	fd = syscall(SYS_openat, AT_FDCWD, av[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if(fd < 0)
		return fail();
	return close((int)fd) ? fail() : 0;
}

static int op_unlink(char **av)
{
	wait_go();
	return unlink(av[0]) ? fail() : 0;
}

static int op_rename(char **av)
{
	wait_go();
	return rename(av[0], av[1]) ? fail() : 0;
}

/* RENAME_NOREPLACE: glibc passes flags 0 on to plain renameat. */
static int op_renameat2(char **av)
{
	wait_go();
	return renameat2(AT_FDCWD, av[0], AT_FDCWD, av[1], RENAME_NOREPLACE) ? fail() : 0;
}

static int op_mkdir(char **av)
{
	wait_go();
	return mkdir(av[0], 0755) ? fail() : 0;
}

static int op_rmdir(char **av)
{
	wait_go();
	return rmdir(av[0]) ? fail() : 0;
}

static int op_symlink(char **av)
{
	wait_go();
	return symlink(av[0], av[1]) ? fail() : 0;
}

static int op_link(char **av)
{
	wait_go();
	return link(av[0], av[1]) ? fail() : 0;
}

static int op_chmod(char **av)
{
	wait_go();
	return chmod(av[0], 0600) ? fail() : 0;
}

static int op_truncate(char **av)
{
	wait_go();
	return truncate(av[0], 0) ? fail() : 0;
}

static int op_utimensat(char **av)
{
	wait_go();
	return utimensat(AT_FDCWD, av[0], NULL, 0) ? fail() : 0;
}

/* A file system without user xattrs answers ENOTSUP: reported as any
 * other failure, so the test can tell it from EPERM. */
static int op_setxattr(char **av)
{
	wait_go();
	return setxattr(av[0], "user.test", "1", 1, 0) ? fail() : 0;
}

/* Prints the name of the file made in DIR. */
static int op_mkstemp(char **av)
{
	char tmpl[4096];
	int fd;

	if(snprintf(tmpl, sizeof(tmpl), "%s/sidefx.XXXXXX", av[0]) >= (int)sizeof(tmpl)) {
		errno = ENAMETOOLONG;
		return fail();
	}
	wait_go();
	fd = mkstemp(tmpl);
	if(fd < 0)
		return fail();
	printf("%s\n", tmpl);
	return close(fd) ? fail() : 0;
}

/* Copy SRC to DST, both opened after the wait: creating DST is the first
 * gated step, the copy the second. */
static int open_pair(char **av, int *in, int *out)
{
	wait_go();
	*in = open(av[0], O_RDONLY | O_CLOEXEC);
	if(*in < 0)
		return -1;
	*out = open_out(av[1], O_TRUNC);
	return *out < 0 ? -1 : 0;
}

static int op_copy_file_range(char **av)
{
	ssize_t n;
	int in, out;

	if(open_pair(av, &in, &out))
		return fail();
	do
		n = copy_file_range(in, NULL, out, NULL, 1 << 20, 0);
	while(n > 0);
	if(n < 0)
		return fail();
	close(in);
	return close(out) ? fail() : 0;
}

static int op_sendfile(char **av)
{
	ssize_t n;
	int in, out;

	if(open_pair(av, &in, &out))
		return fail();
	do
		n = sendfile(out, in, NULL, 1 << 20);
	while(n > 0);
	if(n < 0)
		return fail();
	close(in);
	return close(out) ? fail() : 0;
}

/* ---- network --------------------------------------------------------------- */

/* A socket of 'type' and the first address HOST PORT resolves to. */
static int resolve(const char *host, const char *port, int type, struct addrinfo **ai)
{
	struct addrinfo hints;
	int rc, fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = type;
	rc = getaddrinfo(host, port, &hints, ai);
	if(rc) {
		fprintf(stderr, "sidefx: %s: %s %s: %s\n", op_name, host, port, gai_strerror(rc));
		return -1;
	}
	fd = socket((*ai)->ai_family, (*ai)->ai_socktype | SOCK_CLOEXEC, (*ai)->ai_protocol);
	if(fd < 0)
		fail();
	return fd;
}

static int op_connect(char **av)
{
	struct addrinfo *ai;
	int fd = resolve(av[0], av[1], SOCK_STREAM, &ai);

	if(fd < 0)
		return 1;
	wait_go();
	if(connect(fd, ai->ai_addr, ai->ai_addrlen))
		return fail();
	freeaddrinfo(ai);
	return close(fd) ? fail() : 0;
}

static int op_send(char **av)
{
	char line[4096];
	size_t n = text_line(av[2], line, sizeof(line));
	struct addrinfo *ai;
	int fd = resolve(av[0], av[1], SOCK_STREAM, &ai);

	if(fd < 0)
		return 1;
	if(connect(fd, ai->ai_addr, ai->ai_addrlen))
		return fail();
	freeaddrinfo(ai);
	wait_go();
	if(send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)
		return fail();
	return close(fd) ? fail() : 0;
}

static int op_sendto_udp(char **av)
{
	char line[4096];
	size_t n = text_line(av[2], line, sizeof(line));
	struct addrinfo *ai;
	int fd = resolve(av[0], av[1], SOCK_DGRAM, &ai);

	if(fd < 0)
		return 1;
	wait_go();
	if(sendto(fd, line, n, 0, ai->ai_addr, ai->ai_addrlen) != (ssize_t)n)
		return fail();
	freeaddrinfo(ai);
	return close(fd) ? fail() : 0;
}

/* ---- exec ------------------------------------------------------------------ */

/* av[0] is the program and its argv[0]; the rest are its arguments. */
static int op_execve(char **av)
{
	wait_go();
	execve(av[0], av, environ);
	return fail();
}

static int op_execvp(char **av)
{
	wait_go();
	execvp(av[0], av);
	return fail();
}

/* The list forms, with one argument after the program. */
static int op_execl(char **av)
{
	wait_go();
	execl(av[0], av[0], av[1], (char *)NULL);
	return fail();
}

static int op_execle(char **av)
{
	wait_go();
	execle(av[0], av[0], av[1], (char *)NULL, environ);
	return fail();
}

static int op_execlp(char **av)
{
	wait_go();
	execlp(av[0], av[0], av[1], (char *)NULL);
	return fail();
}

/* A caller that hands the child a clean environment: the shim must put
 * itself back into it. */
static int op_execve_clean_env(char **av)
{
	char *env[] = {"PATH=/usr/bin:/bin", NULL};

	wait_go();
	execve(av[0], av, env);
	return fail();
}

static int op_posix_spawn(char **av)
{
	pid_t pid;
	int rc, st;

	wait_go();
	rc = posix_spawn(&pid, av[0], NULL, NULL, av, environ);
	if(rc)
		return fail_rc(rc);
	if(waitpid(pid, &st, 0) < 0)
		return fail();
	return child_status(st);
}

static int op_system(char **av)
{
	int st;

	wait_go();
	st = system(av[0]);
	if(st < 0)
		return fail();
	return child_status(st);
}

static int op_popen(char **av)
{
	char buf[4096];
	FILE *p;
	int st;

	wait_go();
	p = popen(av[0], "r");
	if(!p)
		return fail();
	while(fread(buf, 1, sizeof(buf), p) > 0)
		;
	st = pclose(p);
	if(st < 0)
		return fail();
	return child_status(st);
}

static int op_vfork_exec(char **av)
{
	char *argv[] = {av[0], NULL};
	pid_t pid;
	int st;

	wait_go();
	pid = vfork();
	if(pid < 0)
		return fail();
	if(pid == 0) {
		execv(av[0], argv);
		_exit(127);
	}
	if(waitpid(pid, &st, 0) < 0)
		return fail();
	return child_status(st);
}

/* ---- the table ------------------------------------------------------------- */

struct op {
	const char *name;
	int (*run)(char **av);
	int min, max; /* operands; -1: any number more */
	const char *usage;
};

static const struct op ops[] = {
	{"write", op_write, 2, 2, "FILE TEXT"},
	{"fwrite", op_fwrite, 2, 2, "FILE TEXT"},
	{"fprintf", op_fprintf, 2, 2, "FILE TEXT"},
	{"dprintf", op_dprintf, 2, 2, "FILE TEXT"},
	{"pwrite", op_pwrite, 1, 2, "FILE [TEXT]"},
	{"writev", op_writev, 1, 2, "FILE [TEXT]"},
	{"syscall-write", op_syscall_write, 2, 2, "FILE TEXT"},
	{"loop-write", op_loop_write, 3, 3, "FILE N MS"},
	{"fork-write", op_fork_write, 2, 2, "FILE TEXT"},
	{"open-trunc", op_open_trunc, 1, 1, "FILE"},
	{"creat", op_creat, 1, 1, "FILE"},
	{"syscall-openat", op_syscall_openat, 1, 1, "FILE"},
	{"unlink", op_unlink, 1, 1, "FILE"},
	{"rename", op_rename, 2, 2, "A B"},
	{"renameat2", op_renameat2, 2, 2, "A B"},
	{"mkdir", op_mkdir, 1, 1, "DIR"},
	{"rmdir", op_rmdir, 1, 1, "DIR"},
	{"symlink", op_symlink, 2, 2, "TARGET LINK"},
	{"link", op_link, 2, 2, "A B"},
	{"chmod", op_chmod, 1, 1, "FILE"},
	{"truncate", op_truncate, 1, 1, "FILE"},
	{"utimensat", op_utimensat, 1, 1, "FILE"},
	{"setxattr", op_setxattr, 1, 1, "FILE"},
	{"mkstemp", op_mkstemp, 1, 1, "DIR"},
	{"copy_file_range", op_copy_file_range, 2, 2, "SRC DST"},
	{"sendfile", op_sendfile, 2, 2, "SRC DST"},
	{"connect", op_connect, 2, 2, "HOST PORT"},
	{"send", op_send, 3, 3, "HOST PORT TEXT"},
	{"sendto-udp", op_sendto_udp, 3, 3, "HOST PORT TEXT"},
	{"execve", op_execve, 1, -1, "PATH [ARGS]"},
	{"execvp", op_execvp, 1, -1, "FILE [ARGS]"},
	{"execl", op_execl, 2, 2, "PATH ARG"},
	{"execle", op_execle, 2, 2, "PATH ARG"},
	{"execlp", op_execlp, 2, 2, "FILE ARG"},
	{"execve-clean-env", op_execve_clean_env, 1, -1, "PATH [ARGS]"},
	{"posix_spawn", op_posix_spawn, 1, -1, "PATH [ARGS]"},
	{"system", op_system, 1, 1, "CMD"},
	{"popen", op_popen, 1, 1, "CMD"},
	{"vfork-exec", op_vfork_exec, 1, 1, "PATH"},
};

static int usage(void)
{
	size_t i;

	fprintf(stderr, "usage: sidefx OP ARGS...\n");
	for(i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		fprintf(stderr, "  sidefx %s %s\n", ops[i].name, ops[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	size_t i;
	int n = argc - 2;

	if(argc < 2)
		return usage();
	for(i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if(strcmp(argv[1], ops[i].name))
			continue;
		if(n < ops[i].min || (ops[i].max >= 0 && n > ops[i].max)) {
			fprintf(stderr, "usage: sidefx %s %s\n", ops[i].name, ops[i].usage);
			return 2;
		}
		op_name = ops[i].name;
		return ops[i].run(argv + 2);
	}
	fprintf(stderr, "sidefx: unknown op '%s'\n", argv[1]);
	return usage();
}
