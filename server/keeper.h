/* SPDX-License-Identifier: MIT */
/*
 * The push keeper: a small process, started by midd beside its database,
 * that holds a second descriptor of every push channel. A gated process
 * arms its channel so that any event on it kills it, the FIN of a socket
 * whose last descriptor closes included; while the keeper holds one, a
 * midd that crashes or restarts closes nothing the process can see, and
 * the next midd takes the channels back from the keeper. The keeper exits
 * when no midd is connected and it holds no channel.
 *
 * midd and the keeper speak fixed records over a unix SOCK_SEQPACKET
 * socket, a channel's descriptor riding along as SCM_RIGHTS.
 */
#ifndef MID_KEEPER_H
#define MID_KEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "mid.h"
#include "store.h"

#define MID_PUSH_MAX 32768       /* live channels per midd, at most (see mid_push_set_limit) */
#define MID_PUSH_PROGRAM_MAX 64  /* bytes of a program name, NUL included */
#define MID_PUSH_KIND_MAX 16

/* One live channel: who holds it and since when. */
struct mid_push_chan {
	uint64_t id;
	int64_t org_id;
	int64_t pid;      /* the process (or launcher) on the other end */
	int64_t since_ms; /* wall clock, ms since the epoch */
	char device[MID_DEVICE_MAX + 1];
	char program[MID_PUSH_PROGRAM_MAX];
	char kind[MID_PUSH_KIND_MAX]; /* MID_KIND_*: "preload", "launcher", ... */
	char peer[MID_PEER_MAX];
};

enum mid_keeper_op {
	MID_KEEPER_ADD = 1, /* midd -> keeper: hold this channel (with its fd) */
	MID_KEEPER_DEL,     /* midd -> keeper: let channel 'id' go */
	MID_KEEPER_ENT,     /* keeper -> midd: a channel it holds (with its fd) */
	MID_KEEPER_END,     /* keeper -> midd: that was all; ch.pid is the keeper's */
	MID_KEEPER_HELLO,   /* midd -> keeper, first: a midd, not a probe */
};

struct mid_keeper_msg {
	uint32_t magic;
	uint32_t op;
	struct mid_push_chan ch;
};

/* Run the keeper on the unix socket 'path' until it has nothing to keep.
 * Returns the process's exit status. */
int mid_keeper_main(const char *path);

/* Connect to the keeper on 'path'; MID_ERR_UNREACHABLE when none runs. */
enum mid_rc mid_keeper_dial(const char *path, int *fd) MID_WUR;

/* Start a keeper on 'path' (the program 'exe' run as `exe push-keeper
 * PATH`, detached in its own session, not a child) without waiting for
 * it. A keeper already there makes the new one exit at once. */
enum mid_rc mid_keeper_spawn(const char *path, const char *exe) MID_WUR;

/* Send one record, with 'passfd' attached unless it is -1. */
enum mid_rc mid_keeper_send(int fd, enum mid_keeper_op op, const struct mid_push_chan *ch,
			    int passfd) MID_WUR;

/* Receive one record within 'timeout_ms'; '*passfd' is a descriptor that
 * came with it, or -1. MID_ERR_IO at EOF or on a malformed record. */
enum mid_rc mid_keeper_recv(int fd, struct mid_keeper_msg *m, int *passfd,
			    int timeout_ms) MID_WUR;

#endif
