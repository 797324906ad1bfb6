/* SPDX-License-Identifier: MIT */
/*
 * One line per rule for `midshim explain` and deny logs, e.g.
 * "rule 3 (line 14): fs op delete path /etc/x -> deny". Rules are
 * numbered from 1 as a person counts them in the file. The text is built
 * in the caller's buffer and cut short, never overrun, when it is small.
 */
#include "pol_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *buf;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if(o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if(n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

/* " op delete,rename" from a bitmask over a name function. */
static void put_bits(struct out *o, const char *label, uint32_t bits, unsigned count,
		     const char *(*namefn)(unsigned))
{
	const char *sep = " ";
	unsigned i;

	put(o, " %s", label);
	for(i = 0; i < count; i++) {
		if(bits & (1u << i)) {
			put(o, "%s%s", sep, namefn(i));
			sep = ",";
		}
	}
}

static const char *op_name(unsigned i)
{
	return mid_fsop_name((enum mid_fsop)i);
}

static const char *fd_name(unsigned i)
{
	return mid_fdkind_name((enum mid_fdkind)i);
}

static void put_list(struct out *o, const char *label, char *const *v, size_t n, bool quote)
{
	size_t i;

	put(o, " %s ", label);
	for(i = 0; i < n; i++)
		put(o, quote ? "%s\"%s\"" : "%s%s", i ? "," : "", v[i]);
}

void mid_policy_rule_describe(const struct mid_policy *pol, size_t i, char *buf, size_t buflen)
{
	struct out o = {buf, 0, buflen};
	const struct mid_rule *r;
	size_t j;

	if(!buf || !buflen)
		return;
	buf[0] = '\0';
	if(!pol || i >= pol->nrules) {
		put(&o, "no rule %zu", i + 1);
		return;
	}
	r = &pol->rules[i];
	if(pol->builtin)
		put(&o, "rule %zu (built-in): %s", i + 1, mid_kind_name(r->kind));
	else
		put(&o, "rule %zu (line %u): %s", i + 1, r->line, mid_kind_name(r->kind));
	if(r->have & MID_M_OP)
		put_bits(&o, "op", r->ops, MID_FS_OP_COUNT, op_name);
	if(r->have & MID_M_FD)
		put_bits(&o, "fd", r->fds, MID_FD_KIND_COUNT, fd_name);
	if(r->have & MID_M_PATH)
		put_list(&o, "path", r->path, r->npath, false);
	if(r->have & MID_M_ARGV)
		put_list(&o, "argv", r->argv, r->nargv, true);
	if(r->have & MID_M_HOST)
		put_list(&o, "host", r->host, r->nhost, false);
	if(r->have & MID_M_ADDR) {
		put(&o, " addr ");
		for(j = 0; j < r->naddr; j++) {
			char a[MID_CIDR_STRLEN];
			mid_cidr_format(&r->addr[j], a, sizeof(a));
			put(&o, "%s%s", j ? "," : "", a);
		}
	}
	if(r->have & MID_M_PORT) {
		put(&o, " port ");
		for(j = 0; j < r->nport; j++) {
			if(r->port[j].lo == r->port[j].hi)
				put(&o, "%s%u", j ? "," : "", r->port[j].lo);
			else
				put(&o, "%s%u-%u", j ? "," : "", r->port[j].lo, r->port[j].hi);
		}
	}
	if(!r->have)
		put(&o, " (any)");
	put(&o, " -> %s", mid_action_name(r->action));
}
