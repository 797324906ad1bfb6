/* SPDX-License-Identifier: MIT */
/*
 * A starting policy from audit records. The records of a run in audit
 * mode name every event the policy in force would have denied; this
 * turns them into rules, one per kind and target group:
 *  - programs (exec) and unix sockets are kept exact;
 *  - file paths (write, fs) are folded by directory: FOLD or more files
 *    of one directory become "DIR/" + "*"; an fs path seen opened, created or
 *    truncated gets all three ops, since a rerun finds the file it made;
 *  - network peers are kept as they were named (a host name when the
 *    program resolved one, else the address), each with its exact ports;
 *  - writes and sends that carry no path become rules on the fd kind.
 * Every rule says in its comment how many events support it. The policy
 * ends in "default": "deny", and before it is written every record is
 * matched against it: none may be denied.
 */
#define _GNU_SOURCE
#include "midshim_suggest.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "policy.h"

#define LINE_MAX_BYTES (64 * 1024)
#define ITEMS_MAX 65536 /* distinct targets over all groups */
#define ARRAY_MAX 256   /* entries of one matcher (midshim-policy(5)) */

const char mid_suggest_usage[] =
	"usage: midshim policy suggest [--action validate|allow] [--fold N] [-o FILE] AUDIT.jsonl...\n"
	"\n"
	"Write a starting policy from the records of MIDSHIM_AUDIT_LOG files (a run\n"
	"in audit mode): one rule per kind and target group, whose action is\n"
	"validate (the control plane is still asked, so revocation works; the\n"
	"default) or allow, and \"default\": \"deny\" for everything else. Programs,\n"
	"ports, hosts and unix sockets are kept exact; N or more files of one\n"
	"directory (--fold, default 3, 0: never) become DIR/*; a file seen opened,\n"
	"created or truncated gets all three. Each rule's comment counts its\n"
	"events. The policy is checked against every record before it is\n"
	"written (to FILE, default standard output). Review it before use.\n"
	"Exit 0 on success, 1 on a bad record or file, 2 for usage errors.\n";

struct item {
	char *s;
	unsigned long n;   /* events */
	struct set *sub;   /* ports of a peer */
};

struct set {
	struct item *v;
	size_t len, cap;
};

struct groups {
	struct set exec;
	struct set write_path, write_fd, send_fd;
	struct set fs[MID_FS_OP_COUNT];
	struct set peers[2]; /* connect, send: "h NAME", "a ADDR", "u PATH" */
	/* signal, tty-inject: the target's program or the terminal; events
	 * without one (a process group) are counted for a rule on the kind */
	struct set signal, tty;
	unsigned long signal_any, tty_any;
	unsigned long records, events, skipped;
	size_t items;
};

static int bad(const char *file, unsigned long line, const char *why)
{
	fprintf(stderr, "midshim: policy suggest: %s:%lu: %s\n", file, line, why);
	return 1;
}

/* Add 'n' events of 's' to 'set'; NULL when out of memory or items. */
static struct item *add(struct groups *g, struct set *set, const char *s, unsigned long n)
{
	struct item *it;

	for(size_t i = 0; i < set->len; i++)
		if(!strcmp(set->v[i].s, s)) {
			set->v[i].n += n;
			return &set->v[i];
		}
	if(g->items >= ITEMS_MAX)
		return NULL;
	if(set->len == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 8;
		struct item *v = realloc(set->v, cap * sizeof(*v));

		if(!v)
			return NULL;
		set->v = v;
		set->cap = cap;
	}
	it = &set->v[set->len];
	*it = (struct item){.s = strdup(s), .n = n};
	if(!it->s)
		return NULL;
	set->len++;
	g->items++;
	return it;
}

static void set_free(struct set *s)
{
	for(size_t i = 0; i < s->len; i++) {
		free(s->v[i].s);
		if(s->v[i].sub) {
			set_free(s->v[i].sub);
			free(s->v[i].sub);
		}
	}
	free(s->v);
}

