/* SPDX-License-Identifier: MIT */
/*
 * The launcher as seccomp supervisor. Each call the filter
 * (midshim_filter.c) sends arrives here as a notification: its arguments
 * are read from the target's memory, described as the preload's event
 * (same kinds, targets and paths), and decided by the preload's gate
 * (shim/gate.c: policy, cached allow, single validate), in this process.
 *
 * An allow that matters is not answered with "continue", which would let
 * the kernel read the arguments again after a second thread changed them:
 * an open with write intent is made here, on the path that was checked,
 * relative to the target's working directory or directory descriptor,
 * and the descriptor is put into the target (SECCOMP_IOCTL_NOTIF_ADDFD
 * with SEND); a connect is made here, on the target's own socket
 * (pidfd_getfd), to the address that was checked. Other calls are
 * checked, then continued (README, "Supervise mode", says what that
 * leaves open). An allow that cannot matter is continued unread: a
 * file-system call when no policy rule names that kind and the cached
 * allow is fresh (any path would get the same answer). Every read of
 * the target's memory is followed by SECCOMP_IOCTL_NOTIF_ID_VALID: the
 * target may have died and its PID be reused.
 */
#define _GNU_SOURCE
#include "midshim_sup.h"

#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "enforce.h"
#include "execfile.h"
#include "fdtab.h"
#include "fspath.h"
#include "gate.h"
#include "midshim_filter.h"
#include "midshim_tree.h"
#include "mid_url.h"
#include "net.h"
#include "record.h"
#include "sigevent.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS /* Linux 6.6 */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

#define ARGV_MAX 256          /* argv entries read for an exec event */
#define ARGV_BYTES (64 * 1024) /* their bytes together */
#define CONNECTORS_MAX 64     /* blocking connects made at once, each on a thread */

struct mid_sup {
	struct mid_config *cfg;
	struct mid_client *client;
	int both;
	int listener;
	int up[2], down[2]; /* child -> launcher: the listener's number; back: taken */
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t req_size, resp_size;
	/* the control plane's address and the audit log, which the preload
	 * in the program reaches on its own behalf (both layers) */
	struct mid_url url;
	int exit_status;
	uid_t uid;
	gid_t gid;
	mode_t umask;	 /* the launcher's, which the tree starts with */
	int nnp;	 /* the child sets PR_SET_NO_NEW_PRIVS */
	unsigned execs;	 /* exec notifications so far */
	/* The handler thread (see mid_sup_attach), and the pipe it says a
	 * kill verdict on. */
	pthread_t thread;
	int running;
	int verdict[2];
	atomic_int stop;
	/* A process of the tree may have other credentials, or another
	 * umask, than the launcher: it made a call that changes them (the
	 * filter sends those), or, without no-new-privs, ran a program
	 * after the first. Until then an open is made for the target
	 * without reading its /proc/PID/status. Never cleared. */
	int creds_moved, umask_moved;
	/* No policy rule names file-system events: every one gets the same
	 * answer, whatever it names, so an allowed one is made by the kernel
	 * as the target asked (nothing to race), never here. */
	int fs_uniform;
};

static _Atomic int connectors;
/* The supervisor whose client carries reports (one per launcher). */
static struct mid_sup *reporter;

/* Does this process hold capability 'cap' (effective)? With CAP_SYS_ADMIN
 * seccomp lets its child install a filter without no-new-privs. */
static int has_cap(int cap)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if(syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[cap / 32].effective & (1u << (cap % 32)));
}

/* ---- the handler thread ---------------------------------------------------- */

/* Interrupts the handler thread's wait for a notification. */
#define STOP_SIGNAL SIGURG
#define STOP_TRIES 100 /* of 10 ms each */

static void on_stop_signal(int sig)
{
	(void)sig;
}

/*
 * The notifications are received by a thread of their own, blocked in
 * SECCOMP_IOCTL_NOTIF_RECV rather than in the launcher's poll: the
 * kernel wakes a RECV waiter on the target's CPU
 * (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), a poll waiter only through the
 * scheduler, which cost about 2 us a gated call here. A kill verdict is
 * one byte on 'verdict', after which the thread answers nothing more:
 * the target waits until the tree keeper kills it.
 */
