/* SPDX-License-Identifier: MIT */
/*
 * The shim's control-plane client: a small HTTP/1.1 client over TCP or a
 * unix socket with keep-alive, one hard deadline per call, a capped reply
 * and strict parsing. Every fault maps to a deny with its own code, so the
 * caller never has to guess: a decision is allowed only when the server
 * said "allowed": true in a well-formed 2xx reply.
 *
 * The client is not thread-safe; the shim serialises calls (one flight at
 * a time). Its buffers are allocated in mid_client_new() and a repeated
 * call only writes a ready request; what allocates later is cJSON reading
 * a reply body, getaddrinfo for a host name (per connection) and libcurl.
 */
#ifndef MID_CLIENT_H
#define MID_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "mid.h"

/* Local codes, used when the server's decision could not be had. The
 * call returns, and d->local holds: UNREACHABLE MID_ERR_UNREACHABLE,
 * TIMEOUT MID_ERR_TIMEOUT, HTTP_n MID_ERR_HTTP, BAD_REPLY and NOT_JSON
 * MID_ERR_BAD_REPLY, TRUNCATED and IO MID_ERR_IO, TOO_LARGE
 * MID_ERR_TOO_BIG, BAD_HTTP MID_ERR_PROTOCOL, INVALID MID_ERR_INVAL. */
#define MID_CODE_UNREACHABLE "MIDSHIM_UNREACHABLE" /* connect refused/failed */
#define MID_CODE_TIMEOUT "MIDSHIM_TIMEOUT"         /* deadline passed */
#define MID_CODE_HTTP_PREFIX "MIDSHIM_HTTP_"       /* + status, e.g. _500 */
#define MID_CODE_BAD_REPLY "MIDSHIM_BAD_REPLY"     /* JSON without a boolean "allowed" */
#define MID_CODE_NOT_JSON "MIDSHIM_NOT_JSON"       /* body is not JSON */
#define MID_CODE_TRUNCATED "MIDSHIM_TRUNCATED"     /* connection closed mid-reply */
#define MID_CODE_TOO_LARGE "MIDSHIM_TOO_LARGE"     /* reply over MID_REPLY_MAX */
#define MID_CODE_BAD_HTTP "MIDSHIM_BAD_HTTP"       /* malformed status line/headers/chunks */
#define MID_CODE_IO "MIDSHIM_IO"                   /* local socket error */
#define MID_CODE_INVALID "MIDSHIM_INVALID"         /* bad argument, e.g. deviceId too long */
/* midd's 403 when a gated program presents the admin key (MID_ERR_HTTP). */
#define MID_CODE_ADMIN_KEY "ADMIN_KEY_REFUSED"
/* A reply to a bound client without a good proof (MID_ERR_BAD_REPLY). */
#define MID_CODE_BAD_PROOF "MIDSHIM_BAD_PROOF"

#define MID_REPLY_MAX 65536 /* whole reply, headers and body */

/* The answer to one call. 'code' is the server's code (ALLOW,
 * DEVICE_REVOKED, ...) or one of the MID_CODE_* local codes. For
 * register, 'status' holds "ok", "exists", "limit_reached" or "removed".
 * 'code', 'request_id' and 'status' keep only [A-Za-z0-9_.-] of what the
 * server sent, so they are safe to put in a log line. */
struct mid_decision {
	bool allowed;
	int http_status;        /* 0 when no status line was read */
	enum mid_rc local;      /* MID_OK when the server answered well */
	char code[MID_CODE_MAX];
	char request_id[MID_REQUEST_ID_MAX];
	char status[32];
	/* midd's binding members (bind.h), "" when absent or malformed. */
	char proof[65];       /* 64 hex digits */
	char session[33];     /* 32 hex digits */
	char session_key[65]; /* 64 hex digits; the client wipes it */
};

struct mid_client; /* opaque */

/*
 * Create a client for 'url': "http://HOST:PORT" (HOST a name, IPv4 or
 * [IPv6]), "unix:/PATH", or "https://HOST[:PORT]" (served by libcurl,
 * loaded with dlopen only for such a URL); or several of them, comma-
 * separated: each call tries them in order within its one deadline,
 * starting with the one that answered last, and moves on when one cannot
 * be reached, fails (5xx), is cut off, or answers MIDD_STALE (a replica
 * that has lost its database). 'org_key' is sent as x-org-key; 'timeout_ms'
 * bounds each call from start to last byte. No connection is made yet;
 * for https:// libcurl is loaded here, and when it cannot be the result is
 * MID_ERR_UNREACHABLE with 'err' saying to install libcurl4 or use http://
 * or unix:. On error, 'err' says what is wrong. Caller frees '*out'.
 */
