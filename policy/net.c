/* SPDX-License-Identifier: MIT */
/*
 * Address blocks and port ranges for connect and send rules. inet_pton
 * and inet_ntop only convert text, so the module stays free of system
 * calls and may run on the matcher's path.
 */
#define _GNU_SOURCE
#include "pol_net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* A decimal number of at most 'maxdigits' digits, nothing else. */
static bool decimal(const char *s, size_t n, size_t maxdigits, unsigned long *out)
{
	size_t i;

	if(n == 0 || n > maxdigits)
		return false;
	*out = 0;
	for(i = 0; i < n; i++) {
		if(s[i] < '0' || s[i] > '9')
			return false;
		*out = *out * 10 + (unsigned long)(s[i] - '0');
	}
	return true;
}

static void clear_host_bits(uint8_t *addr, unsigned bytes, unsigned prefix)
{
	unsigned i;

	for(i = 0; i < bytes; i++) {
		unsigned bit = i * 8;
		if(bit >= prefix)
			addr[i] = 0;
		else if(prefix - bit < 8)
			addr[i] &= (uint8_t)(0xff << (8 - (prefix - bit)));
	}
}

enum mid_rc mid_cidr_parse(const char *s, struct mid_cidr *out, char *why, size_t whylen)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char host[MID_CIDR_STRLEN], net[MID_CIDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	struct mid_cidr c;
	unsigned long prefix = 0;
	unsigned bytes, maxp;

	memset(&c, 0, sizeof(c));
	if(hlen == 0 || hlen >= sizeof(host)) {
		snprintf(why, whylen, "is not an IPv4 or IPv6 address");
		return MID_ERR_INVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if(inet_pton(AF_INET, host, c.addr) == 1) {
		c.family = AF_INET;
		bytes = 4;
		maxp = 32;
	} else if(inet_pton(AF_INET6, host, c.addr) == 1) {
		c.family = AF_INET6;
		bytes = 16;
		maxp = 128;
	} else {
		snprintf(why, whylen, "is not an IPv4 or IPv6 address (e.g. 10.0.0.0/8, ::1)");
		return MID_ERR_INVAL;
	}
	if(slash) {
		if(!decimal(slash + 1, strlen(slash + 1), 3, &prefix) || prefix > maxp) {
			snprintf(why, whylen, "has a bad prefix length (expected /0 to /%u)", maxp);
			return MID_ERR_INVAL;
		}
	} else {
		prefix = maxp;
	}
	c.prefix = (unsigned)prefix;
	if(c.family == AF_INET6 && !memcmp(c.addr, mapped, sizeof(mapped))) {
		snprintf(why, whylen, "is IPv4-mapped, and such peers are matched as IPv4: "
			 "write it as an IPv4 address");
		return MID_ERR_INVAL;
	}
	{
		struct mid_cidr m = c;
		clear_host_bits(m.addr, bytes, m.prefix);
		if(memcmp(m.addr, c.addr, bytes)) {
			mid_cidr_format(&m, net, sizeof(net));
			snprintf(why, whylen, "has host bits set; did you mean %s?", net);
			return MID_ERR_INVAL;
		}
	}
	*out = c;
	return MID_OK;
}

bool mid_cidr_match(const struct mid_cidr *c, int family, const uint8_t *addr)
{
	unsigned full, rest;

	if(family != c->family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if(memcmp(addr, c->addr, full))
		return false;
	if(rest && ((addr[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rest))))
		return false;
	return true;
}

void mid_cidr_format(const struct mid_cidr *c, char *buf, size_t buflen)
{
	char a[INET6_ADDRSTRLEN];
	unsigned maxp = c->family == AF_INET ? 32 : 128;

	if(!inet_ntop(c->family, c->addr, a, sizeof(a)))
		mid_strlcpy(a, "?", sizeof(a));
	if(c->prefix == maxp)
		snprintf(buf, buflen, "%s", a);
	else
		snprintf(buf, buflen, "%s/%u", a, c->prefix);
}

enum mid_rc mid_portrange_parse(const char *s, struct mid_portrange *out, char *why,
				size_t whylen)
{
	const char *dash = strchr(s, '-');
	unsigned long lo, hi;

	if(!dash || !decimal(s, (size_t)(dash - s), 5, &lo) ||
	   !decimal(dash + 1, strlen(dash + 1), 5, &hi)) {
		snprintf(why, whylen, "is not a range \"LO-HI\" (a single port is a number, "
			 "e.g. 443)");
		return MID_ERR_INVAL;
	}
	if(lo < 1 || hi > 65535 || lo > hi) {
		snprintf(why, whylen, "is not a range of ports 1..65535 with LO <= HI");
		return MID_ERR_INVAL;
	}
	out->lo = (uint16_t)lo;
	out->hi = (uint16_t)hi;
	return MID_OK;
}
