/* SPDX-License-Identifier: MIT */
/*
 * `midshim run` as the keeper of a process tree. The program runs as the
 * launcher's child in a unit the launcher can kill as a whole: a fresh
 * cgroup v2 when one can be made (killed with cgroup.kill), else its own
 * process group, with the launcher a child subreaper so that setsid
 * daemons and orphans stay its descendants. The launcher holds the
 * device's push channel (reopened when it closes); a kill line on it
 * kills the whole tree with SIGKILL: processes that made no call since
 * the revoke, static children, double-forked daemons. Signals a caller
 * sends are forwarded to the program, and the launcher exits with the
 * program's status (128+N for a signal N), as if it were the program.
 */
#define _GNU_SOURCE
#include "midshim_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "midshim_sup.h"

#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000
#define KILL_ROUNDS 50 /* passes over /proc while a tree still forks */
#define LATE_KILL_MS 50 /* how long a SIGKILLed program's push may trail it */

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

struct tree {
	pid_t child;
	char cg[PATH_MAX]; /* the cgroup's directory, "" without one */
	const char *device;
	char program[64];
	struct mid_client *client;
	int chan;                 /* the channel's socket, -1 without one */
	struct mid_tls_chan *tls; /* over https://: the TLS session on 'chan' */
	int https;
	int pending; /* a TLS channel just opened: it may hold bytes already */
	int say;     /* the program was allowed: a channel that fails is news */
	uint64_t retry_ms; /* when to reopen the channel */
	unsigned backoff_ms;
};

