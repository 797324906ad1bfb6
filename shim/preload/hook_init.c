/* SPDX-License-Identifier: MIT */
/*
 * The shim's lifecycle: the constructor reads and checks the configuration
 * (a bad one stops the program before main with exit 126 and one line
 * saying why), registers the device once per process tree, and passes the
 * startup gate. After fork the child drops the parent's connection and
 * locks.
 */
#define _GNU_SOURCE
#include "hooks.h"
#include "chan.h"
#include "config.h"
#include "enforce.h"
#include "exec.h"
#include "execfile.h"
#include "net.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

MID_HOT int mid_shim_ready;

MID_HOT static struct mid_config config;
/* Made at the first call to the control plane: a child that inherits a
 * fresh allow never makes one, and starts without touching the heap. */
MID_HOT static struct mid_client *client;
/* The process 'client' belongs to: a fork child inherits the parent's
 * connection and drops it at its own first call, not at the fork. */
MID_HOT static pid_t client_pid;
/* pthread_once's work, with its state as pthread_once keeps it: 0 not
 * begun, 1 under way, 2 done. Not pthread_once itself: glibc's wakes
 * waiters with a futex call every time, waiter or none, from a page of
 * libc a small program never touches. A thread that finds 'fn' under
 * way sleeps a millisecond at a time until it is done: set-up may wait
 * on the control plane. */
MID_STARTUP static void once(_Atomic int *state, void (*fn)(void))
{
	int expect = 0;

	if(atomic_load_explicit(state, memory_order_acquire) == 2)
		return;
	if(atomic_compare_exchange_strong_explicit(state, &expect, 1, memory_order_acq_rel,
						   memory_order_acquire)) {
		fn();
		atomic_store_explicit(state, 2, memory_order_release);
		return;
	}
	while(atomic_load_explicit(state, memory_order_acquire) != 2) {
		struct timespec ms = {0, 1000000};

		nanosleep(&ms, NULL);
	}
}

MID_HOT static _Atomic int setup_state; /* once()'s, for setup() */
/* The org key is still to be read: this process started on a parent's
 * fresh allow, and reads it at its first call to the control plane. */
MID_HOT static int key_deferred;

void *mid_real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);

	if(!p) {
		mid_shim_say("libc has no %s; this libmidshim.so was built for another libc", name);
		_exit(127);
	}
	return p;
}

/* What pthread_atfork does: glibc links that small function into the
 * library from libc_nonshared.a, at the end of the text, away from the
 * start-up code. */
extern void *__dso_handle;
int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void),
		      void *dso);

/* DT_FINI (the Makefile links with -fini=mid_fini): crtn's _fini does
 * nothing, but sits at the far end of the text, and calling it at exit
 * faulted in a window of text no other exit code uses. */
void mid_fini(void);
MID_STARTUP void mid_fini(void)
{
}

static void die(const char *what, const char *err)
{
	mid_shim_say("%s: %s", what, err);
	_exit(126);
}

/* Read and check the org key, and the client's settings with it; a bad
 * one stops the process with exit 126 and one line saying why.
 * 'getenv_fn' reads the settings. */
MID_STARTUP static void load_key(const char *(*getenv_fn)(const char *))
{
	char err[1024];

	if(mid_config_load_key(&config, getenv_fn, err, sizeof(err)))
		die("configuration error", err);
	if(mid_client_check(config.url, config.org_key, config.timeout_ms, err, sizeof(err)))
		die("MIDSHIM_URL", err);
}

/* The client, made now if need be; NULL with 'd' filled on failure. The
 * settings were checked at start (the org key of a start on an inherited
 * allow is checked here, at the first call, from the settings the process
 * started with), so only memory can be short here. Callers hold the
 * flight lock or run in the constructor. */
static struct mid_client *get_client(struct mid_decision *d)
{
	char err[256];

	if(key_deferred) {
		key_deferred = 0;
		load_key(mid_exec_setting);
	}

