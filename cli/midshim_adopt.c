/* SPDX-License-Identifier: MIT */
/*
 * `midshim adopt`: put running processes and all their descendants under
 * a device's kill switch, without stopping them. A keeper process
 * (daemonised, its own session) holds the device's push channel and, on
 * a kill line (revoke, remove, org disable), kills the whole tree with
 * SIGKILL.
 *
 * The tree is kept one of three ways:
 *  - PIDs and process groups are moved into a fresh cgroup v2 that the
 *    keeper makes below its own (killed with cgroup.kill; every child is
 *    born inside it); their original cgroups are remembered, and
 *    --release moves them back;
 *  - --cgroup and --systemd-unit name a cgroup that is killed as it is
 *    (moving a unit's processes out would make its manager think it
 *    stopped);
 *  - where no cgroup can be had, the processes are tracked: a pidfd for
 *    each, and a rescan of their children every RESCAN_MS. A kill then
 *    stops every process first (a stopped process cannot fork), looks
 *    again for children, and then kills them all.
 *
 * The keeper registers the device and validates before it adopts
 * anything: adopting a device that is already denied kills the tree at
 * once. It writes its state to a file in the state directory, read by
 * --list and --release, and reports ADOPT, RELEASE and KILLED to midd's
 * audit trail.
 */
#define _GNU_SOURCE
#include "midshim_adopt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "midshim_conf.h"
#include "midshim_report.h"
#include "midshim_tree.h"
#include "config.h"

#define EXIT_USAGE 2
#define EXIT_CANNOT 126
#define EXIT_DENIED 3     /* the device was denied: the tree was killed at adoption */
#define MAX_MEMBERS 4096  /* processes one keeper tracks */
#define MAX_DEPTH 64      /* of a tree walked through children lists */
#define RESCAN_MS 100     /* tracking: how often children are looked for */
#define SETTLE_PASSES 20  /* moving or stopping a tree that still forks */
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 2000
#define READY_TIMEOUT_MS 15000 /* the keeper's first answer to `adopt` */
#define RELEASE_WAIT_MS 5000

enum how {
	HOW_MOVED,   /* moved into the keeper's own cgroup */
	HOW_CGROUP,  /* a cgroup named by --cgroup or --systemd-unit */
	HOW_TRACKED, /* pidfds and rescans */
};

static const char *const how_name[] = {"cgroup", "unit-cgroup", "tracked"};

struct member {
	pid_t pid;
	int pidfd;
	unsigned long long start; /* /proc/PID/stat field 22: tells a reused PID */
	char orig[PATH_MAX];      /* its cgroup before the move, relative to the mount */
};