static void groups_free(struct groups *g)
{
	set_free(&g->exec);
	set_free(&g->write_path);
	set_free(&g->write_fd);
	set_free(&g->send_fd);
	for(int i = 0; i < MID_FS_OP_COUNT; i++)
		set_free(&g->fs[i]);
	set_free(&g->peers[0]);
	set_free(&g->peers[1]);
	set_free(&g->signal);
	set_free(&g->tty);
}

static const char *str(const cJSON *rec, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* An fs op's group: open, create and truncate are one (writing a file,
 * whether or not it exists yet). */
static enum mid_fsop op_group(enum mid_fsop op)
{
	return op == MID_FS_CREATE || op == MID_FS_TRUNCATE ? MID_FS_OPEN : op;
}

/*
 * The event of record 'rec' into 'ev' (strings borrowed from 'rec').
 * Returns 0, 1 for a record to skip (the start and fork gates, which no
 * rule decides), or -1 with 'why' set.
 */
static int event_of(const cJSON *rec, struct mid_event *ev, const char **why)
{
	const char *kind = str(rec, "kind"), *v;
	const cJSON *port;

	memset(ev, 0, sizeof(ev[0]));
	if(!kind) {
		*why = "no \"kind\" (not an audit record of this version)";
		return -1;
	}
	if(!strcmp(kind, "start") || !strcmp(kind, "fork"))
		return 1;
	if(mid_kind_from_name(kind, &ev->kind)) {
		*why = "unknown \"kind\"";
		return -1;
	}
	ev->path = str(rec, "path");
	switch(ev->kind) {
	case MID_EV_EXEC:
		if(!ev->path || ev->path[0] != '/') {
			*why = "exec record without an absolute \"path\"";
			return -1;
		}
		return 0;
	case MID_EV_FS:
		if(!(v = str(rec, "op")) || mid_fsop_from_name(v, &ev->op) || !ev->path) {
			*why = "fs record without a known \"op\" and a \"path\"";
			return -1;
		}
		ev->path2 = str(rec, "path2");
		return 0;
	case MID_EV_WRITE:
		if(!(v = str(rec, "fd")) || mid_fdkind_from_name(v, &ev->fdkind)) {
			*why = "write record without a known \"fd\"";
			return -1;
		}
		if(ev->path && ev->path[0] != '/')
			ev->path = NULL; /* "pipe:[12]" and the like */
		return 0;
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		if(ev->kind == MID_EV_SEND)
			ev->fdkind = MID_FD_SOCKET;
		if(ev->path) {
			ev->family = AF_UNIX;
			return 0;
		}
		v = str(rec, "addr");
		port = cJSON_GetObjectItemCaseSensitive(rec, "port");
		if(!v || !cJSON_IsNumber(port) || port->valuedouble < 0 || port->valuedouble > 65535) {
			/* A peer the shim could not read: only the fd kind is known. */
			return 0;
		}
		if(inet_pton(AF_INET, v, ev->addr) == 1) {
			ev->family = AF_INET;
		} else if(inet_pton(AF_INET6, v, ev->addr) == 1) {
			ev->family = AF_INET6;
		} else {
			*why = "bad \"addr\"";
			return -1;
		}
		ev->port = (uint16_t)port->valuedouble;
		ev->host = str(rec, "host");
		return 0;
	case MID_EV_SIGNAL:
	case MID_EV_TTY_INJECT:
		/* a program or a terminal, or nothing a path rule can name */
		if(ev->path && ev->path[0] != '/')
			ev->path = NULL;
		ev->pid = ev->path ? 2 : -2;
		if(ev->kind == MID_EV_TTY_INJECT)
			ev->fdkind = MID_FD_TTY;
		return 0;
	default:
		*why = "unknown \"kind\"";
		return -1;
	}
}

