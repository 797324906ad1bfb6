/* SPDX-License-Identifier: MIT */
/*
 * midctl's commands: each makes one call to midd and turns the answer into
 * an exit status and either aligned text for a person or midd's own JSON
 * for a script. Everything midd sends is printed with control characters
 * replaced, so a hostile device ID cannot drive the operator's terminal.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "mid_key.h"
#include "midctl.h"

#define TABLE_COLS 8
#define CELL_MAX 512
#define AUDIT_DEFAULT 100 /* audit entries shown without --limit */
#define AUDIT_PAGE 1000   /* the most midd gives in one answer */
#define ERR_MAX (MID_URL_MAX + 1024)

void mid_ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("midctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int mid_ctl_check_device(const char *device)
{
	if(!mid_device_ok(device, strlen(device))) {
		mid_ctl_err("the device ID must be 1 to %d bytes of printable ASCII without "
			    "spaces, like service:env:role:instance", MID_DEVICE_MAX);
		return MID_CTL_EXIT_USAGE;
	}
	return MID_CTL_EXIT_OK;
}

/* Copy 's' for printing: control characters become '?', and a string
 * longer than the buffer ends in "...". Returns 'buf'. */
static const char *clean(const char *s, char *buf, size_t len)
{
	size_t i;

	for(i = 0; s[i] && i + 1 < len; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	if(s[i] && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Any JSON scalar as text: strings cleaned, integers without a fraction,
 * null and absent fields as 'none'. */
static const char *fmt_val(const cJSON *v, const char *none, char *buf, size_t len)
{
	if(cJSON_IsString(v))
		return clean(v->valuestring, buf, len);
	if(cJSON_IsNumber(v)) {
		if(v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
		else
			snprintf(buf, len, "%g", v->valuedouble);
		return buf;
	}
	if(cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	return none;
}

/* A time stamp as midd sends it: a string is shown as is; a number is
 * seconds or, when it is too large for that, milliseconds since the
 * epoch, shown in UTC. */
static const char *fmt_time(const cJSON *v, char *buf, size_t len)
{
	double t;
	time_t secs;
	struct tm tm;

	if(!cJSON_IsNumber(v))
		return fmt_val(v, "never", buf, len);
	t = v->valuedouble;
	if(t <= 0)
		return "never";
	if(t >= 1e11)
		t /= 1000;
	secs = (time_t)t;
	if(!gmtime_r(&secs, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return fmt_val(v, "never", buf, len);
	return buf;
}

/* ---- aligned tables ------------------------------------------------ */

struct table {
	size_t ncol, nrow, cap;
	char **cell; /* nrow * ncol owned strings */
	size_t width[TABLE_COLS];
	bool nomem;
};

/* Terminal columns of a UTF-8 string, close enough for alignment. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for(; *s; s++)
		if(((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void table_add(struct table *t, const char *const *row)
{
	size_t i;

	if(t->nomem)
		return;
	if(t->nrow == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 32;
		char **n = realloc(t->cell, cap * t->ncol * sizeof(*n));

		if(!n) {
			t->nomem = true;
			return;
		}
		t->cell = n;
		t->cap = cap;
	}
	for(i = 0; i < t->ncol; i++) {
		char *s = strdup(row[i]);
		size_t w;

		if(!s) {
			while(i-- > 0)
				free(t->cell[t->nrow * t->ncol + i]);
			t->nomem = true;
			return;
		}
		t->cell[t->nrow * t->ncol + i] = s;
		w = text_width(s);
		if(w > t->width[i])
			t->width[i] = w;
	}
	t->nrow++;
}

static void table_print(const struct table *t)
{
	size_t r, i;

	for(r = 0; r < t->nrow; r++) {
		for(i = 0; i < t->ncol; i++) {
			const char *s = t->cell[r * t->ncol + i];

			fputs(s, stdout);
			if(i + 1 < t->ncol) {
				size_t pad = t->width[i] - text_width(s) + 2;
				while(pad--)
					putchar(' ');
			}
		}
		putchar('\n');
	}
}

/* Prints 't', or 'none' when it has no row under its head; a row it
 * could not keep makes it "WHAT: out of memory" and a refusal instead. */
static int table_show(const struct table *t, const char *what, const char *none)
{
	if(t->nomem) {
		mid_ctl_err("%s: out of memory", what);
		return MID_CTL_EXIT_REFUSED;
	}
	if(t->nrow > 1)
		table_print(t);
	else
		puts(none);
	return MID_CTL_EXIT_OK;
}

static void table_free(struct table *t)
{
	size_t i;

	for(i = 0; i < t->nrow * t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrow = t->cap = 0;
}

/* ---- calls ---------------------------------------------------------- */

static void print_raw(const struct mid_ctl_reply *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if(!r->len || r->body[r->len - 1] != '\n')
		putchar('\n');
}

/* midd refused: show its code and message, and what to do about the
 * usual causes. */
static void refused(const struct mid_ctl *c, const char *what,
		    const struct mid_ctl_reply *r)
{
	char code[MID_CODE_MAX], msg[512];
	const char *e = r->json ? jstr(r->json, "error") : NULL;
	const char *m = r->json ? jstr(r->json, "message") : NULL;
	const char *hint = "";

	if(r->status == 403 && !c->admin)
		hint = "; only the org key is configured: give the admin key with "
		       "--admin-key-file, MIDSHIM_ADMIN_KEY or MIDSHIM_ADMIN_KEY_FILE";
	else if(r->status == 401)
		hint = "; check the key file or MIDSHIM_*_KEY variables";
	if(e) {
		mid_ctl_err("%s: %s: %s (HTTP %ld)%s", what, clean(e, code, sizeof(code)),
			    m ? clean(m, msg, sizeof(msg)) : "no message", r->status, hint);
		return;
	}
	mid_ctl_err("%s: midd answered HTTP %ld: %s%s", what, r->status,
		    r->len ? clean(r->body, msg, 200) : "(empty body)", hint);
}

/*
 * One call to midd. Returns MID_CTL_EXIT_OK when the answer is a 2xx JSON
 * object, left in 'r' for the caller (who cleans it up in every case).
 * Otherwise prints why, prefixed by 'what', and returns the exit status.
 */
static int call(struct mid_ctl *c, const char *what, const char *method, const char *path,
		const char *body, struct mid_ctl_reply *r)
{
	char err[ERR_MAX];
	enum mid_rc rc;

	rc = mid_ctl_http_call(c->http, method, path, body, r, err, sizeof(err));
	if(rc) {
		mid_ctl_err("%s: %s", what, err);
		return (rc == MID_ERR_UNREACHABLE || rc == MID_ERR_TIMEOUT) ?
			       MID_CTL_EXIT_UNREACHABLE : MID_CTL_EXIT_REFUSED;
	}
	if(r->status < 200 || r->status > 299) {
		if(c->json && r->json)
			print_raw(r);
		refused(c, what, r);
		return MID_CTL_EXIT_REFUSED;
	}
	if(!cJSON_IsObject(r->json)) {
		mid_ctl_err("%s: midd at %s answered HTTP %ld with a body that is not a JSON "
			    "object", what, c->url, r->status);
		return MID_CTL_EXIT_REFUSED;
	}
	return MID_CTL_EXIT_OK;
}

int mid_ctl_call(struct mid_ctl *c, const char *what, const char *method, const char *path,
		 const char *body, struct mid_ctl_reply *r)
{
	return call(c, what, method, path, body, r);
}

void mid_ctl_print_raw(const struct mid_ctl_reply *r)
{
	print_raw(r);
}

/* A JSON body {"NAME": "VALUE"}. Caller frees the result. */
static char *body_with(const char *name, const char *value)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if(o && cJSON_AddStringToObject(o, name, value))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if(!s)
		mid_ctl_err("out of memory");
	return s;
}

static const char *request_id(const struct mid_ctl_reply *r, char *buf, size_t len)
{
	const char *id = jstr(r->json, "request_id");

	return id ? clean(id, buf, len) : "-";
}

/* ---- device actions ------------------------------------------------- */

/* A change toward deny that midd applied but could not yet write: one
 * warning line, since the change is in force now but may not outlive a
 * restart of midd. */
static void warn_unpersisted(const char *what, const struct mid_ctl_reply *r, const char *rid)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(r->json, "persisted");

	if(!cJSON_IsFalse(p))
		return;
	if(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "journaled")))
		mid_ctl_err("warning: %s: in force, but not yet in midd's database (persisted:"
			    " false); midd retries, and its deny journal keeps it across a"
			    " restart; see 'midctl status' (request_id %s)", what, rid);
	else
		mid_ctl_err("warning: %s: in force, but neither in midd's database nor in its"
			    " deny journal (persisted: false): it is lost if midd restarts before"
			    " storage is back; see 'midctl status' (request_id %s)", what, rid);
}

static const struct {
	const char *action, *path, *done;
} actions[] = {
	{"register", "/api/v1/devices/register", "registered"},
	{"revoke", "/api/v1/devices/revoke", "revoked"},
	{"restore", "/api/v1/devices/unrevoke", "restored"},
	{"remove", "/api/v1/devices/remove", "removed"},
};

/* register answers 200 even when it did not register: its status says. */
static int register_status(const char *what, const char *device, const char *status,
			   const char *rid, bool quiet)
{
	char dev[MID_DEVICE_MAX + 1], st[64];

	clean(device, dev, sizeof(dev));
	if(!strcmp(status, "ok")) {
		if(!quiet)
			printf("registered %s (request_id %s)\n", dev, rid);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(status, "exists")) {
		if(!quiet)
			printf("%s is already registered (request_id %s)\n", dev, rid);
		return MID_CTL_EXIT_OK;
	}
	if(!strcmp(status, "limit_reached")) {
		mid_ctl_err("%s: limit_reached: the org has no free device slot; remove a "
			    "device to free one (request_id %s)", what, rid);
		return MID_CTL_EXIT_REFUSED;
	}
	if(!strcmp(status, "removed")) {
		mid_ctl_err("%s: removed: the device was removed; 'midctl restore %s' allows "
			    "it again (request_id %s)", what, dev, rid);
		return MID_CTL_EXIT_REFUSED;
	}
	mid_ctl_err("%s: midd answered an unknown status '%s' (request_id %s)", what,
		    clean(status, st, sizeof(st)), rid);
	return MID_CTL_EXIT_REFUSED;
}

int mid_ctl_device(struct mid_ctl *c, const char *action, const char *device)
{
	char what[MID_DEVICE_MAX + 32], rid[MID_REQUEST_ID_MAX], dev[MID_DEVICE_MAX + 1];
	struct mid_ctl_reply r = {0};
	const char *status;
	char *body = NULL;
	size_t i;
	int ex;

	for(i = 0; i < MID_ARRAY_LEN(actions); i++)
		if(!strcmp(action, actions[i].action))
			break;
	if(i == MID_ARRAY_LEN(actions)) {
		mid_ctl_err("unknown device action '%s'", action);
		return MID_CTL_EXIT_USAGE;
	}
	ex = mid_ctl_check_device(device);
	if(ex)
		return ex;
	snprintf(what, sizeof(what), "%s %s", action, clean(device, dev, sizeof(dev)));
	body = body_with("deviceId", device);
	if(!body) {
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	ex = call(c, what, "POST", actions[i].path, body, &r);
	if(ex)
		goto out;
	if(c->json)
		print_raw(&r);
	request_id(&r, rid, sizeof(rid));
	status = jstr(r.json, "status");
	if(!status) {
		mid_ctl_err("%s: midd's answer has no status (request_id %s)", what, rid);
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	if(i == 0) {
		ex = register_status(what, device, status, rid, c->json);
		goto out;
	}
	if(strcmp(status, "ok")) {
		char st[64];
		mid_ctl_err("%s: midd answered status '%s' (request_id %s)", what,
			    clean(status, st, sizeof(st)), rid);
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	if(!c->json)
		printf("%s %s (request_id %s)\n", actions[i].done, dev, rid);
	warn_unpersisted(what, &r, rid);
out:
	free(body);
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* The body of a bulk revoke: {"match": GLOB, "dryRun": DRY[, "expect": N]}. */
static char *match_body(const char *glob, bool dry, long expect)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if(o && cJSON_AddStringToObject(o, "match", glob) && cJSON_AddBoolToObject(o, "dryRun", dry) &&
	   (expect < 0 || cJSON_AddNumberToObject(o, "expect", (double)expect)))
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if(!s)
		mid_ctl_err("out of memory");
	return s;
}

/* Ask on the terminal whether to revoke 'n' devices: the answer must be
 * the count itself, so a reflexive "y" does not do it. */
static bool confirm_count(long n, const char *glob)
{
	char line[32], g[MID_DEVICE_MAX + 1];

	printf("revoke %ld devices matching %s? type %ld to confirm: ", n,
	       clean(glob, g, sizeof(g)), n);
	fflush(stdout);
	if(!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strtol(line, NULL, 10) == n && line[strspn(line, "0123456789")] == '\0';
}

int mid_ctl_revoke_match(struct mid_ctl *c, const char *glob, bool yes)
{
	char what[MID_DEVICE_MAX + 32], rid[MID_REQUEST_ID_MAX], g[MID_DEVICE_MAX + 1], d[MID_DEVICE_MAX + 1];
	struct mid_ctl_reply r = {0};
	const cJSON *v, *id;
	char *body;
	long n;
	int ex;

	snprintf(what, sizeof(what), "revoke --match %s", clean(glob, g, sizeof(g)));
	body = match_body(glob, true, -1);
	if(!body)
		return MID_CTL_EXIT_REFUSED;
	ex = call(c, what, "POST", "/api/v1/devices/revoke-match", body, &r);
	free(body);
	v = ex ? NULL : cJSON_GetObjectItemCaseSensitive(r.json, "matched");
	if(!ex && !cJSON_IsNumber(v)) {
		mid_ctl_err("%s: midd's answer has no count", what);
		ex = MID_CTL_EXIT_REFUSED;
	}
	if(ex) {
		mid_ctl_reply_cleanup(&r);
		return ex;
	}
	n = (long)v->valuedouble;
	if(n == 0) {
		if(c->json)
			print_raw(&r);
		else
			printf("no active device matches %s; nothing revoked\n", g);
		mid_ctl_reply_cleanup(&r);
		return MID_CTL_EXIT_OK;
	}
	if(!c->json) {
		printf("%ld active devices match %s:\n", n, g);
		cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(r.json, "devices"))
			if(cJSON_IsString(id))
				printf("  %s\n", clean(id->valuestring, d, sizeof(d)));
		if(n > cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.json, "devices")))
			printf("  ...\n");
	}
	mid_ctl_reply_cleanup(&r);
	if(!yes && !isatty(STDIN_FILENO)) {
		mid_ctl_err("%s: %ld devices match; give --yes to revoke them without a prompt", what, n);
		return MID_CTL_EXIT_USAGE;
	}
	if(!yes && !confirm_count(n, glob)) {
		mid_ctl_err("%s: not confirmed; nothing revoked", what);
		return MID_CTL_EXIT_REFUSED;
	}
	body = match_body(glob, false, n);
	if(!body)
		return MID_CTL_EXIT_REFUSED;
	ex = call(c, what, "POST", "/api/v1/devices/revoke-match", body, &r);
	free(body);
	if(!ex) {
		v = cJSON_GetObjectItemCaseSensitive(r.json, "revoked");
		request_id(&r, rid, sizeof(rid));
		if(c->json)
			print_raw(&r);
		else
			printf("revoked %ld devices matching %s (request_id %s)\n",
			       cJSON_IsNumber(v) ? (long)v->valuedouble : 0L, g, rid);
		warn_unpersisted(what, &r, rid);
	}
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* ---- status --------------------------------------------------------- */

static const cJSON *find_device(const cJSON *list, const char *device)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(list, "devices")) {
		const char *id = jstr(d, "deviceId");
		if(id && !strcmp(id, device))
			return d;
	}
	return NULL;
}

/* What validate would answer for a device in 'state' (NULL: not
 * registered), the way midd decides: the org switch first, then the
 * device's own state. NULL for a state midctl does not know. */
static const char *would_answer(const char *state, bool org_disabled)
{
	if(org_disabled)
		return "ORG_DISABLED";
	if(!state)
		return "DEVICE_NOT_FOUND";
	if(!strcmp(state, "active"))
		return "ALLOW";
	if(!strcmp(state, "revoked"))
		return "DEVICE_REVOKED";
	if(!strcmp(state, "removed"))
		return "DEVICE_REMOVED";
	return NULL;
}

/* The mode its processes reported, for a person. */
static const char *mode_text(const char *mode)
{
	if(!mode || !strcmp(mode, "unknown"))
		return "unknown (no process has reported one)";
	if(!strcmp(mode, "audit"))
		return "audit (policy denials are logged only; revoke still stops it)";
	if(!strcmp(mode, "mixed"))
		return "mixed (processes in audit and in enforce mode)";
	if(!strcmp(mode, "enforce"))
		return "enforce";
	return "unknown";
}

static int status_json(const cJSON *dev, const char *device, bool org_disabled,
		       const char *code, const struct mid_ctl_reply *r)
{
	cJSON *o = dev ? cJSON_Duplicate(dev, 1) : cJSON_CreateObject();
	cJSON *v = cJSON_CreateObject();
	const cJSON *pending;
	const char *rid = jstr(r->json, "request_id");
	char *s = NULL;

	if(!o || !v)
		goto out;
	if(!dev && !cJSON_AddStringToObject(o, "deviceId", device))
		goto out;
	if(!cJSON_AddBoolToObject(v, "allowed", code && !strcmp(code, "ALLOW")) ||
	   !(code ? cJSON_AddStringToObject(v, "code", code) : cJSON_AddNullToObject(v, "code")))
		goto out;
	pending = cJSON_GetObjectItemCaseSensitive(r->json, "pending_persistence");
	if(!cJSON_AddBoolToObject(o, "registered", dev != NULL) ||
	   !cJSON_AddBoolToObject(o, "org_disabled", org_disabled) ||
	   !(cJSON_IsNumber(pending) ?
		     cJSON_AddNumberToObject(o, "pending_persistence", pending->valuedouble) :
		     cJSON_AddNullToObject(o, "pending_persistence")))
		goto out;
	cJSON_AddItemToObject(o, "validate", v);
	v = NULL;
	if(rid && !cJSON_AddStringToObject(o, "request_id", rid))
		goto out;
	s = cJSON_PrintUnformatted(o);
	if(s)
		puts(s);
out:
	cJSON_Delete(o);
	cJSON_Delete(v);
	if(!s)
		mid_ctl_err("out of memory");
	free(s);
	return s ? MID_CTL_EXIT_OK : MID_CTL_EXIT_REFUSED;
}

/* A keeper of `midshim adopt`, over http/unix or over TLS. */
static int adopt_kind(const char *kind)
{
	return kind && (!strcmp(kind, MID_KIND_ADOPT) || !strcmp(kind, MID_KIND_ADOPT_TLS));
}

/* The trees `midshim adopt` keeps for the device: their keepers' channels. */
static void adopted_lines(const cJSON *dev)
{
	const cJSON *p;
	char b1[CELL_MAX], b2[CELL_MAX], b3[CELL_MAX];

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(dev, "processes")) {
		const char *kind = jstr(p, "channel"), *prog = jstr(p, "program");

		if(!adopt_kind(kind) || !prog)
			continue;
		printf("adopted     PIDs %s, keeper %s, since %s%s\n",
		       clean(MID_HAS_PREFIX(prog, "adopt:") ? prog + 6 : prog, b1, sizeof(b1)),
		       fmt_val(cJSON_GetObjectItemCaseSensitive(p, "pid"), "?", b2, sizeof(b2)),
		       fmt_time(cJSON_GetObjectItemCaseSensitive(p, "since"), b3, sizeof(b3)),
		       strcmp(kind, MID_KIND_ADOPT) ? ", over TLS" : "");
	}
}

/* The device's live processes, those holding a push channel of their
 * own (preload) or through their launcher: a revoke kills them at once.
 * At most STATUS_PROCS lines; the count is always shown. */
#define STATUS_PROCS 20
static void process_lines(const cJSON *dev)
{
	const cJSON *p;
	char b1[CELL_MAX], b2[CELL_MAX], b3[CELL_MAX];
	int n = 0, shown = 0;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(dev, "processes")) {
		const char *kind = jstr(p, "channel");

		n += !adopt_kind(kind);
	}
	printf("processes   %d live, each killed at once by a revoke%s\n", n,
	       n ? " (PID, program, push channel, since):" : "");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(dev, "processes")) {
		const char *kind = jstr(p, "channel");

		if(adopt_kind(kind) || shown == STATUS_PROCS)
			continue;
		shown++;
		printf("            %s %s %s %s\n",
		       fmt_val(cJSON_GetObjectItemCaseSensitive(p, "pid"), "?", b1, sizeof(b1)),
		       fmt_val(cJSON_GetObjectItemCaseSensitive(p, "program"), "?", b2, sizeof(b2)),
		       kind ? kind : "?",
		       fmt_time(cJSON_GetObjectItemCaseSensitive(p, "since"), b3, sizeof(b3)));
	}
	if(shown < n)
		printf("            ... and %d more (midctl --json status %s)\n", n - shown,
		       clean(jstr(dev, "deviceId") ? jstr(dev, "deviceId") : "", b1, sizeof(b1)));
}

int mid_ctl_status(struct mid_ctl *c, const char *device)
{
	char what[MID_DEVICE_MAX + 32], path[3 * MID_DEVICE_MAX + 64], dev[MID_DEVICE_MAX + 1];
	char b1[CELL_MAX], rid[MID_REQUEST_ID_MAX];
	struct mid_ctl_reply r = {0};
	const char *state = NULL, *code;
	const cJSON *d, *pending;
	char *esc = NULL;
	bool off;
	int ex;

	ex = mid_ctl_check_device(device);
	if(ex)
		return ex;
	clean(device, dev, sizeof(dev));
	snprintf(what, sizeof(what), "status %s", dev);
	esc = mid_ctl_http_escape(c->http, device);
	if(!esc) {
		mid_ctl_err("out of memory");
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	snprintf(path, sizeof(path), "/api/v1/devices/list?deviceId=%s", esc);
	/* The list, not validate: a validate would count as the device's
	 * own traffic (last seen, validates, audit). */
	ex = call(c, what, "GET", path, NULL, &r);
	if(ex)
		goto out;
	d = find_device(r.json, device);
	off = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "org_disabled"));
	if(d)
		state = jstr(d, "state");
	code = would_answer(d ? (state ? state : "") : NULL, off);
	if(c->json)
		ex = status_json(d, device, off, code, &r);
	request_id(&r, rid, sizeof(rid));
	if(!d) {
		mid_ctl_err("%s: DEVICE_NOT_FOUND: no such device; validate would answer %s "
			    "(request_id %s)", what, code, rid);
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	if(c->json)
		goto out;
	printf("device      %s\n", dev);
	printf("state       %s%s\n", fmt_val(cJSON_GetObjectItemCaseSensitive(d, "state"),
					     "unknown", b1, sizeof(b1)),
	       cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(d, "persisted")) ?
		       " (in force, not yet in the database: midd retries)" : "");
	printf("created     %s\n",
	       fmt_time(cJSON_GetObjectItemCaseSensitive(d, "created"), b1, sizeof(b1)));
	printf("last seen   %s\n",
	       fmt_time(cJSON_GetObjectItemCaseSensitive(d, "last_seen"), b1, sizeof(b1)));
	printf("validates   %s\n", fmt_val(cJSON_GetObjectItemCaseSensitive(d, "validates"),
					   "0", b1, sizeof(b1)));
	printf("mode        %s\n", mode_text(jstr(d, "mode")));
	printf("org         %s%s\n", off ? "disabled" : "enabled",
	       cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r.json, "org_disabled_persisted")) ?
		       " (in force, not yet in the database: midd retries)" : "");
	pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending_persistence");
	if(cJSON_IsNumber(pending) && pending->valuedouble > 0)
		printf("storage     %s change(s) toward deny pending persistence: in force,"
		       " not yet in the database\n", fmt_val(pending, "?", b1, sizeof(b1)));
	else if(cJSON_IsNumber(pending))
		printf("storage     every change is persisted\n");
	process_lines(d);
	adopted_lines(d);
	printf("validate    %s\n", !code ? "unknown (unexpected device state)" :
				       !strcmp(code, "ALLOW") ? "allowed" : code);
	printf("request_id  %s\n", rid);
