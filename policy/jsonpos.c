/* SPDX-License-Identifier: MIT */
/*
 * Positions for policy error messages. The scanner below is not a
 * parser: it runs only on text cJSON has accepted, and records a line at
 * each place where cJSON creates an item (a member's key, an element's
 * first byte). A walk of the tree in the same order pairs the two lists;
 * a different count means the two readings disagree and is reported,
 * never guessed at.
 */
#include "pol_jsonpos.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
	uintptr_t item;
	unsigned line;
};

struct mid_jsonpos {
	struct pair *pairs; /* sorted by item */
	size_t n;
};

struct scan {
	unsigned *lines;
	size_t n, cap;
};

static enum mid_rc emit(struct scan *s, unsigned line)
{
	if(s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		unsigned *l = realloc(s->lines, cap * sizeof(*l));
		if(!l)
			return MID_ERR_NOMEM;
		s->lines = l;
		s->cap = cap;
	}
	s->lines[s->n++] = line;
	return MID_OK;
}

/* JSON's structural bytes, which end a number or a literal. cJSON counts
 * every byte up to ' ' as white space, and so does the scanner. */
static bool delimiter(unsigned char c)
{
	return c <= ' ' || c == ',' || c == ':' || c == '[' || c == ']' || c == '{' ||
	       c == '}' || c == '"';
}

static enum mid_rc scan_text(const char *t, size_t len, unsigned maxdepth, struct scan *s,
			     unsigned *errline, char *why, size_t whylen)
{
	size_t i = 0;
	unsigned line = 1, depth = 0;
	bool in_object[256], want_key = false, member_value = false;
	enum mid_rc rc = MID_OK;

	if(maxdepth > MID_ARRAY_LEN(in_object))
		maxdepth = MID_ARRAY_LEN(in_object);
	if(len >= 3 && !memcmp(t, "\xef\xbb\xbf", 3))
		i = 3;
	while(i < len && !rc) {
		unsigned char c = (unsigned char)t[i];

		if(c <= ' ') {
			if(c == '\n')
				line++;
			i++;
			continue;
		}
		switch(c) {
		case '{':
		case '[':
			if(!member_value)
				rc = emit(s, line);
			member_value = false;
			if(depth == maxdepth) {
				*errline = line;
				snprintf(why, whylen, "nesting deeper than %u levels", maxdepth);
				rc = MID_ERR_TOO_BIG;
				break;
			}
			in_object[depth++] = c == '{';
			want_key = c == '{';
			i++;
			break;
		case '}':
		case ']':
			if(depth)
				depth--;
			want_key = false;
			i++;
			break;
		case ':':
			member_value = true;
			i++;
			break;
		case ',':
			want_key = depth && in_object[depth - 1];
			i++;
			break;
		case '"':
			if(want_key || !member_value)
				rc = emit(s, line);
			want_key = false;
			member_value = false;
			for(i++; i < len && t[i] != '"'; i++) {
				if(t[i] == '\n')
					line++;
				if(t[i] != '\\')
					continue;
				if(len - i >= 6 && !memcmp(t + i, "\\u0000", 6)) {
					*errline = line;
					snprintf(why, whylen, "a string holds \\u0000, which is not allowed");
					rc = MID_ERR_PARSE;
					break;
				}
				i++;
			}
			i++;
			break;
		default:
			if(!member_value)
				rc = emit(s, line);
			member_value = false;
			while(i < len && !delimiter((unsigned char)t[i]))
				i++;
			break;
		}
	}
	return rc;
}

/* Pre-order, as the text reads. The depth was bounded by the scan. */
static void walk(const cJSON *it, const struct scan *s, struct pair *pairs, size_t *k)
{
	const cJSON *c;

	if(*k < s->n) {
		pairs[*k].item = (uintptr_t)it;
		pairs[*k].line = s->lines[*k];
	}
	(*k)++;
	for(c = it->child; c; c = c->next)
		walk(c, s, pairs, k);
}

static int by_item(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return x->item < y->item ? -1 : x->item > y->item;
}

enum mid_rc mid_jsonpos_new(const char *text, size_t len, const cJSON *root, unsigned maxdepth,
			    struct mid_jsonpos **out, unsigned *line, char *why, size_t whylen)
{
	struct scan s = {NULL, 0, 0};
	struct mid_jsonpos *pos = NULL;
	size_t k = 0;
	enum mid_rc rc;

	*out = NULL;
	*line = 0;
	rc = scan_text(text, len, maxdepth, &s, line, why, whylen);
	if(rc)
		goto out;
	rc = MID_ERR_NOMEM;
	pos = calloc(1, sizeof(*pos));
	if(!pos || !(pos->pairs = calloc(s.n ? s.n : 1, sizeof(*pos->pairs))))
		goto out;
	walk(root, &s, pos->pairs, &k);
	if(k != s.n) {
		snprintf(why, whylen, "position index mismatch (%zu items, %zu places)", k, s.n);
		rc = MID_ERR_PARSE;
		goto out;
	}
	pos->n = k;
	qsort(pos->pairs, pos->n, sizeof(*pos->pairs), by_item);
	*out = pos;
	pos = NULL;
	rc = MID_OK;
out:
	mid_jsonpos_free(pos);
	free(s.lines);
	return rc;
}

unsigned mid_jsonpos_line(const struct mid_jsonpos *pos, const cJSON *item)
{
	struct pair key = {(uintptr_t)item, 0};
	const struct pair *p;

	if(!pos || !item)
		return 0;
	p = bsearch(&key, pos->pairs, pos->n, sizeof(key), by_item);
	return p ? p->line : 0;
}

void mid_jsonpos_free(struct mid_jsonpos *pos)
{
	if(!pos)
		return;
	free(pos->pairs);
	free(pos);
}

void mid_json_where(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	if(off > len)
		off = len;
	for(i = 0; i < off; i++) {
		if(text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}
