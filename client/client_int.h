/* SPDX-License-Identifier: MIT */
/*
 * Inside the control-plane client: the client's state, shared by the
 * plain transport (client.c) and the libcurl one (https.c), and the reply
 * reader (reply.c) both feed their bytes to. Not for other modules.
 */
#ifndef MID_CLIENT_INT_H
#define MID_CLIENT_INT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "bind.h"
#include "client.h"
#include "mid_key.h"
#include "mid_url.h"

#define MID_LINE_MAX 8192    /* one header or chunk-size line, CRLF excluded */
#define MID_REQUEST_MAX 4096 /* a whole request: head and body */
#define MID_CA_FILE_MAX 4096
#define MID_DETAIL_MAX 256

struct mid_client {
	struct mid_url url; /* the control plane in use: urls[at] */
	char key[MID_KEY_MAX + 1];
	long timeout_ms;
	char mode[8]; /* sent with validate: "enforce", "audit" or "" */
	/* Side-effect counts for the next validate (mid_client_set_counts);
	 * 'req_counts': the ready request carries counts. */
	uint64_t counts[MID_CLIENT_COUNTS];
	int have_counts, req_counts;

	/* A numeric host is resolved once, in mid_client_new. */
	struct sockaddr_storage addr;
	socklen_t addrlen;

	/* Every control plane of the list, each resolved once; 'pref' is
	 * the one that answered last, tried first. */
	struct mid_url urls[MID_URLS_MAX];
	struct sockaddr_storage addrs[MID_URLS_MAX];
	socklen_t addrlens[MID_URLS_MAX];
	size_t nurls, at, pref;
	char url_text[MID_URL_MAX]; /* 'url' written out, for messages */

	int fd;                 /* the kept-alive connection or -1 */
	dev_t fd_dev;           /* what fstat said of 'fd' when it was connected: */
	ino_t fd_ino;           /* a socket at that number is ours only if it matches */
	unsigned long served;   /* replies read on 'fd' */
	int unread;             /* a report's answer is still to be read on 'fd' */
	unsigned long connects; /* connections opened, ever */

	/* The ready request for (req_call, req_device). */
	int req_ready;
	enum mid_call req_call;
	char req_device[MID_DEVICE_MAX + 1];
	char *req; /* MID_REQUEST_MAX bytes */
	size_t req_len;
	size_t body_off; /* the JSON body inside 'req' */

	/* Binding (mid_client_bind), plain transports. */
	int bind;
	int have_session;
	char sid[MID_BIND_HEX + 1];
	unsigned char skey[MID_BIND_KEY_BYTES];
	unsigned char nonce_seed[8]; /* random, new in each process */
	uint64_t nonce_count;
	char nonce[MID_BIND_HEX + 1]; /* of the request in flight */
	size_t nonce_off;             /* where its hex sits in 'req' */

	char *rbuf; /* MID_REPLY_MAX + 1 bytes: one more tells "over" */
	size_t rlen;

	char detail[MID_DETAIL_MAX];

	/* https:// only (https.c). */
	char ca_file[MID_CA_FILE_MAX];
	void *curl;      /* CURL *, kept for keep-alive */
	void *curl_hdrs; /* struct curl_slist * */
	int curl_fd;
	int curl_call;    /* the call its URL is set for, -1 none */
	size_t curl_head; /* header bytes of the reply, counted to the cap */
	int curl_big;     /* a callback hit the cap */
};

/* What framing a reply told about its connection. */
struct mid_reply {
	int status;      /* 0 before a status line was read */
	int close;       /* the connection must not carry another call */
	size_t consumed; /* bytes of the reply, when complete */
};

/*
 * Read the reply to 'call' in 'buf' and fill 'd', as mid_client_parse_reply
 * promises. A chunked body is decoded in place, after the head, so 'buf'
 * is writable; the decoder never writes ahead of what it has read, and
 * bytes after the reply are left alone. 'len' may exceed MID_REPLY_MAX by
 * one byte: that byte says the reply is over the cap.
 */
MID_WUR enum mid_rc mid_reply_read(enum mid_call call, char *buf, size_t len, int eof,
                                   struct mid_reply *r, struct mid_decision *d);

/* Map an HTTP 'status' and a JSON 'body' to a decision (both transports
 * end here). */
MID_WUR enum mid_rc mid_reply_decide(enum mid_call call, int status, const char *body,
                                     size_t blen, struct mid_decision *d);

/* Fill 'd' for a local fault: not allowed, 'code', request_id "-". */
enum mid_rc mid_reply_fault(struct mid_decision *d, enum mid_rc rc, const char *code);

/* Wait until 'fd' is ready for 'events' (POLLIN, POLLOUT), at most until
 * 'deadline' (mid_now_ms): MID_OK, MID_ERR_TIMEOUT or MID_ERR_IO. */
MID_WUR enum mid_rc mid_client_wait_fd(int fd, short events, uint64_t deadline);

/* The upgrade request of a push channel for 'device' with the header
 * lines 'hello', into 'req' ('n' bytes), '*len' its length. One owner for
 * both transports: the plain socket and TLS send the same bytes. */
MID_WUR enum mid_rc mid_client_chan_request(const struct mid_client *c, const char *device,
                                            const char *hello, char *req, size_t n, int *len);

/* The start of midd's answer to the upgrade. */
#define MID_CHAN_SWITCHED "HTTP/1.1 101 "

/* libcurl for https:// (https.c). Load it once per process. */
MID_WUR enum mid_rc mid_https_load(char *err, size_t errlen);

/* Send the ready request's body with libcurl and map the answer. */
MID_WUR enum mid_rc mid_https_call(struct mid_client *c, uint64_t deadline_ms,
                                   struct mid_decision *d);

/* Drop the libcurl handle. 'forget': after fork, close the child's copy
 * of its socket first so nothing is ever written on the parent's
 * connection. */
void mid_https_close(struct mid_client *c, int forget);

#ifdef MID_UNIT_TEST
/* The library name https.c loads; a test points it at a missing one. */
extern const char *mid_https_soname;
#endif

#endif