out:
	free(esc);
	mid_ctl_reply_cleanup(&r);
	return ex;
}

int mid_ctl_health(struct mid_ctl *c)
{
	char b1[CELL_MAX], b2[CELL_MAX];
	struct mid_ctl_reply r = {0};
	const cJSON *pending, *status;
	int ex;

	ex = call(c, "status", "GET", "/healthz", NULL, &r);
	if(ex)
		goto out;
	status = cJSON_GetObjectItemCaseSensitive(r.json, "status");
	pending = cJSON_GetObjectItemCaseSensitive(r.json, "pending_persistence");
	if(!cJSON_IsString(status) || strcmp(status->valuestring, "ok"))
		ex = MID_CTL_EXIT_REFUSED;
	if(c->json) {
		print_raw(&r);
		goto out;
	}
	printf("midd        %s\n", fmt_val(status, "unknown", b1, sizeof(b1)));
	printf("database    %s\n", fmt_val(cJSON_GetObjectItemCaseSensitive(r.json, "database"),
					   "unknown", b1, sizeof(b1)));
	if(cJSON_IsNumber(pending) && pending->valuedouble > 0)
		printf("pending     %s change(s) toward deny in force, not yet persisted, since"
		       " %s\n", fmt_val(pending, "?", b1, sizeof(b1)),
		       fmt_val(cJSON_GetObjectItemCaseSensitive(r.json, "pending_since"), "?", b2,
			       sizeof(b2)));
	else
		printf("pending     none: every change is persisted\n");
	printf("journal     %s%s\n",
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r.json, "journal_used")) ?
		       fmt_val(cJSON_GetObjectItemCaseSensitive(r.json, "journal_used"), "?", b1,
			       sizeof(b1)) : "unavailable: pending changes would not survive a restart",
	       cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r.json, "journal_used")) ?
		       " slot(s) in use" : "");
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* ---- list, usage, audit --------------------------------------------- */

