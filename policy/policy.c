/* SPDX-License-Identifier: MIT */
/*
 * Loading a policy: read the file, parse it with cJSON, check every key
 * and value strictly, and compile the rules for the matcher (match.c). A
 * policy that is wrong in any way is refused with one line naming the
 * file, the line, the field and what was expected, because a gate that
 * guesses at a typo either stops work or lets through what it should not.
 */
#define _GNU_SOURCE
#include "pol_glob.h"
#include "pol_jsonpos.h"
#include "pol_model.h"
#include "mid_url.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOW "%.80s" /* how much of a user's value a message repeats */

struct ctx {
	const char *name;
	const struct mid_jsonpos *pos;
	char *err;
	size_t errlen;
	size_t rule;        /* 1-based number of the rule being read, 0 outside */
	unsigned rule_line;
	enum mid_kind kind; /* of that rule */
};

static const char *const top_keys[] = {
	"version", "device", "url", "ttl_ms", "timeout_ms", "on_deny", "mode",
	"unfollowable", "default", "rules", "comment",
};
enum {
	T_VERSION, T_DEVICE, T_URL, T_TTL, T_TIMEOUT, T_ON_DENY, T_MODE,
	T_UNFOLLOWABLE, T_DEFAULT, T_RULES, T_COMMENT, T_COUNT
};

static const char *const rule_keys[] = {
	"on", "action", "path", "argv", "addr", "port", "host", "op", "fd", "comment",
};
enum { R_ON, R_ACTION, R_PATH, R_ARGV, R_ADDR, R_PORT, R_HOST, R_OP, R_FD, R_COMMENT, R_COUNT };


#define BIT(k) (1u << (k))
/* The matchers each kind may use, by rule key. */
static const unsigned valid_matchers[MID_EV_KIND_COUNT] = {
	[MID_EV_EXEC] = BIT(R_PATH) | BIT(R_ARGV),
	[MID_EV_CONNECT] = BIT(R_PATH) | BIT(R_ADDR) | BIT(R_PORT) | BIT(R_HOST),
	[MID_EV_SEND] = BIT(R_PATH) | BIT(R_ADDR) | BIT(R_PORT) | BIT(R_HOST) | BIT(R_FD),
	[MID_EV_WRITE] = BIT(R_PATH) | BIT(R_FD),
	[MID_EV_FS] = BIT(R_PATH) | BIT(R_OP),
	[MID_EV_SIGNAL] = BIT(R_PATH),
	[MID_EV_TTY_INJECT] = BIT(R_PATH),
};

#define DEFAULT_SETTINGS \
	{ \
		.ttl_ms = MID_TTL_DEFAULT_MS, .timeout_ms = MID_TIMEOUT_DEFAULT_MS, \
		.on_deny = MID_DENY_KILL, .mode = MID_MODE_ENFORCE, \
		.unfollowable = MID_UNFOLLOW_WARN, \
	}
MID_STARTUP_RODATA static const struct mid_policy_settings default_settings = DEFAULT_SETTINGS;

/*
 * Write "NAME:LINE: [rule N (line L): ]message" into the caller's buffer,
 * with the line of 'at'. Values echoed from the file may hold control
 * bytes; they become '?' so the message stays one line.
 */
__attribute__((format(printf, 4, 5))) static enum mid_rc fail(struct ctx *c, enum mid_rc rc,
							   const cJSON *at, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	unsigned line = mid_jsonpos_line(c->pos, at);
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if(c->rule)
		snprintf(c->err, c->errlen, "%s:%u: rule %zu (line %u): %s", c->name, line,
			 c->rule, c->rule_line, msg);
	else
		snprintf(c->err, c->errlen, "%s:%u: %s", c->name, line, msg);
	for(i = 0; c->err[i]; i++)
		if((unsigned char)c->err[i] < ' ' || c->err[i] == 0x7f)
			c->err[i] = '?';
	return rc;
}

static const char *type_name(const cJSON *v)
{
	static const struct {
		cJSON_bool (*is)(const cJSON *);
		const char *name;
	} types[] = {
		{ cJSON_IsString, "a string" }, { cJSON_IsNumber, "a number" },
		{ cJSON_IsBool, "a boolean" },  { cJSON_IsNull, "null" },
		{ cJSON_IsArray, "an array" },  { cJSON_IsObject, "an object" },
	};

	for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if(types[i].is(v))
			return types[i].name;
	return "not a JSON value";
}

/* "FIELD" must be EXPECT, not what 'v' is. */
static enum mid_rc wrong_type(struct ctx *c, const cJSON *v, const char *field, const char *expect)
{
	return fail(c, MID_ERR_INVAL, v, "\"%s\" must be %s, not %s", field, expect, type_name(v));
}

