/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every midshim module. They avoid allocation and
 * locks so the preloaded shim may call them from any hook.
 */
#define _GNU_SOURCE
#include "mid.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *mid_rc_str(enum mid_rc rc)
{
	switch(rc) {
	case MID_OK:
		return "ok";
	case MID_ERR_NOMEM:
		return "out of memory";
	case MID_ERR_INVAL:
		return "invalid argument";
	case MID_ERR_IO:
		return "I/O error";
	case MID_ERR_PARSE:
		return "parse error";
	case MID_ERR_TOO_BIG:
		return "too big";
	case MID_ERR_UNREACHABLE:
		return "unreachable";
	case MID_ERR_TIMEOUT:
		return "timed out";
	case MID_ERR_PROTOCOL:
		return "protocol error";
	case MID_ERR_HTTP:
		return "HTTP error";
	case MID_ERR_BAD_REPLY:
		return "bad reply";
	case MID_ERR_NOT_FOUND:
		return "not found";
	case MID_ERR_DENIED:
		return "denied";
	}
	return "unknown error";
}

uint64_t mid_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t mid_now_ms(void)
{
	return mid_now_ns() / 1000000u;
}

MID_STARTUP bool mid_parse_u64(const char *s, uint64_t *out)
{
	uint64_t x = 0;

	if(!s || !*s)
		return false;
	for(; *s; s++) {
		unsigned d = (unsigned)(*s - '0');

		if(d > 9 || x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

size_t mid_format_u64(uint64_t x, char out[21])
{
	char rev[20];
	size_t n = 0, i;

	do {
		rev[n++] = (char)('0' + x % 10);
		x /= 10;
	} while(x);
	for(i = 0; i < n; i++)
		out[i] = rev[n - 1 - i];
	out[n] = '\0';
	return n;
}

enum mid_rc mid_random(void *buf, size_t len)
{
	unsigned char *b = buf;
	size_t got = 0;
	int tries = 0;

	/* getrandom on a booted system never blocks for a few bytes; the
	 * retries cover EINTR and short reads, and are bounded because a
	 * sandbox may refuse the call for good (seccomp, old kernels). */
	while(got < len) {
		ssize_t n = getrandom(b + got, len - got, 0);

		if(n > 0)
			got += (size_t)n;
		else if(++tries > 100)
			return MID_ERR_IO;
	}
	return MID_OK;
}

void mid_uuid4_format(const unsigned char b[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for(i = 0; i < 16; i++) {
		unsigned char c = b[i];

		if(i == 6)
			c = (unsigned char)((c & 0x0f) | 0x40);
		else if(i == 8)
			c = (unsigned char)((c & 0x3f) | 0x80);
		if(i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
}

/* splitmix64: spreads a counter's bits over the whole word. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

void mid_uuid4(char out[37])
{
	static _Atomic uint64_t counter;
	unsigned char b[16];

	if(mid_random(b, sizeof(b))) {
		struct timespec rt = {0, 0};
		uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
		uint64_t hi, lo;

		clock_gettime(CLOCK_REALTIME, &rt);
		hi = mix64(((uint64_t)rt.tv_sec << 30) ^ (uint64_t)rt.tv_nsec ^
		           ((uint64_t)getpid() << 40));
		lo = mix64(mid_now_ns() ^ (n << 20) ^ hi);
		memcpy(b, &hi, 8);
		memcpy(b + 8, &lo, 8);
	}
	mid_uuid4_format(b, out);
}

MID_STARTUP bool mid_device_ok(const char *id, size_t len)
{
	size_t i;

	if(len == 0 || len > MID_DEVICE_MAX)
		return false;
	for(i = 0; i < len; i++)
		if((unsigned char)id[i] <= ' ' || (unsigned char)id[i] >= 0x7f)
			return false;
	return true;
}

int mid_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for(i = 0; i < n; i++)
		d |= (unsigned char)(x[i] ^ y[i]);
	return d == 0;
}

MID_STARTUP size_t mid_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if(dstlen) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

size_t mid_json_str(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if(cap < 3)
		return 0;
	out[o++] = '"';
	for(; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;

		/* Room for this character, the closing quote and the NUL. */
		if(o + need + 2 > cap)
			return 0;
		if(c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if(c < 0x20) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			out[o++] = (char)c;
		}
	}
	if(o + 2 > cap)
		return 0;
	out[o++] = '"';
	out[o] = '\0';
	return o;
}
