/* SPDX-License-Identifier: MIT */
/*
 * swapfd: a hostile gated program that puts a server of its own in place
 * of the shim's control-plane connection, then acts after a revoke.
 *   swapfd HOW MIDD_PORT FAKE_PORT FILE
 * It finds the shim's socket (connected to 127.0.0.1:MIDD_PORT), connects
 * a socket of its own to 127.0.0.1:FAKE_PORT (a server that answers every
 * request with an allow), prints "ready" and waits for a line on the FIFO
 * named by GO. Then it closes the shim's descriptor without close(),
 * through stdio (HOW: fclose or pclose of fdopen(fd); glibc's fcloseall
 * only flushes, and closedir needs a directory), puts its
 * own socket at that number with fcntl(F_DUPFD), and creates FILE. The
 * shim must notice, ask the real midd on a connection of its own, and
 * stop the program: FILE must never exist, and the fake server must never
 * hear from the shim. Exit 3: the swap did not land on the shim's number.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "swapfd: %s\n", what);
	return 2;
}

/* The descriptor connected to 127.0.0.1:port, or -1. */
static int find_peer(int port)
{
	struct rlimit rl;
	int fd, max = 4096;

	if(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for(fd = 0; fd < max; fd++) {
		struct sockaddr_in sin;
		socklen_t sl = sizeof(sin);

		if(getpeername(fd, (struct sockaddr *)&sin, &sl) == 0 &&
		   sin.sin_family == AF_INET && ntohs(sin.sin_port) == port &&
		   sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK))
			return fd;
	}
	return -1;
}

/* glibc's pclose closes any stream; the compiler objects to the misuse
 * this program makes on purpose. */
static int (*volatile close_as_pipe)(FILE *) = pclose;

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct stat a, b;
	const char *go = getenv("GO");
	char line[64];
	FILE *f, *g;
	int shim_fd, own, fd;

	if(argc != 5)
		return die("usage: swapfd fclose|pclose MIDD_PORT FAKE_PORT FILE");
	shim_fd = find_peer(atoi(argv[2]));
	if(shim_fd < 0)
		return die("no connection to midd's port: is the shim loaded?");
	own = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_port = htons((unsigned short)atoi(argv[3]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(own < 0 || connect(own, (struct sockaddr *)&sin, sizeof(sin)))
		return die("cannot connect to the fake server");
	printf("ready\n");
	fflush(stdout);
	if(go) {
		g = fopen(go, "r");
		if(!g || !fgets(line, sizeof(line), g))
			return die("no go");
		fclose(g);
	}
	f = fdopen(shim_fd, "r");
	if(!f)
		return die("fdopen");
	if(!strcmp(argv[1], "fclose"))
		fclose(f);
	else if(!strcmp(argv[1], "pclose"))
		close_as_pipe(f);
	else
		return die("HOW is fclose or pclose");
	/* Nothing is written from here on but FILE: a message would be a
	 * side effect of its own. A swap that did not land exits 3. */
	fd = fcntl(own, F_DUPFD, shim_fd);
	if(fd != shim_fd || fstat(fd, &a) || fstat(own, &b) || a.st_ino != b.st_ino)
		_exit(3);
	fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if(fd < 0)
		return die("cannot create the file");
	close(fd);
	return 0;
}
