/* SPDX-License-Identifier: MIT */
/*
 * Definitions every midshim module shares: the return-code idiom, the
 * attributes that enforce it, the test-visibility macro, and a handful of
 * small helpers (monotonic clock, UUID v4, constant-time comparison) that
 * the shim, the server and the tools all need in exactly one version.
 */
#ifndef MID_H
#define MID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define MID_WUR __attribute__((warn_unused_result))

/* Code every gated process runs before main or at exit. GNU ld puts
 * .text.startup (the constructors' section) ahead of the rest of .text, so
 * the preload's start-up code shares the 64 KiB fault-around window of
 * its first text page instead of reaching into three: a page fault costs
 * a process start more than anything it computes. Placement only; no
 * effect on midd or midctl beyond where their copy lies. */
#define MID_STARTUP __attribute__((section(".text.startup")))

/* A constant the start-up code reads, in a file whose other read-only
 * data stays in .rodata: shim/startup.ld puts it beside the start-up
 * code's other data, for the same reason. */
#define MID_STARTUP_RODATA __attribute__((section(".rodata.startup")))

/* A static helper that a unit test may call: static in the product,
 * external in the test build (curl's UNITTEST). */
#ifdef MID_UNIT_TEST
#define MID_STATIC
#else
#define MID_STATIC static
#endif

#define MID_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* strlen(s) and memcpy(d, s, n) for code that runs before main in every
 * gated process (MID_STARTUP). Each libc string function it calls is a
 * lazy binding and, in one start of five, a page of libc the program
 * itself never touches. Volatile: the compiler must not turn the loops
 * back into those calls. */
static inline size_t mid_len(const char *s)
{
	const volatile char *x = s;
	size_t n = 0;

	while(x[n])
		n++;
	return n;
}

static inline void mid_copy(char *d, const char *s, size_t n)
{
	volatile char *x = d;

	for(size_t i = 0; i < n; i++)
		x[i] = s[i];
}

/* Does 's' start with the string literal 'lit'? The length comes from the
 * literal, so nobody counts it by hand. _CI ignores ASCII case. */
#define MID_HAS_PREFIX(s, lit) (strncmp((s), "" lit, sizeof(lit) - 1) == 0)
#define MID_HAS_PREFIX_CI(s, lit) (strncasecmp((s), "" lit, sizeof(lit) - 1) == 0)

/* Hard limits shared by the client and the server. */
#define MID_DEVICE_MAX 256        /* bytes in a deviceId */
#define MID_CODE_MAX 64           /* bytes in a decision code */
#define MID_REQUEST_ID_MAX 64     /* bytes in a request_id */
#define MID_REQUEST_BODY_MAX 4096 /* largest request body midd accepts */
#define MID_URL_MAX 512           /* bytes in a control-plane URL, with the NUL */
/* Bytes in an org or admin key. midd issues 72; the shim keeps the key
 * in the configuration every gated process writes at its start, so the
 * cap stays at the shim's 255 rather than the client's former 512. */
#define MID_KEY_MAX 255

/* The gate's settings (MIDSHIM_TTL_MS, MIDSHIM_TIMEOUT_MS, the policy's
 * ttl_ms and timeout_ms), as README.md and midshim(1) document them. A
 * validate holds the gated call, so its deadline stops at a minute. */
#define MID_TTL_DEFAULT_MS 1000
#define MID_TTL_MAX_MS 30000
#define MID_TIMEOUT_DEFAULT_MS 2000
#define MID_TIMEOUT_MAX_MS 60000

/* The environment the parts share (README.md, "Configuration"): the
 * shim reads these, `midshim run` sets them, midctl reads the URL and the
 * keys. Any other MIDSHIM_ name is a typo the shim refuses, except the
 * test hooks under MID_ENV_TEST_PREFIX. */
#define MID_ENV_PREFIX "MIDSHIM_"
#define MID_ENV_TEST_PREFIX "MIDSHIM_TEST_"
#define MID_ENV_URL "MIDSHIM_URL"
#define MID_ENV_DEVICE_ID "MIDSHIM_DEVICE_ID"
#define MID_ENV_ORG_KEY "MIDSHIM_ORG_KEY"
#define MID_ENV_ORG_KEY_FILE "MIDSHIM_ORG_KEY_FILE"
#define MID_ENV_ADMIN_KEY "MIDSHIM_ADMIN_KEY"
#define MID_ENV_ADMIN_KEY_FILE "MIDSHIM_ADMIN_KEY_FILE"
#define MID_ENV_POLICY "MIDSHIM_POLICY"
#define MID_ENV_TTL_MS "MIDSHIM_TTL_MS"
#define MID_ENV_TIMEOUT_MS "MIDSHIM_TIMEOUT_MS"
#define MID_ENV_ON_DENY "MIDSHIM_ON_DENY"
#define MID_ENV_MODE "MIDSHIM_MODE"
#define MID_ENV_AUDIT_LOG "MIDSHIM_AUDIT_LOG"
#define MID_ENV_PUSH "MIDSHIM_PUSH"
#define MID_ENV_QUIET "MIDSHIM_QUIET"
#define MID_ENV_SYSLOG "MIDSHIM_SYSLOG"
#define MID_ENV_SYSLOG_SOCKET "MIDSHIM_SYSLOG_SOCKET"
#define MID_ENV_CA_FILE "MIDSHIM_CA_FILE"
/* read by the launcher only: its configuration file */
#define MID_ENV_CONFIG "MIDSHIM_CONFIG"
/* set by the shim for the programs a gated program starts */
#define MID_ENV_ALLOW_UNTIL "MIDSHIM_ALLOW_UNTIL"
#define MID_ENV_REGISTERED "MIDSHIM_REGISTERED"
/* The push channel: GET MID_PUSH_PATH?deviceId=D with the org key and
 * 'Upgrade: MID_PUSH_PROTOCOL', answered 101; then midd writes one line,
 * "kill CODE REQUEST_ID", when the device is denied. */
