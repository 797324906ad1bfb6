/* SPDX-License-Identifier: MIT */
/*
 * The push registry: every live push channel of midd, by device. A
 * channel is a socket taken out of the HTTP server after a 101 answer;
 * it is subject to none of the server's limits or idle timeouts. A push
 * kill writes one line, "kill CODE REQUEST_ID\n", on each channel of the
 * affected devices and lets it go: a preloaded process armed its socket
 * to die by SIGKILL at any event on it; a launcher reads the line and
 * kills its tree. A channel whose far end closes is dropped, and its
 * process falls back to the TTL gate.
 *
 * With a keeper (keeper.h) every channel is also held by the keeper
 * process, so that a crash of midd closes none, and a new midd takes
 * them back at start.
 */
#ifndef MID_PUSH_H
#define MID_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "keeper.h"
#include "mid.h"

struct mid_push;

/* Does a channel of 'kind' hold a whole tree (a launcher over either
 * transport, an adopt keeper)? Those are killed first; any kind not
 * known is taken for a preloaded process. */
int mid_push_kind_tree(const char *kind);

/* Called for each channel a kill reaches, or a sweep finds doomed. */
typedef void (*mid_push_fn)(void *arg, const struct mid_push_chan *ch);

/* Start the registry and its watcher thread. With 'keeper_path', connect
 * to the keeper there (starting `exe push-keeper PATH` when none runs)
 * and take back the channels it holds; a keeper that cannot be had is
 * reported in 'err' and the registry works without one (a restart of
 * midd then closes the channels). */
enum mid_rc mid_push_new(const char *keeper_path, const char *exe, struct mid_push **out,
			 char *err, size_t errlen) MID_WUR;

/* Hold at most 'n' channels (at most MID_PUSH_MAX): what midd's
 * descriptors leave beside its HTTP connections. */
void mid_push_set_limit(struct mid_push *p, size_t n);

/* Hold a place for one more channel, if one is left: taken before a 101
 * answer, so that a full registry refuses with an HTTP error the process
 * rides out (it stays under the TTL gate) instead of closing an armed
 * channel, which kills the process. mid_push_add takes the place; a
 * request that ends without the upgrade gives it back with
 * mid_push_unreserve. 1: held, 0: full. */
int mid_push_reserve(struct mid_push *p);
void mid_push_unreserve(struct mid_push *p);

/* Close midd's copies (the keeper keeps its own), stop, free. NULL ok. */
void mid_push_free(struct mid_push *p);

/* Register channel 'fd' (taken in every case) described by 'ch' in the
 * place mid_push_reserve held; its id is assigned here and written back. */
enum mid_rc mid_push_add(struct mid_push *p, int fd, struct mid_push_chan *ch) MID_WUR;

/* Kill every channel of 'device' in org 'org_id' ('device' NULL: every
 * channel of the org) with reason 'code' on behalf of request
 * 'request_id'; 'fn' sees each one before it goes. Returns how many. */
unsigned mid_push_kill(struct mid_push *p, int64_t org_id, const char *device,
		       const char *code, const char *request_id, mid_push_fn fn, void *arg);

/* Kill the one channel 'id' (see mid_push_kill). */
unsigned mid_push_kill_id(struct mid_push *p, uint64_t id, const char *code,
			  const char *request_id, mid_push_fn fn, void *arg);

/* Call 'fn' with each live channel of 'device' in 'org_id' ('device'
 * NULL: all of the org; 'org_id' 0: every org), under the registry's
 * lock: 'fn' must not call into the registry. */
void mid_push_each(struct mid_push *p, int64_t org_id, const char *device, mid_push_fn fn,
		   void *arg);

/* Channels taken back from the keeper at start, and the keeper's pid
 * (0 without a keeper). */
void mid_push_keeper_info(struct mid_push *p, unsigned *restored, long *keeper_pid);

#endif