/*
 * Appends 'name' to the ", "-separated list of valid names in 'buf' (of
 * 'size' bytes, 'used' of them taken) for an error message; returns the
 * new length. A full buffer keeps what it has.
 */
static size_t add_name(char *buf, size_t size, size_t used, const char *name)
{
	if(used >= size)
		return used;
	return used + (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name);
}

/* "a, b, c" of the names whose bit is set in 'mask'. */
static const char *join(char *buf, size_t len, const char *const *names, size_t n,
			unsigned mask)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for(i = 0; i < n; i++)
		if(mask & BIT(i))
			used = add_name(buf, len, used, names[i]);
	return buf;
}

#define ALL(n) ((1u << (n)) - 1)

/*
 * Read the members of 'obj': a key not in 'keys' or a key given twice is
 * an error; 'seen[i]' receives the member named keys[i]. 'what' and 'in'
 * place a key in messages: unknown 'what' "x"'in' (valid: ...).
 */
static enum mid_rc members(struct ctx *c, const cJSON *obj, const char *what, const char *in,
			   const char *const *keys, size_t nkeys, const cJSON **seen)
{
	const cJSON *m;
	char valid[256];
	size_t i;

	for(m = obj->child; m; m = m->next) {
		for(i = 0; i < nkeys; i++)
			if(!strcmp(m->string, keys[i]))
				break;
		if(i == nkeys)
			return fail(c, MID_ERR_INVAL, m, "unknown %s \"" SHOW "\"%s (valid: %s)", what,
				    m->string, in, join(valid, sizeof(valid), keys, nkeys, ALL(nkeys)));
		if(seen[i])
			return fail(c, MID_ERR_INVAL, m, "duplicate field \"%s\" (first at line %u)",
				    keys[i], mid_jsonpos_line(c->pos, seen[i]));
		seen[i] = m;
	}
	return MID_OK;
}

/* An integer in lo..hi; JSON has only doubles, so check it is whole. */
static enum mid_rc integer(struct ctx *c, const cJSON *v, const char *field, long lo, long hi,
			   long *out)
{
	double d;

	if(!cJSON_IsNumber(v))
		return fail(c, MID_ERR_INVAL, v, "\"%s\" must be an integer (%ld..%ld), not %s",
			    field, lo, hi, type_name(v));
	d = v->valuedouble;
	if(d > (double)hi)
		return fail(c, MID_ERR_INVAL, v, "%s %.15g is over the maximum %ld", field, d, hi);
	if(d < (double)lo)
		return fail(c, MID_ERR_INVAL, v, "%s %.15g is below the minimum %ld", field, d, lo);
	if(d != (double)(long)d)
		return fail(c, MID_ERR_INVAL, v, "%s must be a whole number (%ld..%ld), not %.15g",
			    field, lo, hi, d);
	*out = (long)d;
	return MID_OK;
}

/* A string value of one of 'names' (a table of 'n'), as its index. */
static enum mid_rc choice(struct ctx *c, const cJSON *v, const char *field,
			  const char *const *names, size_t n, unsigned *out)
{
	char valid[256];

	join(valid, sizeof(valid), names, n, ALL(n));
	if(!cJSON_IsString(v))
		return fail(c, MID_ERR_INVAL, v, "\"%s\" must be one of %s, not %s", field, valid,
			    type_name(v));
	if(!mid_name_lookup(names, n, 0, v->valuestring, out))
		return MID_OK;
	return fail(c, MID_ERR_INVAL, v, "\"%s\" must be one of %s, not \"" SHOW "\"", field, valid,
		    v->valuestring);
}

static enum mid_rc action(struct ctx *c, const cJSON *v, const char *field, enum mid_action *out)
{
	unsigned i;
	enum mid_rc rc = choice(c, v, field, mid_action_names, MID_ARRAY_LEN(mid_action_names), &i);

	if(!rc)
		*out = (enum mid_action)i;
	return rc;
}

/* ---- settings ------------------------------------------------------ */

static enum mid_rc set_device(struct ctx *c, const cJSON *v, struct mid_policy_settings *s)
{
	size_t n;

	if(!cJSON_IsString(v))
		return fail(c, MID_ERR_INVAL, v, "\"device\" must be a string such as "
			    "\"service:env:role:instance\", not %s", type_name(v));
	n = strlen(v->valuestring);
	if(!mid_device_ok(v->valuestring, n))
		return fail(c, MID_ERR_INVAL, v, "\"device\" must be 1 to %d printable ASCII "
			    "characters without spaces (it has %zu bytes%s)", MID_DEVICE_MAX, n,
			    n >= 1 && n <= MID_DEVICE_MAX ? ", one of them not allowed" : "");
	mid_strlcpy(s->device, v->valuestring, sizeof(s->device));
	return MID_OK;
}

