/* SPDX-License-Identifier: MIT */
/*
 * The HTTP face of midd: the MachineID v1 compatible routes served by
 * libmicrohttpd over a listening socket the caller has prepared. Several
 * servers (TCP and a unix socket) may share one service.
 */
#ifndef MID_API_H
#define MID_API_H

#include <stddef.h>

#include "conn.h"
#include "mid.h"
#include "service.h"

#define MIDD_VERSION "0.1.0"         /* midd --version, /healthz, /metrics */
#define MID_API_CONN_MEMORY 16384   /* per-connection buffer (headers) */
#define MID_LIST_PAGE 1000          /* devices a list page holds unless ?limit= says */
#define MID_LIST_PAGE_MAX 10000     /* the most ?limit= may ask */
#define MID_API_DISCARD_MAX 65536   /* oversized body bytes read before hanging up */

struct mid_api;

/* Serve on the bound, listening socket 'fd' (it becomes the server's)
 * with 'threads' worker threads; 'conns' (shared by every server) decides
 * which connections are kept. 'is_unix' names peers "unix". */
enum mid_rc mid_api_start(struct mid_service *svc, struct mid_conns *conns, int fd,
			  unsigned threads, int is_unix, struct mid_api **out, char *err,
			  size_t errlen) MID_WUR;

/* Serve the browser console 'con' (console.h) at /console, and accept
 * its sessions on the API routes it uses. Before the first request. */
struct mid_console;
void mid_api_set_console(struct mid_api *api, struct mid_console *con);

/* Stop accepting, finish the requests in progress, free. */
void mid_api_stop(struct mid_api *api);

/* The JSON body of a validate answer; the caller frees it. Exposed for
 * the unit tests. */
char *mid_api_verdict_json(const struct mid_verdict *v, const char *dev, const char *request_id);

/* The same with 'extra' (JSON members, each after a comma) at the end. */
char *mid_api_verdict_json_ex(const struct mid_verdict *v, const char *dev,
			      const char *request_id, const char *extra);

#endif
