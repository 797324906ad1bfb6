/* SPDX-License-Identifier: MIT */
/*
 * Reading a control-plane reply: strict HTTP/1.x framing of a buffer
 * (status line, header fields, Content-Length, chunked or read-to-close
 * bodies) under the MID_REPLY_MAX cap, then the mapping of status and JSON
 * body to a decision. Nothing here does I/O, so the unit tests and the
 * fuzzer drive exactly the code the client runs on what it reads.
 */
#define _GNU_SOURCE
#include "client_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How far framing got. */
enum frame {
	FR_DONE,  /* a whole reply */
	FR_MORE,  /* need more bytes */
	FR_BAD,   /* not HTTP as we accept it */
	FR_TRUNC, /* the peer closed mid-reply */
	FR_BIG,   /* the reply does not fit MID_REPLY_MAX */
};

struct head {
	int minor;
	int chunked;
	int has_len;
	size_t clen; /* saturates above MID_REPLY_MAX */
	int close;
	int keep_alive;
};

enum mid_rc mid_reply_fault(struct mid_decision *d, enum mid_rc rc, const char *code)
{
	d->allowed = false;
	d->local = rc;
	mid_strlcpy(d->code, code, sizeof(d->code));
	mid_strlcpy(d->request_id, "-", sizeof(d->request_id));
	d->status[0] = '\0';
	return rc;
}

/* What to say when a reply is not complete in 'len' bytes. */
static enum frame need_more(size_t len, int eof)
{
	if(len > MID_REPLY_MAX)
		return FR_BIG;
	return eof ? FR_TRUNC : FR_MORE;
}

/*
 * Find the CRLF ending the line at 'pos'. A bare CR or LF, a NUL, or more
 * than MID_LINE_MAX bytes make the line malformed; those are found even
 * before the line is complete, so a hostile peer cannot make us wait.
 */
static enum frame line_end(const char *b, size_t len, size_t pos, size_t *eol)
{
	size_t i;

	for(i = pos; i < len; i++) {
		if(b[i] == '\r') {
			if(i + 1 == len)
				return FR_MORE;
			if(b[i + 1] != '\n')
				return FR_BAD;
			*eol = i;
			return FR_DONE;
		}
		if(b[i] == '\n' || b[i] == '\0' || i - pos >= MID_LINE_MAX)
			return FR_BAD;
	}
	return FR_MORE;
}