static enum mid_rc set_url(struct ctx *c, const cJSON *v, struct mid_policy_settings *s)
{
	struct mid_url parsed[MID_URLS_MAX];
	char why[384];
	const char *u;
	size_t n, count;

	if(!cJSON_IsString(v))
		return fail(c, MID_ERR_INVAL, v, "\"url\" must be a string (http://HOST:PORT, "
			    "https://... or unix:/PATH, or several, comma-separated), not %s",
			    type_name(v));
	u = v->valuestring;
	n = strlen(u);
	if(n >= sizeof(s->url))
		return fail(c, MID_ERR_TOO_BIG, v, "\"url\" is %zu bytes, over the limit of %zu", n,
			    sizeof(s->url) - 1);
	if(mid_url_parse_list(u, parsed, &count, why, sizeof(why)))
		return fail(c, MID_ERR_INVAL, v, "\"url\" %s", why);
	mid_strlcpy(s->url, u, sizeof(s->url));
	return MID_OK;
}

static enum mid_rc set_on_deny(struct ctx *c, const cJSON *v, struct mid_policy_settings *s)
{
	static const char expect[] = "kill, abort, exit:N (N 0..255) or errno";

	if(!cJSON_IsString(v))
		return fail(c, MID_ERR_INVAL, v, "\"on_deny\" must be one of %s, not %s", expect,
			    type_name(v));
	if(mid_on_deny_parse(v->valuestring, &s->on_deny, &s->exit_code))
		return fail(c, MID_ERR_INVAL, v, "\"on_deny\" must be one of %s, not \"" SHOW "\"",
			    expect, v->valuestring);
	return MID_OK;
}

static enum mid_rc settings(struct ctx *c, const cJSON **f, struct mid_policy_settings *s)
{
	static const char *const modes[] = {"enforce", "audit"};
	static const char *const unfollow[] = {"warn", "deny"};
	/* The 'set' bit of each setting the file names. */
	static const struct {
		unsigned char token, bit;
	} named[] = {
		{ T_DEVICE, MID_SET_DEVICE },	{ T_URL, MID_SET_URL },
		{ T_TTL, MID_SET_TTL },		{ T_TIMEOUT, MID_SET_TIMEOUT },
		{ T_ON_DENY, MID_SET_ON_DENY }, { T_MODE, MID_SET_MODE },
		{ T_UNFOLLOWABLE, MID_SET_UNFOLLOWABLE },
	};
	unsigned mode = 0, unfollowable = 0;
	enum mid_rc rc;

	/* The first setting that is wrong is the one the error names. */
	if((f[T_DEVICE] && (rc = set_device(c, f[T_DEVICE], s))) ||
	   (f[T_URL] && (rc = set_url(c, f[T_URL], s))) ||
	   (f[T_TTL] && (rc = integer(c, f[T_TTL], "ttl_ms", 0, MID_TTL_MAX_MS, &s->ttl_ms))) ||
	   (f[T_TIMEOUT] && (rc = integer(c, f[T_TIMEOUT], "timeout_ms", 1, MID_TIMEOUT_MAX_MS,
					  &s->timeout_ms))) ||
	   (f[T_ON_DENY] && (rc = set_on_deny(c, f[T_ON_DENY], s))) ||
	   (f[T_MODE] && (rc = choice(c, f[T_MODE], "mode", modes, MID_ARRAY_LEN(modes), &mode))) ||
	   (f[T_UNFOLLOWABLE] && (rc = choice(c, f[T_UNFOLLOWABLE], "unfollowable", unfollow,
					      MID_ARRAY_LEN(unfollow), &unfollowable))))
		return rc;
	if(f[T_MODE])
		s->mode = mode ? MID_MODE_AUDIT : MID_MODE_ENFORCE;
	if(f[T_UNFOLLOWABLE])
		s->unfollowable = unfollowable ? MID_UNFOLLOW_DENY : MID_UNFOLLOW_WARN;
	for(size_t i = 0; i < MID_ARRAY_LEN(named); i++)
		if(f[named[i].token])
			s->set |= named[i].bit;
	return MID_OK;
}

static enum mid_rc parse_default(struct ctx *c, const cJSON *v, struct mid_policy *pol)
{
	const cJSON *f[MID_EV_KIND_COUNT] = {0};
	enum mid_action a;
	enum mid_rc rc;
	size_t k;