static int hung_up(const struct mid_sup *s)
{
	struct pollfd p = {.fd = s->listener, .events = 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static void *handler_thread(void *arg)
{
	struct mid_sup *s = arg;
	sigset_t m;

	sigemptyset(&m);
	sigaddset(&m, STOP_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &m, NULL);
	while(!atomic_load(&s->stop)) {
		enum mid_sup_verdict v = mid_sup_handle(s);

		if(v == MID_SUP_KILL) {
			(void)!write(s->verdict[1], "k", 1);
			break;
		}
		if(v == MID_SUP_IDLE && errno != ENOENT && errno != EINTR)
			break; /* the listener is unusable: nothing more arrives */
		/* RECV answers ENOENT at once, again and again, when no
		 * process is left under the filter (the main loop sees the
		 * hang-up); else it is a target that died meanwhile. */
		if(v == MID_SUP_IDLE && errno == ENOENT && hung_up(s))
			break;
	}
	return NULL;
}

/* Stop the handler thread; -1 when it would not stop (it is left
 * running, and its buffers must stay). */
static int stop_thread(struct mid_sup *s)
{
	if(!s->running)
		return 0;
	atomic_store(&s->stop, 1);
	/* A signal sent just before the thread enters the kernel is lost:
	 * send it again until the thread is gone, bounded. */
	for(int i = 0; i < STOP_TRIES; i++) {
		struct timespec ts;

		pthread_kill(s->thread, STOP_SIGNAL);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if(ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if(pthread_timedjoin_np(s->thread, NULL, &ts) == 0) {
			s->running = 0;
			return 0;
		}
	}
	pthread_detach(s->thread);
	return -1;
}

static int start_thread(struct mid_sup *s)
{
	struct sigaction sa;
	sigset_t m;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal; /* no SA_RESTART: RECV returns EINTR */
	sigemptyset(&sa.sa_mask);
	/* Only the thread takes the signal (it unblocks it itself). */
	sigemptyset(&m);
	sigaddset(&m, STOP_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &m, NULL);
	if(sigaction(STOP_SIGNAL, &sa, NULL) || pthread_create(&s->thread, NULL, handler_thread, s))
		return -1;
	s->running = 1;
	return 0;
}

/* ---- the validate the gate asks, the reports it sends --------------------- */

static enum mid_rc sup_validate(void *ctx, struct mid_decision *d)
{
	struct mid_sup *s = ctx;

	return mid_client_validate(s->client, s->cfg->device, d);
}

/* A denial the gate decided here (a policy rule, an address it cannot
 * read) goes to midd's audit trail as the preload's does, on the
 * connection the validates use, without waiting for the answer. */
static void sup_report(const char *body, size_t len)
{
	if(reporter)
		(void)!mid_client_report(reporter->client, body, len);
}

/* The program a report names: the target's argv[0], as the preload
 * names its own process. */
static const char *subject_name(pid_t pid)
{
	static char buf[256];

	if(mid_proc_read(pid, "cmdline", buf, sizeof(buf)) <= 0 || !buf[0])
		snprintf(buf, sizeof(buf), "pid %d", (int)pid);
	return buf;
}

int mid_sup_new(struct mid_sup **out, struct mid_config *cfg, int both, char *err,
		size_t errlen)
{
	struct seccomp_notif_sizes sizes;
	struct mid_sup *s = calloc(1, sizeof(*s));
	char why[256];

	*out = NULL;
	if(!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->both = both;
	s->listener = -1;
	s->up[0] = s->up[1] = s->down[0] = s->down[1] = -1;
	s->verdict[0] = s->verdict[1] = -1;
	s->exit_status = -1;
	s->uid = geteuid();
	s->gid = getegid();
	s->umask = umask(022);
	umask(s->umask);
	s->nnp = !has_cap(CAP_SYS_ADMIN);
	s->fs_uniform = mid_policy_uniform(cfg->policy, MID_EV_FS, &(enum mid_action){0});
	if(syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes)) {
		snprintf(err, errlen, "this kernel has no seccomp user notification (%s); supervise "
			 "mode needs Linux 5.9 or later with seccomp", strerror(errno));
		goto fail;
	}
	s->req_size = sizes.seccomp_notif > sizeof(*s->req) ? sizes.seccomp_notif : sizeof(*s->req);
	s->resp_size = sizes.seccomp_notif_resp > sizeof(*s->resp) ? sizes.seccomp_notif_resp
								   : sizeof(*s->resp);
	s->req = calloc(1, s->req_size);
	s->resp = calloc(1, s->resp_size);
	if(!s->req || !s->resp || pipe2(s->up, O_CLOEXEC) || pipe2(s->down, O_CLOEXEC) ||
	   pipe2(s->verdict, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot set up the supervisor: %s", strerror(errno));
		goto fail;
	}
	if(mid_url_parse(cfg->url, &s->url, why, sizeof(why)) ||
	   mid_config_client(cfg, &s->client, why, sizeof(why))) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	cfg->deny_returns = 1;
	mid_gate_setup(cfg, sup_validate, s);
	reporter = s;
	mid_enforce_set_report(sup_report);
	mid_enforce_subject_name = subject_name;
	*out = s;
	return 0;
fail:
	mid_sup_free(s);
	return -1;
}

void mid_sup_free(struct mid_sup *s)
{
	if(!s)
		return;
	if(stop_thread(s)) {
		/* Still in the kernel: it may yet write into its buffers. */
		return;
	}
	if(reporter == s) {
		mid_enforce_set_report(NULL);
		reporter = NULL;
	}
	for(int i = 0; i < 2; i++) {
		if(s->up[i] >= 0)
			close(s->up[i]);
		if(s->down[i] >= 0)
			close(s->down[i]);
		if(s->verdict[i] >= 0)
			close(s->verdict[i]);
	}
	if(s->listener >= 0)
		close(s->listener);
	mid_client_free(s->client);
	free(s->req);
	free(s->resp);
	free(s);
}

/* ---- the handover --------------------------------------------------------- */

static int install(const struct sock_fprog *fp)
{
	/* Killable only, once the supervisor has the call: a signal must
	 * not make the program repeat a call already made for it (a create
	 * with O_EXCL would then fail). */
	int fd = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
			      SECCOMP_FILTER_FLAG_NEW_LISTENER |
				      SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
			      fp);

	if(fd < 0 && errno == EINVAL)
		fd = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
				  SECCOMP_FILTER_FLAG_NEW_LISTENER, fp);
	return fd;
}

int mid_sup_child(struct mid_sup *s)
{
	static struct sock_filter prog[MID_FILTER_MAX];
	struct sock_fprog fp;
	int n = mid_filter_build(prog, MID_FILTER_MAX), fd = -1, e = 0;
	char ok;

	close(s->up[0]);
	close(s->down[1]);
	if(n < 0) {
		e = EINVAL;
	} else {
		fp.len = (unsigned short)n;
		fp.filter = prog;
		/* Without it a process lacking CAP_SYS_ADMIN may not install
		 * a filter; with it a setuid program in the tree runs without
		 * its privileges. A launcher holding CAP_SYS_ADMIN skips it,
		 * so setuid programs keep working; should the kernel refuse
		 * the filter anyway (EACCES), it is set after all. */
		if(s->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			e = errno;
		if(!e)
			fd = install(&fp);
		if(!e && fd < 0 && errno == EACCES && !s->nnp) {
			if(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
				e = errno;
			else
				fd = install(&fp);
		}
		if(!e && fd < 0)
			e = errno;
	}
	if(e) {
		fprintf(stderr, "midshim: cannot install the supervise filter: %s; the program "
			"cannot be gated here (seccomp disabled?)\n", strerror(e));
		n = -1;
		if(write(s->up[1], &n, sizeof(n)) < 0)
			return -1;
		return -1;
	}
	/* The number only: the launcher takes the descriptor itself, since
	 * sendmsg is one of the calls the filter now holds. */
	if(write(s->up[1], &fd, sizeof(fd)) != (ssize_t)sizeof(fd) ||
	   read(s->down[0], &ok, 1) != 1) {
		fprintf(stderr, "midshim: the launcher did not take the supervise listener\n");
		return -1;
	}
	close(fd);
	close(s->up[1]);
	close(s->down[0]);
	return 0;
}

int mid_sup_attach(struct mid_sup *s, pid_t child)
{
	struct pollfd p = {.fd = s->up[0], .events = POLLIN};
	int fd = -1, pidfd;

	close(s->up[1]);
	close(s->down[0]);
	s->up[1] = s->down[0] = -1;
	/* The child writes at once or dies; bounded anyway. */
	if(poll(&p, 1, 10000) != 1 || read(s->up[0], &fd, sizeof(fd)) != (ssize_t)sizeof(fd) ||
	   fd < 0)
		return -1;
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if(pidfd >= 0) {
		s->listener = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
		close(pidfd);
	}
	if(s->listener < 0) {
		fprintf(stderr, "midshim: cannot take the supervise listener from the program: %s\n",
			strerror(errno));
		return -1;
	}
	fcntl(s->listener, F_SETFD, FD_CLOEXEC);
	/* The target waits for each answer: wake this process on the
	 * target's CPU and the target on ours, rather than through the
	 * scheduler's queues (Linux 6.6; older kernels wake as usual). */
	ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
	if(start_thread(s)) {
		fprintf(stderr, "midshim: cannot start the supervisor's thread: %s\n", strerror(errno));
		return -1;
	}
	if(write(s->down[1], "k", 1) != 1)
		return -1;
	close(s->up[0]);
	close(s->down[1]);
	s->up[0] = s->down[1] = -1;
	return 0;
}

int mid_sup_fd(const struct mid_sup *s)
{
	return s->listener;
}

int mid_sup_verdict_fd(const struct mid_sup *s)
{
	return s->verdict[0];
}

void mid_sup_done(struct mid_sup *s)
{
	/* The thread may be using the descriptor's number. */
	if(stop_thread(s))
		return;
	if(s->listener >= 0)
		close(s->listener);
	s->listener = -1;
}

int mid_sup_push(const struct mid_sup *s)
{
	return !s->cfg->no_push;
}

int mid_sup_exit_status(const struct mid_sup *s)
{
	return s->exit_status;
}

/* ---- the target's memory -------------------------------------------------- */

/* Read 'n' bytes at 'addr' of 'pid'; 0, or -1 (EFAULT). */
static int mem_read(pid_t pid, uint64_t addr, void *buf, size_t n)
{
	struct iovec local = {.iov_base = buf, .iov_len = n};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = n};

	if(n == 0)
		return 0;
	if(process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)n) {
		errno = EFAULT;
		return -1;
	}
	return 0;
}

/* A NUL-terminated string at 'addr', read page by page (the next page may
 * not be mapped). -1 with ENAMETOOLONG when it does not fit 'cap'. */
static int mem_string(pid_t pid, uint64_t addr, char *buf, size_t cap)
{
	size_t got = 0;

	if(!addr) {
		errno = EFAULT;
		return -1;
	}
	while(got < cap) {
		size_t chunk = 4096 - (size_t)((addr + got) & 4095);
		char *nul;

		if(chunk > cap - got)
			chunk = cap - got;
		if(mem_read(pid, addr + got, buf + got, chunk))
			return -1;
		nul = memchr(buf + got, '\0', chunk);
		if(nul)
			return 0;
		got += chunk;
	}
	errno = ENAMETOOLONG;
	return -1;
}

/* Is the notification still pending (the target alive, the same)? */
static int still_valid(struct mid_sup *s)
{
	return ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &s->req->id) == 0;
}

/* ---- answers --------------------------------------------------------------- */

static void answer(struct mid_sup *s, int error, int64_t val, int go_on)
{
	memset(s->resp, 0, s->resp_size);
	s->resp->id = s->req->id;
	s->resp->error = error ? -error : 0;
	s->resp->val = val;
	s->resp->flags = go_on ? SECCOMP_USER_NOTIF_FLAG_CONTINUE : 0;
	/* ENOENT: the target died meanwhile. */
	ioctl(s->listener, SECCOMP_IOCTL_NOTIF_SEND, s->resp);
}

/* A denied call: EPERM in errno mode. When the tree is to die, no answer:
 * the target waits, killable only, until the tree keeper kills it, so it
 * never runs on past the denial. */
static void refuse(struct mid_sup *s, enum mid_sup_verdict v)
{
	if(v != MID_SUP_KILL)
		answer(s, EPERM, 0, 0);
}

/* ---- paths as the target sees them ---------------------------------------- */

/* "/proc/PID/cwd" for AT_FDCWD, else "/proc/PID/fd/N". */
static void proc_dir(pid_t pid, int dirfd, char *out, size_t n)
{
	if(dirfd == AT_FDCWD)
		snprintf(out, n, "/proc/%d/cwd", (int)pid);
	else
		snprintf(out, n, "/proc/%d/fd/%d", (int)pid, dirfd);
}

/* The absolute, normal form of 'path' seen from the target's 'dirfd', as
 * the preload makes it (mid_path_abs) in the target itself. */
static int target_abs(pid_t pid, int dirfd, const char *path, char *out, size_t n)
{
	char link[64], base[PATH_MAX];
	ssize_t r;

	if(path[0] == '/')
		return mid_path_join("/", path, out, n) ? -1 : 0;
	proc_dir(pid, dirfd, link, sizeof(link));
	r = readlink(link, base, sizeof(base) - 1);
	if(r <= 0 || base[0] != '/') {
		errno = r <= 0 ? EBADF : ENOTDIR;
		return -1;
	}
	base[r] = '\0';
	return mid_path_join(base, path, out, n) ? -1 : 0;
}

/* The file open as the target's 'fd'. */
static void target_fd_path(pid_t pid, int fd, char *out, size_t n)
{
	char link[64];
	ssize_t r;

	snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)pid, fd);
	r = readlink(link, out, n - 1);
	if(r < 0)
		r = snprintf(out, n, "%s", link) >= (int)n ? (ssize_t)n - 1 : (ssize_t)strlen(out);
	out[r] = '\0';
}