	if(client && client_pid != getpid()) {
		/* Only the child's copy goes: the parent keeps its connection. */
		mid_client_forget(client);
		client_pid = getpid();
	}
	if(!client &&
	   mid_config_client(&config, &client, err, sizeof(err))) {
		memset(d, 0, sizeof(*d));
		d->local = MID_ERR_NOMEM;
		mid_strlcpy(d->code, MID_CODE_IO, sizeof(d->code));
		mid_strlcpy(d->request_id, "-", sizeof(d->request_id));
		mid_shim_say("cannot make the control-plane client: %s", err);
		return NULL;
	}
	if(client && !client_pid)
		mid_client_set_mode(client, config.mode == MID_MODE_AUDIT ? "audit" : "enforce");
	/* A program can swap the shim's descriptor for a socket of its own
	 * choosing: only an answer midd proves counts. */
	mid_client_bind(client);
	if(!client_pid)
		client_pid = getpid();
	return client;
}

/* With several control planes, the one the last call reached. Over
 * https:// a call that got no answer also says why, in libcurl's words
 * (a certificate it could not verify): its code alone cannot tell that
 * from a control plane that is down. */
static const char *decider(void)
{
	static char why[MID_URL_MAX + 260]; /* the last byte stays NUL */
	const char *detail = client ? mid_client_detail(client) : "";

	if(detail[0] && MID_HAS_PREFIX(config.url, "https://")) {
		snprintf(why, sizeof(why) - 1, "%s: %s", mid_client_url(client), detail);
		for(char *p = why; *p; p++)
			if(*p < ' ' || *p > '~')
				*p = '?';
		return why;
	}
	return client && mid_client_url_count(client) > 1 ? mid_client_url(client) : NULL;
}

static enum mid_rc validate(void *ctx, struct mid_decision *d)
{
	uint64_t counts[MID_SIDE_KINDS];
	struct mid_client *c = get_client(d);
	enum mid_rc rc;

	(void)ctx;
	if(!c)
		return d->local;
	mid_late_rebind();
	mid_side_take(counts);
	mid_client_set_counts(c, counts);
	rc = mid_client_validate(c, config.device, d);
	/* A push can only kill: not in audit mode, nor when a denial is
	 * meant to end otherwise (abort, exit:N, errno). */
	if(rc == MID_OK && d->allowed && !config.no_push && config.mode == MID_MODE_ENFORCE &&
	   config.on_deny == MID_DENY_KILL)
		mid_chan_open(c, config.device);
	return rc;
}

/* A denial the shim made itself goes to midd's audit trail, on this
 * process's connection, without waiting for the answer. A thread that
 * is talking to midd right now holds the connection: the report is then
 * skipped rather than wait (the local log has it). */
static void report(const char *body, size_t len)
{
	struct mid_decision d;
	struct mid_client *c;

	if(!mid_gate_trylock())
		return;
	c = get_client(&d);
	if(c)
		(void)!mid_client_report(c, body, len);
	mid_gate_unlock();
}

/* getenv, but without libc's: every gated process runs this before
 * main, and each libc page it touches that the program itself does not
 * costs the start a page fault. */
MID_STARTUP static const char *env(const char *name)
{
	const char *v = NULL;

	for(char **e = environ; e && *e && !v; e++)
		v = mid_env_value(*e, name);
	return v;
}

/*
 * fork. The parent waits for a validate in flight, so the child never
 * inherits a lock held inside the client's call (malloc's, the
 * resolver's, libcurl's and OpenSSL's). Otherwise the handlers write as
 * little as they can, since a page either side writes after the fork is
 * a page the kernel copies: the child resets the resolver's lock only if
 * some thread was inside it, and drops its copy of the client's
 * connection at its own first call (get_client). Before the first fork
 * the parent resolves what the exec hooks need, which every child would
 * otherwise look up again.
 *
 * The handlers are registered at the process's first fork (the fork
 * hooks call mid_fork_handlers_register), not before main: registering
 * costs every start libc's __register_atfork pages, and most starts
 * never fork. Other libraries' handlers are then registered before the
 * shim's, so theirs run inside the shim's window: prepare handlers run
 * last-registered first, parent and child handlers first-registered
 * first. A hook one of them reaches there finds mid_forking set on this
 * thread: in the parent it passes the flight lock this thread holds; in
 * the child it runs the child's reset before going on (libuv's child
 * handler closes descriptors through the close hook).
 */
static void atfork_prepare(void)
{
	MID_HOT static int warm;

	if(!warm && !mid_in_shim) {
		warm = 1;
		mid_hook_exec_warm();
	}
	mid_gate_lock();
	mid_fork_parent = getpid();
	mid_forking = 1;
}