	if(cJSON_IsString(v)) {
		rc = action(c, v, "default", &a);
		for(k = 0; !rc && k < MID_EV_KIND_COUNT; k++)
			pol->def[k] = a;
		return rc;
	}
	if(!cJSON_IsObject(v))
		return fail(c, MID_ERR_INVAL, v, "\"default\" must be an action (allow, deny, "
			    "validate) or an object of kinds to actions, not %s", type_name(v));
	rc = members(c, v, "kind", " in \"default\"", mid_kind_names, MID_ARRAY_LEN(mid_kind_names), f);
	for(k = 0; !rc && k < MID_EV_KIND_COUNT; k++) {
		char field[32];
		if(!f[k])
			continue;
		snprintf(field, sizeof(field), "default.%s", mid_kind_names[k]);
		rc = action(c, f[k], field, &pol->def[k]);
	}
	return rc;
}

/* ---- rules --------------------------------------------------------- */

/* Handles one entry of a matcher (the value, or one array element). */
typedef enum mid_rc (*entry_fn)(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i);

/*
 * A matcher's value is one entry or a non-empty array of at most
 * MID_POLICY_LIST_MAX entries; 'alloc' makes room for 'n' of them in
 * the rule, then 'fn' reads each.
 */
static enum mid_rc entries(struct ctx *c, const cJSON *v, const char *field, const char *expect,
			   struct mid_rule *r, enum mid_rc (*alloc)(struct mid_rule *, size_t),
			   entry_fn fn)
{
	const cJSON *e;
	size_t n = 1, i = 0;
	enum mid_rc rc;

	if(cJSON_IsArray(v)) {
		n = (size_t)cJSON_GetArraySize(v);
		if(n == 0)
			return fail(c, MID_ERR_INVAL, v, "\"%s\" must be %s; the array is empty",
				    field, expect);
		if(n > MID_POLICY_LIST_MAX)
			return fail(c, MID_ERR_TOO_BIG, v, "\"%s\" has %zu entries, over the limit "
				    "of %d", field, n, MID_POLICY_LIST_MAX);
	}
	rc = alloc(r, n);
	if(rc)
		return fail(c, rc, v, "out of memory");
	if(!cJSON_IsArray(v))
		return fn(c, v, r, 0);
	for(e = v->child; e && !rc; e = e->next)
		rc = fn(c, e, r, i++);
	return rc;
}

#define ALLOCATOR(name, field, count)                                      \
	static enum mid_rc name(struct mid_rule *r, size_t n)                \
	{                                                                    \
		r->field = calloc(n, sizeof(*r->field));                     \
		if(!r->field)                                                \
			return MID_ERR_NOMEM;                                \
		r->count = n;                                                \
		return MID_OK;                                               \
	}
ALLOCATOR(alloc_path, path, npath)
ALLOCATOR(alloc_argv, argv, nargv)
ALLOCATOR(alloc_host, host, nhost)
ALLOCATOR(alloc_addr, addr, naddr)
ALLOCATOR(alloc_port, port, nport)

static enum mid_rc no_alloc(struct mid_rule *r, size_t n)
{
	(void)r;
	(void)n;
	return MID_OK;
}

/* A checked glob, copied; 'fold' lower-cases it (host names). */
static enum mid_rc glob(struct ctx *c, const cJSON *v, const char *field, const char *expect,
			bool fold, char **out)
{
	char why[160];
	enum mid_rc rc;
	size_t i;

	if(!cJSON_IsString(v))
		return wrong_type(c, v, field, expect);
	rc = mid_glob_check(v->valuestring, why, sizeof(why));
	if(rc)
		return fail(c, rc, v, "%s \"" SHOW "\" %s", field, v->valuestring, why);
	*out = strdup(v->valuestring);
	if(!*out)
		return fail(c, MID_ERR_NOMEM, v, "out of memory");
	for(i = 0; fold && (*out)[i]; i++)
		if((*out)[i] >= 'A' && (*out)[i] <= 'Z')
			(*out)[i] = (char)((*out)[i] - 'A' + 'a');
	return MID_OK;
}

static const char expect_glob[] = "a glob string or an array of them";

static enum mid_rc one_path(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	enum mid_rc rc = glob(c, v, "path", expect_glob, false, &r->path[i]);
	const char *p = rc ? NULL : r->path[i];

	/* Programs and files reach the matcher as absolute, normal paths;
	 * a relative glob would silently never match. Socket paths are
	 * taken as the program gave them. */
	if(p && c->kind != MID_EV_CONNECT && c->kind != MID_EV_SEND && p[0] != '/' &&
	   !(p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])))
		rc = fail(c, MID_ERR_INVAL, v, "path \"" SHOW "\" is not absolute (start it with "
			  "\"/\", or with \"**/\" to match in any directory)", p);
	return rc;
}

static enum mid_rc one_argv(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	return glob(c, v, "argv", expect_glob, false, &r->argv[i]);
}

static enum mid_rc one_host(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	return glob(c, v, "host", expect_glob, true, &r->host[i]);
}

