/* SPDX-License-Identifier: MIT */
/*
 * The sd_notify protocol by hand: a unix datagram holding newline-separated
 * VAR=value lines, sent to $NOTIFY_SOCKET. systemd reads the sender's
 * credentials itself, so a plain sendto is the whole protocol.
 */
#define _GNU_SOURCE
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int mid_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	ssize_t sent;
	int fd, e;

	if(!path || !*path)
		return 0;
	n = strlen(path);
	if((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if(path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract: no terminating NUL counts */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if(fd < 0)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	e = errno;
	close(fd);
	errno = e;
	return sent == (ssize_t)strlen(state) ? 1 : -1;
}