MID_WUR enum mid_rc mid_client_new(const char *url, const char *org_key,
				   long timeout_ms, struct mid_client **out,
				   char *err, size_t errlen);

/* Check what mid_client_new would refuse, without allocating anything
 * (for https://, libcurl is loaded): the shim refuses a bad setting at
 * start but makes its client only when it first calls. */
MID_WUR enum mid_rc mid_client_check(const char *url, const char *org_key, long timeout_ms,
				     char *err, size_t errlen);

/* Tell the control plane, with each validate, the mode the caller runs
 * in: "enforce" or "audit" ("" or NULL sends none). The client copies
 * it; another value is MID_ERR_INVAL. */
enum mid_rc mid_client_set_mode(struct mid_client *c, const char *mode);

/* Side-effect counts a validate may carry for midd's budgets, in this
 * order: execs, connects, bytes sent, writes. */
#define MID_CLIENT_COUNTS 4

/* Send 'counts' with the next validate only, as its optional member
 * "counts": {"execs", "connects", "bytesOut", "writes"}; all zero (or
 * NULL) sends none, and the request stays what any MachineID client
 * sends. */
void mid_client_set_counts(struct mid_client *c, const uint64_t counts[MID_CLIENT_COUNTS]);

/* Close the connection and free. Accepts NULL. */
void mid_client_free(struct mid_client *c);

/* https:// only: verify the server with the CA certificates in 'path'
 * (PEM) instead of the system store. The client copies 'path'. */
MID_WUR enum mid_rc mid_client_set_ca_file(struct mid_client *c, const char *path);

/* After fork() in the child: forget the parent's connection without
 * touching it (the parent still uses it). */
void mid_client_forget(struct mid_client *c);

/*
 * Bind the client's answers to its requests (plain http:// and unix:;
 * https:// is bound by TLS): every request carries a fresh nonce, the
 * first one asks midd for a session, and from then on a validate answer
 * counts only with midd's proof over that nonce and the decision under
 * the session's key (MIDSHIM_BAD_PROOF otherwise). The shim binds its
 * client; other MachineID v1 clients need not.
 */
void mid_client_bind(struct mid_client *c);

/* Close the connection (if any). The next call reconnects. */
void mid_client_disconnect(struct mid_client *c);

/* The file descriptor of the open connection, or -1 (also when the
 * number no longer holds the socket the client connected). The shim uses
 * this to let go of its connection when the program closes it. */
int mid_client_fd(const struct mid_client *c);

/* The control plane the last call reached or tried last, as a URL.
 * Owned by the client; valid until its next call. */
const char *mid_client_url(const struct mid_client *c);

/* How many control planes the client was given. */
size_t mid_client_url_count(const struct mid_client *c);

/* How many connections this client has opened (for tests and benchmarks:
 * keep-alive shows as one connection for many calls). */
unsigned long mid_client_connects(const struct mid_client *c);

/* One line on the last local error (which address refused, what libcurl
 * said), "" when the last call got a reply. Owned by the client; valid
 * until its next call. Holds no key material. */
const char *mid_client_detail(const struct mid_client *c);

/*
 * POST /api/v1/devices/validate for 'device'. Always fills '*d'; returns
 * MID_OK when the server answered well (allowed or not), else the local
 * error (and d->code names it). The caller allows only when d->allowed.
 * One retry on a fresh connection is made when a kept-alive connection
 * turns out to be closed before any reply byte arrived.
 */
MID_WUR enum mid_rc mid_client_validate(struct mid_client *c, const char *device,
					struct mid_decision *d);

/*
 * Move 'fd' out of the way of the low numbers a program reuses (a dup()
 * lands on the lowest free one): to the first free number at or above
 * 992, or 32 below the soft limit on open files when that is lower,
 * close-on-exec. Never higher: the kernel sizes a process's descriptor
 * table by its highest descriptor and copies it at every fork, so one
 * descriptor near a limit of 65,536 costs each fork and spawn of the
 * program half a megabyte. Returns the new descriptor (the old one is
 * closed), or 'fd' when it cannot be moved.
 */
