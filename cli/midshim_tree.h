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

int mid_tree_run(const char *prog, char *const argv[], const char *device, const char *url,
		 const char *org_key, long timeout_ms);

#endif
