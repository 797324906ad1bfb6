/* SPDX-License-Identifier: MIT */
/*
 * The operator's console in a browser, served by midd at /console on the
 * API's own listeners. Its page, script and style are compiled into midd
 * (scripts/embed.sh); the page calls the same API routes as midctl, with
 * a session cookie and a CSRF token instead of the admin key.
 *
 * A session is opened by POST /console/login with the admin key in a form
 * body (the org key is refused): 32 random bytes from getrandom(2), sent
 * as an HttpOnly, SameSite=Strict cookie (Secure when midd sits behind
 * TLS) and kept here only as their SHA-256, with an expiry. Every state
 * change needs the session's CSRF token in x-csrf-token. Sessions are
 * bounded in number (the oldest goes first), login attempts are
 * rate-limited per peer and in all, and a key rotation ends every
 * session of the org. /console/wait is a long poll that answers when the
 * audit trail has grown, so the page shows decisions as they happen.
 */
#ifndef MID_CONSOLE_H
#define MID_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "mid.h"
#include "service.h"

#define MID_CONSOLE_SESSIONS 64      /* sessions at once, over all orgs */
#define MID_CONSOLE_TTL_S 28800      /* default session lifetime: 8 h */
#define MID_CONSOLE_WAITERS 32       /* long polls held at once */
#define MID_CONSOLE_WAIT_MS 20000    /* a long poll's longest wait */
#define MID_CONSOLE_LOGIN_BURST 10   /* login attempts of one peer at once */
#define MID_CONSOLE_LOGIN_EVERY_MS 3000 /* then one each this often */
#define MID_CONSOLE_COOKIE "midsession"
#define MID_CONSOLE_CSRF_HEADER "x-csrf-token"

/* One file of the page, compiled in by scripts/embed.sh. */
struct mid_asset {
	const char *name; /* "index.html", "app.js", ... */
	const unsigned char *data;
	size_t len;
};

/* The console's files, made from server/console/ by scripts/embed.sh and
 * linked into midd alone. */
extern const struct mid_asset mid_console_assets[];

struct mid_console_opts {
	int secure;     /* midd sits behind TLS: cookies get Secure */
	unsigned ttl_s; /* session lifetime; 0: MID_CONSOLE_TTL_S */
	const struct mid_asset *assets; /* ends with a NULL name */
};

struct mid_console;

enum mid_rc mid_console_new(struct mid_service *svc, const struct mid_console_opts *o,
			    struct mid_console **out) MID_WUR;

/* Answer every long poll and refuse new ones; before the servers stop. */
void mid_console_stop(struct mid_console *con);
void mid_console_free(struct mid_console *con);

/* 1 when 'url' is the console's: /console and below. */
int mid_console_owns(const char *url);

/* An answer made for a console route. */
struct mid_console_reply {
	unsigned status;
	const unsigned char *data; /* static: an asset */
	char *text;                /* owned: JSON */
	size_t len;
	const char *type;
	char cookie[160]; /* a Set-Cookie value, or "" */
	const char *retry_after;
};

/* A long poll's end: called once, on the console's thread (or at once),
 * with the answer to queue. */
typedef void (*mid_console_wake_fn)(void *arg, struct mid_console_reply *r);

/* Answer the console route 'url'. Returns 0 with 'r' made, or 1 when the
 * request waits (a long poll): 'wake' is then called later with 'arg',
 * after the caller has suspended the connection (it must suspend first). */
int mid_console_route(struct mid_console *con, struct MHD_Connection *conn, const char *url,
		      const char *method, const char *body, size_t len, const char *peer,
		      struct mid_console_reply *r, mid_console_wake_fn wake, void *arg);

/* Queue 'r' on 'conn' with the console's security headers; frees r->text. */
enum MHD_Result mid_console_queue(struct MHD_Connection *conn, struct mid_console_reply *r);

/* Free what 'r' holds. */
void mid_console_reply_free(struct mid_console_reply *r);

/* The org of the session whose cookie 'conn' carries. A state change
 * ('change' set) also needs its CSRF token in x-csrf-token and, when
 * the browser names one, an Origin of this host. MID_ERR_NOT_FOUND: no
 * session cookie; MID_ERR_DENIED: unknown or expired session;
 * MID_ERR_INVAL: the CSRF token or the origin is missing or wrong. */
enum mid_rc mid_console_auth(struct mid_console *con, struct MHD_Connection *conn, int change,
			     struct mid_org **org) MID_WUR;

/* Something changed (an operator's call): wake the long polls. */
void mid_console_touch(struct mid_console *con);

/* End every session of 'org' (after a key rotation). */
void mid_console_end_org(struct mid_console *con, struct mid_org *org);

#endif