/* The whole device list, page by page (midd answers at most
 * MIDCTL_LIST_PAGE devices a call, with the cursor "next"): every page's
 * devices are moved into the first reply's array. */
#define MIDCTL_LIST_PAGE 5000
static int list_all(struct mid_ctl *c, struct mid_ctl_reply *r)
{
	char path[96];
	struct mid_ctl_reply page = {0};
	cJSON *all, *next;
	int ex;

	snprintf(path, sizeof(path), "/api/v1/devices/list?limit=%d", MIDCTL_LIST_PAGE);
	ex = call(c, "list", "GET", path, NULL, r);
	all = ex ? NULL : cJSON_GetObjectItemCaseSensitive(r->json, "devices");
	next = ex ? NULL : cJSON_GetObjectItemCaseSensitive(r->json, "next");
	while(!ex && cJSON_IsArray(all) && cJSON_IsNumber(next)) {
		cJSON *more, *d;

		snprintf(path, sizeof(path), "/api/v1/devices/list?limit=%d&after=%.0f",
			 MIDCTL_LIST_PAGE, next->valuedouble);
		ex = call(c, "list", "GET", path, NULL, &page);
		if(ex)
			break;
		more = cJSON_GetObjectItemCaseSensitive(page.json, "devices");
		while(cJSON_IsArray(more) && (d = more->child))
			cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(more, d));
		/* The last page's "next" (null) stands for the whole. */
		next = cJSON_DetachItemFromObjectCaseSensitive(page.json, "next");
		if(!next || !cJSON_ReplaceItemInObjectCaseSensitive(r->json, "next", next)) {
			cJSON_Delete(next);
			mid_ctl_err("list: midd's page has no \"next\" cursor");
			ex = MID_CTL_EXIT_REFUSED;
			break;
		}
		mid_ctl_reply_cleanup(&page);
		memset(&page, 0, sizeof(page));
	}
	mid_ctl_reply_cleanup(&page);
	return ex;
}