static int note(struct groups *g, const struct mid_event *ev, const cJSON *rec, unsigned long n)
{
	char key[600], port[8];
	struct item *it;
	int send = ev->kind == MID_EV_SEND;

	switch(ev->kind) {
	case MID_EV_EXEC:
		return add(g, &g->exec, ev->path, n) ? 0 : -1;
	case MID_EV_FS:
		if(!add(g, &g->fs[op_group(ev->op)], ev->path, n))
			return -1;
		return !ev->path2 || add(g, &g->fs[op_group(ev->op)], ev->path2, n) ? 0 : -1;
	case MID_EV_WRITE:
		if(ev->path && (ev->fdkind == MID_FD_FILE || ev->fdkind == MID_FD_BLK))
			return add(g, &g->write_path, ev->path, n) ? 0 : -1;
		return add(g, &g->write_fd, mid_fdkind_name(ev->fdkind), n) ? 0 : -1;
	case MID_EV_CONNECT:
	case MID_EV_SEND:
		if(ev->family == AF_UNIX) {
			snprintf(key, sizeof(key), "u %s", ev->path);
		} else if(ev->family) {
			snprintf(key, sizeof(key), "%s %s", ev->host ? "h" : "a",
				 ev->host ? ev->host : str(rec, "addr"));
		} else {
			/* No peer known: a rule on the socket alone (send) or,
			 * for a connect, none that a path, address or host can
			 * state; fall back to the kind as a whole. */
			return add(g, send ? &g->send_fd : &g->peers[0], send ? "socket" : "*", n) ? 0 : -1;
		}
		if(!(it = add(g, &g->peers[send], key, n)))
			return -1;
		if(ev->family == AF_UNIX)
			return 0;
		if(!it->sub && !(it->sub = calloc(1, sizeof(*it->sub))))
			return -1;
		snprintf(port, sizeof(port), "%u", ev->port);
		return add(g, it->sub, port, n) ? 0 : -1;
	case MID_EV_SIGNAL:
	case MID_EV_TTY_INJECT: {
		int sig = ev->kind == MID_EV_SIGNAL;

		if(!ev->path) {
			*(sig ? &g->signal_any : &g->tty_any) += n;
			return 0;
		}
		return add(g, sig ? &g->signal : &g->tty, ev->path, n) ? 0 : -1;
	}
	default:
		return -1;
	}
}

