/* SPDX-License-Identifier: MIT */
/*
 * Glob matching for policy rules. One iterative matcher serves paths,
 * argv and host names. It keeps at most two resume points, the latest '*'
 * and the latest '**' (paths only), so its work is bounded by the product
 * of pattern and subject lengths: "a*a*a*a*b" cannot blow up. A subject
 * is a NULL-terminated list of words read as if joined by single spaces,
 * which lets argv be matched where it lies.
 */
#include "pol_glob.h"
#include "policy.h"

#include <stdio.h>
#include <string.h>

/* A place in the subject: word 'i', byte 'p' of it. */
struct pos {
	size_t i;
	const char *p;
};

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

/* The byte at 'q'; the end of a word that has a successor reads as ' '. */
static int at(const char *const *w, struct pos q)
{
	if(*q.p)
		return (unsigned char)*q.p;
	return w[q.i + 1] ? ' ' : 0;
}

static struct pos step(const char *const *w, struct pos q)
{
	if(*q.p) {
		q.p++;
	} else {
		q.i++;
		q.p = w[q.i];
	}
	return q;
}

/* Read one class member or escaped byte at '*pp', advancing it. */
static int class_byte(const char **pp)
{
	const char *p = *pp;

	if(*p == '\\' && p[1])
		p++;
	*pp = p + 1;
	return (unsigned char)*p;
}

/*
 * Match 'c' against the class starting at 'p' (just after '['). Returns
 * 1 or 0 and sets '*end' past the closing ']'; returns -1 when the class
 * is not closed (mid_glob_check rejects that at load, so the matcher
 * then reads '[' as itself).
 */