int mid_client_fd_raise(int fd);

/*
 * Open a push channel for 'device' on a connection of its own: GET
 * MID_PUSH_PATH with 'Upgrade: MID_PUSH_PROTOCOL', plus the header lines
 * in 'hello' (each ending in CRLF; may be NULL). On a 101 answer '*fd' is
 * the socket (non-blocking, close-on-exec), with nothing after the
 * answer's head read from it. Not for https:// (MID_ERR_INVAL): there
 * the channel is a TLS session (mid_client_channel_tls). Bounded by the
 * timeout.
 */
MID_WUR enum mid_rc mid_client_channel(struct mid_client *c, const char *device,
				       const char *hello, int *fd);

/*
 * The push channel over https:// (MID_ERR_INVAL for another scheme): a
 * TLS session of its own to the control plane the client uses, verified
 * as its validates are (the system store, or mid_client_set_ca_file),
 * carrying the same upgrade request as mid_client_channel. On a 101
 * answer '*out' holds it; the caller frees it with mid_tls_chan_free. On
 * a fault mid_client_detail says what failed (libcurl's words for a
 * certificate it could not verify). Bounded by the timeout.
 */
struct mid_tls_chan; /* opaque */
MID_WUR enum mid_rc mid_client_channel_tls(struct mid_client *c, const char *device,
					   const char *hello, struct mid_tls_chan **out);

/* The socket under 'ch', to poll for POLLIN. Readable does not mean a
 * line came: a TLS record may carry none (a session ticket). */
int mid_tls_chan_fd(const struct mid_tls_chan *ch);

/* What the channel holds, read without blocking: 1 with a kill line
 * ("kill CODE REQUEST_ID") in 'line', 0 for nothing yet (no line, or
 * records that carried no channel data), -1 when the session closed or
 * failed. Call it once after the channel opens too: bytes that came with
 * midd's answer are held already, and the socket will not say so. */
int mid_tls_chan_recv(struct mid_tls_chan *ch, char *line, size_t n);

/* Close the session (no close_notify is awaited). Accepts NULL. */
void mid_tls_chan_free(struct mid_tls_chan *ch);

/*
 * POST MID_REPORT_PATH with the JSON object 'body' ('len' bytes, at most
 * MID_REPORT_BODY_MAX) on the client's connection, opened when there is
 * none, without waiting for the answer: the next call reads and drops it
 * first. Bounded by MID_REPORT_WAIT_MS (or the timeout when shorter).
 * Not for https:// (MID_ERR_INVAL). For what the shim stops: a report
 * lost is a row missing in midd's audit trail, never a decision.
 */
#define MID_REPORT_PATH "/api/v1/report"
#define MID_REPORT_BODY_MAX 2048
#define MID_REPORT_WAIT_MS 100
MID_WUR enum mid_rc mid_client_report(struct mid_client *c, const char *body, size_t len);

/* POST /api/v1/devices/register for 'device'. d->status holds the
 * server's status; d->allowed is true for "ok" and "exists". */
MID_WUR enum mid_rc mid_client_register(struct mid_client *c, const char *device,
					struct mid_decision *d);

/* Which API call a reply answers: they differ in what makes it good. */
enum mid_call {
	MID_CALL_VALIDATE, /* a boolean "allowed" */
	MID_CALL_REGISTER, /* a string "status" */
};

/*
 * Parse one complete HTTP/1.x reply to 'call' in 'buf' ('len' bytes) and
 * map it to a decision, exactly as the calls above do with what they
 * read. Exposed for unit tests and the fuzzer. 'eof' says the peer closed
 * after 'len' bytes. Returns MID_OK with d filled when a whole reply is
 * there, MID_ERR_PARSE when more bytes are needed (and !eof), or the
 * error (d->code names it). '*consumed' (may be NULL) gets the reply's
 * length when it is complete, else 0.
 */
MID_WUR enum mid_rc mid_client_parse_reply(enum mid_call call, const char *buf, size_t len,
					   bool eof, struct mid_decision *d, size_t *consumed);

#endif
