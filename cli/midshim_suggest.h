/* SPDX-License-Identifier: MIT */
/*
 * `midshim policy suggest AUDIT.jsonl...` (midshim_suggest.c): a starting
 * policy from the audit records of a rollout, one that allows (or sends
 * to the control plane) what the records show and denies the rest, and
 * that is checked against those records before it is written.
 */
#ifndef MID_MIDSHIM_SUGGEST_H
#define MID_MIDSHIM_SUGGEST_H

/* 'argv' starts at "suggest". Returns the exit status. */
int mid_suggest_main(int argc, char **argv);

extern const char mid_suggest_usage[];

#endif
