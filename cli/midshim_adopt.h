/* SPDX-License-Identifier: MIT */
/*
 * `midshim adopt`: put processes that are already running under a
 * device's kill switch, without stopping them (midshim_adopt.c).
 */
#ifndef MID_MIDSHIM_ADOPT_H
#define MID_MIDSHIM_ADOPT_H

/* `midshim adopt ...` with argv[0] "adopt"; 'lib' is the libmidshim.so
 * found beside the launcher ("" when none was). Returns the exit status. */
int mid_adopt_main(int argc, char **argv, const char *lib);

#endif