/* ---- deciding --------------------------------------------------------------- */

/* Ask the gate; 0: allowed. A denial was logged (with the target's PID in
 * the audit log); the verdict for the tree goes into '*v'. */
static int decide(struct mid_sup *s, const struct mid_event *ev, enum mid_sup_verdict *v)
{
	int r;

	mid_record_subject = (pid_t)s->req->pid;
	r = mid_gate_check(ev);
	mid_record_subject = 0;
	if(r == 0)
		return 0;
	if(s->cfg->on_deny != MID_DENY_ERRNO) {
		*v = MID_SUP_KILL;
		if(s->cfg->on_deny == MID_DENY_EXIT)
			s->exit_status = s->cfg->exit_code;
	}
	return -1;
}

/* ---- opens with write intent: made here ------------------------------------- */

/* Does the target have this process's file-system credentials (so an
 * open made here gets the rights the kernel would give it)? Its umask
 * into '*umask_out'. Reads /proc/PID/status. */
static int same_creds(struct mid_sup *s, pid_t pid, mode_t *umask_out)
{
	char buf[4096], *p;
	unsigned long ruid, euid, suid, fsuid, rgid, egid, sgid, fsgid, um;
	int ok = 1;

	if(mid_proc_read(pid, "status", buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "\nUmask:");
	*umask_out = p && sscanf(p, "\nUmask: %lo", &um) == 1 ? (mode_t)um : 022;
	p = strstr(buf, "\nUid:");
	if(!p || sscanf(p, "\nUid: %lu %lu %lu %lu", &ruid, &euid, &suid, &fsuid) != 4 ||
	   fsuid != s->uid)
		ok = 0;
	p = strstr(buf, "\nGid:");
	if(!p || sscanf(p, "\nGid: %lu %lu %lu %lu", &rgid, &egid, &sgid, &fsgid) != 4 ||
	   fsgid != s->gid)
		ok = 0;
	return ok;
}

/* May this process open for the target, and with which umask? While no
 * process of the tree made a call that changes either (creds_moved,
 * umask_moved), both are the launcher's own: nothing is read. Otherwise
 * /proc/PID/status is, and the notification checked again after it. */
static int open_as_target(struct mid_sup *s, int creating, mode_t *tmask)
{
	*tmask = s->umask;
	if(!s->creds_moved && !(creating && s->umask_moved))
		return 1;
	return same_creds(s, (pid_t)s->req->pid, tmask) && still_valid(s);
}

static int take_fd(pid_t pid, int fd);

/* The flags openat2 accepts (it refuses others where openat ignores
 * them). O_LARGEFILE is the kernel's 0100000 (glibc's is 0 here). */
#define OPEN_FLAGS                                                                              \
	(O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_SYNC |   \
	 O_DSYNC | O_ASYNC | O_DIRECT | 0100000 | O_DIRECTORY | O_NOFOLLOW | O_NOATIME |       \
	 O_CLOEXEC | O_PATH | O_TMPFILE)

static int open_here(int dfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned)(flags & OPEN_FLAGS);
	if((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		how.mode = mode & 07777;
	/* A descriptor link would be this process's, not the target's. */
	how.resolve = RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

/* If 'path' lies in the /proc directory of a thread of this process,
 * the PID it names there; else 0. */
static pid_t launcher_proc(const char *path)
{
	char task[64];
	long n;
	int off = 0;

	if(sscanf(path, "/proc/%ld%n", &n, &off) != 1 || n <= 0 || (path[off] && path[off] != '/'))
		return 0;
	snprintf(task, sizeof(task), "/proc/self/task/%ld", n);
	return access(task, F_OK) == 0 ? (pid_t)n : 0;
}

/* 'abs' with the names that mean "the process that opens" made the
 * target's: /dev/stdin, /dev/stdout, /dev/stderr and /dev/fd (when they
 * are the usual links into /proc/self), /proc/self, /proc/thread-self.
 * 0 and the target's form in 'out'; 1 when 'abs' has none of them. */
static int target_alias(pid_t pid, const char *abs, char *out, size_t n)
{
	static const char *const std[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
	char link[64], via[PATH_MAX];
	const char *rest = NULL;
	int thread = 0;
	ssize_t r;

	via[0] = '\0';
	for(size_t i = 0; i < MID_ARRAY_LEN(std); i++)
		if(!strcmp(abs, std[i])) {
			snprintf(link, sizeof(link), "/proc/self/fd/%zu", i);
			r = readlink(abs, via, sizeof(via) - 1);
			if(r <= 0 || (size_t)r != strlen(link) || memcmp(via, link, (size_t)r))
				return 1;
			via[r] = '\0';
		}
	if(!strncmp(abs, "/dev/fd", 7) && (!abs[7] || abs[7] == '/')) {
		r = readlink("/dev/fd", link, sizeof(link) - 1);
		if(r != 13 || memcmp(link, "/proc/self/fd", 13))
			return 1;
		snprintf(via, sizeof(via), "/proc/self/fd%s", abs + 7);
	}
	if(!via[0])
		snprintf(via, sizeof(via), "%s", abs);
	if(!strncmp(via, "/proc/self", 10) && (!via[10] || via[10] == '/'))
		rest = via + 10;
	else if(!strncmp(via, "/proc/thread-self", 17) && (!via[17] || via[17] == '/'))
		rest = via + 17, thread = 1;
	if(!rest) /* the /dev names above all lead into /proc/self */
		return 1;
	/* The calling thread's own directory: its descriptors, working
	 * directory and memory, as /proc/self shows them to it. */
	if(thread)
		return snprintf(out, n, "/proc/%d/task/%d%s", (int)pid, (int)pid, rest) >= (int)n ? -1 : 0;
	return snprintf(out, n, "/proc/%d%s", (int)pid, rest) >= (int)n ? -1 : 0;
}

/* When 'fd' is a procfs file in the /proc directory of a thread of this
 * process, the PID named there, with the file's path in 'got'; else 0. */
static pid_t launcher_file(int fd, char *got, size_t n)
{
	struct statfs fs;
	char link[64];
	ssize_t len;

	if(fstatfs(fd, &fs) || fs.f_type != PROC_SUPER_MAGIC)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, got, n - 1);
	got[len > 0 ? len : 0] = '\0';
	return launcher_proc(got);
}

/* Open for the target what it named, never this process's own objects:
 * the open is made here, where /proc/self, /dev/stdout and descriptor
 * links name the launcher. Those names are made the target's first
 * (target_alias); "/proc/PID/fd/N" itself opens the file behind the
 * target's descriptor anew (from a copy of it); other descriptor links
 * fail with ELOOP; a path that still lands in this process's /proc
 * directory (a symbolic link to /proc/self/mem) is opened again in the
 * target's, and one that names it outright is refused (EACCES). */
static int target_open(struct mid_sup *s, int dfd, const char *path, const char *abs, int flags,
		       mode_t mode)
{
	pid_t pid = (pid_t)s->req->pid, owner;
	char alias[PATH_MAX], got[PATH_MAX], link[64];
	long owner_pid, num;
	int fd, off = 0, r;

	r = target_alias(pid, abs, alias, sizeof(alias));
	if(r < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if(r == 0) {
		dfd = AT_FDCWD;
		path = abs = alias;
	}
	if(launcher_proc(abs)) {
		errno = EACCES;
		return -1;
	}
	if(path[0] == '/' && sscanf(path, "/proc/%ld/fd/%ld%n", &owner_pid, &num, &off) == 2 &&
	   !path[off] && num >= 0 && num <= INT_MAX) {
		int copy = take_fd((pid_t)owner_pid, (int)num);

		if(copy < 0) {
			errno = errno == EBADF ? ENOENT : errno;
			return -1;
		}
		snprintf(link, sizeof(link), "/proc/self/fd/%d", copy);
		fd = open(link, (flags & OPEN_FLAGS) | O_CLOEXEC, mode & 07777);
		r = errno;
		close(copy);
		errno = r;
		return fd;
	}
	fd = open_here(dfd, path, flags, mode);
	if(fd < 0 || !(owner = launcher_file(fd, got, sizeof(got))))
		return fd;
	close(fd);
	snprintf(alias, sizeof(alias), "/proc/%d", (int)pid);
	off = snprintf(link, sizeof(link), "/proc/%d", (int)owner);
	if(strlen(alias) + strlen(got + off) >= sizeof(alias)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcat(alias, got + off);
	fd = open_here(AT_FDCWD, alias, flags, mode);
	if(fd >= 0 && launcher_file(fd, got, sizeof(got))) {
		close(fd);
		errno = EACCES;
		return -1;
	}
	return fd;
}

/* Open 'path' from 'dfd' (AT_FDCWD or the target's directory, opened
 * here; 'abs' is the same path made absolute) for the target and put the
 * descriptor into it. */
static void emulate_open(struct mid_sup *s, int dfd, const char *path, const char *abs, int flags,
			 mode_t mode)
{
	struct seccomp_notif_addfd add;
	int creating = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
	mode_t tmask;
	int fd, e;

	if(!open_as_target(s, creating, &tmask)) {
		/* A process that changed its user: this one would open with
		 * other rights than the kernel gives it. */
		answer(s, EACCES, 0, 0);
		return;
	}
	/* Never block here: a FIFO without a reader would hold every other
	 * call of the tree. O_NONBLOCK is taken off again afterwards. */
	if(tmask != s->umask)
		umask(tmask);
	fd = target_open(s, dfd, path, abs, flags | O_CLOEXEC | O_NONBLOCK, mode);
	e = errno;
	if(tmask != s->umask)
		umask(s->umask);
	if(fd < 0) {
		answer(s, e, 0, 0);
		return;
	}
	/* F_SETFL sets exactly these flags besides O_NONBLOCK; the open
	 * took them already, so no F_GETFL is needed. */
	if(!(flags & O_NONBLOCK))
		fcntl(fd, F_SETFL, flags & (O_APPEND | O_DIRECT | O_NOATIME));
	memset(&add, 0, sizeof(add));
	add.id = s->req->id;
	add.flags = SECCOMP_ADDFD_FLAG_SEND;
	add.srcfd = (uint32_t)fd;
	add.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
	/* The descriptor and the answer go together: the call returns its
	 * number. Fails only when the target died or is out of numbers. */
	if(ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add) < 0 && errno != ENOENT)
		answer(s, errno == EMFILE ? EMFILE : EIO, 0, 0);
	close(fd);
}

/* 'path' made absolute into 'abs', as mid_path_abs makes it in the
 * target. A relative one also gets its directory opened here ('*dfd',
 * else AT_FDCWD), once: it names the path and is where the open made
 * for the target starts, as the target's own would. */
static int target_at(pid_t pid, int dirfd, const char *path, int *dfd, char *abs, size_t n)
{
	char link[64], base[PATH_MAX];
	ssize_t r;

	*dfd = AT_FDCWD;
	if(path[0] == '/')
		return mid_path_join("/", path, abs, n) ? -1 : 0;
	proc_dir(pid, dirfd, link, sizeof(link));
	*dfd = open(link, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if(*dfd < 0) {
		if(errno == ENOENT)
			errno = EBADF;
		return -1;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", *dfd);
	r = readlink(link, base, sizeof(base) - 1);
	if(r <= 0 || base[0] != '/') {
		errno = r <= 0 ? EBADF : ENOTDIR;
		return -1;
	}
	base[r] = '\0';
	return mid_path_join(base, path, abs, n) ? -1 : 0;
}

/* A file-system call whose answer cannot depend on what it names
 * (fs_uniform), allowed now: the kernel makes it as the target asked.
 * Nothing is read from the target, so the call costs one round trip.
 * When the allow is stale the handlers read the call, for the denial's
 * log line. */
static int continued_unread(struct mid_sup *s)
{
	if(!s->fs_uniform || !mid_gate_allows_any(MID_EV_FS))
		return 0;
	answer(s, 0, 0, 1);
	return 1;
}

static enum mid_sup_verdict on_open(struct mid_sup *s, int dirfd, uint64_t path_addr, int flags,
				    mode_t mode)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	char path[PATH_MAX], abs[PATH_MAX];
	struct mid_event ev;
	pid_t pid = (pid_t)s->req->pid;
	int dfd = AT_FDCWD;

	if(continued_unread(s))
		return v;
	if(mem_string(pid, path_addr, path, sizeof(path))) {
		answer(s, errno, 0, 0);
		return v;
	}
	errno = 0;
	if(target_at(pid, dirfd, path, &dfd, abs, sizeof(abs)) || !still_valid(s)) {
		answer(s, errno ? errno : ENOENT, 0, 0);
		goto out;
	}
	/* The preload's own audit log (both layers) passes unasked. */
	if(s->both && s->cfg->audit_log && !strcmp(abs, s->cfg->audit_log)) {
		emulate_open(s, dfd, path, abs, flags, mode);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_FS;
	ev.path = abs;
	ev.op = mid_open_op(dfd, path, flags);
	if(decide(s, &ev, &v))
		refuse(s, v);
	else if(s->fs_uniform)
		answer(s, 0, 0, 1);
	else
		emulate_open(s, dfd, path, abs, flags, mode);
out:
	if(dfd >= 0)
		close(dfd);
	return v;
}

/* ---- connect: made here, on the target's socket ----------------------------- */

struct connector {
	int listener, fd;
	uint64_t id;
	socklen_t len;
	struct sockaddr_storage sa;
	size_t resp_size;
};

static void connect_answer(int listener, uint64_t id, int r, int e, size_t resp_size)
{
	struct seccomp_notif_resp *resp = calloc(1, resp_size);

	if(!resp)
		return;
	resp->id = id;
	resp->error = r < 0 ? -e : 0;
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	free(resp);
}

/* A blocking socket's connect waits for the peer: on a thread of its own,
 * so the rest of the tree is not held meanwhile. */
static void *connect_thread(void *arg)
{
	struct connector *c = arg;
	int r = connect(c->fd, (struct sockaddr *)&c->sa, c->len);

	connect_answer(c->listener, c->id, r, errno, c->resp_size);
	close(c->fd);
	free(c);
	atomic_fetch_sub(&connectors, 1);
	return NULL;
}

static void emulate_connect(struct mid_sup *s, int sock, const struct sockaddr_storage *sa,
			    socklen_t len)
{
	struct connector *c;
	pthread_attr_t attr;
	pthread_t th;
	int fl = fcntl(sock, F_GETFL), r;

	if(fl >= 0 && !(fl & O_NONBLOCK) && atomic_fetch_add(&connectors, 1) < CONNECTORS_MAX &&
	   (c = malloc(sizeof(*c)))) {
		c->listener = s->listener;
		c->fd = sock;
		c->id = s->req->id;
		c->len = len;
		c->sa = *sa;
		c->resp_size = s->resp_size;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		r = pthread_create(&th, &attr, connect_thread, c);
		pthread_attr_destroy(&attr);
		if(r == 0)
			return;
		free(c);
	}
	if(fl >= 0 && !(fl & O_NONBLOCK))
		atomic_fetch_sub(&connectors, 1);
	r = connect(sock, (const struct sockaddr *)sa, len);
	connect_answer(s->listener, s->req->id, r, errno, s->resp_size);
	close(sock);
}

/* The target's descriptor 'fd', here. */
static int take_fd(pid_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;
	char status[4096], *p;
	long tgid;

	/* A notification names the calling thread, which for any thread
	 * but the first is no process pidfd_open takes: its process is. */
	if(pidfd < 0 && errno == EINVAL && mid_proc_read(pid, "status", status, sizeof(status)) > 0 &&
	   (p = strstr(status, "\nTgid:")) && sscanf(p, "\nTgid: %ld", &tgid) == 1 && tgid != pid)
		pidfd = (int)syscall(SYS_pidfd_open, (pid_t)tgid, 0);
	if(pidfd < 0)
		return -1;
	r = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if(r >= 0)
		fcntl(r, F_SETFD, FD_CLOEXEC);
	return r;
}

/* Is 'ev' a connect to the control plane (the preload's own connection,
 * both layers)? A host name in the URL is not resolved here: its
 * connects are decided by the policy like any other. */
static int control_plane(const struct mid_sup *s, const struct mid_event *ev)
{
	unsigned char a[16];

	if(s->url.scheme == MID_SCHEME_UNIX)
		return ev->family == AF_UNIX && ev->path && !strcmp(ev->path, s->url.path);
	if(ev->port != (uint16_t)atoi(s->url.port))
		return 0;
	if(ev->family == AF_INET && inet_pton(AF_INET, s->url.host, a) == 1)
		return !memcmp(a, ev->addr, 4);
	return ev->family == AF_INET6 && inet_pton(AF_INET6, s->url.host, a) == 1 &&
	       !memcmp(a, ev->addr, 16);
}

/* Decide a connect or a send to 'sa' on the socket 'sock' (here). */
static int decide_addr(struct mid_sup *s, int sock, const struct sockaddr_storage *sa, socklen_t len,
		       enum mid_kind kind, enum mid_sup_verdict *v)
{
	struct mid_event ev;
	struct mid_sock facts;
	char buf[PATH_MAX];
	socklen_t sl = sizeof(int);
	enum mid_addr_way way = mid_sockaddr_way((const struct sockaddr *)sa, len, kind, NULL, &ev);

	if(way == MID_ADDR_ASK) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);

		memset(&facts, 0, sizeof(facts));
		getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &facts.domain, &sl);
		sl = sizeof(int);
		getsockopt(sock, SOL_SOCKET, SO_TYPE, &facts.type, &sl);
		facts.connected = getpeername(sock, (struct sockaddr *)&peer, &pl) == 0;
		way = mid_sockaddr_way((const struct sockaddr *)sa, len, kind, &facts, &ev);
	}
	switch(way) {
	case MID_ADDR_PASS: return 0;
	case MID_ADDR_DESCRIPTOR:
		mid_fd_event(sock, MID_FD_SOCKET, &ev, buf, sizeof(buf), true);
		ev.kind = kind;
		break;
	case MID_ADDR_REFUSE:
	case MID_ADDR_ASK:
		mid_record_subject = (pid_t)s->req->pid;
		if(mid_gate_unreadable(&ev) == 0) {
			mid_record_subject = 0;
			return 0;
		}
		mid_record_subject = 0;
		if(s->cfg->on_deny != MID_DENY_ERRNO)
			*v = MID_SUP_KILL;
		return -1;
	case MID_ADDR_GATE: break;
	}
	if(s->both && kind == MID_EV_CONNECT && control_plane(s, &ev))
		return 0;
	return decide(s, &ev, v);
}

/* May this process connect for the target? A unix socket path is
 * checked by the kernel as a file, with the connecting process's
 * file-system credentials: as for opens, only while the target has this
 * process's (a process that became another user, a setuid program, must
 * not reach a socket of the launcher's user through it). */
static int connect_as_target(struct mid_sup *s, const struct sockaddr_storage *sa, socklen_t len)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
	mode_t tmask;

	if(sa->ss_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) ||
	   !un->sun_path[0])
		return 1;
	return open_as_target(s, 0, &tmask);
}

static enum mid_sup_verdict on_connect(struct mid_sup *s)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	struct sockaddr_storage sa;
	pid_t pid = (pid_t)s->req->pid;
	socklen_t len = (socklen_t)s->req->data.args[2];
	int sock;

	memset(&sa, 0, sizeof(sa));
	if(len > sizeof(sa) || mem_read(pid, s->req->data.args[1], &sa, len)) {
		answer(s, len > sizeof(sa) ? EINVAL : EFAULT, 0, 0);
		return v;
	}
	sock = take_fd(pid, (int)s->req->data.args[0]);
	if(sock < 0 || !still_valid(s)) {
		answer(s, EBADF, 0, 0);
		if(sock >= 0)
			close(sock);
		return v;
	}
	if(decide_addr(s, sock, &sa, len, MID_EV_CONNECT, &v)) {
		close(sock);
		refuse(s, v);
		return v;
	}
	if(!connect_as_target(s, &sa, len)) {
		close(sock);
		answer(s, EACCES, 0, 0);
		return v;
	}
	emulate_connect(s, sock, &sa, len);
	return v;
}