int mid_ctl_list(struct mid_ctl *c, const char *state)
{
	static const char *const head[] = {"DEVICE", "STATE", "MODE", "CREATED", "LAST SEEN",
					   "VALIDATES"};
	struct mid_ctl_reply r = {0};
	struct table t = {.ncol = MID_ARRAY_LEN(head)};
	const cJSON *d;
	cJSON *devices;
	int ex;

	ex = list_all(c, &r);
	if(ex)
		goto out;
	devices = cJSON_GetObjectItemCaseSensitive(r.json, "devices");
	if(state && cJSON_IsArray(devices)) {
		cJSON *d2 = devices->child;

		while(d2) {
			cJSON *next = d2->next;
			const char *s = jstr(d2, "state");

			if(!s || strcmp(s, state))
				cJSON_Delete(cJSON_DetachItemViaPointer(devices, d2));
			d2 = next;
		}
	}
	if(c->json) {
		char *s = cJSON_PrintUnformatted(r.json);

		if(!s) {
			mid_ctl_err("list: out of memory");
			ex = MID_CTL_EXIT_REFUSED;
			goto out;
		}
		puts(s);
		free(s);
		goto out;
	}
	if(!cJSON_IsArray(devices)) {
		mid_ctl_err("list: midd's answer has no device list");
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	table_add(&t, head);
	cJSON_ArrayForEach(d, devices) {
		char b[6][CELL_MAX];
		const char *row[6];

		row[0] = fmt_val(cJSON_GetObjectItemCaseSensitive(d, "deviceId"), "?", b[0],
				 CELL_MAX);
		row[1] = fmt_val(cJSON_GetObjectItemCaseSensitive(d, "state"), "?", b[1],
				 CELL_MAX);
		row[2] = fmt_val(cJSON_GetObjectItemCaseSensitive(d, "mode"), "unknown", b[2],
				 CELL_MAX);
		row[3] = fmt_time(cJSON_GetObjectItemCaseSensitive(d, "created"), b[3],
				  CELL_MAX);
		row[4] = fmt_time(cJSON_GetObjectItemCaseSensitive(d, "last_seen"), b[4],
				  CELL_MAX);
		row[5] = fmt_val(cJSON_GetObjectItemCaseSensitive(d, "validates"), "0", b[5],
				 CELL_MAX);
		table_add(&t, row);
	}
	ex = table_show(&t, "list", "no devices");
	if(ex)
		goto out;
	if(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "org_disabled")))
		puts("org disabled: every validate answers ORG_DISABLED");
