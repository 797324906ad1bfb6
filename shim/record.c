/* SPDX-License-Identifier: MIT */
/*
 * Records of denials: the stderr line, the structured JSON line of the
 * audit log and the syslog line, with repeats counted. A program in audit
 * mode (or with on_deny=errno) that retries a denied call in a loop would
 * otherwise write one line per try; here the first try is written at
 * once and the rest are counted in a table of MID_RECORD_SLOTS recent
 * events, whose counts are written as one "repeat" line per event and
 * window, when the slot is needed for another event, before an exec and
 * at exit. Only denials come here, so an allowed call never touches it.
 */
#define _GNU_SOURCE
#include "record.h"
#include "base.h"
#include "sigevent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX 2400
#define SAY_MAX 1400

struct slot {
	uint64_t key;       /* 0: free */
	uint64_t used_ms;   /* last occurrence, for eviction */
	uint64_t since_ms;  /* first occurrence not yet written, when 'pending' */
	uint32_t pending;   /* occurrences counted, not yet written */
	bool say;           /* print the repeats to stderr */
	char body[BODY_MAX];
	char line[SAY_MAX];  /* the stderr line, without "midshim: " */
	char slog[SAY_MAX];  /* the syslog message */
};

pid_t mid_record_subject;
static struct slot slots[MID_RECORD_SLOTS];
static atomic_flag busy = ATOMIC_FLAG_INIT;
/* Slots with pending counts: lets mid_record_flush return at once. With
 * the hot data, not in .bss: every gated process reads them at exit, and
 * a first read of a .bss page is a page fault. */
MID_HOT static _Atomic unsigned npending;
MID_HOT static _Atomic bool used; /* some slot was ever claimed */
MID_HOT static const struct mid_config *flush_cfg;

/* Append to 'b' (of BODY_MAX, length '*n'); a field that does not fit is
 * left out whole. */
static void add(char *b, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *b, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if(*n >= BODY_MAX)
		return;
	va_start(ap, fmt);
	k = vsnprintf(b + *n, BODY_MAX - *n, fmt, ap);
	va_end(ap);
	if(k > 0 && (size_t)k < BODY_MAX - *n)
		*n += (size_t)k;
	else
		b[*n] = '\0';
}

/* ,"name":"value" with 'v' escaped, unless 'v' is NULL. */
static void add_str(char *b, size_t *n, const char *name, const char *v)
{
	char q[1100];

	if(v && mid_json_str(q, sizeof(q), v))
		add(b, n, ",\"%s\":%s", name, q);
}

/* The rule that decided 'ev': 'rule' when the caller knows it, else the
 * policy's answer again (a validate that midd refused). */
static void add_rule(char *b, size_t *n, const struct mid_config *cfg, const struct mid_event *ev,
		     int rule)
{
	if(rule < 0 && (ev->kind == MID_EV_START || ev->kind == MID_EV_FORK)) {
		add(b, n, ",\"rule\":null");
		return;
	}
	if(rule < 0 && cfg->policy)
		(void)mid_policy_match(cfg->policy, ev, &rule);
	if(rule >= 0)
		add(b, n, ",\"rule\":%d", rule + 1);
	else
		add(b, n, ",\"rule\":\"default\"");
}

