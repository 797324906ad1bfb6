/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by every midshim module. They avoid allocation and
 * locks so the preloaded shim may call them from any hook.
 */
#define _GNU_SOURCE
#include "mid.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

const char *mid_rc_str(enum mid_rc rc)
{
	switch(rc) {
	case MID_OK: return "ok";
	case MID_ERR_NOMEM: return "out of memory";
	case MID_ERR_INVAL: return "invalid argument";
	case MID_ERR_IO: return "I/O error";
	case MID_ERR_PARSE: return "parse error";
	case MID_ERR_TOO_BIG: return "too big";
	case MID_ERR_UNREACHABLE: return "unreachable";
	case MID_ERR_TIMEOUT: return "timed out";
	case MID_ERR_PROTOCOL: return "protocol error";
	case MID_ERR_HTTP: return "HTTP error";
	case MID_ERR_BAD_REPLY: return "bad reply";
	case MID_ERR_NOT_FOUND: return "not found";
	case MID_ERR_DENIED: return "denied";
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

bool mid_parse_u64(const char *s, uint64_t *out)
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

void mid_uuid4(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t got = 0;
	int i, o = 0;

	/* getrandom on a booted system never blocks for 16 bytes; the loop
	 * only covers EINTR and short reads. */
	while(got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if(n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for(i = 0; i < 16; i++) {
		if(i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

bool mid_device_ok(const char *id, size_t len)
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

size_t mid_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);

	if(dstlen) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}