/* 's' as a path glob that matches only itself. */
static void literal(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for(; *s && o + 3 < len; s++) {
		if(strchr("*?[]\\", *s))
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
}

/* Fold 'in' (paths) into 'out' (globs): a directory with 'fold' or more
 * of the paths becomes a glob of the directory and a star. */
static int fold_paths(struct groups *g, const struct set *in, int fold, struct set *out)
{
	char dir[4096], glob[8300];

	for(size_t i = 0; i < in->len; i++) {
		const char *p = in->v[i].s, *slash = strrchr(p, '/');
		size_t dlen = slash ? (size_t)(slash - p) : 0;
		int same = 0;

		if(dlen < sizeof(dir)) {
			memcpy(dir, p, dlen);
			dir[dlen] = '\0';
		}
		for(size_t j = 0; fold > 0 && dlen < sizeof(dir) && j < in->len; j++) {
			const char *q = in->v[j].s;

			same += strlen(q) > dlen && !strncmp(q, p, dlen) && q[dlen] == '/' &&
				!strchr(q + dlen + 1, '/');
		}
		if(fold > 0 && same >= fold && dlen > 0) {
			literal(dir, glob, sizeof(glob) - 2);
			strcat(glob, "/*");
		} else {
			literal(p, glob, sizeof(glob));
		}
		if(!add(g, out, glob, in->v[i].n))
			return -1;
	}
	return 0;
}

/* Append one rule per ARRAY_MAX entries of 's' under matcher 'field'
 * (NULL: strings as they are, one rule without a matcher). */
static int emit(cJSON *rules, const char *on, const char *field, const struct set *s,
		const char *op_list, const char *action, const char *what)
{
	for(size_t at = 0; at < s->len; at += ARRAY_MAX) {
		size_t end = at + ARRAY_MAX < s->len ? at + ARRAY_MAX : s->len;
		cJSON *r = cJSON_CreateObject(), *a = cJSON_CreateArray();
		unsigned long n = 0;
		char comment[200];

		if(!r || !a)
			return -1;
		for(size_t i = at; i < end; i++) {
			n += s->v[i].n;
			cJSON_AddItemToArray(a, cJSON_CreateString(s->v[i].s));
		}
		snprintf(comment, sizeof(comment), "evidence: %lu event%s on %zu %s", n,
			 n == 1 ? "" : "s", end - at, what);
		cJSON_AddStringToObject(r, "comment", comment);
		cJSON_AddStringToObject(r, "on", on);
		if(op_list) {
			cJSON *ops = cJSON_CreateArray();
			char buf[64], *save = NULL;

			snprintf(buf, sizeof(buf), "%s", op_list);
			for(char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
				cJSON_AddItemToArray(ops, cJSON_CreateString(t));
			cJSON_AddItemToObject(r, "op", ops);
		}
		cJSON_AddItemToObject(r, field, a);
		cJSON_AddStringToObject(r, "action", action);
		cJSON_AddItemToArray(rules, r);
	}
	return 0;
}

/* A rule on kind 'on' as a whole, when 'n' events named no target. */
static int emit_any(cJSON *rules, const char *on, unsigned long n, const char *action)
{
	cJSON *r;
	char comment[200];

	if(!n)
		return 0;
	r = cJSON_CreateObject();
	if(!r)
		return -1;
	snprintf(comment, sizeof(comment), "evidence: %lu event%s with no target a path names", n,
		 n == 1 ? "" : "s");
	cJSON_AddStringToObject(r, "comment", comment);
	cJSON_AddStringToObject(r, "on", on);
	cJSON_AddStringToObject(r, "action", action);
	cJSON_AddItemToArray(rules, r);
	return 0;
}

/* One rule per peer: its name or address and its ports. */
static int emit_peers(cJSON *rules, const char *on, const struct set *peers, const char *action)
{
	for(size_t i = 0; i < peers->len; i++) {
		const struct item *p = &peers->v[i];
		cJSON *r = cJSON_CreateObject();
		char comment[200];

		if(!r)
			return -1;
		snprintf(comment, sizeof(comment), "evidence: %lu event%s", p->n, p->n == 1 ? "" : "s");
		cJSON_AddStringToObject(r, "comment", comment);
		cJSON_AddStringToObject(r, "on", on);
		if(p->s[0] == 'u') {
			cJSON_AddStringToObject(r, "path", p->s + 2);
		} else if(p->s[0] == 'h' || p->s[0] == 'a') {
			cJSON *ports = cJSON_CreateArray();

			cJSON_AddStringToObject(r, p->s[0] == 'h' ? "host" : "addr", p->s + 2);
			for(size_t k = 0; p->sub && k < p->sub->len && k < ARRAY_MAX; k++)
				cJSON_AddItemToArray(ports, cJSON_CreateNumber(atoi(p->sub->v[k].s)));
			cJSON_AddItemToObject(r, "port", ports);
		}
		/* "*": a connect whose peer could not be read: the kind alone. */
		cJSON_AddStringToObject(r, "action", action);
		cJSON_AddItemToArray(rules, r);
	}
	return 0;
}

static cJSON *build(struct groups *g, int fold, const char *action, char *const *files, int nfiles)
{
	static const char *const op_lists[MID_FS_OP_COUNT] = {
		[MID_FS_OPEN] = "open create truncate", [MID_FS_DELETE] = "delete",
		[MID_FS_RENAME] = "rename", [MID_FS_LINK] = "link", [MID_FS_MKDIR] = "mkdir",
		[MID_FS_MKNOD] = "mknod", [MID_FS_CHMOD] = "chmod", [MID_FS_CHOWN] = "chown",
		[MID_FS_UTIME] = "utime", [MID_FS_XATTR] = "xattr",
	};
	cJSON *pol = cJSON_CreateObject(), *rules = cJSON_CreateArray(), *c = cJSON_CreateArray();
	struct set folded;
	char line[512];
	int rc = 0;

	if(!pol || !rules || !c)
		goto fail;
	snprintf(line, sizeof(line), "Suggested by midshim policy suggest from %d audit log%s: %lu "
		 "records of %lu events (%lu start and fork gates left out).", nfiles,
		 nfiles == 1 ? "" : "s", g->records, g->events, g->skipped);
	cJSON_AddItemToArray(c, cJSON_CreateString(line));
	for(int i = 0; i < nfiles && i < 8; i++)
		cJSON_AddItemToArray(c, cJSON_CreateString(files[i]));
	cJSON_AddItemToArray(c, cJSON_CreateString(
		"It lets through what the records show and denies the rest; read each rule "
		"before use, and run in audit mode again with it first."));
	cJSON_AddItemToObject(pol, "comment", c);
	cJSON_AddNumberToObject(pol, "version", 1);
	cJSON_AddStringToObject(pol, "default", "deny");
	rc |= emit(rules, "exec", "path", &g->exec, NULL, action, "programs");
	memset(&folded, 0, sizeof(folded));
	rc |= fold_paths(g, &g->write_path, fold, &folded);
	rc |= emit(rules, "write", "path", &folded, NULL, action, "paths or directories");
	set_free(&folded);
	rc |= emit(rules, "write", "fd", &g->write_fd, NULL, action, "kinds of descriptor");
	for(int op = 0; op < MID_FS_OP_COUNT; op++) {
		if(!g->fs[op].len || !op_lists[op])
			continue;
		memset(&folded, 0, sizeof(folded));
		rc |= fold_paths(g, &g->fs[op], fold, &folded);
		rc |= emit(rules, "fs", "path", &folded, op_lists[op], action, "paths or directories");
		set_free(&folded);
	}
	rc |= emit_peers(rules, "connect", &g->peers[0], action);
	rc |= emit_peers(rules, "send", &g->peers[1], action);
	rc |= emit(rules, "send", "fd", &g->send_fd, NULL, action, "kinds of descriptor");
	rc |= emit(rules, "signal", "path", &g->signal, NULL, action, "programs");
	rc |= emit_any(rules, "signal", g->signal_any, action);
	rc |= emit(rules, "tty-inject", "path", &g->tty, NULL, action, "terminals");
	rc |= emit_any(rules, "tty-inject", g->tty_any, action);
	cJSON_AddItemToObject(pol, "rules", rules);
	rules = NULL;
	if(rc || cJSON_GetArraySize(cJSON_GetObjectItem(pol, "rules")) > 4096) {
		fprintf(stderr, "midshim: policy suggest: out of memory, or over 4096 rules\n");
		goto fail;
	}
	return pol;
fail:
	cJSON_Delete(rules);
	cJSON_Delete(pol);
	return NULL;
}

/* Call 'fn' on each record of 'file'. Returns 0, or 1 after a message. */
static int each_record(const char *file, int (*fn)(void *, const cJSON *, const char *,
						    unsigned long), void *ctx)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned long no = 0;
	ssize_t len;
	int rc = 0;

	if(!f) {
		fprintf(stderr, "midshim: policy suggest: %s: %s\n", file, strerror(errno));
		return 1;
	}
	while(!rc && (len = getline(&line, &cap, f)) >= 0) {
		cJSON *rec;

		no++;
		if(len > LINE_MAX_BYTES) {
			rc = bad(file, no, "line over 64 KiB");
			break;
		}
		if(strspn(line, " \t\r\n") == (size_t)len)
			continue;
		rec = cJSON_ParseWithLength(line, (size_t)len);
		if(!cJSON_IsObject(rec))
			rc = bad(file, no, "not a JSON object");
		else
			rc = fn(ctx, rec, file, no);
		cJSON_Delete(rec);
	}
	free(line);
	fclose(f);
	return rc;
}

static unsigned long count_of(const cJSON *rec)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "count");

	return cJSON_IsNumber(c) && c->valuedouble >= 1 && c->valuedouble < 1e12 ?
		       (unsigned long)c->valuedouble : 1;
}