#define MID_PUSH_PATH "/api/v1/devices/push"
#define MID_PUSH_PROTOCOL "midshim-push"
/* Who holds a channel (its x-midshim-kind header): a preloaded process,
 * a launcher (its channel a plain socket, or a TLS session for https://)
 * or an adopt keeper. A launcher or a keeper holds a whole tree. */
#define MID_KIND_PRELOAD "preload"
#define MID_KIND_LAUNCHER "launcher"
#define MID_KIND_LAUNCHER_TLS "launcher-tls"
#define MID_KIND_ADOPT "adopt"
#define MID_KIND_ADOPT_TLS "adopt-tls"

enum mid_rc {
	MID_OK = 0,
	MID_ERR_NOMEM,       /* allocation failed */
	MID_ERR_INVAL,       /* bad argument or configuration */
	MID_ERR_IO,          /* local I/O error */
	MID_ERR_PARSE,       /* input does not parse */
	MID_ERR_TOO_BIG,     /* input over its hard cap */
	MID_ERR_UNREACHABLE, /* peer cannot be reached */
	MID_ERR_TIMEOUT,     /* deadline passed */
	MID_ERR_PROTOCOL,    /* peer broke HTTP */
	MID_ERR_HTTP,        /* peer answered a non-2xx status */
	MID_ERR_BAD_REPLY,   /* reply body is not what the API promises */
	MID_ERR_NOT_FOUND,   /* no such thing */
	MID_ERR_DENIED,      /* refused */
};

/* A short English name for 'rc', for log lines. Never NULL. */
const char *mid_rc_str(enum mid_rc rc);

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t mid_now_ms(void);

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t mid_now_ns(void);

/* Read 's', one or more decimal digits and nothing else, into '*out'.
 * False when it is not such a number or does not fit 64 bits. (Not
 * strtoull: the shim reads its settings with no libc page the program
 * may not use itself.) */
bool mid_parse_u64(const char *s, uint64_t *out);

/* Write 'x' in decimal and a NUL to 'out' (21 bytes are always enough);
 * returns the digits written. For the same reason: no printf here. */
size_t mid_format_u64(uint64_t x, char out[21]);

/* Fill 'len' bytes at 'buf' from getrandom(2). A failing getrandom is
 * retried a bounded number of times (EINTR, short reads); MID_ERR_IO when
 * it still fails, with 'buf' partly filled. For keys and nonces. */
MID_WUR enum mid_rc mid_random(void *buf, size_t len);

/* Write the 16 bytes at 'b' as an RFC 4122 version 4 UUID, with the
 * version and variant bits set, NUL-terminated. */
void mid_uuid4_format(const unsigned char b[16], char out[37]);

/* Fill 'out' with a fresh version 4 UUID. Always returns: when getrandom
 * fails, the bytes come from the clocks, the pid and a counter, which
 * keeps request IDs distinct though no longer unpredictable (they are
 * labels, never secrets). */
void mid_uuid4(char out[37]);

/* The one rule for a deviceId, wherever it is read (environment, policy,
 * request body, command line): 1 to MID_DEVICE_MAX bytes of printable
 * ASCII without spaces, as midd(8) documents. 'len' bytes of 'id' are
 * checked, so a NUL inside fails too. */
bool mid_device_ok(const char *id, size_t len);

/* Compare 'n' bytes in time independent of where they differ.
 * Returns 1 when equal, 0 otherwise. */
int mid_ct_equal(const void *a, const void *b, size_t n);

/* Write 's' as a JSON string, quotes included, into 'out' of 'cap' bytes:
 * '"' and '\\' escaped, control bytes as \u00XX, other bytes as they are.
 * Returns the length written, or 0 when it does not fit. */
size_t mid_json_str(char *out, size_t cap, const char *s);

/* Copy at most 'dstlen' - 1 bytes of 'src' into 'dst' and terminate it.
 * Returns the length of 'src', so truncation shows as a result >= dstlen. */
size_t mid_strlcpy(char *dst, const char *src, size_t dstlen);

#endif
