/* SPDX-License-Identifier: MIT */
/*
 * The one parser of control-plane URLs, for every reader of one: the
 * shim's configuration, the policy file's "url", the client and midctl.
 * Schemes are matched without regard to case (RFC 3986); a unix socket is
 * "unix:" and an absolute path. Anything the client could not connect to
 * is refused here, with the reason and the accepted forms.
 */
#define _GNU_SOURCE
#include "mid_url.h"

#include <stdio.h>
#include <string.h>

#define FORMS "accepted forms: http://HOST[:PORT], https://HOST[:PORT], unix:/PATH"

static enum mid_rc url_err(char *err, size_t errlen, const char *url, const char *why)
{
	if(err && errlen)
		snprintf(err, errlen, "'%.200s': %s; " FORMS, url, why);
	return MID_ERR_INVAL;
}

/*
 * The shim parses MIDSHIM_URL in every gated process before main, so the
 * success path here calls no libc function a small program does not use
 * itself (strcspn, strncasecmp and snprintf each lie on a page of libc's
 * text that would cost the start a page fault): byte loops instead.
 */

/* Bytes of 's' before its first byte from 'stop' (or its end). */
MID_STARTUP static size_t span_to(const char *s, const char *stop)
{
	size_t n = 0;

	for(; s[n]; n++)
		for(const char *t = stop; *t; t++)
			if(s[n] == *t)
				return n;
	return n;
}

/* memchr, for the same reason. */
MID_STARTUP static const char *find(const char *s, char c, size_t n)
{
	for(size_t i = 0; i < n; i++)
		if(s[i] == c)
			return s + i;
	return NULL;
}

/* mid_strlcpy for a string known to fit, without libc's string
 * functions: a URL is parsed before main in every gated process. */
MID_STARTUP static void put(char *dst, const char *src)
{
	size_t n = mid_len(src);

	mid_copy(dst, src, n);
	dst[n] = '\0';
}

/* Does 's' start with the lower-case ASCII 'lit', in any case? */
MID_STARTUP static int prefix_ci(const char *s, const char *lit)
{
	for(; *lit; s++, lit++)
		if((*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s) != *lit)
			return 0;
	return 1;
}

static int host_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '-' || ch == '_';
}