out:
	table_free(&t);
	mid_ctl_reply_cleanup(&r);
	return ex;
}

int mid_ctl_usage(struct mid_ctl *c)
{
	static const char *const fields[] = {"devices", "active", "revoked", "removed",
					     "limit", "validates"};
	struct mid_ctl_reply r = {0};
	size_t i;
	int ex;

	ex = call(c, "usage", "GET", "/api/v1/usage", NULL, &r);
	if(ex)
		goto out;
	if(c->json) {
		print_raw(&r);
		goto out;
	}
	for(i = 0; i < MID_ARRAY_LEN(fields); i++) {
		char b[CELL_MAX];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(r.json, fields[i]);

		/* midd's limit 0 means no limit. */
		if(!strcmp(fields[i], "limit") && cJSON_IsNumber(v) && v->valuedouble == 0)
			printf("%-10s  %s\n", fields[i], "unlimited");
		else
			printf("%-10s  %s\n", fields[i], fmt_val(v, "-", b, sizeof(b)));
	}
	printf("%-10s  %s\n", "org",
	       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "org_disabled")) ?
		       "disabled" : "enabled");
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* Fetch one page of at most 'want' audit entries below 'before' (NULL:
 * the newest) into 'all'; '*next' gets the cursor of the page after it
 * (freed by the caller), NULL when there is none. */