static int collect(void *ctx, const cJSON *rec, const char *file, unsigned long no)
{
	struct groups *g = ctx;
	struct mid_event ev;
	const char *why = NULL;
	int k = event_of(rec, &ev, &why);

	if(k < 0)
		return bad(file, no, why);
	g->records++;
	g->events += count_of(rec);
	if(k > 0) {
		g->skipped += count_of(rec);
		return 0;
	}
	if(note(g, &ev, rec, count_of(rec))) {
		if(g->items >= ITEMS_MAX)
			return bad(file, no, "over 65536 distinct targets; suggest from a shorter log");
		return bad(file, no, "out of memory");
	}
	return 0;
}

struct replay {
	const struct mid_policy *pol;
	unsigned long denied;
};

static int replay_one(void *ctx, const cJSON *rec, const char *file, unsigned long no)
{
	struct replay *r = ctx;
	struct mid_event ev;
	const char *why = NULL;
	int rule;

	if(event_of(rec, &ev, &why))
		return 0;
	if(mid_policy_match(r->pol, &ev, &rule) == MID_ACT_DENY) {
		r->denied++;
		fprintf(stderr, "midshim: policy suggest: %s:%lu: the suggested policy denies this "
			"record (please report it)\n", file, no);
	}
	return 0;
}

