/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the shim's core: the gate's decision logic (policy, TTL
 * cache, single flight, fault codes, audit mode, inherited allows), the
 * configuration reader and the exec environment builder. The control
 * plane is a stub validator here; the e2e tests use a real midd.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base.h"
#include "config.h"
#include "exec.h"
#include "execfile.h"
#include "fdtab.h"
#include "gate.h"
#include "net.h"
#include "syscalls.h"
#include "mid_check.h"

/* ---- a programmable validator ----------------------------------------- */

static _Atomic int calls;
static int stub_delay_ms;
static enum mid_rc stub_rc;
static bool stub_allowed;
static const char *stub_code;

static enum mid_rc stub(void *ctx, struct mid_decision *d)
{
	(void)ctx;
	atomic_fetch_add(&calls, 1);
	if(stub_delay_ms)
		usleep((useconds_t)stub_delay_ms * 1000);
	memset(d, 0, sizeof(*d));
	d->allowed = stub_allowed;
	d->local = stub_rc;
	mid_strlcpy(d->code, stub_code, sizeof(d->code));
	mid_strlcpy(d->request_id, "6f1c1f5e-0a47-4f55-9d2e-1b2b8d3f2c10", sizeof(d->request_id));
	return stub_rc;
}

static struct mid_config cfg;
static char errpath[] = "/tmp/check_shim_stderr.XXXXXX";
static int saved_stderr = -1;

static void setup_gate(long ttl, enum mid_on_deny on_deny, enum mid_mode mode)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.device = "test:unit:gate:01";
	cfg.ttl_ms = ttl;
	cfg.on_deny = on_deny;
	cfg.mode = mode;
	ck_assert_int_eq(mid_policy_builtin(&cfg.policy), MID_OK);
	atomic_store(&calls, 0);
	stub_delay_ms = 0;
	stub_rc = MID_OK;
	stub_allowed = true;
	stub_code = "ALLOW";
	mid_gate_setup(&cfg, stub, NULL);
	mid_gate_inherit(0);
}