/* Everything of the JSON line but time, pid and count. */
static void body(const struct mid_config *cfg, const struct mid_record_denial *d, char *b)
{
	const struct mid_event *ev = d->ev;
	char exe[512], a[INET6_ADDRSTRLEN];
	const char *kind = d->kind;
	ssize_t k;
	size_t n = 0;

	b[0] = '\0';
	if(!strncmp(kind, "fs ", 3))
		kind = "fs";
	add(b, &n, "\"device\":\"%s\",\"mode\":\"%s\",\"decision\":\"%s\",\"event\":\"%s\","
	    "\"kind\":\"%s\"", cfg->device, cfg->mode == MID_MODE_AUDIT ? "audit" : "enforce",
	    d->decision, d->kind, kind);
	switch(ev->kind) {
	case MID_EV_FS:
		add(b, &n, ",\"op\":\"%s\"", mid_fsop_name(ev->op));
		add_str(b, &n, "path", ev->path);
		add_str(b, &n, "path2", ev->path2);
		break;
	case MID_EV_WRITE:
		add(b, &n, ",\"fd\":\"%s\"", mid_fdkind_name(ev->fdkind));
		add_str(b, &n, "path", ev->path);
		break;
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		if(ev->kind == MID_EV_SEND)
			add(b, &n, ",\"fd\":\"socket\"");
		if(ev->family == AF_UNIX) {
			add_str(b, &n, "path", ev->path);
		} else if(ev->family == AF_INET || ev->family == AF_INET6) {
			inet_ntop(ev->family, ev->addr, a, sizeof(a));
			add(b, &n, ",\"addr\":\"%s\",\"port\":%u", a, ev->port);
			add_str(b, &n, "host", ev->host);
		}
		break;
	case MID_EV_EXEC:
		add_str(b, &n, "path", ev->path);
		break;
	case MID_EV_SIGNAL:
		if(ev->pid != MID_SIGNAL_UNKNOWN)
			add(b, &n, ",\"target_pid\":%d", ev->pid);
		add(b, &n, ",\"sig\":%d", ev->sig);
		add_str(b, &n, "path", ev->path);
		break;
	case MID_EV_TTY_INJECT:
		add(b, &n, ",\"fd\":\"tty\"");
		add_str(b, &n, "path", ev->path);
		break;
	default:
		break;
	}
	add(b, &n, ",\"target\":\"%s\",\"code\":\"%s\",\"request_id\":\"%s\"", d->target, d->code,
	    d->request_id);
	add_rule(b, &n, cfg, ev, d->rule);
	add(b, &n, ",\"action\":\"%s\"", d->action);
	k = readlink("/proc/self/exe", exe, sizeof(exe));
	if(k > 0 && (size_t)k < sizeof(exe)) {
		exe[k] = '\0';
		add_str(b, &n, "exe", exe);
	}
	add_str(b, &n, "argv0", program_invocation_name);
}

/* The line is written in one writev, so that lines of processes sharing
 * the log (O_APPEND) do not interleave. */
