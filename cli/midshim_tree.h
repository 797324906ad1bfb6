/* SPDX-License-Identifier: MIT */
/*
 * `midshim run`'s tree keeper (see midshim_tree.c): run 'prog' with
 * 'argv' (its environment already set for the shim) as a child in a unit
 * that can be killed as a whole, hold the push channel of 'device' on
 * 'url' with 'org_key', kill the tree on a push, forward signals, and
 * return the program's exit status (128+N for a signal N).
 */
#ifndef MID_MIDSHIM_TREE_H
#define MID_MIDSHIM_TREE_H

#include <stddef.h>

int mid_tree_run(const char *prog, char *const argv[], const char *device, const char *url,
		 const char *org_key, long timeout_ms);

/* The cgroup v2 mount and this process's cgroup in it, joined: 0, or -1
 * without cgroup v2. */
int mid_tree_own_cgroup(char *out, size_t n);

/* Read what push channel 'fd' holds into 'line': 1 for a kill line
 * ("kill CODE REQUEST_ID"), 0 for nothing (yet), -1 when it closed. */
int mid_tree_chan_recv(int fd, char *line, size_t n);

/* Write 'text' to the file 'name' in directory 'dir': 0 or -1. */
int mid_tree_write_file(const char *dir, const char *name, const char *text);

#endif