static int is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Field values and reasons: visible bytes, obs-text, space and tab. */
static int is_text(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static int is_ows(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int token_eq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

static enum frame status_line(const char *b, size_t len, size_t *pos, int *status,
                              int *minor)
{
	size_t n = len < 7 ? len : 7, eol, i;
	enum frame f;

	/* Say "not HTTP" at the first wrong byte, not at the deadline. */
	if(memcmp(b, "HTTP/1.", n))
		return FR_BAD;
	f = line_end(b, len, 0, &eol);
	if(f != FR_DONE)
		return f;
	if(eol < 12 || (b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return FR_BAD;
	if(b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' ||
	   b[11] > '9')
		return FR_BAD;
	if(eol > 12 && b[12] != ' ')
		return FR_BAD;
	for(i = 13; i < eol; i++)
		if(!is_text((unsigned char)b[i]))
			return FR_BAD;
	*minor = b[7] - '0';
	*status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	*pos = eol + 2;
	return FR_DONE;
}

static enum frame content_length(const char *v, size_t n, struct head *h)
{
	size_t i, val = 0;

	if(n == 0)
		return FR_BAD;
	for(i = 0; i < n; i++) {
		if(v[i] < '0' || v[i] > '9')
			return FR_BAD;
		if(val <= MID_REPLY_MAX)
			val = val * 10 + (size_t)(v[i] - '0');
	}
	if(val > MID_REPLY_MAX)
		val = MID_REPLY_MAX + 1;
	if(h->has_len && h->clen != val)
		return FR_BAD;
	h->has_len = 1;
	h->clen = val;
	return FR_DONE;
}

static void connection(const char *v, size_t n, struct head *h)
{
	size_t i = 0;

	while(i < n) {
		size_t s, e;

		while(i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while(i < n && v[i] != ',')
			i++;
		e = i;
		while(e > s && is_ows(v[e - 1]))
			e--;
		if(token_eq(v + s, e - s, "close"))
			h->close = 1;
		else if(token_eq(v + s, e - s, "keep-alive"))
			h->keep_alive = 1;
	}
}

/*
 * Check one header field line [pos, eol) and note what framing needs from
 * it ('h' NULL: a trailer, checked and skipped). A line that starts with
 * white space is obsolete line folding, which we refuse.
 */
static enum frame field(const char *b, size_t pos, size_t eol, struct head *h)
{
	size_t colon = pos, vs, ve, i;

	while(colon < eol && is_tchar((unsigned char)b[colon]))
		colon++;
	if(colon == pos || colon == eol || b[colon] != ':')
		return FR_BAD;
	for(i = colon + 1; i < eol; i++)
		if(!is_text((unsigned char)b[i]))
			return FR_BAD;
	if(!h)
		return FR_DONE;
	vs = colon + 1;
	while(vs < eol && is_ows(b[vs]))
		vs++;
	ve = eol;
	while(ve > vs && is_ows(b[ve - 1]))
		ve--;
	if(token_eq(b + pos, colon - pos, "content-length"))
		return content_length(b + vs, ve - vs, h);
	if(token_eq(b + pos, colon - pos, "transfer-encoding")) {
		/* Only plain chunked: we cannot decode gzip, and a second
		 * coding header smells of request smuggling. */
		if(h->chunked || !token_eq(b + vs, ve - vs, "chunked"))
			return FR_BAD;
		h->chunked = 1;
	} else if(token_eq(b + pos, colon - pos, "connection")) {
		connection(b + vs, ve - vs, h);
	}
	return FR_DONE;
}

/* Header fields (or trailers when 'h' is NULL) up to the empty line. */
static enum frame fields(const char *b, size_t len, size_t *pos, struct head *h)
{
	for(;;) {
		size_t eol;
		enum frame f = line_end(b, len, *pos, &eol);

		if(f != FR_DONE)
			return f;
		if(eol == *pos) {
			*pos = eol + 2;
			return FR_DONE;
		}
		f = field(b, *pos, eol, h);
		if(f != FR_DONE)
			return f;
		*pos = eol + 2;
	}
}

static int hexval(char ch)
{
	if(ch >= '0' && ch <= '9')
		return ch - '0';
	if(ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if(ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Walk a chunked body from 'pos': hex size, extensions (ignored), data,
 * CRLF, ... last chunk, trailers (skipped), empty line. With 'decode' the
 * data is moved down to 'pos' (only after a walk without it said DONE).
 */
static enum frame chunks(char *b, size_t len, size_t pos, int decode, size_t *end,
                         size_t *blen)
{
	size_t out = pos, start = pos;
	enum frame f;

	for(;;) {
		size_t eol, size = 0, i = pos;
		int v;

		/* A huge size is refused as soon as its digits are seen. */
		while(i < len && (v = hexval(b[i])) >= 0) {
			size = size * 16 + (size_t)v;
			if(size > MID_REPLY_MAX)
				return FR_BIG;
			i++;
		}
		f = line_end(b, len, pos, &eol);
		if(f != FR_DONE)
			return f;
		if(i == pos)
			return FR_BAD;
		while(i < eol && is_ows(b[i]))
			i++;
		if(i < eol && b[i] != ';')
			return FR_BAD;
		for(; i < eol; i++)
			if(!is_text((unsigned char)b[i]))
				return FR_BAD;
		pos = eol + 2;
		if(size == 0)
			break;
		if(pos > MID_REPLY_MAX || size + 2 > MID_REPLY_MAX - pos)
			return FR_BIG;
		if(len < pos + size + 2)
			return FR_MORE;
		if(b[pos + size] != '\r' || b[pos + size + 1] != '\n')
			return FR_BAD;
		if(decode)
			memmove(b + out, b + pos, size);
		out += size;
		pos += size + 2;
	}
	f = fields(b, len, &pos, NULL);
	if(f != FR_DONE)
		return f;
	*end = pos;
	*blen = out - start;
	return FR_DONE;
}

/* Frame the reply in 'b': its status, where its body is, where it ends. */
static enum frame frame(char *b, size_t len, int eof, struct mid_reply *r, size_t *body,
                        size_t *blen)
{
	struct head h;
	size_t pos = 0;
	enum frame f;

	memset(&h, 0, sizeof(h));
	f = status_line(b, len, &pos, &r->status, &h.minor);
	if(f == FR_DONE)
		f = fields(b, len, &pos, &h);
	if(f == FR_DONE && pos > MID_REPLY_MAX)
		f = FR_BIG;
	if(f != FR_DONE)
		goto out;
	r->close = h.close || (h.minor == 0 && !h.keep_alive);
	if(h.chunked && h.has_len) {
		f = FR_BAD;
		goto out;
	}
	*body = pos;
	*blen = 0;
	if(r->status < 200 || r->status == 204 || r->status == 304) {
		r->consumed = pos;
	} else if(h.chunked) {
		f = chunks(b, len, pos, 0, &r->consumed, blen);
		if(f == FR_DONE)
			f = chunks(b, len, pos, 1, &r->consumed, blen);
	} else if(h.has_len) {
		if(h.clen > MID_REPLY_MAX - pos)
			f = FR_BIG;
		else if(len < pos + h.clen)
			f = FR_MORE;
		r->consumed = pos + h.clen;
		*blen = h.clen;
	} else {
		/* No length: the body runs to the close. */
		r->close = 1;
		f = len > MID_REPLY_MAX ? FR_BIG : eof ? FR_DONE : FR_MORE;
		r->consumed = len;
		*blen = len - pos;
	}
	if(f == FR_DONE && r->consumed > MID_REPLY_MAX)
		f = FR_BIG;
out:
	if(f == FR_MORE)
		f = need_more(len, eof);
	return f;
}

/* Copy what is left of 'src' after dropping all but [A-Za-z0-9_.-]: the
 * result goes into log lines, where a newline or quote would forge one. */
static void clean_copy(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	for(; *src && o + 1 < cap; src++) {
		char ch = *src;
		if((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		   (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '.' || ch == '-')
			dst[o++] = ch;
	}
	dst[o] = '\0';
}

/* The one member 'name' of 'obj'; NULL when absent or given twice, as a
 * reply saying "allowed" twice is not one we can read safely. */
static const cJSON *member(const cJSON *obj, const char *name)
{
	const cJSON *it, *found = NULL;

	for(it = obj->child; it; it = it->next) {
		if(it->string && strcmp(it->string, name) == 0) {
			if(found)
				return NULL;
			found = it;
		}
	}
	return found;
}

/* Copy the string member 'name' into 'out' when it is exactly 'n'
 * lowercase hex digits; else leave 'out' empty. */
static void hex_member(const cJSON *root, const char *name, char *out, size_t n)
{
	const cJSON *it = member(root, name);
	size_t i;

	out[0] = '\0';
	if(!cJSON_IsString(it) || !it->valuestring || strlen(it->valuestring) != n)
		return;
	for(i = 0; i < n; i++) {
		char ch = it->valuestring[i];
		if(!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return;
	}
	memcpy(out, it->valuestring, n + 1);
}

enum mid_rc mid_reply_decide(enum mid_call call, int status, const char *body,
                             size_t blen, struct mid_decision *d)
{
	const char *end = NULL;
	const cJSON *it;
	cJSON *root = NULL;
	enum mid_rc rc;

	d->http_status = status;
	root = blen ? cJSON_ParseWithLengthOpts(body, blen, &end, 0) : NULL;
	if(status < 200 || status > 299) {
		char code[MID_CODE_MAX];

		snprintf(code, sizeof(code), "%s%03d", MID_CODE_HTTP_PREFIX,
		         status % 1000);
		/* midd's refusal of an admin key is named: the fix is to
		 * give the program the org key, not to look at midd. */
		it = status == 403 && cJSON_IsObject(root) ? member(root, "error") : NULL;
		if(cJSON_IsString(it) && it->valuestring &&
		   !strcmp(it->valuestring, MID_CODE_ADMIN_KEY))
			mid_strlcpy(code, MID_CODE_ADMIN_KEY, sizeof(code));
		rc = mid_reply_fault(d, MID_ERR_HTTP, code);
		goto out;
	}
	if(root) {
		/* cJSON stops after the value; only white space may follow. */
		size_t i = (size_t)(end - body);
		while(i < blen && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
		                   body[i] == '\n'))
			i++;
		if(i < blen) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if(!root) {
		rc = mid_reply_fault(d, MID_ERR_BAD_REPLY, MID_CODE_NOT_JSON);
		goto out;
	}
	rc = mid_reply_fault(d, MID_ERR_BAD_REPLY, MID_CODE_BAD_REPLY);
	if(!cJSON_IsObject(root))
		goto out;
	if(call == MID_CALL_VALIDATE) {
		it = member(root, "allowed");
		if(!cJSON_IsBool(it))
			goto out;
		d->allowed = cJSON_IsTrue(it);
	} else {
		it = member(root, "status");
		if(!cJSON_IsString(it) || !it->valuestring)
			goto out;
		d->allowed = strcmp(it->valuestring, "ok") == 0 ||
		             strcmp(it->valuestring, "exists") == 0;
		clean_copy(d->status, sizeof(d->status), it->valuestring);
	}
	d->local = rc = MID_OK;
	d->code[0] = '\0';
	it = member(root, "code");
	if(cJSON_IsString(it) && it->valuestring)
		clean_copy(d->code, sizeof(d->code), it->valuestring);
	if(!d->code[0])
		mid_strlcpy(d->code, d->allowed ? "ALLOW" : "DENIED", sizeof(d->code));
	hex_member(root, "proof", d->proof, 64);
	hex_member(root, "session", d->session, 32);
	hex_member(root, "sessionKey", d->session_key, 64);
	d->request_id[0] = '\0';
	it = member(root, "request_id");
	if(cJSON_IsString(it) && it->valuestring)
		clean_copy(d->request_id, sizeof(d->request_id), it->valuestring);
	if(!d->request_id[0])
		mid_strlcpy(d->request_id, "-", sizeof(d->request_id));
out:
	cJSON_Delete(root);
	return rc;
}

enum mid_rc mid_reply_read(enum mid_call call, char *buf, size_t len, int eof,
                           struct mid_reply *r, struct mid_decision *d)
{
	size_t body = 0, blen = 0;
	enum frame f;

	memset(r, 0, sizeof(*r));
	memset(d, 0, sizeof(*d));
	/* Bytes past the cap can only make the reply too large. */
	if(len > MID_REPLY_MAX + 1) {
		len = MID_REPLY_MAX + 1;
		eof = 0;
	}
	f = frame(buf, len, eof, r, &body, &blen);
	d->http_status = r->status;
	if(f != FR_DONE) {
		r->close = 1;
		r->consumed = 0;
	}
	switch(f) {
	case FR_DONE:
		break;
	case FR_MORE:
		return mid_reply_fault(d, MID_ERR_PARSE, MID_CODE_TRUNCATED);
	case FR_BAD:
		return mid_reply_fault(d, MID_ERR_PROTOCOL, MID_CODE_BAD_HTTP);
	case FR_TRUNC:
		return mid_reply_fault(d, MID_ERR_IO, MID_CODE_TRUNCATED);
	case FR_BIG:
		return mid_reply_fault(d, MID_ERR_TOO_BIG, MID_CODE_TOO_LARGE);
	}
	if(r->consumed < len)
		r->close = 1; /* bytes nobody asked for: the stream is out of step */
	return mid_reply_decide(call, r->status, buf + body, blen, d);
}

enum mid_rc mid_client_parse_reply(enum mid_call call, const char *buf, size_t len,
                                   bool eof, struct mid_decision *d, size_t *consumed)
{
	size_t n = len > MID_REPLY_MAX + 1 ? MID_REPLY_MAX + 1 : len;
	struct mid_reply r;
	enum mid_rc rc;
	char *copy;

	/* The reader decodes chunks in place; the caller's bytes stay. */
	copy = malloc(n ? n : 1);
	if(!copy) {
		memset(d, 0, sizeof(*d));
		rc = mid_reply_fault(d, MID_ERR_NOMEM, MID_CODE_IO);
		memset(&r, 0, sizeof(r));
		goto out;
	}
	if(n)
		memcpy(copy, buf, n);
	rc = mid_reply_read(call, copy, n, eof && n == len, &r, d);
out:
	if(consumed)
		*consumed = rc == MID_ERR_PARSE ? 0 : r.consumed;
	free(copy);
	return rc;
}
