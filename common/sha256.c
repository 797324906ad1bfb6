/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 as specified in FIPS 180-4, written for clarity over speed: midd
 * hashes one short key per request, so a plain block loop is plenty.
 * HMAC-SHA256 on top of it proves midd's answers to the shim.
 */
#define _GNU_SOURCE
#include "sha256.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void block(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;

	for(i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for(i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	k = h[7];
	for(i = 0; i < 64; i++) {
		t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
		     K[i] + w[i];
		t2 =
		    (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += k;
}

void mid_sha256_init(struct mid_sha256 *s)
{
	static const uint32_t iv[8] = {
	    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(s->h, iv, sizeof(iv));
	s->len = 0;
	s->fill = 0;
}

void mid_sha256_update(struct mid_sha256 *s, const void *data, size_t n)
{
	const unsigned char *p = data;

	s->len += n;
	while(n) {
		size_t c = sizeof(s->buf) - s->fill;
		if(c > n)
			c = n;
		memcpy(s->buf + s->fill, p, c);
		s->fill += c;
		p += c;
		n -= c;
		if(s->fill == sizeof(s->buf)) {
			block(s->h, s->buf);
			s->fill = 0;
		}
	}
}

void mid_sha256_final(struct mid_sha256 *s, unsigned char out[MID_SHA256_LEN])
{
	uint64_t bits = s->len * 8;
	int i;

	/* Padding: 0x80, zeros to 56 mod 64, then the bit length big-endian. */
	s->buf[s->fill++] = 0x80;
	if(s->fill > 56) {
		memset(s->buf + s->fill, 0, sizeof(s->buf) - s->fill);
		block(s->h, s->buf);
		s->fill = 0;
	}
	memset(s->buf + s->fill, 0, 56 - s->fill);
	for(i = 0; i < 8; i++)
		s->buf[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
	block(s->h, s->buf);
	for(i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
	memset(s, 0, sizeof(*s));
}

void mid_sha256(const void *data, size_t n, unsigned char out[MID_SHA256_LEN])
{
	struct mid_sha256 s;

	mid_sha256_init(&s);
	mid_sha256_update(&s, data, n);
	mid_sha256_final(&s, out);
}

void mid_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for(i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void mid_hmac_init(struct mid_hmac *m, const void *key, size_t klen)
{
	unsigned char k[64], pad[64];
	size_t i;

	memset(k, 0, sizeof(k));
	if(klen > sizeof(k))
		mid_sha256(key, klen, k);
	else
		memcpy(k, key, klen);
	for(i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x36;
	mid_sha256_init(&m->inner);
	mid_sha256_update(&m->inner, pad, sizeof(pad));
	for(i = 0; i < sizeof(pad); i++)
		pad[i] = k[i] ^ 0x5c;
	mid_sha256_init(&m->outer);
	mid_sha256_update(&m->outer, pad, sizeof(pad));
	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
}

void mid_hmac_update(struct mid_hmac *m, const void *data, size_t n)
{
	mid_sha256_update(&m->inner, data, n);
}

void mid_hmac_final(struct mid_hmac *m, unsigned char out[MID_SHA256_LEN])
{
	unsigned char in[MID_SHA256_LEN];

	mid_sha256_final(&m->inner, in);
	mid_sha256_update(&m->outer, in, sizeof(in));
	mid_sha256_final(&m->outer, out);
	explicit_bzero(in, sizeof(in));
}

bool mid_unhex(const char *in, unsigned char *out, size_t n)
{
	size_t i;

	for(i = 0; i < 2 * n; i++) {
		char c = in[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;

		if(v < 0)
			return false;
		if(i & 1)
			out[i / 2] = (unsigned char)(out[i / 2] | v);
		else
			out[i / 2] = (unsigned char)(v << 4);
	}
	return in[2 * n] == '\0';
}
