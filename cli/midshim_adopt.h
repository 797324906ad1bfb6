/* SPDX-License-Identifier: MIT */
/*
 * `midshim adopt`: put processes that are already running under a
 * device's kill switch, without stopping them (midshim_adopt.c), and
 * optionally load the shim into them (midshim_inject.c).
 */
#ifndef MID_MIDSHIM_ADOPT_H
#define MID_MIDSHIM_ADOPT_H

#include <stddef.h>
#include <sys/types.h>

/* `midshim adopt ...` with argv[0] "adopt"; 'lib' is the libmidshim.so
 * found beside the launcher ("" when none was). Returns the exit status. */
int mid_adopt_main(int argc, char **argv, const char *lib);

/* Make the running dynamically linked process 'pid' load 'lib' through
 * its own dlopen, with the MIDSHIM_* settings and LD_PRELOAD in 'env'
 * ("NAME=value" strings, NULL-terminated) set in its environment first.
 * With 'dry' set, only check what can be checked without touching it.
 * 0, or -1 with 'err' one line saying why; the target then runs on as it
 * was, unless 'err' says the call into it did not return. x86-64 only. */
int mid_inject(pid_t pid, const char *lib, char *const env[], int dry, char *err,
	       size_t errlen);

#endif
