/* SPDX-License-Identifier: MIT */
/*
 * What each file descriptor is (file, tty, pipe, socket...), kept in a
 * table so a write costs a byte load, not an fstat; the same byte holds
 * what the gate needs for a write on it (see mid_gate_fd_fresh). Entries are set on
 * first use and forgotten by the hooks that end or replace a descriptor
 * (close, dup2, dup3, close_range, fclose) or create one (open, socket,
 * pipe): a stale entry could let a write to a file pass as a write to a
 * pipe, so every hooked path that can reuse a number forgets it.
 */
#define _GNU_SOURCE
#include "fdtab.h"
#include "base.h"
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

_Atomic unsigned char mid_fd_table[MID_FD_TABLE];
MID_HOT static unsigned char fast_bits[MID_FD_KIND_COUNT];

MID_STARTUP void mid_fd_setup(const enum mid_fast fast[MID_FD_KIND_COUNT])
{
	for(int k = 0; k < MID_FD_KIND_COUNT; k++)
		fast_bits[k] = (unsigned char)(fast[k] << 4);
}

static enum mid_fdkind classify(int fd)
{
	struct stat st;

	if(fstat(fd, &st) < 0)
		return MID_FD_UNKNOWN;
	switch(st.st_mode & S_IFMT) {
	case S_IFREG: return MID_FD_FILE;
	case S_IFDIR: return MID_FD_DIR;
	case S_IFIFO: return MID_FD_PIPE;
	case S_IFSOCK: return MID_FD_SOCKET;
	case S_IFBLK: return MID_FD_BLK;
	case S_IFCHR:
		return isatty(fd) ? MID_FD_TTY : MID_FD_CHR;
	default: return MID_FD_OTHER;
	}
}

enum mid_fdkind mid_fd_kind(int fd)
{
	unsigned char k;
	enum mid_fdkind c;
	int e;

	if(fd >= 0 && fd < MID_FD_TABLE) {
		k = atomic_load_explicit(&mid_fd_table[fd], memory_order_relaxed) & 0x0f;
		if(k)
			return (enum mid_fdkind)(k - 1);
	}
	/* fstat and isatty's ioctl are not hooked: no guard needed, and
	 * none wanted, since a signal handler running now must be gated. */
	e = errno;
	c = classify(fd);
	errno = e;
	if(fd >= 0 && fd < MID_FD_TABLE && c != MID_FD_UNKNOWN)
		atomic_store_explicit(&mid_fd_table[fd], (unsigned char)((c + 1) | fast_bits[c]),
				      memory_order_relaxed);
	return c;
}

/* Only a known entry is cleared: a store to a page of the table nobody
 * wrote yet would cost a new process a page fault for nothing. */
void mid_fd_forget(int fd)
{
	if(fd >= 0 && fd < MID_FD_TABLE &&
	   atomic_load_explicit(&mid_fd_table[fd], memory_order_relaxed))
		atomic_store_explicit(&mid_fd_table[fd], 0, memory_order_relaxed);
}

void mid_fd_forget_range(unsigned lo, unsigned hi)
{
	unsigned i;

	for(i = lo; i <= hi && i < MID_FD_TABLE; i++)
		mid_fd_forget((int)i);
}

void mid_fd_event(int fd, enum mid_fdkind k, struct mid_event *ev, char *buf, size_t buflen,
		  bool target)
{
	memset(ev, 0, sizeof(*ev));
	ev->fdkind = k;
	ev->kind = k == MID_FD_SOCKET ? MID_EV_SEND : MID_EV_WRITE;
	if(!target)
		return;
	if(k == MID_FD_SOCKET) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if(getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
		   mid_sockaddr_event((struct sockaddr *)&ss, len, MID_EV_SEND, ev) &&
		   ev->family == AF_UNIX && ev->path) {
			mid_strlcpy(buf, ev->path, buflen);
			ev->path = buf;
		}
		ev->kind = MID_EV_SEND;
		ev->fdkind = k;
	} else {
		char link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, buf, buflen - 1);
		if(n > 0) {
			buf[n] = '\0';
			ev->path = buf;
		}
	}
}