/* sendto with a destination, sendmsg, sendmmsg: each destination is
 * checked, then the call goes on (see the file's head). */
static enum mid_sup_verdict on_send(struct mid_sup *s, int nr)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	pid_t pid = (pid_t)s->req->pid;
	uint64_t names[64], lens[64];
	size_t n = 0;
	int sock, bad = 0;

	if(nr == __NR_sendto) {
		names[0] = s->req->data.args[4];
		lens[0] = s->req->data.args[5];
		n = 1;
	} else if(nr == __NR_sendmsg) {
		struct msghdr m;

		if(mem_read(pid, s->req->data.args[1], &m, sizeof(m)))
			bad = 1;
		names[0] = (uintptr_t)m.msg_name;
		lens[0] = m.msg_namelen;
		n = bad ? 0 : 1;
	} else {
		struct mmsghdr mm[64];
		uint64_t vlen = s->req->data.args[2];

		/* The kernel sends at most UIO_MAXIOV; the rest of a longer
		 * vector is refused rather than left unchecked. */
		if(vlen > 64) {
			answer(s, EINVAL, 0, 0);
			return v;
		}
		if(mem_read(pid, s->req->data.args[1], mm, sizeof(mm[0]) * vlen))
			bad = 1;
		for(uint64_t i = 0; !bad && i < vlen; i++) {
			names[n] = (uintptr_t)mm[i].msg_hdr.msg_name;
			lens[n++] = mm[i].msg_hdr.msg_namelen;
		}
	}
	if(bad) {
		answer(s, EFAULT, 0, 0);
		return v;
	}
	sock = take_fd(pid, (int)s->req->data.args[0]);
	if(sock < 0) {
		answer(s, EBADF, 0, 0);
		return v;
	}
	for(size_t i = 0; i < n; i++) {
		struct sockaddr_storage sa;

		if(!names[i])
			continue; /* to the peer, gated at its connect */
		memset(&sa, 0, sizeof(sa));
		if(lens[i] > sizeof(sa) || mem_read(pid, names[i], &sa, (size_t)lens[i]) ||
		   !still_valid(s)) {
			close(sock);
			answer(s, lens[i] > sizeof(sa) ? EINVAL : EFAULT, 0, 0);
			return v;
		}
		if(decide_addr(s, sock, &sa, (socklen_t)lens[i], MID_EV_SEND, &v)) {
			close(sock);
			refuse(s, v);
			return v;
		}
	}
	close(sock);
	answer(s, 0, 0, 1);
	return v;
}