static const char expect_addr[] = "an address or CIDR block (\"10.0.0.0/8\", \"::1\") "
				  "or an array of them";

static enum mid_rc one_addr(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	char why[160];

	if(!cJSON_IsString(v))
		return wrong_type(c, v, "addr", expect_addr);
	if(mid_cidr_parse(v->valuestring, &r->addr[i], why, sizeof(why)))
		return fail(c, MID_ERR_INVAL, v, "addr " SHOW " %s", v->valuestring, why);
	return MID_OK;
}

static const char expect_port[] = "a port number (1..65535), a range \"LO-HI\" or an array "
				  "of them";

static enum mid_rc one_port(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	char why[160];
	long n;
	enum mid_rc rc;

	if(cJSON_IsNumber(v)) {
		rc = integer(c, v, "port", 1, 65535, &n);
		if(!rc)
			r->port[i].lo = r->port[i].hi = (uint16_t)n;
		return rc;
	}
	if(!cJSON_IsString(v))
		return wrong_type(c, v, "port", expect_port);
	if(mid_portrange_parse(v->valuestring, &r->port[i], why, sizeof(why)))
		return fail(c, MID_ERR_INVAL, v, "port \"" SHOW "\" %s", v->valuestring, why);
	return MID_OK;
}

/*
 * A matcher whose entries are names from one of names.c's tables ("op",
 * "fd"), kept as bits. An unknown name is answered with the valid ones:
 * those from index 'first' on, or, with 'order', as a reader thinks of
 * them.
 */
struct named {
	const char *field;
	const char *what;	/* in "unknown <what>" */
	const char *expect;
	const char *const *names;
	const unsigned *order;
	unsigned first, n;
};

static const char expect_op[] = "an op name or an array of them";
static const struct named ops = {
	"op", "op", expect_op, mid_fsop_names, NULL, 1, MID_FS_OP_COUNT,
};

static const char expect_fd[] = "an fd kind or an array of them";
static const unsigned fd_order[] = {
	MID_FD_FILE, MID_FD_DIR, MID_FD_TTY, MID_FD_PIPE, MID_FD_CHR,
	MID_FD_BLK, MID_FD_SOCKET, MID_FD_OTHER, MID_FD_UNKNOWN,
};
_Static_assert(MID_ARRAY_LEN(fd_order) == MID_FD_KIND_COUNT, "every fd kind is listed");
static const struct named fds = {
	"fd", "fd kind", expect_fd, mid_fdkind_names, fd_order, 0, MID_FD_KIND_COUNT,
};

static enum mid_rc one_named(struct ctx *c, const cJSON *v, const struct named *t, uint32_t *bits)
{
	char valid[256];
	size_t used = 0;
	unsigned k, i;

	if(!cJSON_IsString(v))
		return wrong_type(c, v, t->field, t->expect);
	if(!mid_name_lookup(t->names, t->n, t->first, v->valuestring, &i)) {
		*bits |= BIT(i);
		return MID_OK;
	}
	for(k = t->first; k < t->n; k++)
		used = add_name(valid, sizeof(valid), used, t->names[t->order ? t->order[k] : k]);
	return fail(c, MID_ERR_INVAL, v, "unknown %s \"" SHOW "\" (valid: %s)", t->what,
		    v->valuestring, valid);
}

static enum mid_rc one_op(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	(void)i;
	return one_named(c, v, &ops, &r->ops);
}

static enum mid_rc one_fd(struct ctx *c, const cJSON *v, struct mid_rule *r, size_t i)
{
	(void)i;
	return one_named(c, v, &fds, &r->fds);
}

static const struct {
	unsigned key;   /* R_* */
	unsigned have;  /* MID_M_* */
	const char *expect;
	enum mid_rc (*alloc)(struct mid_rule *, size_t);
	entry_fn fn;
} matchers[] = {
	{R_PATH, MID_M_PATH, expect_glob, alloc_path, one_path},
	{R_ARGV, MID_M_ARGV, expect_glob, alloc_argv, one_argv},
	{R_ADDR, MID_M_ADDR, expect_addr, alloc_addr, one_addr},
	{R_PORT, MID_M_PORT, expect_port, alloc_port, one_port},
	{R_HOST, MID_M_HOST, expect_glob, alloc_host, one_host},
	{R_OP, MID_M_OP, expect_op, no_alloc, one_op},
	{R_FD, MID_M_FD, expect_fd, no_alloc, one_fd},
};

static enum mid_rc parse_rule(struct ctx *c, const cJSON *obj, struct mid_rule *r)
{
	const cJSON *f[R_COUNT] = {0};
	char valid[256];
	unsigned k;
	size_t m;
	enum mid_rc rc;

