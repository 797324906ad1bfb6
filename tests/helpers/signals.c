/* SPDX-License-Identifier: MIT */
/*
 * signals: a signal to another process, or input pushed into a
 * terminal, by each road libc and syscall() offer:
 *   signals OP ARGS...     (signals with no arguments lists the ops)
 * Exit 0 when the call succeeded, 1 with "signals: OP: <strerror>" when
 * it failed; when GO names a FIFO, "ready" is printed and the FIFO read
 * just before the call. The signal sent is SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "go.h"
#include "ops.h"


static int done(long r)
{
	return r == 0 ? 0 : fail();
}

static pid_t pid_of(const char *s)
{
	return (pid_t)atoi(s);
}

/* A siginfo as sigqueue builds it: the kernel refuses SI_USER from a
 * process other than the kernel itself only for another's info. */
static void queue_info(siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	si->si_signo = SIGTERM;
	si->si_code = SI_QUEUE;
	si->si_pid = getpid();
	si->si_uid = getuid();
}

static int op_kill(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(kill(p, SIGTERM));
}

static int op_killpg(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(killpg(p, SIGTERM));
}

static int op_sigqueue(char **av)
{
	union sigval v = {.sival_int = 1};
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(sigqueue(p, SIGTERM, v));
}

static int op_tgkill(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(tgkill(p, p, SIGTERM));
}

static int op_pidfd(char **av)
{
	int fd = pidfd_open(pid_of(av[0]), 0);

	if(fd < 0)
		return fail();
	wait_go();
	return done(pidfd_send_signal(fd, SIGTERM, NULL, 0));
}

static int op_syscall_kill(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(syscall(SYS_kill, p, SIGTERM));
}

static int op_syscall_tkill(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(syscall(SYS_tkill, p, SIGTERM));
}

static int op_syscall_tgkill(char **av)
{
	pid_t p = pid_of(av[0]);

	wait_go();
	return done(syscall(SYS_tgkill, p, p, SIGTERM));
}

static int op_syscall_sigqueueinfo(char **av)
{
	pid_t p = pid_of(av[0]);
	siginfo_t si;

	queue_info(&si);
	wait_go();
	return done(syscall(SYS_rt_sigqueueinfo, p, SIGTERM, &si));
}

static int op_syscall_tgsigqueueinfo(char **av)
{
	pid_t p = pid_of(av[0]);
	siginfo_t si;

	queue_info(&si);
	wait_go();
	return done(syscall(SYS_rt_tgsigqueueinfo, p, p, SIGTERM, &si));
}

static int op_syscall_pidfd(char **av)
{
	int fd = pidfd_open(pid_of(av[0]), 0);

	if(fd < 0)
		return fail();
	wait_go();
	return done(syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0));
}

/* What is no side effect: signal 0 to another process (a probe), and
 * signals to this process and its own thread by every road. */
static volatile sig_atomic_t got;

static void on_usr1(int sig)
{
	(void)sig;
	got++;
}

static int op_self(char **av)
{
	pid_t p = pid_of(av[0]), me = getpid();
	union sigval v = {.sival_int = 1};
	siginfo_t si;
	int fd;

	signal(SIGUSR1, on_usr1);
	wait_go();
	if(kill(p, 0) || sigqueue(p, 0, v) || syscall(SYS_kill, p, 0))
		return fail();
	if(kill(me, SIGUSR1) || sigqueue(me, SIGUSR1, v) || tgkill(me, gettid(), SIGUSR1) ||
	   syscall(SYS_tkill, gettid(), SIGUSR1) || syscall(SYS_kill, me, SIGUSR1) ||
	   raise(SIGUSR1))
		return fail();
	queue_info(&si);
	si.si_signo = SIGUSR1;
	if(syscall(SYS_rt_sigqueueinfo, me, SIGUSR1, &si))
		return fail();
	fd = pidfd_open(me, 0);
	if(fd < 0 || pidfd_send_signal(fd, SIGUSR1, NULL, 0))
		return fail();
	if(got != 8) {
		fprintf(stderr, "signals: self: %d of 8 signals arrived\n", (int)got);
		return 1;
	}
	return 0;
}

/* A pty made this process's controlling terminal (TIOCSTI needs it),
 * its slave side open as the returned descriptor. */
static int own_pty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY), s;

	if(m < 0 || grantpt(m) || unlockpt(m))
		return -1;
	if(setsid() < 0 && errno != EPERM)
		return -1;
	s = open(ptsname(m), O_RDWR);
	if(s >= 0)
		ioctl(s, TIOCSCTTY, 0);
	return s;
}

static int tiocsti(unsigned long req)
{
	char c = 'x';
	int s = own_pty();

	if(s < 0)
		return fail();
	wait_go();
	return done(ioctl(s, req, &c));
}

static int op_tiocsti(char **av)
{
	(void)av;
	return tiocsti(TIOCSTI);
}

/* The kernel reads the request as an unsigned int: high bits do not make
 * it another request. */
static int op_tiocsti_high(char **av)
{
	(void)av;
	return tiocsti(TIOCSTI | (sizeof(long) > 4 ? 1ul << 32 : 0));
}

/* An open added after a chdir action happens in that directory. */
static int spawn_open_in(const char *dir, int use_fd, const char *file)
{
	char *argv[] = {"echo", "payload", NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, dfd = -1;

	if(posix_spawn_file_actions_init(&fa))
		return fail();
	if(use_fd) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		if(dfd < 0)
			return fail();
		errno = posix_spawn_file_actions_addfchdir_np(&fa, dfd);
	} else {
		errno = posix_spawn_file_actions_addchdir_np(&fa, dir);
	}
	if(errno)
		return fail();
	wait_go();
	errno = posix_spawn_file_actions_addopen(&fa, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if(errno)
		return fail();
	errno = posix_spawn(&pid, "/bin/echo", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if(errno)
		return fail();
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : fail();
}

static int op_spawn_chdir(char **av)
{
	return spawn_open_in(av[0], 0, av[1]);
}

static int op_spawn_fchdir(char **av)
{
	return spawn_open_in(av[0], 1, av[1]);
}

static const struct op ops[] = {
	{"kill", op_kill, 1, "PID"},
	{"killpg", op_killpg, 1, "PGRP"},
	{"sigqueue", op_sigqueue, 1, "PID"},
	{"tgkill", op_tgkill, 1, "PID"},
	{"pidfd", op_pidfd, 1, "PID"},
	{"syscall-kill", op_syscall_kill, 1, "PID"},
	{"syscall-tkill", op_syscall_tkill, 1, "PID"},
	{"syscall-tgkill", op_syscall_tgkill, 1, "PID"},
	{"syscall-sigqueueinfo", op_syscall_sigqueueinfo, 1, "PID"},
	{"syscall-tgsigqueueinfo", op_syscall_tgsigqueueinfo, 1, "PID"},
	{"syscall-pidfd", op_syscall_pidfd, 1, "PID"},
	{"self", op_self, 1, "PID"},
	{"tiocsti", op_tiocsti, 0, ""},
	{"tiocsti-high", op_tiocsti_high, 0, ""},
	{"spawn-chdir", op_spawn_chdir, 2, "DIR FILE"},
	{"spawn-fchdir", op_spawn_fchdir, 2, "DIR FILE"},
};

int main(int argc, char **argv)
{
	return ops_main("signals", ops, sizeof(ops) / sizeof(ops[0]), argc, argv);
}