/* ---- exec and credentials --------------------------------------------------------------------- */

/* Would running 'path' change credentials: setuid, setgid, or file
 * capabilities? */
static int privileged_file(const char *path)
{
	struct stat st;

	if(stat(path, &st))
		return 1;
	return (st.st_mode & (S_ISUID | S_ISGID)) || getxattr(path, "security.capability", NULL, 0) >= 0;
}

static enum mid_sup_verdict on_exec(struct mid_sup *s, int dirfd, uint64_t path_addr,
				    uint64_t argv_addr, int flags)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	static char strings[ARGV_BYTES];
	char *argv[ARGV_MAX + 1], path[PATH_MAX], abs[PATH_MAX];
	struct mid_event ev;
	pid_t pid = (pid_t)s->req->pid;
	size_t used = 0, n = 0;

	if(mem_string(pid, path_addr, path, sizeof(path))) {
		answer(s, errno, 0, 0);
		return v;
	}
	if(!path[0] && (flags & AT_EMPTY_PATH))
		target_fd_path(pid, dirfd, abs, sizeof(abs));
	else if(target_abs(pid, dirfd, path, abs, sizeof(abs))) {
		answer(s, errno, 0, 0);
		return v;
	}
	/* argv as far as it fits: rules match its first entries. */
	for(; argv_addr && n < ARGV_MAX; n++) {
		uint64_t p;

		if(mem_read(pid, argv_addr + 8 * n, &p, sizeof(p)) || !p ||
		   used >= sizeof(strings) ||
		   mem_string(pid, p, strings + used, sizeof(strings) - used))
			break;
		argv[n] = strings + used;
		used += strlen(strings + used) + 1;
	}
	argv[n] = NULL;
	if(!still_valid(s))
		return v;
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_EXEC;
	ev.path = abs;
	ev.argv = argv;
	if(decide(s, &ev, &v)) {
		refuse(s, v);
		return v;
	}
	/* Without no-new-privs a setuid program or one with file
	 * capabilities runs with its own credentials. The first exec is
	 * the launcher's child starting the program it was given, which is
	 * looked at here; any later one may be such a program, swapped in
	 * after a look, so it counts as one. */
	if(!s->nnp && (s->execs++ > 0 || privileged_file(abs)))
		s->creds_moved = 1;
	answer(s, 0, 0, 1);
	return v;
}