static int class_match(const char *p, int c, unsigned flags, const char **end)
{
	bool neg = false, hit = false, first = true;
	const bool fold = flags & MID_GLOB_FOLD;

	if(*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	for(;;) {
		int lo, hi;

		if(!*p || (*p == '\\' && !p[1]))
			return -1;
		if(*p == ']' && !first)
			break;
		first = false;
		lo = class_byte(&p);
		hi = lo;
		if(*p == '-' && p[1] && p[1] != ']') {
			p++;
			hi = class_byte(&p);
		}
		if(c >= lo && c <= hi)
			hit = true;
		else if(fold && ((lower(c) >= lo && lower(c) <= hi) ||
				 (upper(c) >= lo && upper(c) <= hi)))
			hit = true;
	}
	*end = p + 1;
	/* In a path no class, not even a negated one, matches '/'. */
	if((flags & MID_GLOB_PATH) && c == '/')
		return 0;
	return hit != neg;
}

/* Does the single-byte pattern item at '*pp' match 'c'? Advances '*pp'
 * past the item either way. 'c' is never 0 here. */
static bool one(const char **pp, int c, unsigned flags)
{
	const char *p = *pp, *end;
	int pc, r;

	switch(*p) {
	case '?':
		*pp = p + 1;
		return !((flags & MID_GLOB_PATH) && c == '/');
	case '[':
		r = class_match(p + 1, c, flags, &end);
		if(r >= 0) {
			*pp = end;
			return r == 1;
		}
		break;
	case '\\':
		if(p[1])
			p++;
		break;
	default:
		break;
	}
	pc = (unsigned char)*p;
	*pp = p + 1;
	if(flags & MID_GLOB_FOLD)
		return lower(pc) == lower(c);
	return pc == c;
}

/* True when the rest of the subject from 'q' holds no '/'. */
static bool no_slash_left(const char *const *w, struct pos q)
{
	for(; q.p; q.i++, q.p = w[q.i]) {
		if(strchr(q.p, '/'))
			return false;
	}
	return true;
}

/* Is 'p' a '**' that makes up a whole path segment (at the start or
 * after a '/', and at the end or before a '/')? Elsewhere it is a '*'. */
static bool globstar(const char *pat, const char *p)
{
	return p[0] == '*' && p[1] == '*' && (p == pat || p[-1] == '/') &&
	       (p[2] == '/' || p[2] == '\0');
}

MID_STATIC bool glob_run(const char *pattern, const char *const *words, unsigned flags,
			 size_t *steps)
{
	const bool path = flags & MID_GLOB_PATH;
	const char *p = pattern, *star_p = NULL, *gs_p = NULL;
	struct pos s = {0, words[0]}, star_s = s, gs_s = s;
	size_t n = 0;
	bool ok = false;
	int c;

	for(;;) {
		n++;
		c = at(words, s);
		if(path && globstar(pattern, p)) {
			/* "**" ends the pattern: anything below matches. "**\/"
			 * matches nothing or whole segments, so on a miss it
			 * resumes after the subject's next '/'. */
			if(!p[2]) {
				ok = true;
				break;
			}
			p += 3;
			gs_p = p;
			gs_s = s;
			star_p = NULL;
			continue;
		}
		if(*p == '*') {
			while(*p == '*')
				p++;
			if(*p) {
				star_p = p;
				star_s = s;
				continue;
			}
			/* A final '*' takes the rest, unless a path's rest
			 * crosses a '/': then only a '**' may help. */
			if(!path || no_slash_left(words, s)) {
				ok = true;
				break;
			}
			star_p = NULL;
		} else if(c && *p) {
			const char *q = p;
			if(one(&q, c, flags)) {
				p = q;
				s = step(words, s);
				continue;
			}
		} else if(!c && !*p) {
			ok = true;
			break;
		}
		/* A miss: let the latest '*' take one more byte, but never a
		 * '/' in a path; failing that, the latest '**' one more
		 * segment; failing that, there is no match. */
		if(star_p) {
			c = at(words, star_s);
			if(c && !(path && c == '/')) {
				star_s = step(words, star_s);
				p = star_p;
				s = star_s;
				continue;
			}
			star_p = NULL;
		}
		if(gs_p) {
			while((c = at(words, gs_s)) && c != '/')
				gs_s = step(words, gs_s);
			if(c) {
				gs_s = step(words, gs_s);
				p = gs_p;
				s = gs_s;
				continue;
			}
		}
		break;
	}
	if(steps)
		*steps = n;
	return ok;
}

bool mid_glob_path(const char *pattern, const char *s)
{
	const char *w[2] = {s, NULL};

	if(!pattern || !s)
		return false;
	return glob_run(pattern, w, MID_GLOB_PATH, NULL);
}

bool mid_glob_text(const char *pattern, const char *s)
{
	const char *w[2] = {s, NULL};

	if(!pattern || !s)
		return false;
	return glob_run(pattern, w, 0, NULL);
}

bool mid_glob_host(const char *pattern, const char *host)
{
	const char *w[2] = {host, NULL};

	if(!pattern || !host)
		return false;
	return glob_run(pattern, w, MID_GLOB_FOLD, NULL);
}

bool mid_glob_argv(const char *pattern, char *const *argv)
{
	static const char *const none[2] = {"", NULL};

	if(!pattern)
		return false;
	if(!argv || !argv[0])
		return glob_run(pattern, none, 0, NULL);
	/* Adding const to both levels is safe; C just will not do it alone. */
	return glob_run(pattern, (const char *const *)argv, 0, NULL);
}

enum mid_rc mid_glob_check(const char *pattern, char *why, size_t whylen)
{
	const char *p = pattern, *end;
	size_t len = strlen(pattern);

	if(!len) {
		snprintf(why, whylen, "is empty");
		return MID_ERR_INVAL;
	}
	if(len > MID_GLOB_MAX) {
		snprintf(why, whylen, "is %zu bytes, over the limit of %d", len, MID_GLOB_MAX);
		return MID_ERR_TOO_BIG;
	}
	while(*p) {
		if(*p == '\\') {
			if(!p[1]) {
				snprintf(why, whylen, "ends in a lone '\\' (write '\\\\' for a backslash)");
				return MID_ERR_INVAL;
			}
			p += 2;
		} else if(*p == '[') {
			if(class_match(p + 1, 'a', 0, &end) < 0) {
				snprintf(why, whylen, "has a '[' class without its ']' (write '\\[' for a bracket)");
				return MID_ERR_INVAL;
			}
			p = end;
		} else {
			p++;
		}
	}
	return MID_OK;
}
