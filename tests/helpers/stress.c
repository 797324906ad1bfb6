/* SPDX-License-Identifier: MIT */
/*
 * A gated program under load, for the concurrency tests: 64 threads doing
 * gated writes and connects while others fork, exec and take signals
 * whose handlers call write(2), and fork handlers of the program's own
 * (registered before the shim's, which come at the first fork) write
 * through the gate in the parent and in the child, inside the shim's
 * fork window. It runs for a bounded time and reports
 * how many operations each kind completed; any failed operation, a crash
 * or a hang (caught by the test's timeout) is a failure.
 *
 *   stress DIR PORT SECONDS
 *
 * PORT is a loopback TCP port something listens on. Exit 0 when every
 * operation succeeded, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WRITERS 40
#define CONNECTORS 16
#define FORKERS 4
#define EXECERS 2
#define SIGNALLERS 2

extern char **environ;

static const char *dir;
static int port;
static _Atomic int stop;
static _Atomic long n_write, n_connect, n_fork, n_exec, n_signal, n_atfork, n_fail;
static pthread_t victims[WRITERS];

/* Count a failed operation; the first few are described on stderr. */
static void failed(const char *what, int err)
{
	if(atomic_fetch_add(&n_fail, 1) < 5)
		fprintf(stderr, "stress: %s failed: %s\n", what, strerror(err));
}

static void on_signal(int sig)
{
	static const char msg[] = "s\n";
	int e = errno;

	(void)sig;
	/* A handler that writes: it may run on any thread, in the middle
	 * of the shim's own work on that thread. */
	if(write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
		atomic_fetch_add(&n_fail, 1); /* not async-signal-safe to report */
	atomic_fetch_add(&n_signal, 1);
	errno = e;
}

static void *writer(void *arg)
{
	char path[4096], line[64];
	long id = (long)arg;
	int fd, n;

	snprintf(path, sizeof(path), "%s/w%ld.txt", dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if(fd < 0) {
		failed("open", errno);
		return NULL;
	}
	while(!atomic_load(&stop)) {
		n = snprintf(line, sizeof(line), "%ld\n", atomic_load(&n_write));
		if(write(fd, line, (size_t)n) != n) {
			if(errno == EINTR)
				continue;
			failed("write", errno);
			break;
		}
		if(lseek(fd, 0, SEEK_SET) < 0)
			failed("lseek", errno);
		atomic_fetch_add(&n_write, 1);
	}
	close(fd);
	return NULL;
}

static void *connector(void *arg)
{
	struct sockaddr_in sa;

	(void)arg;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while(!atomic_load(&stop)) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc;
		if(s < 0) {
			failed("socket", errno);
			break;
		}
		do
			rc = connect(s, (struct sockaddr *)&sa, sizeof(sa));
		while(rc < 0 && errno == EINTR);
		if(rc < 0)
			failed("connect", errno);
		else
			atomic_fetch_add(&n_connect, 1);
		close(s);
		usleep(2000);
	}
	return NULL;
}

/* A gated write from a fork handler: 0, or the errno. */
static int atfork_write(const char *what)
{
	char path[4096];
	int fd, e = 0;

	snprintf(path, sizeof(path), "%s/atfork.txt", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if(fd < 0 || write(fd, what, 2) != 2)
		e = errno ? errno : EIO;
	if(fd >= 0)
		close(fd);
	return e;
}

static void atfork_prepare(void)
{
	int e = atfork_write("p\n");

	if(e)
		failed("write in a prepare handler", e);
}

static void atfork_parent(void)
{
	int e = atfork_write("a\n");

	if(e)
		failed("write in a parent handler", e);
	else
		atomic_fetch_add(&n_atfork, 1);
}

static void atfork_child(void)
{
	if(atfork_write("c\n"))
		_exit(3);
}

static void *forker(void *arg)
{
	char path[4096];
	long id = (long)arg;

	snprintf(path, sizeof(path), "%s/f%ld.txt", dir, id);
	while(!atomic_load(&stop)) {
		int st;
		pid_t pid = fork();
		if(pid < 0) {
			failed("fork", errno);
			break;
		}
		if(pid == 0) {
			/* The child writes through the gate (its own
			 * connection, its inherited cache) and leaves. */
			int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if(fd < 0 || write(fd, "c\n", 2) != 2)
				_exit(1);
			_exit(0);
		}
		while(waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if(!WIFEXITED(st) || WEXITSTATUS(st))
			failed("forked child", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		else
			atomic_fetch_add(&n_fork, 1);
		usleep(5000);
	}
	return NULL;
}

static void *execer(void *arg)
{
	char *argv[] = {"true", NULL};

	(void)arg;
	while(!atomic_load(&stop)) {
		pid_t pid;
		int st, rc;

		rc = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ);
		if(rc) {
			failed("posix_spawn", rc);
			break;
		}
		while(waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if(!WIFEXITED(st) || WEXITSTATUS(st))
			failed("spawned child", 0);
		else
			atomic_fetch_add(&n_exec, 1);
		usleep(10000);
	}
	return NULL;
}

static void *signaller(void *arg)
{
	unsigned i = (unsigned)(long)arg;

	while(!atomic_load(&stop)) {
		pthread_kill(victims[i++ % WRITERS], SIGUSR1);
		usleep(500);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[CONNECTORS + FORKERS + EXECERS + SIGNALLERS];
	struct sigaction sa;
	int seconds, i, n = 0;

	if(argc != 4) {
		fprintf(stderr, "usage: stress DIR PORT SECONDS\n");
		return 2;
	}
	dir = argv[1];
	port = atoi(argv[2]);
	seconds = atoi(argv[3]);
	if(seconds < 1 || seconds > 120) {
		fprintf(stderr, "stress: SECONDS must be 1..120\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);

	for(i = 0; i < WRITERS; i++)
		pthread_create(&victims[i], NULL, writer, (void *)(long)i);
	for(i = 0; i < CONNECTORS; i++)
		pthread_create(&t[n++], NULL, connector, NULL);
	for(i = 0; i < FORKERS; i++)
		pthread_create(&t[n++], NULL, forker, (void *)(long)i);
	for(i = 0; i < EXECERS; i++)
		pthread_create(&t[n++], NULL, execer, NULL);
	for(i = 0; i < SIGNALLERS; i++)
		pthread_create(&t[n++], NULL, signaller, (void *)(long)i);
	printf("ready\n");
	fflush(stdout);
	sleep((unsigned)seconds);
	atomic_store(&stop, 1);
	for(i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for(i = 0; i < WRITERS; i++)
		pthread_join(victims[i], NULL);
	fprintf(stderr,
		"stress: writes %ld connects %ld forks %ld execs %ld signals %ld atforks %ld "
		"failures %ld\n",
		atomic_load(&n_write), atomic_load(&n_connect), atomic_load(&n_fork),
		atomic_load(&n_exec), atomic_load(&n_signal), atomic_load(&n_atfork),
		atomic_load(&n_fail));
	return atomic_load(&n_fail) ? 1 : 0;
}