/* A call that changes credentials or the umask: noted (see struct
 * mid_sup), then made by the kernel. */
static enum mid_sup_verdict on_creds(struct mid_sup *s, int nr)
{
	if(nr == __NR_umask)
		s->umask_moved = 1;
	else
		s->creds_moved = 1;
	answer(s, 0, 0, 1);
	return MID_SUP_GO_ON;
}

/* ---- signals and terminal input ------------------------------------------------ */

/*
 * A signal decided as the preload decides it (shim/hook_signal.c): one
 * to the caller's own process or thread is no side effect; tgkill and
 * rt_tgsigqueueinfo are judged by their process. The filter kept signal
 * 0 and a tgid <= 0 in the kernel. The target is a number in a register,
 * which the kernel does not read again from memory: continued after the
 * check, nothing to race but a pidfd's descriptor number.
 */
static enum mid_sup_verdict on_signal(struct mid_sup *s, int nr)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	const __u64 *a = s->req->data.args;
	int caller = (int)s->req->pid, pid = (int)a[0], sig = (int)a[1];
	struct mid_event ev;
	char exe[PATH_MAX];
	int self;

	if(nr == __NR_tgkill || nr == __NR_rt_tgsigqueueinfo)
		sig = (int)a[2];
	if(nr == __NR_pidfd_send_signal)
		pid = mid_signal_pidfd_pid(caller, (int)a[0]);
	if(nr == __NR_tkill)
		self = mid_signal_thread_of(caller, pid);
	else
		self = pid > 0 && mid_signal_thread_of(pid, caller);
	/* -1: a pidfd whose process has exited; the kernel answers ESRCH. */
	if(sig == 0 || self || (nr == __NR_pidfd_send_signal && pid == -1)) {
		answer(s, 0, 0, 1);
		return v;
	}
	mid_signal_describe(pid, sig, &ev, exe, sizeof(exe));
	if(decide(s, &ev, &v))
		refuse(s, v);
	else
		answer(s, 0, 0, 1);
	return v;
}