static int ip6_char(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
	       (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
}

MID_STARTUP static enum mid_rc parse_port(const char *p, size_t n, char *out,
                                          const char *url, char *err, size_t errlen)
{
	long v = 0;
	size_t i;

	if(n == 0)
		return url_err(err, errlen, url, "the port after ':' is empty");
	for(i = 0; i < n; i++) {
		if(p[i] < '0' || p[i] > '9')
			return url_err(err, errlen, url, "the port is not a number");
		if(v <= 65535)
			v = v * 10 + (p[i] - '0');
	}
	if(v < 1 || v > 65535)
		return url_err(err, errlen, url, "the port is not in 1-65535");
	/* 1..65535: at most five digits, into 'out' (6 bytes) */
	{
		char d[5];
		int k = 0;

		do
			d[k++] = (char)('0' + v % 10);
		while((v /= 10) > 0);
		while(k > 0)
			*out++ = d[--k];
		*out = '\0';
	}
	return MID_OK;
}

/* host[:port] or [v6]:port, up to the end of the URL or a lone "/". */
MID_STARTUP static enum mid_rc parse_authority(const char *url, const char *a,
                                               struct mid_url *u, char *err,
                                               size_t errlen)
{
	size_t n = span_to(a, "/?#"), hl;
	const char *host = a, *colon;

	if(a[n] == '?' || a[n] == '#' || (a[n] == '/' && a[n + 1]))
		return url_err(err, errlen, url,
		               "a path, query or fragment is not supported");
	if(find(a, '@', n))
		return url_err(err, errlen, url,
		               "user info is not supported (the key goes in x-org-key)");
	if(n == 0)
		return url_err(err, errlen, url, "the host is missing");
	if(a[0] == '[') {
		const char *close = find(a, ']', n);
		size_t i;

		if(!close || close == a + 1)
			return url_err(err, errlen, url,
			               "an IPv6 address needs [ADDRESS]");
		host = a + 1;
		hl = (size_t)(close - host);
		for(i = 0; i < hl; i++)
			if(!ip6_char(host[i]))
				return url_err(err, errlen, url,
				               "the IPv6 address has a bad character");
		colon = close + 1;
		if(colon < a + n && *colon != ':')
			return url_err(err, errlen, url, "only ':PORT' may follow ']'");
		u->bracket = 1;
	} else {
		size_t i;

		colon = find(a, ':', n);
		if(colon && find(colon + 1, ':', (size_t)(a + n - colon - 1)))
			return url_err(err, errlen, url,
			               "an IPv6 address needs [brackets]");
		hl = colon ? (size_t)(colon - a) : n;
		if(hl == 0)
			return url_err(err, errlen, url, "the host is missing");
		for(i = 0; i < hl; i++)
			if(!host_char(host[i]))
				return url_err(err, errlen, url,
				               "the host has a bad character");
	}
	if(hl >= sizeof(u->host))
		return url_err(err, errlen, url, "the host name is too long");
	mid_copy(u->host, host, hl);
	u->host[hl] = '\0';
	if(colon && colon < a + n)
		return parse_port(colon + 1, (size_t)(a + n - colon - 1), u->port, url,
		                  err, errlen);
	return MID_OK;
}

MID_STARTUP enum mid_rc mid_url_parse(const char *url, struct mid_url *u, char *err,
                                      size_t errlen)
{
	memset(u, 0, sizeof(*u));
	if(!url || !*url)
		return url_err(err, errlen, "", "the URL is empty");
	if(prefix_ci(url, "http://")) {
		u->scheme = MID_SCHEME_HTTP;
		put(u->port, "80");
		return parse_authority(url, url + 7, u, err, errlen);
	}
	if(prefix_ci(url, "https://")) {
		u->scheme = MID_SCHEME_HTTPS;
		put(u->port, "443");
		return parse_authority(url, url + 8, u, err, errlen);
	}
	if(prefix_ci(url, "unix:")) {
		u->scheme = MID_SCHEME_UNIX;
		if(url[5] != '/')
			return url_err(err, errlen, url,
			               "the socket path must be absolute");
		if(mid_len(url + 5) >= sizeof(u->path))
			return url_err(err, errlen, url, "the socket path is too long");
		put(u->path, url + 5);
		return MID_OK;
	}
	return url_err(err, errlen, url, "unsupported scheme");
}

MID_STARTUP enum mid_rc mid_url_parse_list(const char *list, struct mid_url *u, size_t *n,
                                           char *err, size_t errlen)
{
	char one[MID_URL_MAX];
	const char *p = list;
	size_t https = 0;

	*n = 0;
	if(!list || !*list)
		return url_err(err, errlen, "", "the URL is empty");
	for(;;) {
		size_t len = span_to(p, ",");
		enum mid_rc rc;

		while(len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while(len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if(len == 0)
			return url_err(err, errlen, list,
			               "a URL of the comma-separated list is empty");
		if(len >= sizeof(one))
			return url_err(err, errlen, list,
			               "a URL of the list is too long");
		if(*n == MID_URLS_MAX) {
			if(err && errlen)
				snprintf(err, errlen, "'%.200s': more than %d URLs", list,
				         MID_URLS_MAX);
			return MID_ERR_INVAL;
		}
		mid_copy(one, p, len);
		one[len] = '\0';
		rc = mid_url_parse(one, &u[*n], err, errlen);
		if(rc)
			return rc;
		https += u[*n].scheme == MID_SCHEME_HTTPS;
		(*n)++;
		p += span_to(p, ",");
		if(!*p)
			break;
		p++;
	}
	if(https && https != *n)
		return url_err(err, errlen, list,
		               "https:// cannot be mixed with other schemes in a list");
	return MID_OK;
}

void mid_url_format(const struct mid_url *u, char *out, size_t outlen)
{
	if(u->scheme == MID_SCHEME_UNIX)
		snprintf(out, outlen, "unix:%s", u->path);
	else
		snprintf(out, outlen, "%s://%s%s%s:%s",
		         u->scheme == MID_SCHEME_HTTPS ? "https" : "http",
		         u->bracket ? "[" : "", u->host, u->bracket ? "]" : "", u->port);
}
