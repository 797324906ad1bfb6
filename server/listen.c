/* SPDX-License-Identifier: MIT */
/*
 * Listening sockets. midd makes them itself rather than letting
 * libmicrohttpd bind, so that every failure (port taken, stale unix
 * socket, another midd on the same path) gets a precise message.
 */
#define _GNU_SOURCE
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BACKLOG 4096 /* the kernel caps it at net.core.somaxconn */

enum mid_rc mid_listen_parse(const char *spec, struct mid_listen *out,
			     char *err, size_t errlen)
{
	char host[64];
	const char *colon, *port;
	unsigned long p = 0;
	size_t hl, i;

	memset(out, 0, sizeof(*out));
	if(mid_strlcpy(out->text, spec, sizeof(out->text)) >= sizeof(out->text))
		goto bad;
	colon = strrchr(spec, ':');
	if(!colon || colon == spec || !colon[1])
		goto bad;
	port = colon + 1;
	for(i = 0; port[i]; i++) {
		if(port[i] < '0' || port[i] > '9' || i > 5)
			goto bad;
		p = p * 10 + (unsigned long)(port[i] - '0');
	}
	if(p == 0 || p > 65535)
		goto bad;
	hl = (size_t)(colon - spec);
	if(spec[0] == '[') {
		if(hl < 3 || spec[hl - 1] != ']')
			goto bad;
		spec++;
		hl -= 2;
	} else if(memchr(spec, ':', hl)) {
		goto bad; /* an IPv6 address needs its brackets */
	}
	if(hl >= sizeof(host))
		goto bad;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if(!strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	if(inet_pton(AF_INET, host, &((struct sockaddr_in *)&out->addr)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		out->len = sizeof(*sin);
		out->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if(inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&out->addr)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		out->len = sizeof(*sin6);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
	} else {
		goto bad;
	}
	return MID_OK;
bad:
	snprintf(err, errlen, "--listen wants ADDR:PORT with a numeric address, e.g. "
		 "127.0.0.1:7070, [::1]:7070 or localhost:7070");
	return MID_ERR_INVAL;
}

enum mid_rc mid_listen_tcp(const struct mid_listen *l, int *fd, char *err, size_t errlen)
{
	int s, one = 1;

	*fd = -1;
	s = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if(s < 0) {
		snprintf(err, errlen, "cannot make a socket for %s: %s", l->text, strerror(errno));
		return MID_ERR_IO;
	}
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if(l->addr.ss_family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if(bind(s, (const struct sockaddr *)&l->addr, l->len) || listen(s, BACKLOG)) {
		snprintf(err, errlen, "cannot listen on %s: %s%s", l->text, strerror(errno),
			 errno == EADDRINUSE ? " (is another midd running? pick another port)" : "");
		close(s);
		return MID_ERR_IO;
	}
	*fd = s;
	return MID_OK;
}

/* 1 when a server accepts connections on the unix socket 'sun'. */
static int answers(const struct sockaddr_un *sun)
{
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if(s < 0)
		return 0;
	r = connect(s, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(s);
	return r;
}

enum mid_rc mid_listen_unix(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat sb;
	int s;

	*fd = -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if(mid_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path) ||
	   !*path) {
		snprintf(err, errlen, "--socket path must be 1 to %zu bytes",
			 sizeof(sun.sun_path) - 1);
		return MID_ERR_INVAL;
	}
	if(lstat(path, &sb) == 0) {
		if(!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it",
				 path);
			return MID_ERR_DENIED;
		}
		if(answers(&sun)) {
			snprintf(err, errlen, "another server answers on %s; stop it first", path);
			return MID_ERR_DENIED;
		}
		if(unlink(path)) {
			snprintf(err, errlen, "cannot remove stale socket %s: %s", path,
				 strerror(errno));
			return MID_ERR_IO;
		}
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if(s < 0) {
		snprintf(err, errlen, "cannot make a unix socket: %s", strerror(errno));
		return MID_ERR_IO;
	}
	if(bind(s, (const struct sockaddr *)&sun, sizeof(sun)) || chmod(path, 0660) ||
	   listen(s, BACKLOG)) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(s);
		return MID_ERR_IO;
	}
	*fd = s;
	return MID_OK;
}