/* TIOCSTI or TIOCLINUX (the filter sent no other request): a tty-inject
 * on the terminal the descriptor names. */
static enum mid_sup_verdict on_tty_inject(struct mid_sup *s)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	char path[PATH_MAX];
	struct mid_event ev;

	target_fd_path((pid_t)s->req->pid, (int)s->req->data.args[0], path, sizeof(path));
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_TTY_INJECT;
	ev.fdkind = MID_FD_TTY;
	ev.path = path;
	if(decide(s, &ev, &v))
		refuse(s, v);
	else
		answer(s, 0, 0, 1);
	return v;
}

/* ---- every other fs change: checked, then continued --------------------------- */

/* How an fs call names its file(s). */
enum shape { P, DP, FD, PAIR, DPAIR, SYM, DSYM, BIND };

static const struct {
	int nr;
	enum mid_fsop op;
	enum shape shape;
} fs_calls[] = {
	{__NR_truncate, MID_FS_TRUNCATE, P},   {__NR_ftruncate, MID_FS_TRUNCATE, FD},
	{__NR_fallocate, MID_FS_TRUNCATE, FD}, {__NR_unlinkat, MID_FS_DELETE, DP},
	{__NR_renameat2, MID_FS_RENAME, DPAIR}, {__NR_linkat, MID_FS_LINK, DPAIR},
	{__NR_symlinkat, MID_FS_LINK, DSYM},  {__NR_mkdirat, MID_FS_MKDIR, DP},
	{__NR_mknodat, MID_FS_MKNOD, DP},     {__NR_fchmod, MID_FS_CHMOD, FD},
	{__NR_fchmodat, MID_FS_CHMOD, DP},    {452 /* fchmodat2 */, MID_FS_CHMOD, DP},
	{__NR_fchown, MID_FS_CHOWN, FD},      {__NR_fchownat, MID_FS_CHOWN, DP},
	{__NR_utimensat, MID_FS_UTIME, DP},   {__NR_setxattr, MID_FS_XATTR, P},
	{__NR_lsetxattr, MID_FS_XATTR, P},    {__NR_fsetxattr, MID_FS_XATTR, FD},
	{463 /* setxattrat */, MID_FS_XATTR, DP}, {__NR_removexattr, MID_FS_XATTR, P},
	{__NR_lremovexattr, MID_FS_XATTR, P}, {__NR_fremovexattr, MID_FS_XATTR, FD},
	{466 /* removexattrat */, MID_FS_XATTR, DP}, {__NR_bind, MID_FS_MKNOD, BIND},
#ifdef __NR_unlink
	{__NR_unlink, MID_FS_DELETE, P},      {__NR_rmdir, MID_FS_DELETE, P},
	{__NR_rename, MID_FS_RENAME, PAIR},   {__NR_link, MID_FS_LINK, PAIR},
	{__NR_symlink, MID_FS_LINK, SYM},     {__NR_mkdir, MID_FS_MKDIR, P},
	{__NR_mknod, MID_FS_MKNOD, P},        {__NR_chmod, MID_FS_CHMOD, P},
	{__NR_chown, MID_FS_CHOWN, P},        {__NR_lchown, MID_FS_CHOWN, P},
	{__NR_utime, MID_FS_UTIME, P},        {__NR_utimes, MID_FS_UTIME, P},
	{__NR_futimesat, MID_FS_UTIME, DP},   {__NR_renameat, MID_FS_RENAME, DPAIR},
#endif
};

/* Read path argument 'i' seen from directory argument 'd' (-1: the
 * working directory) into 'abs'. A NULL path with a directory names the
 * directory itself (utimensat). */
static int arg_path(struct mid_sup *s, int d, int i, char *abs, size_t n)
{
	char path[PATH_MAX];
	pid_t pid = (pid_t)s->req->pid;
	int dirfd = d < 0 ? AT_FDCWD : (int)s->req->data.args[d];

	if(!s->req->data.args[i] && d >= 0) {
		target_fd_path(pid, dirfd, abs, n);
		return 0;
	}
	if(mem_string(pid, s->req->data.args[i], path, sizeof(path)))
		return -1;
	if(!path[0] && d >= 0) {
		target_fd_path(pid, dirfd, abs, n);
		return 0;
	}
	return target_abs(pid, dirfd, path, abs, n);
}

static enum mid_sup_verdict on_fs(struct mid_sup *s, int k)
{
	enum mid_sup_verdict v = MID_SUP_GO_ON;
	char abs[PATH_MAX], abs2[PATH_MAX];
	struct mid_event ev;
	pid_t pid = (pid_t)s->req->pid;
	int r = 0;

