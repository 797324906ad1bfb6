/* SPDX-License-Identifier: MIT */
/*
 * `midshim run`'s tree keeper (see midshim_tree.c): run 'prog' with
 * 'argv' (its environment already set for the shim) as a child in a unit
 * that can be killed as a whole, hold the push channel of the device
 * 'cfg' names on its control plane (over https://, a TLS session),
 * forward signals, and return the program's exit status (128+N for a
 * signal N). On a push it kills the tree and ends the process itself
 * with _exit(137): nothing is left for exit handlers to do.
 */
#ifndef MID_MIDSHIM_TREE_H
#define MID_MIDSHIM_TREE_H

#include <stddef.h>
#include <sys/types.h>

struct mid_config;
struct mid_sup;

/* Read /proc/PID/NAME into 'buf' (NUL-terminated); its length, or -1. */
ssize_t mid_proc_read(pid_t pid, const char *name, char *buf, size_t n);

/* 'sup', when not NULL, supervises the tree (midshim_sup.h): its filter
 * goes into the child before exec, and the launcher answers its calls. */
int mid_tree_run(const char *prog, char *const argv[], const struct mid_config *cfg,
		 struct mid_sup *sup);

/* The cgroup v2 mount and this process's cgroup in it, joined: 0, or -1
 * without cgroup v2. */
int mid_tree_own_cgroup(char *out, size_t n);

/* Read what push channel 'fd' holds into 'line': 1 for a kill line
 * ("kill CODE REQUEST_ID"), 0 for nothing (yet), -1 when it closed. */
int mid_tree_chan_recv(int fd, char *line, size_t n);

/* Write 'text' to the file 'name' in directory 'dir': 0 or -1. */
int mid_tree_write_file(const char *dir, const char *name, const char *text);

#endif