/* The cgroup v2 mount and this process's cgroup in it, joined. */
int mid_tree_own_cgroup(char *out, size_t n)
{
	char line[PATH_MAX + 64], mnt[PATH_MAX] = "", rel[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/mounts", "re");

	while(f && fgets(line, sizeof(line), f)) {
		char dev[64], dir[PATH_MAX], type[32];

		if(sscanf(line, "%63s %4095s %31s", dev, dir, type) == 3 &&
		   !strcmp(type, "cgroup2")) {
			mid_strlcpy(mnt, dir, sizeof(mnt));
			break;
		}
	}
	if(f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while(f && fgets(line, sizeof(line), f)) {
		if(!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			mid_strlcpy(rel, line + 3, sizeof(rel));
		}
	}
	if(f)
		fclose(f);
	if(!mnt[0] || !rel[0])
		return -1;
	return snprintf(out, n, "%s%s", mnt, strcmp(rel, "/") ? rel : "") < (int)n ? 0 : -1;
}

/* The cgroups of launchers that are gone: a launcher that killed its
 * tree exits at once, before the kernel has emptied the cgroup, so the
 * next one removes it (rmdir refuses one that still holds a process). */
static void sweep_cgroups(const char *base)
{
	struct dirent *e;
	DIR *d = opendir(base);

	while(d && (e = readdir(d))) {
		char path[PATH_MAX + 300];
		long pid;

		if(strncmp(e->d_name, "midshim-", 8) || sscanf(e->d_name + 8, "%ld", &pid) != 1 ||
		   pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		rmdir(path);
	}
	if(d)
		closedir(d);
}

/* A fresh cgroup below the launcher's own, if it has cgroup.kill. */
static void make_cgroup(struct tree *t)
{
	char base[PATH_MAX], kill_file[PATH_MAX + 16];

	t->cg[0] = '\0';
	if(mid_tree_own_cgroup(base, sizeof(base)))
		return;
	sweep_cgroups(base);
	if(snprintf(t->cg, sizeof(t->cg), "%s/midshim-%ld", base, (long)getpid()) >=
	   (int)sizeof(t->cg) || mkdir(t->cg, 0755)) {
		t->cg[0] = '\0';
		return;
	}
	snprintf(kill_file, sizeof(kill_file), "%s/cgroup.kill", t->cg);
	if(access(kill_file, W_OK)) {
		rmdir(t->cg);
		t->cg[0] = '\0';
	}
}

int mid_tree_write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 32];
	ssize_t w;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	w = write(fd, text, strlen(text));
	close(fd);
	return w == (ssize_t)strlen(text) ? 0 : -1;
}

ssize_t mid_proc_read(pid_t pid, const char *name, char *buf, size_t n)
{
	char path[64];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if(r <= 0)
		return -1;
	buf[r] = '\0';
	return r;
}

/* Is 'pid' alive (not a zombie)? */
static int alive(pid_t pid)
{
	char buf[512], *p, state = 'X';

	if(mid_proc_read(pid, "stat", buf, sizeof(buf)) < 0)
		return 0;
	/* "pid (comm) state ...": comm may hold spaces and ')'. */
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c", &state) == 1 && state != 'Z' && state != 'X';
}

/* SIGKILL to every descendant of 'pid', found through the children
 * lists of its threads: work in the size of the tree, not of the
 * machine's process table. Returns how many were alive. */
static size_t kill_below(pid_t pid, int depth)
{
	char path[64], buf[4096];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	if(depth > 64)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while(d && (e = readdir(d))) {
		char cpath[128];
		ssize_t r;
		int fd;

		if(e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%.20s/children", (int)pid, e->d_name);
		fd = open(cpath, O_RDONLY | O_CLOEXEC);
		if(fd < 0)
			continue;
		r = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if(r <= 0)
			continue;
		buf[r] = '\0';
		for(char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
			pid_t c = (pid_t)atoi(tok);

			if(c <= 0)
				continue;
			if(alive(c)) {
				kill(c, SIGKILL);
				n++;
			}
			n += kill_below(c, depth + 1);
		}
	}
	if(d)
		closedir(d);
	return n;
}

/* Every process below the launcher: as a subreaper it is the ancestor of
 * every orphan of the tree. Passes go on until one finds none alive. */
static void kill_descendants(int rounds)
{
	for(int round = 0; round < rounds; round++)
		if(!kill_below(getpid(), 0))
			return;
}

static void kill_tree(struct tree *t)
{
	/* The cgroup holds every descendant (one that moved itself out
	 * needed the privilege to): one pass over /proc is a backstop.
	 * Without one, passes go on while a tree still forks. */
	if(t->cg[0] && mid_tree_write_file(t->cg, "cgroup.kill", "1"))
		t->cg[0] = '\0';
	kill(-t->child, SIGKILL);
	kill(t->child, SIGKILL);
	kill_descendants(t->cg[0] ? 1 : KILL_ROUNDS);
}

/* Remove the cgroup once it is empty. Killed processes leave it a moment
 * after they are reaped; a daemon that outlives the program keeps it. */
static void drop_cgroup(struct tree *t)
{
	char path[PATH_MAX + 16], buf[16];

	if(!t->cg[0])
		return;
	snprintf(path, sizeof(path), "%s/cgroup.procs", t->cg);
	for(int i = 0; i < 1000 && rmdir(t->cg) && errno == EBUSY; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;

		if(fd >= 0)
			close(fd);
		if(r > 0)
			return;
		poll(NULL, 0, 1);
	}
}

static uint64_t now_ms(void)
{
	return mid_now_ms();
}

static void chan_open(struct tree *t)
{
	char hello[256];
	enum mid_rc rc;

	snprintf(hello, sizeof(hello),
		 "x-midshim-pid: %ld\r\nx-midshim-program: %s\r\nx-midshim-kind: %s\r\n"
		 "x-midshim-since: %lld\r\n", (long)t->child, t->program,
		 t->https ? MID_KIND_LAUNCHER_TLS : MID_KIND_LAUNCHER, (long long)time(NULL) * 1000);
	if(t->https) {
		rc = mid_client_channel_tls(t->client, t->device, hello, &t->tls);
		t->chan = rc == MID_OK ? mid_tls_chan_fd(t->tls) : -1;
		t->pending = rc == MID_OK;
	} else {
		rc = mid_client_channel(t->client, t->device, hello, &t->chan);
	}
	if(rc == MID_OK) {
		t->backoff_ms = RECONNECT_MIN_MS;
		return;
	}
	t->chan = -1;
	if(rc == MID_ERR_INVAL) {
		/* A device ID the channel's query cannot carry: the
		 * program's own gate is all there is. */
		fprintf(stderr, "midshim: warning: no push channel for device %s; a revoke stops"
			" the program at its next side effect\n", t->device);
		t->retry_ms = UINT64_MAX;
		return;
	}
	/* Once: an unverifiable certificate fails the same way each time.
	 * A program never allowed has said why at its own start. */
	if(t->say && mid_client_detail(t->client)[0]) {
		fprintf(stderr, "midshim: warning: no push channel yet (%s: %s); retrying, a revoke"
			" stops the program at its next side effect meanwhile\n",
			mid_client_url(t->client), mid_client_detail(t->client));
		t->say = 0;
	}
	t->retry_ms = now_ms() + t->backoff_ms;
	t->backoff_ms = t->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : t->backoff_ms * 2;
}

int mid_tree_chan_recv(int fd, char *line, size_t n)
{
	ssize_t r = recv(fd, line, n - 1, MSG_DONTWAIT);

	if(r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if(r > 0) {
		line[r] = '\0';
		line[strcspn(line, "\n")] = '\0';
		return !strncmp(line, "kill ", 5);
	}
	return -1;
}

/* As mid_tree_chan_recv, on either kind of channel. */
static int chan_recv(struct tree *t, char *line, size_t n)
{
	return t->tls ? mid_tls_chan_recv(t->tls, line, n) : mid_tree_chan_recv(t->chan, line, n);
}

static void chan_close(struct tree *t)
{
	if(t->tls)
		mid_tls_chan_free(t->tls);
	else if(t->chan >= 0)
		close(t->chan);
	t->tls = NULL;
	t->chan = -1;
}

/* Bytes on the channel: a kill line, or its close. 1: kill the tree. */
static int chan_read(struct tree *t, char *line, size_t n)
{
	int k = chan_recv(t, line, n);

	if(k >= 0)
		return k;
	/* Closed: midd went away without its keeper, or dropped us, or the
	 * TLS terminator in front of it restarted. The program's own gate
	 * still holds; reopen when midd answers. */
	chan_close(t);
	t->retry_ms = now_ms() + RECONNECT_MIN_MS;
	return 0;
}

/* A kill line within 'ms': 1 when one came. */
static int late_kill(struct tree *t, char *line, size_t n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for(;;) {
		struct pollfd p = {.fd = t->chan, .events = POLLIN};
		uint64_t now = now_ms();
		int k = chan_recv(t, line, n);

		if(k)
			return k > 0;
		if(now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return 0;
	}
}

/* The push: kill the tree, then say so with the control plane's code
 * and request ID from its 'line' ("kill CODE REQUEST_ID"). */
static void push_kill(struct tree *t, const char *prog, const char *line)
{
	char code[64] = "?", rid[64] = "?";

	kill_tree(t);
	sscanf(line, "kill %63s %63s", code, rid);
	fprintf(stderr, "midshim: killed every process of %s (device %s, code %s, request_id %s):"
		" pushed by the control plane\n", prog, t->device, code, rid);
}

static int status_of(int st)
{
	if(WIFEXITED(st))
		return WEXITSTATUS(st);
	if(WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 1;
}

/* Reap every child that has exited (orphans come to a subreaper); 1 when
 * the program itself is among them, its status in '*st'. */
static int reap(pid_t child, int *st)
{
	int s, done = 0;
	pid_t p;

	while((p = waitpid(-1, &s, WNOHANG)) > 0)
		if(p == child) {
			*st = s;
			done = 1;
		}
	return done;
}

/* A supervised call was denied in kill mode: the whole tree goes, as on
 * a push (the denial line is out already). */
static void sup_kill(struct tree *t, int *st)
{
	kill_tree(t);
	while(!reap(t->child, st) && waitpid(t->child, st, 0) != t->child)
		;
}

int mid_tree_run(const char *prog, char *const argv[], const struct mid_config *cfg,
		 struct mid_sup *sup)
{
	struct tree t = {.chan = -1, .device = cfg->device, .backoff_ms = RECONNECT_MIN_MS};
	const char *device = cfg->device;
	struct mid_decision d;
	sigset_t set, old;
	char err[256], line[256];
	int sfd, st = 0, tty, pushed = 0, denied = 0;

	if(mid_config_client(cfg, &t.client, err, sizeof(err))) {
		fprintf(stderr, "midshim: %s\n", err);
		return 126;
	}
	t.https = MID_HAS_PREFIX(cfg->url, "https://");
	sigemptyset(&set);
	for(size_t i = 0; i < MID_ARRAY_LEN(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if(sfd < 0) {
		fprintf(stderr, "midshim: cannot watch signals: %s\n", strerror(errno));
		return 126;
	}
	make_cgroup(&t);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* The device must exist before its channel: midd kills the channel
	 * of an unknown device at once. The shim registers at its start
	 * anyway; doing it here first changes nothing it would not. */
	if(mid_client_register(t.client, device, &d) == MID_OK && !d.allowed &&
	   strcmp(d.status, "removed"))
		fprintf(stderr, "midshim: register %s: %s\n", device, d.status);
	/* A device denied already: the program's own startup gate stops it
	 * with its denial line; the launcher has nothing to push. */
	if(mid_client_validate(t.client, device, &d) == MID_OK && !d.allowed)
		t.retry_ms = UINT64_MAX;
	t.say = d.allowed;
	/* A supervised tree with MIDSHIM_PUSH=off: its gate alone. */
	if(sup && !mid_sup_push(sup))
		t.retry_ms = UINT64_MAX;
	mid_strlcpy(t.program, strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog,
		    sizeof(t.program));
	for(char *c = t.program; *c; c++)
		if(*c <= ' ' || *c >= 0x7f)
			*c = '_';
	tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	t.child = fork();
	if(t.child < 0) {
		fprintf(stderr, "midshim: cannot fork: %s\n", strerror(errno));
		return 126;
	}
	if(t.child == 0) {
		char ok;

		/* Into the unit before exec, so every descendant is in it. */
		if(t.cg[0])
			mid_tree_write_file(t.cg, "cgroup.procs", "0");
		setpgid(0, 0);
		if(tty) {
			signal(SIGTTOU, SIG_IGN);
			tcsetpgrp(STDIN_FILENO, getpid());
			signal(SIGTTOU, SIG_DFL);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
		if(sup && mid_sup_child(sup))
			_exit(126);
		execv(prog, argv);
		ok = errno == ENOENT ? 127 : 126;
		fprintf(stderr, "midshim: cannot run %s: %s\n", prog, strerror(errno));
		_exit(ok);
	}
	setpgid(t.child, t.child);
	if(sup && mid_sup_attach(sup, t.child)) {
		/* The child exits by itself (126) without its listener taken. */
		kill(t.child, SIGKILL);
		waitpid(t.child, &st, 0);
		drop_cgroup(&t);
		mid_client_free(t.client);
		return 126;
	}
	if(t.retry_ms != UINT64_MAX)
		chan_open(&t);
	for(;;) {
		/* The supervisor's thread takes the notifications: the
		 * listener is watched for its hang-up alone. */
		struct pollfd p[4] = {{.fd = sfd, .events = POLLIN}, {.fd = t.chan, .events = POLLIN},
				      {.fd = sup ? mid_sup_fd(sup) : -1, .events = 0},
				      {.fd = sup ? mid_sup_verdict_fd(sup) : -1, .events = POLLIN}};
		int wait_ms = -1, n;

		if(t.chan < 0) {
			uint64_t now = now_ms();

			if(now >= t.retry_ms)
				chan_open(&t);
			if(t.chan < 0)
				wait_ms = (int)(t.retry_ms > now ? t.retry_ms - now : 1);
			p[1].fd = t.chan;
		}
		if(t.pending)
			wait_ms = 0;
		n = poll(p, 4, wait_ms);
		if(n < 0 && errno != EINTR)
			break;
		if(n > 0 && (p[3].revents & POLLIN)) {
			sup_kill(&t, &st);
			denied = 1;
			break;
		}
		if(n > 0 && (p[2].revents & (POLLHUP | POLLERR)))
			mid_sup_done(sup);
		if(n >= 0 && (t.pending || (p[1].revents & (POLLIN | POLLHUP | POLLERR))) &&
		   (t.pending = 0, chan_read(&t, line, sizeof(line)))) {
			push_kill(&t, prog, line);
			pushed = 1;
			while(!reap(t.child, &st) && waitpid(t.child, &st, 0) != t.child)
				;
			break;
		}
		if(n > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			int done = 0;

			while(read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if(si.ssi_signo == SIGCHLD)
					done |= reap(t.child, &st);
				else
					kill(t.child, (int)si.ssi_signo);
			}
			/* A program killed by SIGKILL may have met the same push
			 * on its own channel: the launcher's kill line follows
			 * within moments, and the rest of the tree must go too. */
			if(done && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && t.chan >= 0 &&
			   late_kill(&t, line, sizeof(line), LATE_KILL_MS))
				push_kill(&t, prog, line), pushed = 1;
			if(done)
				break;
		}
	}
	if(tty) {
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
	}
	if(pushed || denied) {
		if(t.cg[0])
			rmdir(t.cg); /* else the next launcher's sweep removes it */
	} else {
		drop_cgroup(&t);
	}
	if(pushed) {
		/* The tree is gone; the launcher goes at once too. Exit
		 * handlers have nothing left to do, and OpenSSL's (loaded
		 * with libcurl for https://) took 15 to 30 ms on a busy
		 * machine, a push's whole budget. */
		fflush(NULL);
		_exit(status_of(st));
	}
	chan_close(&t);
	mid_client_free(t.client);
	if(denied && mid_sup_exit_status(sup) >= 0)
		return mid_sup_exit_status(sup);
	return status_of(st);
}