	if(continued_unread(s))
		return v;
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_FS;
	ev.op = fs_calls[k].op;
	ev.path = abs;
	switch(fs_calls[k].shape) {
	case P: r = arg_path(s, -1, 0, abs, sizeof(abs)); break;
	case DP: r = arg_path(s, 0, 1, abs, sizeof(abs)); break;
	case FD: target_fd_path(pid, (int)s->req->data.args[0], abs, sizeof(abs)); break;
	case PAIR:
		r = arg_path(s, -1, 0, abs, sizeof(abs)) || arg_path(s, -1, 1, abs2, sizeof(abs2));
		ev.path2 = abs2;
		break;
	case DPAIR:
		r = arg_path(s, 0, 1, abs, sizeof(abs)) || arg_path(s, 2, 3, abs2, sizeof(abs2));
		ev.path2 = abs2;
		break;
	case SYM:
	case DSYM:
		/* The target is text the kernel stores, kept as written. */
		r = mem_string(pid, s->req->data.args[0], abs, sizeof(abs)) ||
		    arg_path(s, fs_calls[k].shape == DSYM ? 1 : -1, fs_calls[k].shape == DSYM ? 2 : 1,
			     abs2, sizeof(abs2));
		ev.path2 = abs2;
		break;
	case BIND: {
		struct sockaddr_un un;
		socklen_t len = (socklen_t)s->req->data.args[2];
		size_t off = offsetof(struct sockaddr_un, sun_path);
		char path[sizeof(un.sun_path) + 1];

		memset(&un, 0, sizeof(un));
		if(len > sizeof(un))
			len = sizeof(un);
		/* Only a unix socket path makes a file; an abstract name or
		 * another family binds no file. */
		if(len <= off || mem_read(pid, s->req->data.args[1], &un, len) ||
		   un.sun_family != AF_UNIX || !un.sun_path[0]) {
			if(still_valid(s))
				answer(s, 0, 0, 1);
			return v;
		}
		memcpy(path, un.sun_path, len - off);
		path[len - off] = '\0';
		r = target_abs(pid, AT_FDCWD, path, abs, sizeof(abs));
		break;
	}
	}
	if(r) {
		answer(s, errno ? errno : EFAULT, 0, 0);
		return v;
	}
	if(!still_valid(s))
		return v;
	if(decide(s, &ev, &v))
		refuse(s, v);
	else
		answer(s, 0, 0, 1);
	return v;
}

enum mid_sup_verdict mid_sup_handle(struct mid_sup *s)
{
	const struct seccomp_data *d;
	int nr;

	memset(s->req, 0, s->req_size);
	if(ioctl(s->listener, SECCOMP_IOCTL_NOTIF_RECV, s->req) < 0)
		return MID_SUP_IDLE; /* ENOENT: the target died before we took it */
	d = &s->req->data;
	nr = d->nr;
	switch(nr) {
	case __NR_execve: return on_exec(s, AT_FDCWD, d->args[0], d->args[1], 0);
	case __NR_execveat:
		return on_exec(s, (int)d->args[0], d->args[1], d->args[2], (int)d->args[4]);
	case __NR_connect: return on_connect(s);
	case __NR_sendto:
	case __NR_sendmsg:
	case __NR_sendmmsg: return on_send(s, nr);
	case __NR_setuid:
	case __NR_setgid:
	case __NR_setreuid:
	case __NR_setregid:
	case __NR_setresuid:
	case __NR_setresgid:
	case __NR_setfsuid:
	case __NR_setfsgid:
	case __NR_setgroups:
	case __NR_capset:
	case __NR_umask: return on_creds(s, nr);
	case __NR_kill:
	case __NR_tkill:
	case __NR_tgkill:
	case __NR_rt_sigqueueinfo:
	case __NR_rt_tgsigqueueinfo:
	case __NR_pidfd_send_signal: return on_signal(s, nr);
	case __NR_ioctl: return on_tty_inject(s);
	case __NR_openat:
		return on_open(s, (int)d->args[0], d->args[1], (int)d->args[2], (mode_t)d->args[3]);
#ifdef __NR_open
	case __NR_open: return on_open(s, AT_FDCWD, d->args[0], (int)d->args[1], (mode_t)d->args[2]);
	case __NR_creat:
		return on_open(s, AT_FDCWD, d->args[0], O_CREAT | O_WRONLY | O_TRUNC,
			       (mode_t)d->args[1]);
#endif
	}
	for(size_t k = 0; k < MID_ARRAY_LEN(fs_calls); k++)
		if(fs_calls[k].nr == nr)
			return on_fs(s, (int)k);
	/* A call the filter sends and this table misses: fail closed. */
	answer(s, ENOSYS, 0, 0);
	return MID_SUP_GO_ON;
}

/* ---- which programs need it --------------------------------------------------- */

/* Does the 64-bit ELF file 'fd' have a section named like a Go
 * program's (.go.buildinfo, .note.go.buildid)? */
static int has_go_section(int fd)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh, strs;
	char names[64 * 1024];
	ssize_t got;

	if(pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	   eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(sh) ||
	   eh.e_shstrndx >= eh.e_shnum || eh.e_shnum > 4096)
		return 0;
	if(pread(fd, &strs, sizeof(strs), (off_t)(eh.e_shoff + (uint64_t)eh.e_shstrndx * sizeof(sh))) !=
	   (ssize_t)sizeof(strs))
		return 0;
	got = pread(fd, names, sizeof(names) - 1,
		    (off_t)strs.sh_offset);
	if(got <= 0)
		return 0;
	if((uint64_t)got > strs.sh_size)
		got = (ssize_t)strs.sh_size;
	names[got] = '\0';
	for(unsigned i = 0; i < eh.e_shnum; i++) {
		if(pread(fd, &sh, sizeof(sh), (off_t)(eh.e_shoff + (uint64_t)i * sizeof(sh))) !=
		   (ssize_t)sizeof(sh))
			return 0;
		if(sh.sh_name < (uint64_t)got && (!strcmp(names + sh.sh_name, ".go.buildinfo") ||
						  !strcmp(names + sh.sh_name, ".note.go.buildid")))
			return 1;
	}
	return 0;
}

/*
 * A setuid or setgid program is supervised only by a launcher that holds
 * CAP_SYS_ADMIN and CAP_SYS_PTRACE. The first lets the child install the
 * filter without no-new-privs, which would make the program run without
 * its privileges; the filter is inherited through the exec all the same,
 * and the listener stays with the launcher (the child closes its own
 * before the exec; pidfd_getfd and ptrace fail in the filter). The
 * second lets the launcher read the program's memory and /proc files
 * once the kernel has made it undumpable (another user's process);
 * without it every gated call would fail. Without both it is refused.
 */
int mid_sup_privileged_ok(void)
{
	return has_cap(CAP_SYS_ADMIN) && has_cap(CAP_SYS_PTRACE);
}

int mid_sup_needed(const char *path, const char **why)
{
	int fd, go;

	if(!mid_exec_followable(path, why)) {
		if(*why && (!strcmp(*why, "setuid") || !strcmp(*why, "setgid")))
			return mid_sup_privileged_ok();
		return *why && !strcmp(*why, "statically linked");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if(fd < 0)
		return 0;
	go = has_go_section(fd);
	close(fd);
	if(go)
		*why = "a Go program";
	return go;
}