static void write_line(const struct mid_config *cfg, const char *b, uint32_t count, bool repeat)
{
	char head[96], tail[48], ts[40];
	struct iovec iov[3];
	struct timespec now;
	struct tm tm;
	int fd, h, t;

	if(!cfg->audit_log)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	h = snprintf(head, sizeof(head), "{\"time\":\"%.24s.%03ldZ\",\"pid\":%d,", ts,
		     now.tv_nsec / 1000000,
		     (int)(mid_record_subject ? mid_record_subject : getpid()));
	t = snprintf(tail, sizeof(tail), ",\"count\":%u%s}\n", count,
		     repeat ? ",\"repeat\":true" : "");
	if(h < 0 || h >= (int)sizeof(head) || t < 0 || t >= (int)sizeof(tail))
		return;
	iov[0] = (struct iovec){head, (size_t)h};
	iov[1] = (struct iovec){(void *)(uintptr_t)b, strlen(b)};
	iov[2] = (struct iovec){tail, (size_t)t};
	fd = open(cfg->audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if(fd >= 0) {
		(void)writev(fd, iov, 3);
		close(fd);
	}
}

/*
 * One datagram to the syslog socket, as syslog(3) would send it for
 * LOG_USER|LOG_WARNING with the ident "midshim" and LOG_PID, but on a
 * socket of its own: openlog() would replace the program's own ident
 * and facility. No timestamp: the receiver stamps it (syslog(3)'s would
 * need the local time zone, which is not safe in a signal handler).
 */
static void send_syslog(const struct mid_config *cfg, const char *msg, uint32_t count)
{
	struct sockaddr_un sa;
	char dg[SAY_MAX + 64];
	int fd, n;

	if(!cfg->syslog)
		return;
	n = snprintf(dg, sizeof(dg), "<%d>midshim[%d]: %s count=%u", 1 << 3 | 4,
		     (int)(mid_record_subject ? mid_record_subject : getpid()),
		     msg, count);
	if(n < 0)
		return;
	if(n >= (int)sizeof(dg))
		n = (int)sizeof(dg) - 1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	mid_strlcpy(sa.sun_path, cfg->syslog_socket ? cfg->syslog_socket : "/dev/log",
		    sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return;
	(void)sendto(fd, dg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}

/* The syslog message: key=value, strings quoted (they hold no quote). */
static void syslog_text(const struct mid_config *cfg, const struct mid_record_denial *d, char *out,
			size_t len)
{
	char exe[512];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[k > 0 ? k : 0] = '\0';
	for(char *p = exe; *p; p++)
		if(*p == '"' || (unsigned char)*p < ' ')
			*p = '?';
	snprintf(out, len, "decision=%s event=\"%s\" target=\"%.400s\" device=\"%s\" code=%s "
		 "request_id=%s rule=%d action=\"%s\" mode=%s exe=\"%.200s\"", d->decision, d->kind,
		 d->target, cfg->device, d->code, d->request_id, d->rule >= 0 ? d->rule + 1 : 0,
		 d->action, cfg->mode == MID_MODE_AUDIT ? "audit" : "enforce", exe);
}

static uint64_t hash(uint64_t h, const char *s)
{
	for(; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

/* Write slot 's''s counted repeats, if any. Holds 'busy'. */
static void flush_slot(const struct mid_config *cfg, struct slot *s)
{
	if(!s->key || !s->pending)
		return;
	if(s->say)
		mid_shim_say("%s (repeated %u more time%s)", s->line, s->pending,
			     s->pending == 1 ? "" : "s");
	write_line(cfg, s->body, s->pending, true);
	send_syslog(cfg, s->slog, s->pending);
	s->pending = 0;
	atomic_fetch_sub(&npending, 1);
}

/* Count 'key' if it was recorded within the window; else claim a slot
 * for it (the least recently used, its counts written first) and return
 * it for the caller to fill. NULL with '*counted' when counted. */
static struct slot *note(const struct mid_config *cfg, uint64_t key, uint64_t now, bool *counted)
{
	struct slot *s, *lru = &slots[0];

	*counted = false;
	for(s = slots; s < slots + MID_RECORD_SLOTS; s++) {
		if(s->key && s->pending && now - s->since_ms >= MID_RECORD_WINDOW_MS)
			flush_slot(cfg, s);
		if(s->key == key) {
			s->used_ms = now;
			if(!s->pending) {
				s->since_ms = now;
				atomic_fetch_add(&npending, 1);
			}
			s->pending++;
			*counted = true;
			return NULL;
		}
		if(!s->key || (lru->key && s->used_ms < lru->used_ms))
			lru = s;
	}
	flush_slot(cfg, lru);
	atomic_store_explicit(&used, true, memory_order_relaxed);
	lru->key = key;
	lru->used_ms = now;
	lru->pending = 0;
	return lru;
}

void mid_record_denial(const struct mid_config *cfg, const struct mid_record_denial *d,
		      bool repeatable)
{
	char b[BODY_MAX], slog[SAY_MAX];
	struct slot *s = NULL;
	bool counted = false, say = !d->quiet;
	sigset_t mask;
	uint64_t key;

	mid_shim_enter(&mask);
	flush_cfg = cfg;
	if(repeatable && !atomic_flag_test_and_set(&busy)) {
		key = hash(hash(hash(hash(0xcbf29ce484222325ull, d->kind), d->target), d->code),
			   d->decision) ^ (uint64_t)(d->rule + 2);
		s = note(cfg, key ? key : 1, mid_now_ms(), &counted);
		if(counted) {
			atomic_flag_clear(&busy);
			mid_shim_leave(&mask);
			return;
		}
	}
	if(say)
		mid_shim_say("%s", d->say);
	body(cfg, d, b);
	write_line(cfg, b, 1, false);
	if(cfg->syslog) {
		syslog_text(cfg, d, slog, sizeof(slog));
		send_syslog(cfg, slog, 1);
	}
	if(s) {
		memcpy(s->body, b, sizeof(b));
		mid_strlcpy(s->line, d->say, sizeof(s->line));
		if(cfg->syslog)
			memcpy(s->slog, slog, sizeof(slog));
		s->say = say;
	}
	if(repeatable && s)
		atomic_flag_clear(&busy);
	mid_shim_leave(&mask);
}

MID_STARTUP void mid_record_flush(void)
{
	sigset_t mask;

	if(!atomic_load_explicit(&npending, memory_order_relaxed) || !flush_cfg)
		return;
	mid_shim_enter(&mask);
	if(!atomic_flag_test_and_set(&busy)) {
		for(struct slot *s = slots; s < slots + MID_RECORD_SLOTS; s++)
			flush_slot(flush_cfg, s);
		atomic_flag_clear(&busy);
	}
	mid_shim_leave(&mask);
}

void mid_record_atfork_child(void)
{
	/* Untouched unless used: a page written after fork is a page copied. */
	if(!atomic_load_explicit(&used, memory_order_relaxed))
		return;
	for(struct slot *s = slots; s < slots + MID_RECORD_SLOTS; s++) {
		s->key = 0;
		s->pending = 0;
	}
	atomic_store(&npending, 0);
	atomic_flag_clear(&busy);
}

__attribute__((destructor)) static void audit_at_exit(void)
{
	mid_record_flush();
}
