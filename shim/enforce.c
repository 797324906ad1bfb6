/* SPDX-License-Identifier: MIT */
/*
 * Enforcement: a denial is one line on stderr and one JSON line in the
 * audit log, then the configured action. Everything here runs with the
 * re-entrancy guard up, so its own writes pass the hooks, and uses only
 * stack buffers: it may run in a vfork child or a signal handler.
 */
#define _GNU_SOURCE
#include "enforce.h"
#include "base.h"
#include "client.h"
#include "config.h"
#include "record.h"
#include "sigevent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *(*mid_enforce_subject_name)(pid_t pid);
/* Sends a report to midd (hook_init.c, or the launcher's supervisor in
 * midshim_sup.c); NULL in tests. */
MID_HOT static mid_report_fn report_fn; /* set before main: beside what a start writes */
/* Reports sent in the current second, and which second (coarse ms/1000). */
static _Atomic uint64_t report_window, report_count;

MID_STARTUP void mid_enforce_set_report(mid_report_fn fn)
{
	report_fn = fn;
}

MID_HOT static const char *(*origin)(void);

MID_STARTUP void mid_enforce_origin(const char *(*fn)(void))
{
	origin = fn;
}

/* Copy 's' into 'out' for a log line: control characters, quotes and
 * backslashes become '?' so a file name cannot forge a line. */