	r->line = c->rule_line;
	if(!cJSON_IsObject(obj))
		return fail(c, MID_ERR_INVAL, obj, "a rule must be an object such as {\"on\": "
			    "\"exec\", \"path\": \"/usr/bin/rm\", \"action\": \"deny\"}, not %s",
			    type_name(obj));
	rc = members(c, obj, "field", "", rule_keys, R_COUNT, f);
	if(rc)
		return rc;
	if(!f[R_ON])
		return fail(c, MID_ERR_INVAL, obj, "missing \"on\" (one of: %s)",
			    join(valid, sizeof(valid), mid_kind_names, MID_ARRAY_LEN(mid_kind_names),
				 ALL(MID_ARRAY_LEN(mid_kind_names))));
	if(!f[R_ACTION])
		return fail(c, MID_ERR_INVAL, obj, "missing \"action\" (one of: allow, deny, "
			    "validate)");
	rc = choice(c, f[R_ON], "on", mid_kind_names, MID_ARRAY_LEN(mid_kind_names), &k);
	if(rc || (rc = action(c, f[R_ACTION], "action", &r->action)))
		return rc;
	r->kind = (enum mid_kind)k;
	c->kind = r->kind;
	for(m = 0; m < MID_ARRAY_LEN(matchers); m++) {
		const cJSON *v = f[matchers[m].key];
		if(!v)
			continue;
		if(!(valid_matchers[r->kind] & BIT(matchers[m].key)))
			return fail(c, MID_ERR_INVAL, v, "field \"%s\" is not valid for on=\"%s\" "
				    "(valid: %s)", rule_keys[matchers[m].key], mid_kind_names[r->kind],
				    join(valid, sizeof(valid), rule_keys, R_COUNT,
					 valid_matchers[r->kind]));
		rc = entries(c, v, rule_keys[matchers[m].key], matchers[m].expect, r,
			     matchers[m].alloc, matchers[m].fn);
		if(rc)
			return rc;
		r->have |= matchers[m].have;
	}
	return MID_OK;
}

static enum mid_rc parse_rules(struct ctx *c, const cJSON *v, struct mid_policy *pol)
{
	const cJSON *e;
	size_t n;
	enum mid_rc rc = MID_OK;

	if(!cJSON_IsArray(v))
		return fail(c, MID_ERR_INVAL, v, "\"rules\" must be an array of rule objects, "
			    "not %s", type_name(v));
	n = (size_t)cJSON_GetArraySize(v);
	if(n > MID_POLICY_RULES_MAX)
		return fail(c, MID_ERR_TOO_BIG, v, "\"rules\" has %zu rules, over the limit of %d",
			    n, MID_POLICY_RULES_MAX);
	if(!n)
		return MID_OK;
	pol->rules = calloc(n, sizeof(*pol->rules));
	if(!pol->rules)
		return fail(c, MID_ERR_NOMEM, v, "out of memory");
	for(e = v->child; e && !rc; e = e->next) {
		c->rule = pol->nrules + 1;
		c->rule_line = mid_jsonpos_line(c->pos, e);
		/* counted before it is read, so a half-read rule is freed */
		rc = parse_rule(c, e, &pol->rules[pol->nrules++]);
	}
	c->rule = 0;
	return rc;
}

static enum mid_rc parse_top(struct ctx *c, const cJSON *root, struct mid_policy *pol)
{
	const cJSON *f[T_COUNT] = {0};
	enum mid_rc rc;

	if(!cJSON_IsObject(root))
		return fail(c, MID_ERR_INVAL, root, "a policy must be a JSON object such as "
			    "{\"version\": 1, \"rules\": []}, not %s", type_name(root));
	rc = members(c, root, "top-level field", "", top_keys, T_COUNT, f);
	if(rc)
		return rc;
	if(!f[T_VERSION])
		return fail(c, MID_ERR_INVAL, root, "missing \"version\": 1 (the policy format "
			    "version)");
	if(!cJSON_IsNumber(f[T_VERSION]))
		return fail(c, MID_ERR_INVAL, f[T_VERSION], "\"version\" must be the number 1, "
			    "not %s", type_name(f[T_VERSION]));
	if(f[T_VERSION]->valuedouble != 1.0)
		return fail(c, MID_ERR_INVAL, f[T_VERSION], "\"version\" must be 1 (the only "
			    "format this program reads), not %.15g", f[T_VERSION]->valuedouble);
	rc = settings(c, f, &pol->settings);
	if(!rc && f[T_DEFAULT])
		rc = parse_default(c, f[T_DEFAULT], pol);
	if(!rc && f[T_RULES])
		rc = parse_rules(c, f[T_RULES], pol);
	return rc;
}

/* ---- entry points -------------------------------------------------- */

