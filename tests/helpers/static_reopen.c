/* SPDX-License-Identifier: MIT */
/*
 * Built -static, so `midshim run` supervises it: opens PATH with write
 * intent and says what it got, as the kernel names it from inside this
 * process.
 *
 *   static_reopen PATH [OUT]
 *
 * A PATH that starts with "@parent" has it replaced by "/proc/PPID" (the
 * launcher, under `midshim run`); "@inparent/NAME" opens NAME relative to
 * /proc/PPID, made the working directory first. With OUT, OUT is first opened as standard output (as a shell's
 * redirection does) and "through PATH" is written to the descriptor PATH
 * gave. Prints "me PID opened TARGET" (the descriptor's link, with PID
 * this process's) or "me PID error ERRNO"; exit 0 either way, 2 on usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char link[64], got[4096], path[4096];
	ssize_t n;
	int fd;

	if(argc < 2 || argc > 3) {
		fprintf(stderr, "usage: static_reopen PATH [OUT]\n");
		return 2;
	}
	if(argc == 3) {
		fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if(fd < 0 || dup2(fd, 1) < 0) {
			perror(argv[2]);
			return 1;
		}
		close(fd);
	}
	if(!strncmp(argv[1], "@inparent/", 10)) {
		snprintf(path, sizeof(path), "/proc/%d", (int)getppid());
		if(chdir(path)) {
			perror(path);
			return 1;
		}
		snprintf(path, sizeof(path), "%s", argv[1] + 10);
	} else if(!strncmp(argv[1], "@parent", 7))
		snprintf(path, sizeof(path), "/proc/%d%s", (int)getppid(), argv[1] + 7);
	else
		snprintf(path, sizeof(path), "%s", argv[1]);
	fd = open(path, O_RDWR);
	if(fd < 0) {
		fprintf(stderr, "me %d error %d\n", (int)getpid(), errno);
		return 0;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	fprintf(stderr, "me %d opened %s\n", (int)getpid(), got);
	if(argc == 3 && write(fd, "through PATH\n", 13) != 13)
		return 1;
	return 0;
}