static void clean(char *out, size_t outlen, const char *s)
{
	size_t i = 0;

	if(!s)
		s = "?";
	while(*s && i + 1 < outlen) {
		unsigned char c = (unsigned char)*s++;
		out[i++] = (c < ' ' || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
	}
	out[i] = '\0';
}

/* "host/address:port", or "address:port" when no name is known or the
 * name is the address itself (getaddrinfo of "127.0.0.1"). */
static void describe_addr(const struct mid_event *ev, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "";
	const char *host = ev->host;

	if(ev->family == AF_INET || ev->family == AF_INET6) {
		inet_ntop(ev->family, ev->addr, a, sizeof(a));
		if(host && !strcmp(host, a))
			host = NULL;
	}
	if(ev->family == AF_UNIX) {
		snprintf(buf, len, "unix:%s", ev->path ? ev->path : "?");
	} else if(ev->family == AF_INET) {
		snprintf(buf, len, "%s%s%s:%u", host ? host : "", host ? "/" : "", a, ev->port);
	} else if(ev->family == AF_INET6) {
		snprintf(buf, len, "%s%s[%s]:%u", host ? host : "", host ? "/" : "", a, ev->port);
	} else {
		snprintf(buf, len, "?");
	}
}

/* "SIGTERM to pid 42 /usr/bin/sleep", "SIGHUP to process group 40",
 * "SIGKILL to every process". */
static void describe_signal(const struct mid_event *ev, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(ev->sig);
	char sig[32];

	if(abbrev)
		snprintf(sig, sizeof(sig), "SIG%s", abbrev);
	else
		snprintf(sig, sizeof(sig), "signal %d", ev->sig);
	if(ev->pid > 0)
		snprintf(buf, len, "%s to pid %d %s", sig, ev->pid, ev->path ? ev->path : "?");
	else if(ev->pid == 0)
		snprintf(buf, len, "%s to its process group", sig);
	else if(ev->pid == -1)
		snprintf(buf, len, "%s to every process", sig);
	else if(ev->pid == MID_SIGNAL_UNKNOWN)
		snprintf(buf, len, "%s to an unknown process (pidfd)", sig);
	else
		snprintf(buf, len, "%s to process group %d", sig, -ev->pid);
}

/* "exec /usr/bin/rm", "connect 127.0.0.1:80", "fs delete /etc/x", ... */
MID_STATIC void describe(const struct mid_event *ev, char *kind, size_t kindlen,
			 char *target, size_t tlen);
MID_STATIC void describe(const struct mid_event *ev, char *kind, size_t kindlen,
			 char *target, size_t tlen)
{
	char raw[1024];

	snprintf(kind, kindlen, "%s", mid_kind_name(ev->kind));
	switch(ev->kind) {
	case MID_EV_START:
	case MID_EV_FORK:
		snprintf(kind, kindlen, "%s", ev->kind == MID_EV_START ? "start" : "fork");
		snprintf(raw, sizeof(raw), "%s", program_invocation_name);
		break;
	case MID_EV_EXEC:
		snprintf(raw, sizeof(raw), "%s", ev->path ? ev->path : "?");
		break;
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		describe_addr(ev, raw, sizeof(raw));
		break;
	case MID_EV_WRITE:
		snprintf(raw, sizeof(raw), "%s (%s)", ev->path ? ev->path : "?",
			 mid_fdkind_name(ev->fdkind));
		break;
	case MID_EV_FS:
		snprintf(kind, kindlen, "fs %s", mid_fsop_name(ev->op));
		if(ev->path2)
			snprintf(raw, sizeof(raw), "%s -> %s", ev->path ? ev->path : "?", ev->path2);
		else
			snprintf(raw, sizeof(raw), "%s", ev->path ? ev->path : "?");
		break;
	case MID_EV_SIGNAL:
		describe_signal(ev, raw, sizeof(raw));
		break;
	case MID_EV_TTY_INJECT:
		snprintf(raw, sizeof(raw), "%s", ev->path ? ev->path : "?");
		break;
	default:
		snprintf(raw, sizeof(raw), "?");
		break;
	}
	clean(target, tlen, raw);
}

/*
 * Audit mode softens the policy and the faults of the path to the control
 * plane, never an operator's decision: a revoked or removed device, or a
 * disabled organisation, is stopped in audit mode too. Otherwise a
 * rollout in audit mode would disarm the kill switch it is meant to test.
 */
MID_STATIC bool mid_enforce_hard(const char *code);
MID_STATIC bool mid_enforce_hard(const char *code)
{
	return code && (!strcmp(code, "DEVICE_REVOKED") || !strcmp(code, "DEVICE_REMOVED") ||
			!strcmp(code, "ORG_DISABLED"));
}

static const char *action_text(const struct mid_config *cfg, bool soft, char *buf, size_t len)
{
	if(soft)
		return "audit mode, allowed";
	switch(cfg->on_deny) {
	case MID_DENY_KILL: return "killed";
	case MID_DENY_ABORT: return "aborted";
	case MID_DENY_EXIT:
		snprintf(buf, len, "exit %d", cfg->exit_code);
		return buf;
	case MID_DENY_ERRNO: return "EPERM";
	}
	return "killed";
}

/* Denials the shim decides itself: midd has no trace of them unless the
 * shim reports them. (A fault reaching midd would not reach it either.) */
static bool local_code(const char *c)
{
	return !strcmp(c, "POLICY_DENY") || !strcmp(c, "UNFOLLOWABLE") ||
	       !strcmp(c, MID_CODE_BAD_ADDRESS);
}

/* At most MID_REPORT_PER_S reports a second per process. */
static bool report_allowed(void)
{
	uint64_t now = mid_coarse_ms() / 1000, w = atomic_load(&report_window);

	if(w != now && atomic_compare_exchange_strong(&report_window, &w, now))
		atomic_store(&report_count, 0);
	return atomic_fetch_add(&report_count, 1) < MID_REPORT_PER_S;
}

/* Tell midd what was stopped: event, program, pid, rule and target. */
static void report(const struct mid_config *cfg, const char *kind, const char *target,
		   const char *code, int rule, bool soft)
{
	char body[MID_REPORT_BODY_MAX], dev[2 * MID_DEVICE_MAX + 8], prog[600], text[700];
	char detail[1200];
	const char *name = program_invocation_name;
	pid_t pid = getpid();
	sigset_t mask;
	int n;

	if(!report_fn || !local_code(code) || !report_allowed())
		return;
	if(mid_record_subject) {
		pid = mid_record_subject;
		if(mid_enforce_subject_name)
			name = mid_enforce_subject_name(pid);
	}
	/* midd takes a program name of 63 bytes and a detail of 511. */
	snprintf(text, sizeof(text), "%.63s", name);
	if(!mid_json_str(prog, sizeof(prog), text))
		return;
	snprintf(text, sizeof(text), "%s %.440s (%s)", kind, target, code);
	if(!mid_json_str(dev, sizeof(dev), cfg->device) ||
	   !mid_json_str(detail, sizeof(detail), text))
		return;
	n = snprintf(body, sizeof(body), "{\"deviceId\":%s,\"event\":\"%s\",\"program\":%.258s,"
		     "\"pid\":%d,\"rule\":\"%d\",\"detail\":%.514s}", dev,
		     soft ? "AUDIT_WOULD_DENY" : code, prog, (int)pid, rule, detail);
	if(n < 0 || n >= (int)sizeof(body))
		return;
	if(rule <= 0) /* no rule: leave the member out */
		n = snprintf(body, sizeof(body), "{\"deviceId\":%s,\"event\":\"%s\",\"program\":"
			     "%.258s,\"pid\":%d,\"detail\":%.514s}", dev,
			     soft ? "AUDIT_WOULD_DENY" : code, prog, (int)pid, detail);
	if(n < 0 || n >= (int)sizeof(body))
		return;
	mid_shim_enter(&mask);
	report_fn(body, (size_t)n);
	mid_shim_leave(&mask);
}

/* 'soft': audit mode lets the call go on. 'returns': the denied call
 * fails or goes on, so it may come again. */
static void log_denial(const struct mid_config *cfg, const struct mid_event *ev, const char *code,
		       const char *request_id, int rule, const char *action, bool soft,
		       bool returns)
{
	char kind[32], target[1100], c[MID_CODE_MAX], r[MID_REQUEST_ID_MAX];
	char ruletxt[32] = "", say[1400 + MID_URL_MAX], from[MID_URL_MAX + 8] = "";
	const char *o = origin ? origin() : NULL;
	struct mid_record_denial d;

	describe(ev, kind, sizeof(kind), target, sizeof(target));
	if(o && *o)
		snprintf(from, sizeof(from), ", midd %s", o);
	clean(c, sizeof(c), code ? code : "-");
	clean(r, sizeof(r), request_id ? request_id : "-");
	if(rule >= 0)
		snprintf(ruletxt, sizeof(ruletxt), ", rule %d", rule + 1);
	snprintf(say, sizeof(say), "%s %s %.700s (device %s, code %s, request_id %s%s%s): %s",
		 soft ? "would deny" : "denied", kind, target, cfg->device, c, r, ruletxt, from,
		 action);
	d = (struct mid_record_denial){
		.ev = ev, .kind = kind, .target = target, .code = c, .request_id = r,
		.action = action, .say = say, .rule = rule,
		.decision = soft ? "would_deny" : "deny",
		/* --quiet silences what audit mode lets through; a denial
		 * keeps its one line. */
		.quiet = cfg->quiet && soft,
	};
	mid_record_denial(cfg, &d, returns);
	report(cfg, kind, target, c, rule >= 0 ? rule + 1 : 0, soft);
}

int mid_enforce(const struct mid_config *cfg, const struct mid_event *ev, const char *code,
		const char *request_id, int rule)
{
	struct sigaction dfl;
	char buf[32];
	int e = errno;
	bool soft;

	if(!cfg) {
		/* No configuration means the constructor never ran to the
		 * end: fail closed. */
		mid_shim_say("denied: not configured: killed");
		kill(getpid(), SIGKILL);
		_exit(126);
	}
	soft = cfg->mode == MID_MODE_AUDIT && !mid_enforce_hard(code);
	log_denial(cfg, ev, code, request_id, rule, action_text(cfg, soft, buf, sizeof(buf)), soft,
		   soft || cfg->on_deny == MID_DENY_ERRNO || cfg->deny_returns);
	if(soft) {
		errno = e;
		return 0;
	}
	if(cfg->deny_returns) {
		errno = EPERM;
		return -1;
	}
	switch(cfg->on_deny) {
	case MID_DENY_ERRNO:
		errno = EPERM;
		return -1;
	case MID_DENY_EXIT:
		_exit(cfg->exit_code);
	case MID_DENY_ABORT:
		/* The program may not catch or ignore this: reset, unblock,
		 * raise; SIGKILL if it still runs. */
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGABRT, &dfl, NULL);
		{
			sigset_t s;
			sigemptyset(&s);
			sigaddset(&s, SIGABRT);
			pthread_sigmask(SIG_UNBLOCK, &s, NULL);
		}
		raise(SIGABRT);
		kill(getpid(), SIGKILL);
		_exit(134);
	case MID_DENY_KILL:
		break;
	}
	kill(getpid(), SIGKILL);
	_exit(137); /* not reached */
}
