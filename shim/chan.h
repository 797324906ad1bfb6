/* SPDX-License-Identifier: MIT */
/*
 * The process's push channel (chan.c): one connection to midd per
 * process, armed so that any event on it kills the process. Owns the
 * channel's descriptor; calls base and the client.
 */
#ifndef MID_SHIM_CHAN_H
#define MID_SHIM_CHAN_H

#include "client.h"

/* After an allow, with the flight lock held: open and arm this process's
 * push channel through 'c' unless it has one. A channel that cannot be
 * had leaves the process to the TTL gate. */
void mid_chan_open(struct mid_client *c, const char *device);

/* This process's channel descriptor, or -1. */
int mid_chan_fd(void);

/* In a fork child: close the parent's channel. */
void mid_chan_atfork_child(void);

/* The program closed the channel's descriptor. */
void mid_chan_forget(void);

#endif
