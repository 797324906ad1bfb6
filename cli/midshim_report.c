/* SPDX-License-Identifier: MIT */
/*
 * One report to midd (see midshim_report.h): a short HTTP/1.1 POST on a
 * connection of its own, closed after the answer's status line. The body
 * is bounded like the route's (4 KiB); strings are cut to the route's
 * limits before they are escaped.
 */
#define _GNU_SOURCE
#include "midshim_report.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mid.h"
#include "mid_url.h"

static int dial(const struct mid_url *u, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL, *a;
	int fd = -1;

	if(u->scheme == MID_SCHEME_UNIX) {
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		mid_strlcpy(sun.sun_path, u->path, sizeof(sun.sun_path));
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if(fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	if(getaddrinfo(u->host, u->port, &hints, &ai))
		return -1;
	for(a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if(fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if(fd >= 0) {
		struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* ',"name":"value"' for a non-empty 'value' cut to 'max' bytes. */
static size_t member(char *out, size_t cap, const char *name, const char *value, size_t max)
{
	char cut[600], q[1300];
	int n;

	if(!value || !*value)
		return 0;
	snprintf(cut, sizeof(cut), "%.*s", (int)max, value);
	for(char *c = cut; *c; c++)
		if(*c < ' ' || *c > '~')
			*c = '?';
	if(!mid_json_str(q, sizeof(q), cut))
		return 0;
	n = snprintf(out, cap, ",\"%s\":%s", name, q);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

int mid_report_send(const char *url, const char *org_key, long timeout_ms, const char *device,
		    const char *event, pid_t pid, const char *program, const char *detail,
		    char *err, size_t errlen)
{
	char body[2048], qdev[600], req[4096 + 2048], line[128];
	struct mid_url u;
	size_t o;
	ssize_t r;
	int fd, n, status = -1;

	if(mid_url_parse(url, &u, err, errlen))
		return -1;
	if(u.scheme == MID_SCHEME_HTTPS) {
		snprintf(err, errlen, "reports go over http:// or unix: only");
		return -1;
	}
	if(!mid_json_str(qdev, sizeof(qdev), device)) {
		snprintf(err, errlen, "deviceId too long");
		return -1;
	}
	o = (size_t)snprintf(body, sizeof(body), "{\"deviceId\":%s,\"event\":\"%s\"", qdev, event);
	if(pid > 0)
		o += (size_t)snprintf(body + o, sizeof(body) - o, ",\"pid\":%ld", (long)pid);
	o += member(body + o, sizeof(body) - o, "program", program, 63);
	o += member(body + o, sizeof(body) - o, "detail", detail, 511);
	snprintf(body + o, sizeof(body) - o, "}");
	n = snprintf(req, sizeof(req), "POST /api/v1/report HTTP/1.1\r\nHost: %s\r\n"
		     "Content-Type: application/json\r\nx-org-key: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s", u.scheme == MID_SCHEME_UNIX ? "localhost" :
		     u.host, org_key, strlen(body), body);
	if(n < 0 || (size_t)n >= sizeof(req)) {
		snprintf(err, errlen, "report too large");
		goto wipe;
	}
	fd = dial(&u, (int)timeout_ms);
	if(fd < 0) {
		snprintf(err, errlen, "cannot reach %s: %s", url, strerror(errno));
		goto wipe;
	}
	if(send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		snprintf(err, errlen, "cannot send to %s: %s", url, strerror(errno));
	} else {
		r = recv(fd, line, sizeof(line) - 1, 0);
		if(r > 0) {
			line[r] = '\0';
			if(sscanf(line, "HTTP/1.%*d %d", &status) != 1)
				status = -1;
		}
		if(status < 0)
			snprintf(err, errlen, "no answer from %s", url);
	}
	close(fd);
wipe:
	explicit_bzero(req, sizeof(req));
	return status;
}
