/* SPDX-License-Identifier: MIT */
/*
 * Where midd listens: parsing --listen (loopback unless told otherwise)
 * and making the listening TCP and unix sockets.
 */
#ifndef MID_LISTEN_H
#define MID_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

#include "mid.h"

struct mid_listen {
	struct sockaddr_storage addr;
	socklen_t len;
	int loopback; /* 127.0.0.0/8 or ::1 */
	char text[64]; /* as given, for logs */
};

/* Parse "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT" or any numeric
 * IPv4 / bracketed IPv6 address with a port 1..65535. */
enum mid_rc mid_listen_parse(const char *spec, struct mid_listen *out,
			     char *err, size_t errlen) MID_WUR;

/* A bound, listening, non-blocking TCP socket for 'l' in '*fd'. */
enum mid_rc mid_listen_tcp(const struct mid_listen *l, int *fd, char *err, size_t errlen) MID_WUR;

/* A listening unix socket at 'path' (mode 0660) in '*fd'. A stale socket
 * file is replaced; one where a server still answers is refused
 * (MID_ERR_DENIED), as is a path that is not a socket. */
enum mid_rc mid_listen_unix(const char *path, int *fd, char *err, size_t errlen) MID_WUR;

#endif