int mid_suggest_main(int argc, char **argv)
{
	const char *action = "validate", *out = NULL;
	struct groups g;
	struct mid_policy *pol = NULL;
	struct replay rp = {0};
	char err[1024], *text = NULL;
	cJSON *doc = NULL;
	int i, fold = 3, rc = 1;
	FILE *f;

	for(i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if(!strcmp(argv[i], "--action") && i + 1 < argc &&
		   (!strcmp(argv[i + 1], "validate") || !strcmp(argv[i + 1], "allow"))) {
			action = argv[++i];
		} else if(!strcmp(argv[i], "--fold") && i + 1 < argc &&
			  strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1]) &&
			  strlen(argv[i + 1]) < 6 && argv[i + 1][0]) {
			fold = atoi(argv[++i]);
		} else if(!strcmp(argv[i], "-o") && i + 1 < argc) {
			out = argv[++i];
		} else if(!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			fprintf(stderr, "midshim: policy suggest: bad option \"%s\"\n%s", argv[i],
				mid_suggest_usage);
			return 2;
		}
	}
	if(i >= argc) {
		fprintf(stderr, "midshim: policy suggest needs an audit log\n%s", mid_suggest_usage);
		return 2;
	}
	memset(&g, 0, sizeof(g));
	for(int k = i; k < argc; k++)
		if(each_record(argv[k], collect, &g))
			goto out;
	if(!(doc = build(&g, fold, action, argv + i, argc - i)) || !(text = cJSON_Print(doc)))
		goto out;
	if(mid_policy_parse(text, strlen(text), "suggested policy", &pol, err, sizeof(err))) {
		fprintf(stderr, "midshim: policy suggest: the result does not check: %s\n", err);
		goto out;
	}
	rp.pol = pol;
	for(int k = i; k < argc; k++)
		if(each_record(argv[k], replay_one, &rp))
			goto out;
	if(rp.denied)
		goto out;
	f = out ? fopen(out, "w") : stdout;
	if(!f || fprintf(f, "%s\n", text) < 0 || (out && fclose(f))) {
		fprintf(stderr, "midshim: policy suggest: %s: %s\n", out ? out : "stdout",
			strerror(errno));
		goto out;
	}
	fprintf(stderr, "midshim: policy suggest: %lu records, %lu events, %zu rules; replayed: "
		"0 denied\n", g.records, g.events, mid_policy_rule_count(pol));
	rc = 0;
out:
	mid_policy_free(pol);
	free(text);
	cJSON_Delete(doc);
	groups_free(&g);
	return rc;
}