static struct mid_policy *policy_new(void)
{
	struct mid_policy *pol = calloc(1, sizeof(*pol));
	size_t k;

	if(!pol)
		return NULL;
	pol->settings = default_settings;
	for(k = 0; k < MID_EV_KIND_COUNT; k++)
		pol->def[k] = MID_ACT_VALIDATE;
	return pol;
}

/* A short, printable excerpt of the text at 'p' for a syntax error. */
static void excerpt(const char *p, const char *end, char *buf, size_t len)
{
	size_t i;

	for(i = 0; i + 1 < len && p + i < end && p[i] != '\n'; i++)
		buf[i] = (unsigned char)p[i] < ' ' || p[i] == 0x7f ? '?' : p[i];
	buf[i] = '\0';
}

enum mid_rc mid_policy_parse(const char *text, size_t len, const char *name,
			     struct mid_policy **out, char *err, size_t errlen)
{
	char scratch[8];
	struct ctx c = {name ? name : "policy", NULL, err, errlen, 0, 0, MID_EV_EXEC};
	struct mid_jsonpos *pos = NULL;
	struct mid_policy *pol = NULL;
	cJSON *root = NULL;
	const char *end = NULL, *nul;
	unsigned line, col;
	enum mid_rc rc = MID_ERR_INVAL;
	size_t i;