static int audit_page(struct mid_ctl *c, const char *esc_dev, const char *before, long want,
		      cJSON *all, char **next)
{
	char path[3 * MID_DEVICE_MAX + 160];
	struct mid_ctl_reply r = {0};
	const cJSON *n;
	cJSON *entries, *e;
	int ex;

	*next = NULL;
	snprintf(path, sizeof(path), "/api/v1/audit?limit=%ld%s%s%s%s", want,
		 esc_dev ? "&deviceId=" : "", esc_dev ? esc_dev : "", before ? "&before=" : "",
		 before ? before : "");
	ex = call(c, "audit", "GET", path, NULL, &r);
	if(ex)
		goto out;
	entries = cJSON_GetObjectItemCaseSensitive(r.json, "entries");
	n = cJSON_GetObjectItemCaseSensitive(r.json, "next");
	if(!cJSON_IsArray(entries) || (n && !cJSON_IsString(n) && !cJSON_IsNull(n))) {
		mid_ctl_err("audit: midd's answer has no entries");
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	while((e = cJSON_DetachItemFromArray(entries, 0)))
		cJSON_AddItemToArray(all, e);
	if(cJSON_IsString(n) && !(*next = strdup(n->valuestring))) {
		mid_ctl_err("audit: out of memory");
		ex = MID_CTL_EXIT_REFUSED;
	}
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* A report's details in one cell: "program rm, pid 42, rule 2: fs delete
 * /x (POLICY_DENY)"; "-" for a row without. */
static const char *fmt_report(const cJSON *r, char *buf, size_t len)
{
	const cJSON *prog = cJSON_GetObjectItemCaseSensitive(r, "program");
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(r, "pid");
	const cJSON *rule = cJSON_GetObjectItemCaseSensitive(r, "rule");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(r, "detail");
	size_t o = 0;

	if(cJSON_IsString(r))
		return fmt_val(r, "-", buf, len);
	if(!cJSON_IsObject(r))
		return "-";
	buf[0] = '\0';
	if(cJSON_IsString(prog))
		o += (size_t)snprintf(buf + o, len - o, "program %s", prog->valuestring);
	if(cJSON_IsNumber(pid) && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%spid %.0f", o ? ", " : "", pid->valuedouble);
	if(cJSON_IsString(rule) && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%srule %s", o ? ", " : "", rule->valuestring);
	if(cJSON_IsString(text) && o < len)
		snprintf(buf + o, len - o, "%s%s", o ? ": " : "", text->valuestring);
	return buf;
}

int mid_ctl_audit(struct mid_ctl *c, const char *device, long limit, const char *before)
{
	static const char *const head[] = {"TIME", "DEVICE", "ROUTE", "DECISION",
					   "CODE", "REQUEST_ID", "PEER", "DETAIL"};
	static const char *const keys[] = {"time", "deviceId", "route", "decision",
					   "code", "request_id", "peer", "report"};
	struct table t = {.ncol = MID_ARRAY_LEN(head)};
	cJSON *out = cJSON_CreateObject(), *all;
	char *esc = NULL, *next = NULL, *cursor = NULL;
	const cJSON *e;
	long have;
	int ex = MID_CTL_EXIT_REFUSED;

	if(limit <= 0)
		limit = AUDIT_DEFAULT;
	if(device) {
		ex = mid_ctl_check_device(device);
		if(ex)
			return ex;
		esc = mid_ctl_http_escape(c->http, device);
	}
	all = cJSON_AddArrayToObject(out, "entries");
	if(!all || (device && !esc) || (before && !(cursor = strdup(before)))) {
		mid_ctl_err("out of memory");
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	/* midd answers at most AUDIT_PAGE rows at once: page on below the
	 * last row until 'limit' rows or the oldest. */
	for(have = 0; have < limit; have = cJSON_GetArraySize(all)) {
		long want = limit - have > AUDIT_PAGE ? AUDIT_PAGE : limit - have;

		ex = audit_page(c, esc, cursor, want, all, &next);
		free(cursor);
		cursor = next;
		next = NULL;
		if(ex || !cursor)
			break;
	}
	if(ex)
		goto out;
	if(c->json) {
		char *text;

		if(!(cursor ? cJSON_AddStringToObject(out, "next", cursor) :
			      cJSON_AddNullToObject(out, "next")) ||
		   !(text = cJSON_PrintUnformatted(out))) {
			mid_ctl_err("audit: out of memory");
			ex = MID_CTL_EXIT_REFUSED;
			goto out;
		}
		puts(text);
		free(text);
		goto out;
	}
	table_add(&t, head);
	cJSON_ArrayForEach(e, all) {
		char b[MID_ARRAY_LEN(keys)][CELL_MAX];
		const char *row[MID_ARRAY_LEN(keys)];
		size_t i;

		row[0] = fmt_time(cJSON_GetObjectItemCaseSensitive(e, keys[0]), b[0],
				  CELL_MAX);
		for(i = 1; i + 1 < MID_ARRAY_LEN(keys); i++)
			row[i] = fmt_val(cJSON_GetObjectItemCaseSensitive(e, keys[i]), "-",
					 b[i], CELL_MAX);
		row[i] = fmt_report(cJSON_GetObjectItemCaseSensitive(e, keys[i]), b[i], CELL_MAX);
		table_add(&t, row);
	}
	ex = table_show(&t, "audit", "no audit entries");
	if(ex)
		goto out;
	if(cursor)
		fprintf(stderr, "midctl: older entries follow: midctl audit --before %s\n", cursor);
out:
	free(esc);
	free(cursor);
	cJSON_Delete(out);
	table_free(&t);
	return ex;
}

/* ---- org switch, key rotation --------------------------------------- */

int mid_ctl_org(struct mid_ctl *c, bool disable)
{
	const char *what = disable ? "org disable" : "org enable";
	struct mid_ctl_reply r = {0};
	char rid[MID_REQUEST_ID_MAX];
	int ex;

	ex = call(c, what, "POST", disable ? "/api/v1/org/disable" : "/api/v1/org/enable",
		  "{}", &r);
	if(ex)
		goto out;
	if(c->json) {
		print_raw(&r);
		warn_unpersisted(what, &r, request_id(&r, rid, sizeof(rid)));
		goto out;
	}
	request_id(&r, rid, sizeof(rid));
	if(disable)
		printf("org disabled: every validate now answers ORG_DISABLED (request_id "
		       "%s)\n", rid);
	else
		printf("org enabled (request_id %s)\n", rid);
	warn_unpersisted(what, &r, rid);
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

int mid_ctl_rotate_key(struct mid_ctl *c, const char *which, long grace_s)
{
	char what[32], rid[MID_REQUEST_ID_MAX], until[CELL_MAX];
	struct mid_ctl_reply r = {0};
	const char *key;
	char *body = NULL;
	cJSON *o;
	int ex;

	snprintf(what, sizeof(what), "rotate-key %s", which);
	if(strcmp(which, "org"))
		grace_s = 0;
	o = cJSON_CreateObject();
	if(o && cJSON_AddStringToObject(o, "key", which) &&
	   (!grace_s || cJSON_AddNumberToObject(o, "grace_seconds", (double)grace_s)))
		body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if(!body) {
		mid_ctl_err("out of memory");
		return MID_CTL_EXIT_REFUSED;
	}
	ex = call(c, what, "POST", "/api/v1/org/rotate-key", body, &r);
	if(ex)
		goto out;
	request_id(&r, rid, sizeof(rid));
	key = jstr(r.json, "key");
	/* The key goes into files and headers: refuse one that could not. */
	if(!key || !mid_key_ok(key)) {
		mid_ctl_err("%s: midd's answer holds no usable key (request_id %s)", what, rid);
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	if(c->json)
		print_raw(&r);
	else
		printf("%s\n", key);
	fflush(stdout);
	if(jstr(r.json, "previous_valid_until"))
		fprintf(stderr, "midctl: new %s key issued (request_id %s); the old one works until "
			"%s (%ld s), then no longer; this one is not shown again\n", which, rid,
			fmt_time(cJSON_GetObjectItemCaseSensitive(r.json, "previous_valid_until"),
				 until, sizeof(until)), grace_s);
	else
		fprintf(stderr, "midctl: new %s key issued (request_id %s); the old one no longer "
			"works and this one is not shown again\n", which, rid);
out:
	free(body);
	if(r.body)
		explicit_bzero(r.body, r.len);
	mid_ctl_reply_cleanup(&r);
	return ex;
}

int mid_ctl_keys(struct mid_ctl *c)
{
	struct mid_ctl_reply r = {0};
	const cJSON *org, *left;
	char t[CELL_MAX];
	int ex;

	ex = call(c, "keys", "GET", "/api/v1/org/keys", NULL, &r);
	if(ex)
		goto out;
	if(c->json) {
		print_raw(&r);
		goto out;
	}
	org = cJSON_GetObjectItemCaseSensitive(r.json, "org");
	left = cJSON_GetObjectItemCaseSensitive(org, "previous_seconds_left");
	if(jstr(org, "previous_valid_until") && cJSON_IsNumber(left))
		printf("org key    current, and the previous one until %s (%.0f s left)\n",
		       fmt_time(cJSON_GetObjectItemCaseSensitive(org, "previous_valid_until"), t,
				sizeof(t)), left->valuedouble);
	else
		printf("org key    current only\n");
	printf("admin key  current only\n");
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* ---- webhook alerts ---------------------------------------------------- */

int mid_ctl_alert_add(struct mid_ctl *c, const char *url, const char *events, const char *format)
{
	struct mid_ctl_reply r = {0};
	const char *secret;
	char *body = NULL;
	cJSON *o = cJSON_CreateObject();
	char b[CELL_MAX];
	int ex;

	if(o && cJSON_AddStringToObject(o, "url", url) &&
	   cJSON_AddStringToObject(o, "events", events) &&
	   (!format || cJSON_AddStringToObject(o, "format", format)))
		body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if(!body) {
		mid_ctl_err("out of memory");
		return MID_CTL_EXIT_REFUSED;
	}
	ex = call(c, "alert add", "POST", "/api/v1/alerts/add", body, &r);
	if(ex)
		goto out;
	secret = jstr(r.json, "secret");
	if(!secret || strlen(secret) != 64 || secret[strspn(secret, "0123456789abcdef")]) {
		mid_ctl_err("alert add: midd's answer holds no usable secret");
		ex = MID_CTL_EXIT_REFUSED;
		goto out;
	}
	if(c->json)
		print_raw(&r);
	else
		printf("%s\n", secret);
	fflush(stdout);
	fprintf(stderr, "midctl: webhook %s added for %s; the line above is its HMAC-SHA256"
		" secret, not shown again: each post carries X-Midd-Signature: sha256=HEX over"
		" the body under it\n",
		fmt_val(cJSON_GetObjectItemCaseSensitive(r.json, "id"), "?", b, sizeof(b)),
		events);
out:
	free(body);
	if(r.body)
		explicit_bzero(r.body, r.len);
	mid_ctl_reply_cleanup(&r);
	return ex;
}

/* The hooks of the org: what each receives ('status' false) or how its
 * deliveries fare ('status' true). */
int mid_ctl_alert_list(struct mid_ctl *c, bool status)
{
	static const char *const list_head[] = {"ID", "URL", "EVENTS", "FORMAT", "CREATED"};
	static const char *const list_keys[] = {"id", "url", "events", "format", "created"};
	static const char *const st_head[] = {"ID", "PENDING", "DELIVERED", "FAILED",
					      "LAST DELIVERED", "LAST ERROR"};
	static const char *const st_keys[] = {"id", "pending", "delivered", "failed",
					      "last_delivered", "last_error"};
	const char *const *head = status ? st_head : list_head;
	const char *const *keys = status ? st_keys : list_keys;
	size_t ncol = status ? MID_ARRAY_LEN(st_head) : MID_ARRAY_LEN(list_head);
	struct table t = {.ncol = ncol};
	struct mid_ctl_reply r = {0};
	const cJSON *arr, *h;
	int ex;

	ex = call(c, status ? "alert status" : "alert list", "GET", "/api/v1/alerts", NULL, &r);
	if(ex)
		goto out;
	if(c->json) {
		print_raw(&r);
		goto out;
	}
	arr = cJSON_GetObjectItemCaseSensitive(r.json, "alerts");
	table_add(&t, head);
	cJSON_ArrayForEach(h, arr) {
		char cells[TABLE_COLS][CELL_MAX];
		const char *row[TABLE_COLS];
		size_t i;

		for(i = 0; i < ncol; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, keys[i]);

			if(!strcmp(keys[i], "created") || !strcmp(keys[i], "last_delivered"))
				row[i] = fmt_time(v, cells[i], sizeof(cells[i]));
			else
				row[i] = fmt_val(v, "-", cells[i], sizeof(cells[i]));
		}
		table_add(&t, row);
	}
	ex = table_show(&t, status ? "alert status" : "alert list",
			"no webhooks: add one with 'midctl alert add URL --events LIST'");
	table_free(&t);
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}

int mid_ctl_alert_remove(struct mid_ctl *c, const char *id)
{
	struct mid_ctl_reply r = {0};
	char body[64];
	int ex;

	snprintf(body, sizeof(body), "{\"id\":%s}", id);
	ex = call(c, "alert remove", "POST", "/api/v1/alerts/remove", body, &r);
	if(ex)
		goto out;
	if(c->json)
		print_raw(&r);
	else
		printf("webhook %s removed, with the events still queued for it\n", id);
out:
	mid_ctl_reply_cleanup(&r);
	return ex;
}