static void capture_stderr(void)
{
	int fd;

	strcpy(errpath, "/tmp/check_shim_stderr.XXXXXX");
	fd = mkstemp(errpath);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; returns what was written (static buffer). */
static const char *captured(void)
{
	static char buf[8192];
	ssize_t n;
	int fd;

	dup2(saved_stderr, 2);
	close(saved_stderr);
	fd = open(errpath, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(errpath);
	return buf;
}

static struct mid_event file_write_event(void)
{
	struct mid_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_WRITE;
	ev.fdkind = MID_FD_FILE;
	ev.path = "/srv/out/report.csv";
	return ev;
}

/* ---- core ---------------------------------------------------------------- */

START_TEST(test_shim_policy_allow_skips_control_plane)
{
	struct mid_event ev;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_WRITE;
	ev.fdkind = MID_FD_PIPE;
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
}
END_TEST

START_TEST(test_shim_validate_is_cached_for_ttl)
{
	struct mid_event ev = file_write_event();
	int i;

	setup_gate(200, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	for(i = 0; i < 100; i++)
		ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert_uint_gt(mid_gate_allow_until(), mid_now_ms());
	usleep(260 * 1000);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 2);
}
END_TEST

START_TEST(test_shim_ttl_zero_asks_every_time)
{
	struct mid_event ev = file_write_event();
	int i;

	setup_gate(0, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	for(i = 0; i < 5; i++)
		ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 5);
	ck_assert_uint_eq(mid_gate_allow_until(), 0);
}
END_TEST

START_TEST(test_shim_deny_after_revoke_clears_cache)
{
	struct mid_event ev = file_write_event();
	const char *out;

	setup_gate(50, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	stub_allowed = false;
	stub_code = "DEVICE_REVOKED";
	/* Still cached: the revoke is seen at the first boundary after TTL. */
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	usleep(80 * 1000);
	capture_stderr();
	errno = 0;
	ck_assert_int_eq(mid_gate_check(&ev), -1);
	ck_assert_int_eq(errno, EPERM);
	out = captured();
	ck_assert_msg(strstr(out, "midshim: denied write /srv/out/report.csv (file) (device "
				  "test:unit:gate:01, code DEVICE_REVOKED, request_id "
				  "6f1c1f5e-0a47-4f55-9d2e-1b2b8d3f2c10): EPERM"),
		      "log line: %s", out);
	ck_assert_uint_eq(mid_gate_allow_until(), 0);
	/* A deny is never cached: the next call asks again. */
	stub_allowed = true;
	stub_code = "ALLOW";
	ck_assert_int_eq(mid_gate_check(&ev), 0);
}
END_TEST

START_TEST(test_shim_policy_deny_names_rule)
{
	static const char text[] =
		"{\"version\":1,\"rules\":[{\"on\":\"fs\",\"op\":\"delete\",\"path\":\"/etc/**\","
		"\"action\":\"deny\"}]}";
	struct mid_event ev;
	const char *out;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	mid_policy_free(cfg.policy);
	cfg.policy = NULL;
	{
		char err[256];
		ck_assert_int_eq(mid_policy_parse(text, sizeof(text) - 1, "t.json", &cfg.policy,
						  err, sizeof(err)), MID_OK);
	}
	mid_gate_setup(&cfg, stub, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_FS;
	ev.op = MID_FS_DELETE;
	ev.path = "/etc/passwd";
	capture_stderr();
	ck_assert_int_eq(mid_gate_check(&ev), -1);
	out = captured();
	ck_assert_msg(strstr(out, "denied fs delete /etc/passwd (device test:unit:gate:01, "
				  "code POLICY_DENY, request_id -, rule 1): EPERM"), "log: %s", out);
	ck_assert_int_eq(atomic_load(&calls), 0);
}
END_TEST

START_TEST(test_shim_audit_mode_softens_policy_not_revocation)
{
	static const char *const hard[] = {"DEVICE_REVOKED", "DEVICE_REMOVED", "ORG_DISABLED"};
	struct mid_event ev = file_write_event();
	const char *out;

	/* A fault on the way to the control plane: logged, allowed. */
	setup_gate(0, MID_DENY_ERRNO, MID_MODE_AUDIT);
	stub_allowed = false;
	stub_rc = MID_ERR_UNREACHABLE;
	stub_code = "MIDSHIM_UNREACHABLE";
	capture_stderr();
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	out = captured();
	ck_assert_msg(strstr(out, "would deny write") && strstr(out, "MIDSHIM_UNREACHABLE") &&
			      strstr(out, "audit mode, allowed"), "log: %s", out);
	/* An operator's decision: enforced in audit mode too (errno here,
	 * so the test survives it). */
	for(size_t i = 0; i < MID_ARRAY_LEN(hard); i++) {
		setup_gate(0, MID_DENY_ERRNO, MID_MODE_AUDIT);
		stub_allowed = false;
		stub_code = hard[i];
		capture_stderr();
		errno = 0;
		ck_assert_int_eq(mid_gate_check(&ev), -1);
		ck_assert_int_eq(errno, EPERM);
		out = captured();
		ck_assert_msg(strstr(out, "denied write") && strstr(out, hard[i]) &&
				      strstr(out, ": EPERM") && !strstr(out, "would deny"),
			      "%s log: %s", hard[i], out);
	}
}
END_TEST

START_TEST(test_shim_inherit_never_extends)
{
	uint64_t now;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	now = mid_now_ms();
	mid_gate_inherit(now + 5000); /* more than one TTL ahead: forged */
	ck_assert_uint_eq(mid_gate_allow_until(), 0);
	mid_gate_inherit(now - 1); /* already expired */
	ck_assert_uint_eq(mid_gate_allow_until(), 0);
	mid_gate_inherit(now + 500);
	ck_assert_uint_eq(mid_gate_allow_until(), now + 500);
}
END_TEST

/* An inherited allow is judged at the first check that needs the cache,
 * not at start: the startup gate leaves it alone, a forged or expired
 * one makes that check ask, a true one lets it pass unasked. (Each test
 * runs in a process of its own: a fresh cache.) */
START_TEST(test_shim_inherit_forged_asks_at_first_check)
{
	struct mid_event ev = file_write_event();

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	mid_gate_inherit(mid_now_ms() + 5000); /* more than one TTL ahead */
	ck_assert_int_eq(mid_gate_startup(), 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 1);
}
END_TEST

START_TEST(test_shim_inherit_expired_denied_at_first_check)
{
	struct mid_event ev = file_write_event();

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	stub_allowed = false;
	stub_code = "DEVICE_REVOKED";
	mid_gate_inherit(mid_now_ms() - 1);
	ck_assert_int_eq(mid_gate_startup(), 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
	capture_stderr();
	ck_assert_int_eq(mid_gate_check(&ev), -1);
	(void)captured();
	ck_assert_int_eq(atomic_load(&calls), 1);
}
END_TEST

START_TEST(test_shim_inherit_true_passes_unasked)
{
	struct mid_event ev = file_write_event();

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	stub_allowed = false;
	mid_gate_inherit(mid_now_ms() + 500);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
}
END_TEST

START_TEST(test_shim_fork_asks_only_when_stale)
{
	setup_gate(100, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	ck_assert_int_eq(mid_gate_fork(), 0);
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert_int_eq(mid_gate_fork(), 0);
	ck_assert_int_eq(atomic_load(&calls), 1);
	usleep(150 * 1000);
	stub_allowed = false;
	stub_code = "DEVICE_REVOKED";
	capture_stderr();
	ck_assert_int_eq(mid_gate_fork(), -1);
	ck_assert_msg(strstr(captured(), "denied fork"), "fork denial logged");
}
END_TEST

/* An unfollowable exec is decided in the gate: refused with UNFOLLOWABLE
 * before the control plane is asked when the policy says deny, else let
 * through with a warning to the usual decision. */
START_TEST(test_shim_gate_decides_unfollowable)
{
	struct mid_event ev;
	char *const argv[] = {"static_true", NULL};

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_EXEC;
	ev.path = "/opt/static_true";
	ev.argv = argv;
	setup_gate(10000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	capture_stderr();
	ck_assert_int_eq(mid_gate_exec(&ev, "statically linked"), 0);
	ck_assert_msg(strstr(captured(), "warning: /opt/static_true is statically linked"),
		      "an allowed unfollowable exec is warned about");
	ck_assert_int_eq(atomic_load(&calls), 1);
	cfg.unfollowable = MID_UNFOLLOW_DENY;
	capture_stderr();
	ck_assert_int_eq(mid_gate_exec(&ev, "statically linked"), -1);
	ck_assert_msg(strstr(captured(), "code UNFOLLOWABLE"), "refused as UNFOLLOWABLE");
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert_int_eq(mid_gate_exec(&ev, NULL), 0); /* followable: the cached allow */
}
END_TEST

/* A write's fast path: the descriptor's byte says what the policy wants,
 * the coarse clock says whether the cached allow is fresh. */
START_TEST(test_shim_fast_path_follows_cache)
{
	char path[] = "/tmp/check_shim_fast.XXXXXX";
	int p[2], file;

	setup_gate(300, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	ck_assert_int_eq(pipe(p), 0);
	file = mkstemp(path);
	ck_assert_int_ge(file, 0);
	unlink(path);
	/* Unknown descriptors take the slow path, which learns them. */
	ck_assert(!mid_gate_fd_fresh(p[1]));
	ck_assert(!mid_gate_fd_fresh(file));
	ck_assert_int_eq(mid_gate_fd(p[1]), 0);
	ck_assert_int_eq(atomic_load(&calls), 0);
	ck_assert(mid_gate_fd_fresh(p[1])); /* the built-in policy allows pipes */
	ck_assert(!mid_gate_fd_fresh(file));
	ck_assert_int_eq(mid_gate_fd(file), 0);
	ck_assert_int_eq(atomic_load(&calls), 1);
	ck_assert(mid_gate_fd_fresh(file));
	usleep(320 * 1000);
	ck_assert(!mid_gate_fd_fresh(file)); /* never past the TTL */
	ck_assert(mid_gate_fd_fresh(p[1]));
	/* A number reused for another kind is learnt again. */
	mid_fd_forget(p[1]);
	ck_assert(!mid_gate_fd_fresh(p[1]));
	close(p[0]);
	close(p[1]);
	close(file);
}
END_TEST

/* A TTL shorter than the coarse clock's lag still caches, on the precise
 * clock, but never on the fast path. */
START_TEST(test_shim_short_ttl_skips_fast_path)
{
	struct mid_event ev = file_write_event();

	setup_gate(1, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_uint_gt(mid_gate_allow_until(), 0);
	ck_assert(!mid_gate_fresh());
	usleep(5 * 1000);
	ck_assert_int_eq(mid_gate_check(&ev), 0);
	ck_assert_int_eq(atomic_load(&calls), 2);
}
END_TEST

/* A thread holds the flight lock when another forks: the child's copy
 * of the lock is held by nobody, and its fork handler must free it. */
static pthread_barrier_t held_bar;

static void *hold_lock(void *arg)
{
	(void)arg;
	mid_gate_lock();
	pthread_barrier_wait(&held_bar); /* locked */
	pthread_barrier_wait(&held_bar); /* the child is done */
	mid_gate_unlock();
	return NULL;
}

START_TEST(test_shim_fork_child_frees_held_lock)
{
	pthread_t t;
	pid_t pid;
	int st;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	pthread_barrier_init(&held_bar, NULL, 2);
	pthread_create(&t, NULL, hold_lock, NULL);
	pthread_barrier_wait(&held_bar);
	pid = fork();
	if(pid == 0) {
		alarm(5); /* a deadlock ends as SIGALRM, not as a hung test */
		mid_gate_atfork_child();
		mid_gate_lock();
		mid_gate_unlock();
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	pthread_barrier_wait(&held_bar);
	pthread_join(t, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", (unsigned)st);
	pthread_barrier_destroy(&held_bar);
}
END_TEST

struct racer {
	pthread_barrier_t *bar;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct mid_event ev = file_write_event();

	pthread_barrier_wait(r->bar);
	r->rc = mid_gate_check(&ev);
	return NULL;
}

START_TEST(test_shim_single_flight)
{
	enum { N = 16 };
	pthread_t t[N];
	struct racer r[N];
	pthread_barrier_t bar;
	int i;

	setup_gate(5000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	stub_delay_ms = 100;
	pthread_barrier_init(&bar, NULL, N);
	for(i = 0; i < N; i++) {
		r[i].bar = &bar;
		r[i].rc = 99;
		ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for(i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].rc, 0);
	}
	/* One thread asked; the others waited for its answer. */
	ck_assert_int_eq(atomic_load(&calls), 1);
	pthread_barrier_destroy(&bar);
}
END_TEST

/* ---- errors: every fault is a deny with its own code --------------------- */

static const struct {
	enum mid_rc rc;
	const char *code;
} faults[] = {
	{MID_ERR_UNREACHABLE, "MIDSHIM_UNREACHABLE"},
	{MID_ERR_TIMEOUT, "MIDSHIM_TIMEOUT"},
	{MID_ERR_HTTP, "MIDSHIM_HTTP_500"},
	{MID_ERR_BAD_REPLY, "MIDSHIM_BAD_REPLY"},
	{MID_ERR_PARSE, "MIDSHIM_NOT_JSON"},
	{MID_ERR_TOO_BIG, "MIDSHIM_TOO_LARGE"},
	{MID_ERR_PROTOCOL, "MIDSHIM_TRUNCATED"},
};

START_TEST(test_shim_fault_is_deny_with_code)
{
	struct mid_event ev = file_write_event();
	char want[128];
	const char *out;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	stub_rc = faults[_i].rc;
	/* A fault never allows, even if the struct says so. */
	stub_allowed = true;
	stub_code = faults[_i].code;
	capture_stderr();
	ck_assert_int_eq(mid_gate_check(&ev), -1);
	out = captured();
	snprintf(want, sizeof(want), "code %s,", faults[_i].code);
	ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
	ck_assert_uint_eq(mid_gate_allow_until(), 0);
}
END_TEST

START_TEST(test_shim_missing_code_is_bad_reply)
{
	struct mid_event ev = file_write_event();
	const char *out;

	setup_gate(1000, MID_DENY_ERRNO, MID_MODE_ENFORCE);
	stub_allowed = false;
	stub_code = "";
	capture_stderr();
	ck_assert_int_eq(mid_gate_check(&ev), -1);
	out = captured();
	ck_assert_msg(strstr(out, "code MIDSHIM_BAD_REPLY"), "log: %s", out);
}
END_TEST

START_TEST(test_shim_exit_action)
{
	struct mid_event ev = file_write_event();
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0) {
		setup_gate(0, MID_DENY_EXIT, MID_MODE_ENFORCE);
		cfg.exit_code = 42;
		stub_allowed = false;
		stub_code = "DEVICE_REVOKED";
		close(2);
		mid_gate_check(&ev);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 42);
}
END_TEST

START_TEST(test_shim_kill_action)
{
	struct mid_event ev = file_write_event();
	pid_t pid;
	int st;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if(pid == 0) {
		setup_gate(0, MID_DENY_KILL, MID_MODE_ENFORCE);
		stub_allowed = false;
		stub_code = "DEVICE_REVOKED";
		close(2);
		mid_gate_check(&ev);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGKILL);
}
END_TEST

/* ---- configuration ------------------------------------------------------- */

static const char *const *envtab;

static const char *tab_getenv(const char *name)
{
	size_t n = strlen(name);
	int i;

	for(i = 0; envtab[i]; i++)
		if(!strncmp(envtab[i], name, n) && envtab[i][n] == '=')
			return envtab[i] + n + 1;
	return NULL;
}

static enum mid_rc load_env(const char *const *tab, struct mid_config *c, char *err, size_t n)
{
	envtab = tab;
	return mid_config_load(c, tab_getenv, (char *const *)(uintptr_t)tab, err, n);
}

START_TEST(test_shim_config_defaults)
{
	static const char *const tab[] = {"MIDSHIM_DEVICE_ID=svc:dev:r:01", "MIDSHIM_ORG_KEY=k",
					  NULL};
	struct mid_config c;
	char err[512];

	ck_assert_int_eq(load_env(tab, &c, err, sizeof(err)), MID_OK);
	ck_assert_str_eq(c.url, "http://127.0.0.1:7070");
	ck_assert_int_eq(c.ttl_ms, 1000);
	ck_assert_int_eq(c.timeout_ms, 2000);
	ck_assert_int_eq(c.on_deny, MID_DENY_KILL);
	ck_assert_int_eq(c.mode, MID_MODE_ENFORCE);
	mid_config_cleanup(&c);
}
END_TEST

static const struct {
	const char *var;
	const char *want;
} bad_env[] = {
	{"MIDSHIM_TTL_MS=30001", "MIDSHIM_TTL_MS=30001 is out of range"},
	{"MIDSHIM_TTL_MS=1s", "MIDSHIM_TTL_MS=1s is not a whole number"},
	{"MIDSHIM_TIMEOUT_MS=0", "MIDSHIM_TIMEOUT_MS=0 is out of range"},
	{"MIDSHIM_ON_DENY=explode", "MIDSHIM_ON_DENY=explode: use kill, abort, exit:N"},
	{"MIDSHIM_MODE=loud", "MIDSHIM_MODE=loud: use enforce or audit"},
	{"MIDSHIM_URL=ftp://x", "MIDSHIM_URL 'ftp://x': unsupported scheme; accepted forms"},
	{"MIDSHIM_AUDIT_LOG=rel.log", "MIDSHIM_AUDIT_LOG=rel.log: use an absolute file path"},
	{"MIDSHIM_TTL=5", "unknown variable MIDSHIM_TTL"},
	{"MIDSHIM_ADMIN_KEY=mid_adm_x", "MIDSHIM_ADMIN_KEY is set: a gated program must not hold"},
	{"MIDSHIM_ADMIN_KEY_FILE=/k", "MIDSHIM_ADMIN_KEY_FILE is set"},
	{"MIDSHIM_POLICY=/nonexistent/p.json", "/nonexistent/p.json"},
};

START_TEST(test_shim_config_bad_value_named)
{
	const char *tab[] = {"MIDSHIM_DEVICE_ID=svc:dev:r:01", "MIDSHIM_ORG_KEY=k", bad_env[_i].var,
			     NULL};
	struct mid_config c;
	char err[512] = "";

	ck_assert_int_ne(load_env(tab, &c, err, sizeof(err)), MID_OK);
	ck_assert_msg(strstr(err, bad_env[_i].want), "err: %s (want %s)", err, bad_env[_i].want);
}
END_TEST

START_TEST(test_shim_config_requires_device_and_key)
{
	static const char *const nodev[] = {"MIDSHIM_ORG_KEY=k", NULL};
	static const char *const nokey[] = {"MIDSHIM_DEVICE_ID=a:b:c:d", NULL};
	static const char *const badfile[] = {"MIDSHIM_DEVICE_ID=a:b:c:d",
					      "MIDSHIM_ORG_KEY_FILE=/nonexistent/org.key", NULL};
	struct mid_config c;
	char err[512];

	ck_assert_int_ne(load_env(nodev, &c, err, sizeof(err)), MID_OK);
	ck_assert_msg(strstr(err, "MIDSHIM_DEVICE_ID"), "err: %s", err);
	ck_assert_int_ne(load_env(nokey, &c, err, sizeof(err)), MID_OK);
	ck_assert_msg(strstr(err, "MIDSHIM_ORG_KEY_FILE"), "err: %s", err);
	ck_assert_int_ne(load_env(badfile, &c, err, sizeof(err)), MID_OK);
	ck_assert_msg(strstr(err, "/nonexistent/org.key"), "err: %s", err);
}
END_TEST

START_TEST(test_shim_config_env_over_policy)
{
	static const char text[] = "{\"version\":1,\"device\":\"from:policy:x:01\",\"ttl_ms\":300,"
				   "\"on_deny\":\"errno\",\"mode\":\"audit\"}\n";
	char path[] = "/tmp/check_shim_policy.XXXXXX";
	const char *tab[5];
	struct mid_config c;
	char err[512], pv[64];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	snprintf(pv, sizeof(pv), "MIDSHIM_POLICY=%s", path);
	tab[0] = pv;
	tab[1] = "MIDSHIM_ORG_KEY=k";
	tab[2] = "MIDSHIM_TTL_MS=700";
	tab[3] = NULL;
	ck_assert_int_eq(load_env(tab, &c, err, sizeof(err)), MID_OK);
	ck_assert_str_eq(c.device, "from:policy:x:01");
	ck_assert_int_eq(c.ttl_ms, 700);
	ck_assert_int_eq(c.on_deny, MID_DENY_ERRNO);
	ck_assert_int_eq(c.mode, MID_MODE_AUDIT);
	mid_config_cleanup(&c);
	unlink(path);
}
END_TEST

/* ---- exec environment ---------------------------------------------------- */

START_TEST(test_shim_exec_env_reinjects)
{
	char *clean[] = {"PATH=/usr/bin:/bin", "LD_PRELOAD=", "MIDSHIM_DEVICE_ID=forged", NULL};
	char **env;
	int i, preload = 0, device = 0, registered = 0;

	setenv("LD_PRELOAD", "/opt/midshim/libmidshim.so", 1);
	setenv("MIDSHIM_DEVICE_ID", "real:dev:x:01", 1);
	mid_exec_init();
	env = mid_exec_env(clean, NULL);
	ck_assert_ptr_nonnull(env);
	for(i = 0; env[i]; i++) {
		if(!strncmp(env[i], "LD_PRELOAD=", 11)) {
			preload++;
			ck_assert_str_eq(env[i], "LD_PRELOAD=/opt/midshim/libmidshim.so");
		}
		if(!strncmp(env[i], "MIDSHIM_DEVICE_ID=", 18)) {
			device++;
			ck_assert_str_eq(env[i], "MIDSHIM_DEVICE_ID=real:dev:x:01");
		}
		if(!strcmp(env[i], "MIDSHIM_REGISTERED=1"))
			registered++;
	}
	ck_assert_int_eq(preload, 1);
	ck_assert_int_eq(device, 1);
	ck_assert_int_eq(registered, 1);
	ck_assert_str_eq(env[0], "PATH=/usr/bin:/bin");
	mid_exec_env_free(env);
}
END_TEST

/* The child's environment is built on the caller's stack when it fits,
 * else in its own mapping, with the same content. */
START_TEST(test_shim_exec_env_stack_or_mmap)
{
	static char *big[1200];
	char *small[] = {"PATH=/bin", NULL};
	struct mid_envbuf eb;
	char **env;
	int i;

	setenv("LD_PRELOAD", "/opt/midshim/libmidshim.so", 1);
	mid_exec_init();
	env = mid_exec_env(small, &eb);
	ck_assert_ptr_nonnull(env);
	ck_assert((void *)env > (void *)&eb && (void *)env < (void *)(&eb + 1));
	ck_assert_str_eq(env[0], "PATH=/bin");
	mid_exec_env_free(env);
	for(i = 0; i < 1199; i++)
		big[i] = "X=1";
	big[1199] = NULL;
	env = mid_exec_env(big, &eb);
	ck_assert_ptr_nonnull(env);
	ck_assert(!((void *)env > (void *)&eb && (void *)env < (void *)(&eb + 1)));
	for(i = 0; env[i]; i++)
		;
	ck_assert_str_eq(env[i - 1], "MIDSHIM_REGISTERED=1");
	ck_assert_int_ge(i, 1199 + 2);
	mid_exec_env_free(env);
}
END_TEST

START_TEST(test_shim_exec_followable)
{
	const char *why = NULL;
	char path[4096];
	const char *b = getenv("B");

	ck_assert(mid_exec_followable("/bin/sh", &why));
	ck_assert_ptr_null(why);
	snprintf(path, sizeof(path), "%s/helpers/static_true", b ? b : "build");
	if(access(path, X_OK) == 0) {
		ck_assert(!mid_exec_followable(path, &why));
		ck_assert_str_eq(why, "statically linked");
	} else {
		ck_abort_msg("%s missing: build the test helpers first", path);
	}
}
END_TEST

/* Write the first 'n' bytes of the file 'from' over 'fd' in place (the
 * same inode), padded with zeros to 'n'. */
static void overwrite(int fd, const char *from, size_t n)
{
	char *b = calloc(1, n);
	int in = open(from, O_RDONLY);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_ge(in, 0);
	ck_assert_int_gt(read(in, b, n), 0);
	close(in);
	ck_assert_int_eq(pwrite(fd, b, n, 0), (ssize_t)n);
	free(b);
}

/* A verdict kept for a file does not outlive a change to it, even one
 * that keeps its size and puts its modification time back: the change
 * time moves on. */
START_TEST(test_shim_exec_followable_kept_verdict)
{
	char path[] = "/tmp/check_shim_prog.XXXXXX", helper[4096];
	const char *b = getenv("B"), *why = NULL;
	struct timespec times[2];
	struct stat st;
	int fd = mkstemp(path);

	snprintf(helper, sizeof(helper), "%s/helpers/static_true", b ? b : "build");
	ck_assert_int_ge(fd, 0);
	overwrite(fd, "/bin/true", 8192);
	ck_assert_int_eq(fchmod(fd, 0755), 0);
	/* Kept only for a file whose status changed over a second ago. */
	sleep(2);
	ck_assert(mid_exec_followable(path, &why));
	ck_assert(mid_exec_followable(path, &why));
	ck_assert_int_eq(fstat(fd, &st), 0);
	overwrite(fd, helper, 8192);
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	ck_assert_int_eq(futimens(fd, times), 0);
	ck_assert(!mid_exec_followable(path, &why));
	ck_assert_str_eq(why, "statically linked");
	/* And back: the new file is judged, not the kept entry. */
	overwrite(fd, "/bin/true", 8192);
	ck_assert(mid_exec_followable(path, &why));
	close(fd);
	unlink(path);
}
END_TEST

/* Program header offsets come from the file: a wild one must neither
 * read out of bounds nor pass for a static binary. */
START_TEST(test_shim_exec_followable_wild_header)
{
	char path[] = "/tmp/check_shim_elf.XXXXXX";
	const char *why = NULL;
	Elf64_Ehdr eh;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_machine = EM_X86_64;
	eh.e_phoff = UINT64_MAX - 1;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 3;
	ck_assert_int_eq(write(fd, &eh, sizeof(eh)), (int)sizeof(eh));
	close(fd);
	ck_assert(mid_exec_followable(path, &why));
	ck_assert_ptr_null(why);
	unlink(path);
}
END_TEST

void describe(const struct mid_event *ev, char *kind, size_t kindlen, char *target, size_t tlen);

/* A denial names the peer by host and address, but not twice when the
 * "host" was the address itself. */
START_TEST(test_shim_denial_names_peer_once)
{
	struct mid_event ev;
	char kind[32], target[256];

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_CONNECT;
	ev.family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", ev.addr), 1);
	ev.port = 7070;
	ev.host = "127.0.0.1";
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(kind, "connect");
	ck_assert_str_eq(target, "127.0.0.1:7070");
	ev.host = "api.example.com";
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(target, "api.example.com/127.0.0.1:7070");
	ev.host = NULL;
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(target, "127.0.0.1:7070");
}
END_TEST

/* Start and fork are kinds of their own, named by the word and the
 * program, never by a path. */
START_TEST(test_shim_denial_names_start_and_fork)
{
	struct mid_event ev;
	char kind[32], target[256];

	memset(&ev, 0, sizeof(ev));
	ev.kind = MID_EV_START;
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(kind, "start");
	ck_assert_str_eq(target, program_invocation_name);
	ev.kind = MID_EV_FORK;
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(kind, "fork");
	ev.kind = MID_EV_EXEC;
	ev.path = "(start)"; /* a program may be called that */
	describe(&ev, kind, sizeof(kind), target, sizeof(target));
	ck_assert_str_eq(kind, "exec");
	ck_assert_str_eq(target, "(start)");
}
END_TEST

START_TEST(test_shim_exec_resolve)
{
	char out[4096];

	ck_assert(mid_exec_resolve("sh", "/nonexistent:/usr/bin:/bin", out, sizeof(out)));
	ck_assert(!strcmp(out, "/usr/bin/sh") || !strcmp(out, "/bin/sh"));
	ck_assert(!mid_exec_resolve("no-such-program-x", "/usr/bin", out, sizeof(out)));
	ck_assert(mid_exec_resolve("./rel/x", "/usr/bin", out, sizeof(out)));
	ck_assert_str_eq(out, "./rel/x");
}
END_TEST

/* Addresses by family and length, on each kind of socket: the gate reads
 * every address the kernel would send to (and reads it as the kernel
 * does), decides the rest on a connected socket's peer, and refuses the
 * rest; only netlink and connect(AF_UNSPEC), which reach no peer, pass. */
START_TEST(test_shim_sockaddr_families_and_lengths)
{
	static const int families[] = {AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX,
				       AF_NETLINK, AF_PACKET, AF_VSOCK, 200};
	static const socklen_t lens[] = {0, 1, 2, 8, 15, 16, 23, 24, 27, 28, 64, 128};
	static const struct mid_sock socks[] = {
		{AF_INET, SOCK_STREAM, false}, {AF_INET, SOCK_STREAM, true},
		{AF_INET, SOCK_DGRAM, false},  {AF_INET, SOCK_DGRAM, true},
		{AF_INET6, SOCK_DGRAM, false}, {AF_UNIX, SOCK_DGRAM, false},
	};
	static const enum mid_kind kinds[] = {MID_EV_CONNECT, MID_EV_SEND};
	unsigned char raw[128];
	size_t f, l, k, n, cases = 0;

	/* Port 0x1234, address bytes 0x01..0x10 wherever a family puts them. */
	for(n = 0; n < sizeof(raw); n++)
		raw[n] = (unsigned char)(n < 2 ? 0 : n == 2 ? 0x12 : n == 3 ? 0x34 : n);
	for(f = 0; f < sizeof(families) / sizeof(families[0]); f++)
	for(l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
	for(k = 0; k < 2; k++)
	for(n = 0; n < sizeof(socks) / sizeof(socks[0]); n++) {
		struct sockaddr *sa = (struct sockaddr *)raw;
		const struct mid_sock *so = &socks[n];
		int fam = families[f];
		socklen_t len = lens[l];
		struct mid_event ev;
		enum mid_addr_way way;
		bool inet, inet6, unixp, unspec4, peer;

		sa->sa_family = (sa_family_t)fam;
		inet = fam == AF_INET && len >= 16;
		inet6 = fam == AF_INET6 && len >= 24;
		unixp = fam == AF_UNIX && len >= 2;
		unspec4 = fam == AF_UNSPEC && so->domain == AF_INET && so->type != SOCK_STREAM &&
			  len >= 16 && kinds[k] == MID_EV_SEND;
		way = mid_sockaddr_way(sa, len, kinds[k], NULL, &ev);
		if(way == MID_ADDR_ASK)
			way = mid_sockaddr_way(sa, len, kinds[k], so, &ev);
		cases++;
		ck_assert_int_ne(way, MID_ADDR_ASK);
		ck_assert_int_eq(ev.kind, kinds[k]);
		peer = inet || inet6 || unixp || unspec4;
		if(peer) {
			ck_assert_msg(way == MID_ADDR_GATE, "family %d len %u: not gated as an address",
				      fam, (unsigned)len);
			if(inet || unspec4) {
				ck_assert_int_eq(ev.family, AF_INET);
				ck_assert_int_eq(ev.port, 0x1234);
				ck_assert_mem_eq(ev.addr, raw + 4, 4);
			} else if(inet6) {
				ck_assert_int_eq(ev.family, AF_INET6);
				ck_assert_int_eq(ev.port, 0x1234);
				ck_assert_mem_eq(ev.addr, raw + 8, 16);
			} else {
				ck_assert_int_eq(ev.family, AF_UNIX);
			}
		} else if(fam == AF_NETLINK && len >= 2) {
			ck_assert_int_eq(way, MID_ADDR_PASS);
		} else if(kinds[k] == MID_EV_CONNECT && (fam == AF_UNSPEC || len < 2)) {
			ck_assert_int_eq(way, MID_ADDR_PASS);
		} else {
			ck_assert_msg(way == (so->connected ? MID_ADDR_DESCRIPTOR : MID_ADDR_REFUSE),
				      "family %d len %u socket %zu: way %d", fam, (unsigned)len, n,
				      (int)way);
		}
	}
	ck_assert_uint_eq(cases, 8 * 12 * 2 * 6);
}
END_TEST

/* A signal that comes while the guard is up waits until it is down: the
 * handler's own calls then meet the hooks. */
static volatile sig_atomic_t guard_seen = -1;

static void note_guard(int sig)
{
	(void)sig;
	guard_seen = mid_in_shim;
}

START_TEST(test_shim_guard_blocks_signals)
{
	struct sigaction sa, old;
	sigset_t mask;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_guard;
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	mid_shim_enter(&mask);
	ck_assert_int_eq(raise(SIGUSR1), 0);
	ck_assert_int_eq(guard_seen, -1);
	mid_shim_leave(&mask);
	ck_assert_int_eq(guard_seen, 0);
	ck_assert_int_eq(mid_in_shim, 0);
	sigaction(SIGUSR1, &old, NULL);
}
END_TEST

/* syscall() numbers: none passes by default. The harmless list holds no
 * call known to change anything outside the process. */
START_TEST(test_shim_syscall_numbers)
{
	static const long effects[] = {
		SYS_write, SYS_pwrite64, SYS_writev, SYS_sendto, SYS_sendmsg, SYS_connect,
		SYS_execve, SYS_execveat, SYS_openat, SYS_openat2, SYS_unlinkat, SYS_renameat2,
		SYS_fchmodat, 452 /* fchmodat2 */, SYS_io_submit, SYS_io_uring_setup,
		SYS_io_uring_enter, SYS_open_by_handle_at, SYS_ptrace, SYS_process_vm_writev,
		SYS_kill, SYS_tgkill, SYS_pidfd_send_signal, SYS_mq_timedsend, SYS_ioctl,
		SYS_copy_file_range, SYS_splice, SYS_vmsplice, SYS_tee, SYS_sendfile,
		SYS_bind, SYS_fcntl, SYS_mount, SYS_setxattr, SYS_init_module, SYS_bpf,
	};
	long nr;
	size_t i, harmless = 0;

	for(i = 0; i < sizeof(effects) / sizeof(effects[0]); i++)
		ck_assert_msg(!mid_syscall_harmless(effects[i]), "syscall %ld is called harmless",
			      effects[i]);
	for(nr = -2; nr < 1024; nr++)
		harmless += mid_syscall_harmless(nr);
	ck_assert(mid_syscall_harmless(SYS_read) && mid_syscall_harmless(SYS_futex));
	/* Numbers past the kernel's table are not harmless. */
	for(nr = 600; nr < 1024; nr++)
		ck_assert(!mid_syscall_harmless(nr));
	ck_assert_uint_lt(harmless, 200);
}
END_TEST

static void mid_check_tests(struct mid_check *t)
{
	TCase *core = t->core, *limits = t->limits, *errors = t->errors;

	t->name = "shim";

	tcase_set_timeout(core, 20);
	tcase_add_test(core, test_shim_policy_allow_skips_control_plane);
	tcase_add_test(core, test_shim_validate_is_cached_for_ttl);
	tcase_add_test(core, test_shim_ttl_zero_asks_every_time);
	tcase_add_test(core, test_shim_deny_after_revoke_clears_cache);
	tcase_add_test(core, test_shim_policy_deny_names_rule);
	tcase_add_test(core, test_shim_audit_mode_softens_policy_not_revocation);
	tcase_add_test(core, test_shim_single_flight);
	tcase_add_test(core, test_shim_fork_asks_only_when_stale);
	tcase_add_test(core, test_shim_fork_child_frees_held_lock);
	tcase_add_test(core, test_shim_config_defaults);
	tcase_add_test(core, test_shim_config_env_over_policy);
	tcase_add_test(core, test_shim_exec_env_reinjects);
	tcase_add_test(core, test_shim_exec_env_stack_or_mmap);
	tcase_add_test(core, test_shim_fast_path_follows_cache);
	tcase_add_test(core, test_shim_exec_followable);
	tcase_add_test(core, test_shim_exec_followable_kept_verdict);
	tcase_add_test(core, test_shim_exec_resolve);
	tcase_add_test(core, test_shim_denial_names_peer_once);
	tcase_add_test(core, test_shim_denial_names_start_and_fork);
	tcase_add_test(core, test_shim_gate_decides_unfollowable);
	tcase_add_test(core, test_shim_sockaddr_families_and_lengths);
	tcase_add_test(core, test_shim_guard_blocks_signals);
	tcase_add_test(core, test_shim_syscall_numbers);

	tcase_add_test(limits, test_shim_inherit_never_extends);
	tcase_add_test(limits, test_shim_inherit_forged_asks_at_first_check);
	tcase_add_test(limits, test_shim_inherit_expired_denied_at_first_check);
	tcase_add_test(limits, test_shim_inherit_true_passes_unasked);
	tcase_add_test(limits, test_shim_short_ttl_skips_fast_path);
	tcase_add_test(limits, test_shim_exec_followable_wild_header);

	tcase_add_loop_test(errors, test_shim_fault_is_deny_with_code, 0, (int)MID_ARRAY_LEN(faults));
	tcase_add_test(errors, test_shim_missing_code_is_bad_reply);
	tcase_add_loop_test(errors, test_shim_config_bad_value_named, 0, (int)MID_ARRAY_LEN(bad_env));
	tcase_add_test(errors, test_shim_config_requires_device_and_key);
	tcase_add_test(errors, test_shim_exit_action);
	tcase_add_test(errors, test_shim_kill_action);
}