	if(!c.err || !c.errlen) {
		c.err = scratch;
		c.errlen = sizeof(scratch);
	}
	c.err[0] = '\0';
	if(!out || (!text && len)) {
		snprintf(c.err, c.errlen, "%s: no policy text", c.name);
		goto out;
	}
	*out = NULL;
	if(len > MID_POLICY_FILE_MAX) {
		snprintf(c.err, c.errlen, "%s: the policy is %zu bytes, over the limit of %d (1 MiB)",
			 c.name, len, MID_POLICY_FILE_MAX);
		rc = MID_ERR_TOO_BIG;
		goto out;
	}
	nul = text ? memchr(text, '\0', len) : NULL;
	if(nul) {
		mid_json_where(text, len, (size_t)(nul - text), &line, &col);
		snprintf(c.err, c.errlen, "%s:%u: a NUL byte at column %u; a policy is JSON text",
			 c.name, line, col);
		rc = MID_ERR_PARSE;
		goto out;
	}
	for(i = 0; i < len && (unsigned char)text[i] <= ' '; i++)
		;
	if(i == len) {
		snprintf(c.err, c.errlen, "%s:1: the policy is empty; it needs at least "
			 "{\"version\": 1}", c.name);
		rc = MID_ERR_PARSE;
		goto out;
	}
	/* cJSON's own trailing-garbage check wants the NUL inside 'len', so
	 * the rest of the text is checked here instead. */
	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if(root && end) {
		while(end < text + len && (unsigned char)*end <= ' ')
			end++;
		if(end < text + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if(!root) {
		char near[24];
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		/* cJSON may stop before white space; name the token after it */
		while(off < len && (unsigned char)text[off] <= ' ')
			off++;
		mid_json_where(text, len, off, &line, &col);
		if(off >= len) {
			snprintf(c.err, c.errlen, "%s:%u: JSON syntax error at column %u: the text "
				 "ends early", c.name, line, col);
		} else {
			excerpt(text + off, text + len, near, sizeof(near));
			snprintf(c.err, c.errlen, "%s:%u: JSON syntax error at column %u near '%s'",
				 c.name, line, col, near);
		}
		rc = MID_ERR_PARSE;
		goto out;
	}
	{
		char why[128];
		rc = mid_jsonpos_new(text, len, root, MID_POLICY_DEPTH_MAX, &pos, &line, why,
				     sizeof(why));
		if(rc) {
			snprintf(c.err, c.errlen, "%s:%u: %s", c.name, line, why);
			goto out;
		}
	}
	c.pos = pos;
	rc = MID_ERR_NOMEM;
	pol = policy_new();
	if(!pol) {
		snprintf(c.err, c.errlen, "%s: out of memory", c.name);
		goto out;
	}
	rc = parse_top(&c, root, pol);
	if(rc)
		goto out;
	rc = mid_policy_index(pol);
	if(rc) {
		snprintf(c.err, c.errlen, "%s: out of memory", c.name);
		goto out;
	}
	*out = pol;
	pol = NULL;
out:
	mid_policy_free(pol);
	mid_jsonpos_free(pos);
	cJSON_Delete(root);
	return rc;
}

enum mid_rc mid_policy_load(const char *file, struct mid_policy **out, char *err, size_t errlen)
{
	char scratch[8], ebuf[128];
	struct stat st;
	char *buf = NULL;
	size_t cap, n = 0;
	int fd = -1;
	enum mid_rc rc = MID_ERR_IO;

	if(!err || !errlen) {
		err = scratch;
		errlen = sizeof(scratch);
	}
	if(!out || !file) {
		snprintf(err, errlen, "no policy file named");
		rc = MID_ERR_INVAL;
		goto out;
	}
	*out = NULL;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if(fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s: cannot read the policy: %s", file,
			 strerror_r(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if(!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: the policy is not a regular file", file);
		rc = MID_ERR_INVAL;
		goto out;
	}
	/* Read one byte past the cap, so a file that grew since fstat is
	 * still measured by what was read. */
	cap = st.st_size < MID_POLICY_FILE_MAX ? (size_t)st.st_size + 1 : MID_POLICY_FILE_MAX + 1;
	for(;;) {
		ssize_t got;
		if(!buf || n == cap) {
			char *nb;
			if(buf)
				cap = cap * 2 > MID_POLICY_FILE_MAX + 1 ? MID_POLICY_FILE_MAX + 1
									: cap * 2;
			nb = realloc(buf, cap);
			if(!nb) {
				snprintf(err, errlen, "%s: out of memory", file);
				rc = MID_ERR_NOMEM;
				goto out;
			}
			buf = nb;
		}
		if(n == cap)
			break; /* over the cap */
		got = read(fd, buf + n, cap - n);
		if(got < 0 && errno == EINTR)
			continue;
		if(got < 0) {
			snprintf(err, errlen, "%s: cannot read the policy: %s", file,
				 strerror_r(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if(got == 0)
			break;
		n += (size_t)got;
	}
	rc = mid_policy_parse(buf, n, file, out, err, errlen);
out:
	free(buf);
	if(fd >= 0)
		close(fd);
	return rc;
}

/* The built-in policy lives in static storage, ready before main: a
 * gated program that never names a policy file allocates nothing for it.
 * Its rule and index live in the same const object, which the linker puts
 * in .data.rel.ro beside the other relocated read-only data: the page the
 * loader has written anyway, not one more page of .data for a new process
 * to copy. Nothing writes to it (mid_policy_free leaves it alone).
 * Terminal output, pipes and /dev/null carry no side effect worth a round
 * trip to the control plane. */
_Static_assert(MID_EV_KIND_COUNT == 7, "the built-in policy names every kind's default");
static const struct {
	struct mid_policy pol;
	struct mid_rule rules[1];
	size_t writes[1]; /* bykind[MID_EV_WRITE]: rule 0 */
} builtin = {
	.pol = {
		.settings = DEFAULT_SETTINGS,
		.def = {[MID_EV_EXEC] = MID_ACT_VALIDATE, [MID_EV_CONNECT] = MID_ACT_VALIDATE,
			[MID_EV_SEND] = MID_ACT_VALIDATE, [MID_EV_WRITE] = MID_ACT_VALIDATE,
			[MID_EV_FS] = MID_ACT_VALIDATE, [MID_EV_SIGNAL] = MID_ACT_VALIDATE,
			[MID_EV_TTY_INJECT] = MID_ACT_VALIDATE},
		.rules = (struct mid_rule *)(uintptr_t)builtin.rules,
		.nrules = 1,
		.bykind = {[MID_EV_WRITE] = (size_t *)(uintptr_t)builtin.writes},
		.nbykind = {[MID_EV_WRITE] = 1},
		.builtin = true,
	},
	.rules = {{
		.kind = MID_EV_WRITE,
		.action = MID_ACT_ALLOW,
		.have = MID_M_FD,
		.fds = BIT(MID_FD_TTY) | BIT(MID_FD_PIPE) | BIT(MID_FD_CHR),
	}},
	.writes = {0},
};

MID_STARTUP enum mid_rc mid_policy_builtin(struct mid_policy **out)
{
	if(!out)
		return MID_ERR_INVAL;
	*out = (struct mid_policy *)(uintptr_t)&builtin.pol;
	return MID_OK;
}

static void free_strings(char **v, size_t n)
{
	size_t i;

	for(i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void mid_policy_free(struct mid_policy *pol)
{
	size_t i;

	if(!pol || pol->builtin)
		return;
	for(i = 0; i < pol->nrules; i++) {
		struct mid_rule *r = &pol->rules[i];
		free_strings(r->path, r->npath);
		free_strings(r->argv, r->nargv);
		free_strings(r->host, r->nhost);
		free(r->addr);
		free(r->port);
	}
	free(pol->rules);
	for(i = 0; i < MID_EV_KIND_COUNT; i++)
		free(pol->bykind[i]);
	free(pol);
}

MID_STARTUP const struct mid_policy_settings *mid_policy_settings(const struct mid_policy *pol)
{
	return pol ? &pol->settings : &default_settings;
}