struct adopt {
	struct mid_config cfg;
	struct mid_client *client;
	enum how how;
	char mnt[PATH_MAX];  /* cgroup v2 mount */
	char cg[PATH_MAX];   /* the cgroup killed as a whole, "" when tracked */
	struct member *m;
	size_t n;
	pid_t roots[64];
	size_t nroots;
	char user[96];
	char dir[PATH_MAX];   /* state directory */
	char state[PATH_MAX + 32]; /* our state file */
	int chan;                 /* the channel's socket, -1 without one */
	struct mid_tls_chan *tls; /* over https://: the TLS session on 'chan' */
	int https;
	int pending; /* a TLS channel just opened: it may hold bytes already */
	uint64_t retry_ms;
	unsigned backoff_ms;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char t[32];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;

	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(stderr, "%s midshim-adopt[%ld]: ", t, (long)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- processes ------------------------------------------------------- */

static int read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if(fd < 0)
		return -1;
	r = read(fd, buf, n - 1);
	close(fd);
	if(r < 0)
		return -1;
	buf[r] = '\0';
	return (int)r;
}

/* State, parent, process group and start time of 'pid'; -1 when gone. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgid,
		     unsigned long long *start)
{
	char path[64], buf[1024], *p;
	int pp, pg;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if(read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
	if(!p || sscanf(p + 2, "%c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d"
			" %*d %*d %llu", state, &pp, &pg, start) != 4)
		return -1;
	*ppid = pp;
	*pgid = pg;
	return 0;
}

static int live(pid_t pid)
{
	unsigned long long st;
	pid_t pp, pg;
	char s;

	return proc_stat(pid, &s, &pp, &pg, &st) == 0 && s != 'Z' && s != 'X';
}

static void comm_of(pid_t pid, char *out, size_t n)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if(read_small(path, out, n) <= 0)
		mid_strlcpy(out, "?", n);
	out[strcspn(out, "\n")] = '\0';
	for(char *c = out; *c; c++)
		if(*c <= ' ' || *c > '~')
			*c = '_';
}

/* The cgroup of 'pid', relative to the mount ("/a/b"), or -1. */
static int cgroup_of(pid_t pid, char *out, size_t n)
{
	char path[64], buf[PATH_MAX + 16], *l;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if(read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	for(l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		if(!strncmp(l, "0::", 3))
			return mid_strlcpy(out, l + 3, n) < n ? 0 : -1;
	return -1;
}

static struct member *find(struct adopt *a, pid_t pid)
{
	for(size_t i = 0; i < a->n; i++)
		if(a->m[i].pid == pid)
			return &a->m[i];
	return NULL;
}

/* Track 'pid' (with a pidfd, checked against its start time). 1 when it
 * is new, 0 when known or gone, -1 when the table is full. */
static int add(struct adopt *a, pid_t pid)
{
	struct member *m;
	unsigned long long st, st2;
	pid_t pp, pg;
	char s;

	if(find(a, pid))
		return 0;
	if(a->n == MAX_MEMBERS)
		return -1;
	if(proc_stat(pid, &s, &pp, &pg, &st) || s == 'Z' || s == 'X')
		return 0;
	m = &a->m[a->n];
	m->pid = pid;
	m->start = st;
	m->pidfd = pidfd_open(pid, 0);
	if(m->pidfd < 0)
		return 0;
	/* The PID might have been reused between the stat and the open. */
	if(proc_stat(pid, &s, &pp, &pg, &st2) || st2 != st) {
		close(m->pidfd);
		return 0;
	}
	fcntl(m->pidfd, F_SETFD, FD_CLOEXEC);
	if(cgroup_of(pid, m->orig, sizeof(m->orig)))
		m->orig[0] = '\0';
	a->n++;
	return 1;
}

/* Track 'pid' and every descendant of it. Returns how many were new, or
 * -1 when the table is full. */
static int add_tree(struct adopt *a, pid_t pid, int depth)
{
	char path[96], buf[4096];
	struct dirent *e;
	DIR *d;
	int n, k;

	n = add(a, pid);
	if(n < 0 || depth > MAX_DEPTH)
		return n;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while(d && (e = readdir(d))) {
		if(e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/children", (int)pid, e->d_name);
		if(read_small(path, buf, sizeof(buf)) <= 0)
			continue;
		for(char *save, *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			k = add_tree(a, (pid_t)atoi(t), depth + 1);
			if(k < 0) {
				n = -1;
				break;
			}
			n += k;
		}
		if(n < 0)
			break;
	}
	if(d)
		closedir(d);
	return n;
}

/* Look for new descendants of every tracked process. */
static int rescan(struct adopt *a)
{
	int n = 0, k;

	for(size_t i = 0; i < a->n; i++) {
		k = add_tree(a, a->m[i].pid, 0);
		if(k < 0)
			return -1;
		n += k;
	}
	return n;
}

/* Forget the processes that are gone. */
static void prune(struct adopt *a)
{
	for(size_t i = 0; i < a->n;) {
		struct pollfd p = {.fd = a->m[i].pidfd, .events = POLLIN};

		if(poll(&p, 1, 0) > 0 || !live(a->m[i].pid)) {
			close(a->m[i].pidfd);
			a->m[i] = a->m[--a->n];
			continue;
		}
		i++;
	}
}

static void signal_all(struct adopt *a, int sig)
{
	for(size_t i = 0; i < a->n; i++)
		pidfd_send_signal(a->m[i].pidfd, sig, NULL, 0);
}

/* Kill the tree: the cgroup at once, then every tracked process (a
 * stopped tree cannot fork, so its children can be found and killed).
 * Returns how many processes it knew of. */
static size_t kill_all(struct adopt *a)
{
	size_t n;

	if(a->cg[0])
		mid_tree_write_file(a->cg, "cgroup.kill", "1");
	signal_all(a, SIGSTOP);
	for(int pass = 0; pass < SETTLE_PASSES && rescan(a) > 0; pass++)
		signal_all(a, SIGSTOP);
	signal_all(a, SIGKILL);
	n = a->n;
	if(a->cg[0]) {
		char path[PATH_MAX + 16], buf[32];

		/* The cgroup's count: the kill empties it a moment later. */
		snprintf(path, sizeof(path), "%s/cgroup.procs", a->cg);
		(void)read_small(path, buf, sizeof(buf));
	}
	return n;
}

/* "123,456,..." of the first processes, at most 'cap' bytes. */
static void pid_list(const struct adopt *a, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for(size_t i = 0; i < a->n && o + 16 < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%d", i ? "," : "", (int)a->m[i].pid);
	if(o + 16 >= cap && cap > 4)
		snprintf(out + cap - 4, 4, "...");
}

/* ---- cgroups --------------------------------------------------------- */

static int cgroup_mount(char *out, size_t n)
{
	char own[PATH_MAX], rel[PATH_MAX];

	if(mid_tree_own_cgroup(own, sizeof(own)) || cgroup_of(getpid(), rel, sizeof(rel)))
		return -1;
	/* own = mount + rel (rel "/" adds nothing) */
	if(strcmp(rel, "/")) {
		size_t lo = strlen(own), lr = strlen(rel);

		if(lr > lo)
			return -1;
		own[lo - lr] = '\0';
	}
	return mid_strlcpy(out, own, n) < n ? 0 : -1;
}

/* Every PID in cgroup 'dir' and the cgroups below it. */
static int add_cgroup(struct adopt *a, const char *dir, int depth)
{
	char path[PATH_MAX + 32], buf[65536];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if(read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	for(char *save, *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
		if(add_tree(a, (pid_t)atoi(t), 0) < 0)
			return -1;
	if(depth > MAX_DEPTH)
		return 0;
	d = opendir(dir);
	while(d && (e = readdir(d))) {
		if(e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if(add_cgroup(a, path, depth + 1)) {
			closedir(d);
			return -1;
		}
	}
	if(d)
		closedir(d);
	return 0;
}

/* A unit's cgroup: the directory NAME anywhere below the mount (its
 * slice is not known), searched breadth-first a few levels deep. */
static int find_unit(const char *base, const char *name, char *out, size_t n, int depth)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", base, name);
	if(stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return mid_strlcpy(out, path, n) < n ? 0 : -1;
	if(depth >= 4)
		return -1;
	d = opendir(base);
	while(d && (e = readdir(d))) {
		if(e->d_type != DT_DIR || e->d_name[0] == '.' || !strstr(e->d_name, ".slice"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		if(find_unit(path, name, out, n, depth + 1) == 0) {
			closedir(d);
			return 0;
		}
	}
	if(d)
		closedir(d);
	return -1;
}

/* Move every tracked process into a fresh cgroup below the keeper's own;
 * then, while the tree still forks, the children that were born in the
 * old one. On any failure every moved process goes back. */
static int move_in(struct adopt *a)
{
	char own[PATH_MAX], num[24], back[2 * PATH_MAX];

	if(mid_tree_own_cgroup(own, sizeof(own)) ||
	   snprintf(a->cg, sizeof(a->cg), "%s/midshim-adopt-%ld", own, (long)getpid()) >=
		   (int)sizeof(a->cg) || mkdir(a->cg, 0755)) {
		a->cg[0] = '\0';
		return -1;
	}
	snprintf(back, sizeof(back), "%s/cgroup.kill", a->cg);
	if(access(back, W_OK))
		goto undo;
	for(int pass = 0; pass < SETTLE_PASSES; pass++) {
		for(size_t i = 0; i < a->n; i++) {
			snprintf(num, sizeof(num), "%d", (int)a->m[i].pid);
			if(mid_tree_write_file(a->cg, "cgroup.procs", num) && live(a->m[i].pid)) {
				say("cannot move PID %d into %s: %s", (int)a->m[i].pid, a->cg,
				    strerror(errno));
				goto undo;
			}
		}
		if(rescan(a) <= 0)
			return 0;
	}
undo:
	for(size_t i = 0; i < a->n; i++) {
		snprintf(num, sizeof(num), "%d", (int)a->m[i].pid);
		snprintf(back, sizeof(back), "%s%s", a->mnt, a->m[i].orig);
		if(a->m[i].orig[0])
			(void)mid_tree_write_file(back, "cgroup.procs", num);
	}
	rmdir(a->cg);
	a->cg[0] = '\0';
	return -1;
}

/* Give the tree back: every process to the cgroup it came from. */
static void move_out(struct adopt *a)
{
	char num[24], back[2 * PATH_MAX], rel[PATH_MAX];

	if(a->how != HOW_MOVED)
		return;
	rescan(a);
	for(size_t i = 0; i < a->n; i++) {
		/* A child born in our cgroup goes where its adopted ancestor
		 * came from: the first tracked process's cgroup. */
		const char *orig = a->m[i].orig;

		if(cgroup_of(a->m[i].pid, rel, sizeof(rel)) == 0 &&
		   strcmp(a->cg + strlen(a->mnt), rel))
			continue; /* already elsewhere */
		if(!strcmp(orig, a->cg + strlen(a->mnt)))
			orig = a->m[0].orig;
		snprintf(num, sizeof(num), "%d", (int)a->m[i].pid);
		snprintf(back, sizeof(back), "%s%s", a->mnt, orig);
		if(mid_tree_write_file(back, "cgroup.procs", num) && live(a->m[i].pid))
			say("cannot move PID %d back to %s: %s", (int)a->m[i].pid, back,
			    strerror(errno));
	}
	for(int i = 0; i < 100 && rmdir(a->cg) && errno == EBUSY; i++)
		poll(NULL, 0, 10);
}

/* ---- state files ----------------------------------------------------- */

static int state_dir(const char *want, char *out, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char parent[PATH_MAX];
	struct stat st;

	if(want)
		mid_strlcpy(out, want, n);
	else if(getuid() == 0)
		mid_strlcpy(out, "/run/midshim/adopt", n);
	else if(xdg && *xdg == '/')
		snprintf(out, n, "%s/midshim/adopt", xdg);
	else
		snprintf(out, n, "/tmp/midshim-adopt-%ld", (long)getuid());
	mid_strlcpy(parent, out, sizeof(parent));
	if(strrchr(parent, '/') && strrchr(parent, '/') != parent) {
		*strrchr(parent, '/') = '\0';
		if(mkdir(parent, 0755) && errno != EEXIST)
			return -1;
	}
	if(mkdir(out, 0700) && errno != EEXIST)
		return -1;
	/* Only its owner may keep state here: another user's directory
	 * could hand --release someone else's keeper. */
	if(lstat(out, &st) || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static void write_state(struct adopt *a)
{
	char tmp[PATH_MAX + 48], roots[512], pids[1024], since[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t o = 0;
	FILE *f;

	for(size_t i = 0; i < a->nroots && o + 16 < sizeof(roots); i++)
		o += (size_t)snprintf(roots + o, sizeof(roots) - o, "%s%d", i ? "," : "",
				      (int)a->roots[i]);
	roots[o] = '\0';
	pid_list(a, pids, sizeof(pids));
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->state);
	f = fopen(tmp, "we");
	if(!f)
		return;
	fprintf(f, "keeper %ld\ndevice %s\nhow %s\ncgroup %s\nuser %s\nsince %s\nroots %s\n"
		"pids %s\n", (long)getpid(), a->cfg.device, how_name[a->how],
		a->cg[0] ? a->cg : "-", a->user, since, roots, pids);
	if(fclose(f) == 0)
		rename(tmp, a->state);
}

/* ---- reports --------------------------------------------------------- */

static void report(struct adopt *a, const char *event, const char *detail)
{
	char err[256], comm[32] = "";
	pid_t pid = a->nroots ? a->roots[0] : 0;
	int st;

	if(pid)
		comm_of(pid, comm, sizeof(comm));
	st = mid_report_send(a->cfg.url, a->cfg.org_key, a->cfg.timeout_ms, a->cfg.device, event,
			     pid, comm, detail, err, sizeof(err));
	if(st != 202)
		say("report %s not taken by the control plane: %s", event,
		    st < 0 ? err : "it answered with another status");
}

/* ---- the keeper ------------------------------------------------------ */

static void chan_open(struct adopt *a)
{
	char hello[256], pids[64];
	enum mid_rc rc;

	pid_list(a, pids, sizeof(pids));
	snprintf(hello, sizeof(hello),
		 "x-midshim-pid: %ld\r\nx-midshim-program: adopt:%s\r\nx-midshim-kind: %s\r\n"
		 "x-midshim-since: %lld\r\n", (long)getpid(), pids,
		 a->https ? MID_KIND_ADOPT_TLS : MID_KIND_ADOPT, (long long)time(NULL) * 1000);
	if(a->https) {
		rc = mid_client_channel_tls(a->client, a->cfg.device, hello, &a->tls);
		a->chan = rc == MID_OK ? mid_tls_chan_fd(a->tls) : -1;
		a->pending = rc == MID_OK;
	} else {
		rc = mid_client_channel(a->client, a->cfg.device, hello, &a->chan);
	}
	if(rc == MID_OK) {
		a->backoff_ms = RECONNECT_MIN_MS;
		return;
	}
	a->chan = -1;
	a->retry_ms = mid_now_ms() + a->backoff_ms;
	a->backoff_ms = a->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : a->backoff_ms * 2;
}

static void chan_close(struct adopt *a)
{
	if(a->tls)
		mid_tls_chan_free(a->tls);
	else if(a->chan >= 0)
		close(a->chan);
	a->tls = NULL;
	a->chan = -1;
}

/* The channel said something: 1 for a kill line (in 'line'). A TLS
 * record with no channel data in it (a session ticket) says nothing. */
static int chan_read(struct adopt *a, char *line, size_t n)
{
	int k = a->tls ? mid_tls_chan_recv(a->tls, line, n) : mid_tree_chan_recv(a->chan, line, n);

	a->pending = 0;
	if(k >= 0)
		return k;
	say("push channel closed; reopening (the tree stays adopted)");
	chan_close(a);
	a->retry_ms = mid_now_ms() + RECONNECT_MIN_MS;
	return 0;
}

/* Is anything left to keep? */
static int empty(struct adopt *a)
{
	char path[PATH_MAX + 16], buf[256];

	if(a->cg[0]) {
		snprintf(path, sizeof(path), "%s/cgroup.events", a->cg);
		if(read_small(path, buf, sizeof(buf)) > 0 && strstr(buf, "populated 0"))
			return 1;
		if(a->how == HOW_CGROUP && access(path, F_OK))
			return 1; /* the unit's cgroup is gone */
	}
	prune(a);
	return a->n == 0 && (!a->cg[0] || a->how == HOW_TRACKED);
}

static void killed(struct adopt *a, const char *line)
{
	char code[64] = "?", rid[64] = "?", pids[400], detail[1024];
	size_t n;

	uint64_t t0 = mid_now_ms();

	n = kill_all(a);
	pid_list(a, pids, sizeof(pids));
	sscanf(line, "kill %63s %63s", code, rid);
	say("killed every process of the adopted tree in %llu ms (%zu known: %s; device %s,"
	    " code %s, request_id %s): pushed by the control plane",
	    (unsigned long long)(mid_now_ms() - t0), n, pids, a->cfg.device, code, rid);
	snprintf(detail, sizeof(detail), "adopted by %s: killed %zu (%s); %s request_id %s",
		 a->user, n, pids, code, rid);
	report(a, "KILLED", detail);
}

/* Run until the tree is killed, released or gone. */
static int keep(struct adopt *a)
{
	char line[256];
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	for(;;) {
		struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = a->chan, .events = POLLIN}};
		int wait_ms = RESCAN_MS, n;

		if(a->chan < 0) {
			uint64_t now = mid_now_ms();

			if(now >= a->retry_ms)
				chan_open(a);
			p[1].fd = a->chan;
		}
		/* Bytes that came with a TLS channel's 101 are in OpenSSL,
		 * where poll cannot see them. */
		n = a->pending ? 0 : poll(p, 2, wait_ms);
		if((a->pending || (n > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))) &&
		   chan_read(a, line, sizeof(line))) {
			killed(a, line);
			return 0;
		}
		if(n > 0 && (p[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			char pids[400], detail[1024];

			while(read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			pid_list(a, pids, sizeof(pids));
			move_out(a);
			say("released: %s", pids);
			snprintf(detail, sizeof(detail), "adopted by %s: released %zu (%s)", a->user,
				 a->n, pids);
			report(a, "RELEASE", detail);
			return 0;
		}
		if(a->how == HOW_TRACKED && rescan(a) > 0)
			write_state(a);
		if(empty(a)) {
			say("every adopted process has exited; nothing left to keep");
			return 0;
		}
	}
}

/* ---- adoption -------------------------------------------------------- */

static void who_adopts(char *out, size_t n)
{
	struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if(pw)
		snprintf(out, n, "%.40s%s%.40s%s", pw->pw_name, sudo ? " (sudo by " : "",
			 sudo ? sudo : "", sudo ? ")" : "");
	else
		snprintf(out, n, "uid %ld", (long)getuid());
	for(char *c = out; *c; c++)
		if(*c < ' ' || *c > '~')
			*c = '?';
}

/* Refuse what must not be adopted: this process and its ancestors (a
 * revoke would kill the operator's own shell), PID 1 and kernel threads. */
static int refuse(pid_t pid, char *err, size_t n)
{
	char path[64], exe[8];
	unsigned long long st;
	pid_t pp, pg, p;
	char s;

	if(pid <= 1) {
		snprintf(err, n, "PID %d cannot be adopted", (int)pid);
		return -1;
	}
	if(proc_stat(pid, &s, &pp, &pg, &st)) {
		snprintf(err, n, "no process %d", (int)pid);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if(pp == 2 || (readlink(path, exe, sizeof(exe)) < 0 && errno == ENOENT)) {
		snprintf(err, n, "PID %d is a kernel thread", (int)pid);
		return -1;
	}
	for(p = getpid(); p > 1; p = pp) {
		if(p == pid) {
			snprintf(err, n, "PID %d is this command or one of its parents: a revoke"
				 " would kill the shell that adopts it", (int)pid);
			return -1;
		}
		if(proc_stat(p, &s, &pp, &pg, &st))
			break;
	}
	return 0;
}

/* Every process whose process group is 'pgid'. */
static int add_pgid(struct adopt *a, pid_t pgid)
{
	struct dirent *e;
	DIR *d = opendir("/proc");
	int found = 0;

	while(d && (e = readdir(d))) {
		unsigned long long st;
		pid_t pid = (pid_t)atoi(e->d_name), pp, pg;
		char s;

		if(pid > 0 && proc_stat(pid, &s, &pp, &pg, &st) == 0 && pg == pgid &&
		   add_tree(a, pid, 0) >= 0) {
			if(a->nroots < MID_ARRAY_LEN(a->roots))
				a->roots[a->nroots++] = pid;
			found = 1;
		}
	}
	if(d)
		closedir(d);
	return found ? 0 : -1;
}

static const char adopt_usage[] =
	"usage: midshim adopt [OPTIONS] --device ID PID...\n"
	"       midshim adopt [OPTIONS] --device ID --pgid PGID | --cgroup PATH |\n"
	"                     --systemd-unit NAME\n"
	"       midshim adopt --list [--state-dir DIR]\n"
	"       midshim adopt --release KEEPER|PID|DEVICE|all [--state-dir DIR]\n"
	"\n"
	"Put running processes and all their descendants under device ID's kill\n"
	"switch without stopping them. A keeper process (its own session, logging\n"
	"to DIR/KEEPER.log) registers the device, validates (a device already\n"
	"denied has the tree killed at once, exit 3), moves the processes into a\n"
	"cgroup of its own (or kills the named --cgroup/--systemd-unit as it is;\n"
	"without cgroup v2 it tracks them with pidfds and looks for new children\n"
	"every 100 ms), and holds the device's push channel: on a revoke, remove\n"
	"or org disable it kills every process of the tree with SIGKILL. ADOPT,\n"
	"RELEASE and KILLED go to midd's audit trail.\n"
	"\n"
	"options:\n"
	"  --device ID, --url URL, --org-key-file FILE, --config FILE, --ttl-ms N,\n"
	"  --timeout-ms N, --policy FILE, --on-deny ACTION, --audit-log FILE,\n"
	"  --ca-file FILE       as for run (the gate settings matter with --inject);\n"
	"                       over https:// the keeper's channel is a TLS session\n"
	"                       verified with the CA file (midd lists it as adopt-tls)\n"
	"  --pgid PGID          every process of a process group\n"
	"  --cgroup PATH        every process of a cgroup v2 (a path below the mount,\n"
	"                       or absolute); the cgroup itself is killed\n"
	"  --systemd-unit NAME  the cgroup of a unit (NAME.service when NAME has no dot)\n"
	"  --no-cgroup          track the PIDs (pidfds, rescans) instead of moving them\n"
	"                       into a cgroup\n"
	"  --inject             also load libmidshim.so into each named PID through\n"
	"                       ptrace and its own dlopen, so its side effects are\n"
	"                       gated from then on (x86-64, dynamically linked\n"
	"                       programs; see midshim(1) for the risks)\n"
	"  --lib PATH           the libmidshim.so to inject\n"
	"  --state-dir DIR      default /run/midshim/adopt as root, else\n"
	"                       $XDG_RUNTIME_DIR/midshim/adopt\n"
	"  --list               the adopted trees: keeper, device, how, processes\n"
	"  --release WHAT       give a tree back (its processes return to their\n"
	"                       cgroups, the keeper stops): a keeper PID, an adopted\n"
	"                       PID, a device, or all\n"
	"\n"
	"Exit status: 0 adopted (or listed, released), 3 the device was denied and\n"
	"the tree killed, 126 nothing adopted (the line says why), 2 usage.\n";

/* One state file's "key value" line. */
static int state_get(const char *text, const char *key, char *out, size_t n)
{
	size_t k = strlen(key);

	for(const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if(!strncmp(l, key, k) && l[k] == ' ') {
			size_t len = strcspn(l + k + 1, "\n");

			snprintf(out, n, "%.*s", (int)len, l + k + 1);
			return 0;
		}
	out[0] = '\0';
	return -1;
}

/* Is 'pid' a keeper, i.e. this same program? */
static int is_keeper(long pid)
{
	char a[PATH_MAX], b[PATH_MAX], path[64];
	ssize_t x, y;

	snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	x = readlink(path, a, sizeof(a) - 1);
	y = readlink("/proc/self/exe", b, sizeof(b) - 1);
	return x > 0 && y > 0 && x == y && !memcmp(a, b, (size_t)x);
}

typedef int each_fn(void *arg, long keeper, const char *text);

/* Each live keeper's state file; stale ones are removed. */
static int each_state(const char *dir, each_fn *fn, void *arg)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while(d && (e = readdir(d))) {
		char path[PATH_MAX + 300], text[4096];
		long k;
		size_t len = strlen(e->d_name);

		if(len < 7 || strcmp(e->d_name + len - 6, ".state") ||
		   sscanf(e->d_name, "%ld", &k) != 1)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if(read_small(path, text, sizeof(text)) <= 0)
			continue;
		if(!is_keeper(k)) {
			unlink(path);
			continue;
		}
		n += fn(arg, k, text);
	}
	if(d)
		closedir(d);
	return n;
}

static int list_one(void *arg, long keeper, const char *text)
{
	char dev[300], how[32], cg[PATH_MAX], user[100], since[40], roots[512], pids[1024];

	(void)arg;
	state_get(text, "device", dev, sizeof(dev));
	state_get(text, "how", how, sizeof(how));
	state_get(text, "cgroup", cg, sizeof(cg));
	state_get(text, "user", user, sizeof(user));
	state_get(text, "since", since, sizeof(since));
	state_get(text, "roots", roots, sizeof(roots));
	state_get(text, "pids", pids, sizeof(pids));
	printf("%-8ld %-32s %-11s %-20s %-16s %s (tree %s)%s%s\n", keeper, dev, how, since, user,
	       roots, pids, strcmp(cg, "-") ? " cgroup " : "", strcmp(cg, "-") ? cg : "");
	return 1;
}

struct release_ctx {
	const char *what;
	long keepers[256];
	size_t n;
};

static int release_one(void *arg, long keeper, const char *text)
{
	struct release_ctx *r = arg;
	char dev[300], pids[1024], num[24];
	int match = !strcmp(r->what, "all");

	state_get(text, "device", dev, sizeof(dev));
	state_get(text, "pids", pids, sizeof(pids));
	snprintf(num, sizeof(num), "%ld", keeper);
	match |= !strcmp(r->what, num) || !strcmp(r->what, dev);
	for(char *save, *t = strtok_r(pids, ",", &save); t && !match; t = strtok_r(NULL, ",", &save))
		match = !strcmp(t, r->what);
	if(!match || r->n == MID_ARRAY_LEN(r->keepers))
		return 0;
	r->keepers[r->n++] = keeper;
	return 1;
}

static int do_release(const char *dir, const char *what)
{
	struct release_ctx r = {.what = what};
	int bad = 0;

	each_state(dir, release_one, &r);
	if(!r.n) {
		fprintf(stderr, "midshim: adopt --release %s: no adopted tree matches (see midshim"
			" adopt --list)\n", what);
		return 1;
	}
	for(size_t i = 0; i < r.n; i++) {
		int fd = pidfd_open((pid_t)r.keepers[i], 0);
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if(fd < 0 || pidfd_send_signal(fd, SIGTERM, NULL, 0)) {
			fprintf(stderr, "midshim: cannot stop keeper %ld: %s\n", r.keepers[i],
				strerror(errno));
			bad = 1;
		} else if(poll(&p, 1, RELEASE_WAIT_MS) <= 0) {
			fprintf(stderr, "midshim: keeper %ld did not stop within %d ms\n",
				r.keepers[i], RELEASE_WAIT_MS);
			bad = 1;
		} else {
			printf("released the tree of keeper %ld\n", r.keepers[i]);
		}
		if(fd >= 0)
			close(fd);
	}
	return bad;
}

static int set(const char *name, const char *value)
{
	if(setenv(name, value, 1)) {
		fprintf(stderr, "midshim: cannot set %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* The MIDSHIM_* variable an option letter sets, or NULL. */
static const char *setting(int c)
{
	static const struct {
		int c;
		const char *var;
	} map[] = {
		{'d', MID_ENV_DEVICE_ID}, {'u', MID_ENV_URL},        {'k', MID_ENV_ORG_KEY_FILE},
		{'p', MID_ENV_POLICY},    {'t', MID_ENV_TTL_MS},     {'T', MID_ENV_TIMEOUT_MS},
		{'o', MID_ENV_ON_DENY},   {'l', MID_ENV_AUDIT_LOG},  {'A', MID_ENV_CA_FILE},
	};

	for(size_t i = 0; i < MID_ARRAY_LEN(map); i++)
		if(map[i].c == c)
			return map[i].var;
	return NULL;
}

static const char *env(const char *name)
{
	return getenv(name);
}

/* Settings and preload for an injected shim: the same variables a
 * program started by `midshim run` would get. */
static char **inject_env(const char *lib)
{
	static const char *const names[] = {MID_ENV_DEVICE_ID, MID_ENV_URL, MID_ENV_ORG_KEY_FILE,
					    MID_ENV_ORG_KEY, MID_ENV_POLICY, MID_ENV_TTL_MS,
					    MID_ENV_TIMEOUT_MS, MID_ENV_ON_DENY, MID_ENV_MODE,
					    MID_ENV_AUDIT_LOG, MID_ENV_PUSH};
	static char *out[MID_ARRAY_LEN(names) + 2];
	static char preload[PATH_MAX + 16];
	size_t k = 0;

	for(size_t i = 0; i < MID_ARRAY_LEN(names); i++) {
		const char *v = getenv(names[i]);

		if(v && *v && asprintf(&out[k], "%s=%s", names[i], v) > 0)
			k++;
	}
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", lib);
	out[k++] = preload;
	out[k] = NULL;
	return out;
}

/* The keeper's side of adoption, after the fork: take the tree, open the
 * channel, write the state, then tell `adopt` (on 'ready') and keep. */
static int keeper_main(struct adopt *a, int ready)
{
	char msg[2 * PATH_MAX + 1024], pids[400], detail[2 * PATH_MAX], log[PATH_MAX + 16];
	int fd;

	snprintf(a->state, sizeof(a->state), "%s/%ld.state", a->dir, (long)getpid());
	snprintf(log, sizeof(log), "%s/%ld.log", a->dir, (long)getpid());
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if(fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if(fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	prctl(PR_SET_DUMPABLE, 0); /* it holds the org key */
	if(a->how == HOW_MOVED && move_in(a)) {
		a->how = HOW_TRACKED;
		say("no cgroup of its own could be made or filled: the tree is tracked (pidfds,"
		    " a rescan every %d ms)", RESCAN_MS);
	}
	a->backoff_ms = RECONNECT_MIN_MS;
	chan_open(a);
	if(a->chan < 0) {
		snprintf(msg, sizeof(msg), "err cannot open the push channel of %s at %s (%s):"
			 " nothing adopted", a->cfg.device, a->cfg.url,
			 mid_client_detail(a->client)[0] ? mid_client_detail(a->client) :
			 "the control plane refused it");
		move_out(a);
		(void)!write(ready, msg, strlen(msg));
		return EXIT_CANNOT;
	}
	write_state(a);
	pid_list(a, pids, sizeof(pids));
	snprintf(msg, sizeof(msg), "ok adopted %zu process(es) (%s) under device %s; keeper %ld"
		 " (%s%s%s); log %s", a->n, pids, a->cfg.device, (long)getpid(), how_name[a->how],
		 a->cg[0] ? " " : "", a->cg, log);
	say("%s", msg + 3);
	snprintf(detail, sizeof(detail), "by %s: adopted %zu (%s); keeper %ld; %s %s", a->user,
		 a->n, pids, (long)getpid(), how_name[a->how], a->cg[0] ? a->cg : "");
	report(a, "ADOPT", detail);
	(void)!write(ready, msg, strlen(msg));
	close(ready);
	keep(a);
	unlink(a->state);
	chan_close(a);
	return 0;
}

/* Fork the keeper (its own session, not our child) and wait for its
 * first word. */
static int start_keeper(struct adopt *a)
{
	char msg[2 * PATH_MAX + 1100];
	int fds[2];
	pid_t p;
	ssize_t r;

	if(pipe2(fds, O_CLOEXEC)) {
		fprintf(stderr, "midshim: cannot make a pipe: %s\n", strerror(errno));
		return EXIT_CANNOT;
	}
	fflush(NULL);
	p = fork();
	if(p < 0) {
		fprintf(stderr, "midshim: cannot fork: %s\n", strerror(errno));
		return EXIT_CANNOT;
	}
	if(p == 0) {
		close(fds[0]);
		setsid();
		p = fork();
		if(p != 0)
			_exit(p < 0 ? EXIT_CANNOT : 0);
		signal(SIGPIPE, SIG_IGN);
		_exit(keeper_main(a, fds[1]));
	}
	close(fds[1]);
	waitpid(p, NULL, 0);
	{
		struct pollfd pf = {.fd = fds[0], .events = POLLIN};

		r = poll(&pf, 1, READY_TIMEOUT_MS) > 0 ? read(fds[0], msg, sizeof(msg) - 1) : -1;
	}
	close(fds[0]);
	if(r <= 3) {
		fprintf(stderr, "midshim: the keeper did not answer within %d ms; see the logs in"
			" %s\n", READY_TIMEOUT_MS, a->dir);
		return EXIT_CANNOT;
	}
	msg[r] = '\0';
	if(strncmp(msg, "ok ", 3)) {
		fprintf(stderr, "midshim: %s\n", msg + 4);
		return EXIT_CANNOT;
	}
	printf("midshim: %s\n", msg + 3);
	fflush(stdout);
	return 0;
}

int mid_adopt_main(int argc, char **argv, const char *found_lib)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"url", required_argument, NULL, 'u'},
		{"org-key-file", required_argument, NULL, 'k'},
		{"policy", required_argument, NULL, 'p'},
		{"ttl-ms", required_argument, NULL, 't'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"on-deny", required_argument, NULL, 'o'},
		{"audit-log", required_argument, NULL, 'l'},
		{"config", required_argument, NULL, 'c'},
		{"ca-file", required_argument, NULL, 'A'},
		{"pgid", required_argument, NULL, 'g'},
		{"cgroup", required_argument, NULL, 'C'},
		{"systemd-unit", required_argument, NULL, 'U'},
		{"no-cgroup", no_argument, NULL, 'N'},
		{"inject", no_argument, NULL, 'i'},
		{"lib", required_argument, NULL, 'L'},
		{"state-dir", required_argument, NULL, 'S'},
		{"list", no_argument, NULL, 'Y'},
		{"release", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct adopt a;
	static struct member members[MAX_MEMBERS];
	const char *config = NULL, *cgroup = NULL, *unit = NULL, *sdir = NULL, *release = NULL;
	char err[1024], lib[PATH_MAX], pids[400], unitcg[PATH_MAX], killf[PATH_MAX + 16];
	struct mid_decision d;
	long pgid = 0;
	int c, list = 0, no_cgroup = 0, inject = 0, ex;

	mid_strlcpy(lib, found_lib ? found_lib : "", sizeof(lib));
	a.m = members;
	a.chan = -1;
	optind = 1;
	while((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		const char *var = setting(c);

		if(var) {
			if(c == 'k')
				unsetenv(MID_ENV_ORG_KEY);
			if(set(var, optarg))
				return EXIT_CANNOT;
			continue;
		}
		switch(c) {
		case 'c': config = optarg; break;
		case 'g':
			pgid = strtol(optarg, NULL, 10);
			if(pgid <= 1) {
				fprintf(stderr, "midshim: --pgid needs a process group ID above 1\n");
				return EXIT_USAGE;
			}
			break;
		case 'C': cgroup = optarg; break;
		case 'U': unit = optarg; break;
		case 'N': no_cgroup = 1; break;
		case 'i': inject = 1; break;
		case 'L':
			if(!realpath(optarg, lib)) {
				fprintf(stderr, "midshim: --lib %s: %s\n", optarg, strerror(errno));
				return EXIT_CANNOT;
			}
			break;
		case 'S': sdir = optarg; break;
		case 'Y': list = 1; break;
		case 'R': release = optarg; break;
		case 'h': fputs(adopt_usage, stdout); return 0;
		default: fputs("(see midshim adopt --help)\n", stderr); return EXIT_USAGE;
		}
	}
	if(state_dir(sdir, a.dir, sizeof(a.dir))) {
		fprintf(stderr, "midshim: state directory %s: %s; pass --state-dir DIR (a directory"
			" of this user's)\n", a.dir, strerror(errno));
		return EXIT_CANNOT;
	}
	if(list) {
		printf("%-8s %-32s %-11s %-20s %-16s %s\n", "KEEPER", "DEVICE", "HOW", "SINCE", "BY",
		       "PIDS");
		each_state(a.dir, list_one, NULL);
		return 0;
	}
	if(release)
		return do_release(a.dir, release);
	if((optind < argc) + !!pgid + !!cgroup + !!unit != 1) {
		fprintf(stderr, "midshim: adopt needs PIDs, or one of --pgid, --cgroup and"
			" --systemd-unit\n(see midshim adopt --help)\n");
		return EXIT_USAGE;
	}
	if(inject && optind >= argc) {
		fprintf(stderr, "midshim: --inject needs the PIDs named on the command line\n");
		return EXIT_USAGE;
	}
	/* The settings, checked as the shim checks them (device, URL, key). */
	if(mid_conf_apply(config ? config : MID_CONF_DEFAULT, config != NULL, err, sizeof(err)) ||
	   mid_conf_absolute(MID_ENV_POLICY, err, sizeof(err)) ||
	   mid_conf_absolute(MID_ENV_ORG_KEY_FILE, err, sizeof(err)) ||
	   mid_conf_absolute(MID_ENV_AUDIT_LOG, err, sizeof(err)) ||
	   mid_conf_absolute(MID_ENV_CA_FILE, err, sizeof(err)) ||
	   mid_config_load(&a.cfg, env, environ, err, sizeof(err))) {
		fprintf(stderr, "midshim: configuration error: %s\n", err);
		return EXIT_CANNOT;
	}
	unsetenv(MID_ENV_CONFIG);
	a.https = MID_HAS_PREFIX(a.cfg.url, "https:");
	if(mid_config_client(&a.cfg, &a.client, err, sizeof(err))) {
		fprintf(stderr, "midshim: %s\n", err);
		return EXIT_CANNOT;
	}
	who_adopts(a.user, sizeof(a.user));
	if(cgroup_mount(a.mnt, sizeof(a.mnt)))
		a.mnt[0] = '\0';
	a.how = HOW_MOVED;
	for(int i = optind; i < argc; i++) {
		char *end;
		long pid = strtol(argv[i], &end, 10);

		if(*end || pid <= 0 || pid > INT_MAX) {
			fprintf(stderr, "midshim: adopt: \"%s\" is not a PID\n", argv[i]);
			return EXIT_USAGE;
		}
		if(refuse((pid_t)pid, err, sizeof(err))) {
			fprintf(stderr, "midshim: adopt: %s; nothing adopted\n", err);
			return EXIT_CANNOT;
		}
		if(a.nroots < MID_ARRAY_LEN(a.roots))
			a.roots[a.nroots++] = (pid_t)pid;
		if(add_tree(&a, (pid_t)pid, 0) < 0)
			goto full;
	}
	if(pgid && add_pgid(&a, (pid_t)pgid)) {
		fprintf(stderr, "midshim: adopt: no process in process group %ld\n", pgid);
		return EXIT_CANNOT;
	}
	if(unit || cgroup) {
		if(!a.mnt[0]) {
			fprintf(stderr, "midshim: adopt: no cgroup v2 mount here\n");
			return EXIT_CANNOT;
		}
		int bad;

		if(unit) {
			snprintf(err, sizeof(err), "%s%s", unit, strchr(unit, '.') ? "" : ".service");
			bad = find_unit(a.mnt, err, unitcg, sizeof(unitcg), 0);
		} else {
			/* A path below the mount, or one that names the mount. */
			size_t m = strlen(a.mnt);

			if(!strncmp(cgroup, a.mnt, m) && (cgroup[m] == '/' || !cgroup[m]))
				cgroup += m;
			bad = snprintf(unitcg, sizeof(unitcg), "%s%s%s", a.mnt,
				       *cgroup == '/' ? "" : "/", cgroup) >= (int)sizeof(unitcg) ||
			      access(unitcg, F_OK);
		}
		if(bad) {
			fprintf(stderr, "midshim: adopt: no cgroup for %s %s below %s\n",
				unit ? "unit" : "path", unit ? err : cgroup, a.mnt);
			return EXIT_CANNOT;
		}
		if(add_cgroup(&a, unitcg, 0)) {
			fprintf(stderr, "midshim: adopt: cannot read %s/cgroup.procs: %s\n", unitcg,
				strerror(errno));
			return EXIT_CANNOT;
		}
		snprintf(killf, sizeof(killf), "%s/cgroup.kill", unitcg);
		if(access(killf, W_OK)) {
			fprintf(stderr, "midshim: adopt: cannot kill cgroup %s (%s): adopt its PIDs"
				" instead\n", unitcg, strerror(errno));
			return EXIT_CANNOT;
		}
		mid_strlcpy(a.cg, unitcg, sizeof(a.cg));
		a.how = HOW_CGROUP;
		for(size_t i = 0; i < a.n && a.nroots < MID_ARRAY_LEN(a.roots); i++)
			a.roots[a.nroots++] = a.m[i].pid;
	}
	if(!a.n) {
		fprintf(stderr, "midshim: adopt: no live process to adopt\n");
		return EXIT_CANNOT;
	}
	if((!a.mnt[0] || no_cgroup) && a.how == HOW_MOVED)
		a.how = HOW_TRACKED;
	if(inject) {
		if(!lib[0]) {
			fprintf(stderr, "midshim: cannot find libmidshim.so to inject; pass --lib"
				" PATH\n");
			return EXIT_CANNOT;
		}
		for(size_t i = 0; i < a.nroots; i++)
			if(mid_inject(a.roots[i], lib, inject_env(lib), 1, err, sizeof(err))) {
				fprintf(stderr, "midshim: cannot inject into PID %d: %s; nothing"
					" adopted, the process runs on unchanged\n",
					(int)a.roots[i], err);
				return EXIT_CANNOT;
			}
	}
	/* Register, then validate: a device denied already is killed now. */
	if(mid_client_register(a.client, a.cfg.device, &d) == MID_OK && !d.allowed &&
	   strcmp(d.status, "removed"))
		fprintf(stderr, "midshim: register %s: %s\n", a.cfg.device, d.status);
	if(mid_client_validate(a.client, a.cfg.device, &d) != MID_OK) {
		fprintf(stderr, "midshim: cannot validate %s at %s (%s%s%s): nothing adopted\n",
			a.cfg.device, a.cfg.url, d.code, mid_client_detail(a.client)[0] ? ": " : "",
			mid_client_detail(a.client));
		return EXIT_CANNOT;
	}
	if(!d.allowed) {
		char detail[1024];
		size_t n;

		pid_list(&a, pids, sizeof(pids));
		n = kill_all(&a);
		fprintf(stderr, "midshim: device %s is denied (%s, request_id %s): killed the %zu"
			" process(es) it was to adopt (%s)\n", a.cfg.device, d.code, d.request_id, n,
			pids);
		snprintf(detail, sizeof(detail), "by %s: killed %zu at adoption (%s); %s request_id"
			 " %s", a.user, n, pids, d.code, d.request_id);
		report(&a, "KILLED", detail);
		return EXIT_DENIED;
	}
	ex = start_keeper(&a);
	if(ex || !inject)
		return ex;
	for(size_t i = 0; i < a.nroots; i++) {
		if(mid_inject(a.roots[i], lib, inject_env(lib), 0, err, sizeof(err))) {
			fprintf(stderr, "midshim: PID %d adopted but not injected: %s\n",
				(int)a.roots[i], err);
			ex = 1;
		} else {
			printf("midshim: PID %d now runs %s: its side effects are gated\n",
			       (int)a.roots[i], lib);
		}
	}
	return ex;
full:
	fprintf(stderr, "midshim: adopt: more than %d processes; nothing adopted\n", MAX_MEMBERS);
	return EXIT_CANNOT;
}
