/* SPDX-License-Identifier: MIT */
/* The helpers' rendezvous with a test: when GO names a FIFO, print
 * "ready" and block reading it, so the test can act (revoke the device)
 * just before the side effect; not when SIDEFX_NOWAIT is set (a child
 * the helper starts then does the waiting). */
#ifndef MID_TEST_GO_H
#define MID_TEST_GO_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void wait_go(void)
{
	const char *go = getenv("GO");
	char buf[256];
	int fd;

	if(!go || !*go || getenv("SIDEFX_NOWAIT"))
		return;
	printf("ready\n");
	fflush(stdout);
	fd = open(go, O_RDONLY);
	if(fd < 0)
		return;
	while(read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

#endif
