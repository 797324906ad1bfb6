/* SPDX-License-Identifier: MIT */
/*
 * A control-plane URL taken apart: http://HOST[:PORT], https://HOST[:PORT]
 * or unix:/PATH. Pure code, so the shim, the policy parser, the client
 * and midctl all accept and refuse the same URLs.
 */
#ifndef MID_URL_H
#define MID_URL_H

#include <sys/socket.h>
#include <sys/un.h>

#include "mid.h"

enum mid_scheme {
	MID_SCHEME_HTTP,
	MID_SCHEME_HTTPS,
	MID_SCHEME_UNIX,
};

/* 'host' has no brackets; 'bracket' says it needs them in a Host header
 * or URL. 'port' is the explicit port or the scheme's default. */
struct mid_url {
	enum mid_scheme scheme;
	char host[256];
	char port[6];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int bracket;
};

/*
 * Take 'url' apart into 'u'. A path (other than a lone "/"), a query, a
 * fragment or user info is refused, and so is a relative socket path.
 * On MID_ERR_INVAL 'err' holds "'URL': reason; accepted forms: ...".
 */
MID_WUR enum mid_rc mid_url_parse(const char *url, struct mid_url *u, char *err,
                                  size_t errlen);

/* At most this many control planes in a list (MIDSHIM_URL "A,B,..."). */
#define MID_URLS_MAX 8

/*
 * Take a comma-separated list of URLs apart into 'u' (room for
 * MID_URLS_MAX), '*n' of them, in order; blanks around a comma are
 * allowed. An empty member, more than MID_URLS_MAX, or https:// mixed
 * with other schemes (the two are served differently) is refused, and so
 * is any URL mid_url_parse refuses; 'err' says which.
 */
MID_WUR enum mid_rc mid_url_parse_list(const char *list, struct mid_url *u, size_t *n,
                                       char *err, size_t errlen);

/* 'u' written back as a URL ("http://HOST:PORT", "unix:/PATH") in 'out'. */
void mid_url_format(const struct mid_url *u, char *out, size_t outlen);

#endif