static void atfork_parent(void)
{
	mid_forking = 0;
	mid_gate_unlock();
}

/* The flight lock is held (by this thread, in atfork_prepare). */
static void child_reset(void)
{
	mid_gate_atfork_child();
	mid_side_atfork_child();
	mid_names_atfork_child();
	mid_chan_atfork_child();
	mid_record_atfork_child();
	mid_spawn_atfork_child();
	mid_exec_seen_atfork_child();
}

static void atfork_child(void)
{
	/* Done already when a hook ran it in the window. */
	if(!mid_forking)
		return;
	mid_forking = 0;
	child_reset();
}

static void register_fork_handlers(void)
{
	mid_fork_child_reset = child_reset;
	__register_atfork(atfork_prepare, atfork_parent, atfork_child, &__dso_handle);
}

void mid_fork_handlers_register(void)
{
	MID_HOT static _Atomic int registered;

	once(&registered, register_fork_handlers);
}

int mid_shim_release_fd(int fd)
{
	sigset_t mask;
	int ours;

	/* The program closing the push channel: it is opened again at the
	 * next validate; meanwhile the TTL gate holds. */
	if(fd >= 0 && fd == mid_chan_fd())
		mid_chan_forget();
	if(!client || fd < 0)
		return 0;
	mid_gate_lock();
	ours = mid_client_fd(client) == fd;
	if(ours) {
		mid_shim_enter(&mask);
		mid_client_disconnect(client);
		mid_shim_leave(&mask);
	}
	mid_gate_unlock();
	return ours;
}

void mid_shim_release_range(unsigned lo, unsigned hi)
{
	int fd = mid_chan_fd();

	if(fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
		mid_chan_forget();
	if(!client)
		return;
	fd = mid_client_fd(client);
	if(fd >= 0 && (unsigned)fd >= lo && (unsigned)fd <= hi)
		mid_shim_release_fd(fd);
}

MID_STARTUP static void setup(void)
{
	sigset_t mask;
	char err[1024];
	const char *v;
	uint64_t until;

	mid_shim_enter(&mask);
	/* The settings as captured for children: a walk of a few strings
	 * per lookup instead of the whole environment. */
	mid_exec_init();
	if(mid_config_load_settings(&config, mid_exec_setting, environ, err, sizeof(err)))
		die("configuration error", err);
	if(config.audit_log) {
		/* Denials logged to nowhere would pass unnoticed. */
		int fd = open(config.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if(fd < 0) {
			snprintf(err, sizeof(err), "MIDSHIM_AUDIT_LOG=%.512s: %s; make it writable "
				 "for this user or choose another file", config.audit_log,
				 strerror(errno));
			die("configuration error", err);
		}
		close(fd);
	}
	mid_gate_setup(&config, validate, NULL);
	mid_enforce_set_report(report);
	mid_enforce_origin(decider);
	v = env("MIDSHIM_ALLOW_UNTIL");
	if(v && mid_parse_u64(v, &until))
		mid_gate_inherit(until);
	/* A start on a fresh inherited allow is most often a short-lived
	 * child of a shell or a build: the key file, the admin-key checks
	 * beside it and the system calls and libc pages they take wait for
	 * the first call to the control plane, which such a child may never
	 * make. Its parent checked the same settings. */
	if(mid_gate_has_allow())
		key_deferred = 1;
	else
		load_key(mid_exec_setting);
	if(!env("MIDSHIM_REGISTERED") && !mid_gate_has_allow()) {
		struct mid_decision d;
		/* Registration is idempotent and never restores a revoked
		 * device; its outcome is judged by the validate below. */
		if(get_client(&d) && mid_client_register(client, config.device, &d) == MID_OK &&
		   !d.allowed && strcmp(d.status, "removed"))
			mid_shim_say("register %s: %s", config.device, d.status);
	}
	mid_shim_leave(&mask);
	mid_shim_ready = 1;
	/* The startup gate: validate before main, unless a parent's allow
	 * is still fresh. */
	mid_gate_startup();
}

MID_STARTUP int mid_shim_init_now(void)
{
	once(&setup_state, setup);
	return 1;
}

__attribute__((constructor)) static void midshim_init(void)
{
	mid_shim_init_now();
	mid_late_bind();
}
