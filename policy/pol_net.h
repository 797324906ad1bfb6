/* SPDX-License-Identifier: MIT */
/*
 * Network matchers of policy rules: address blocks (CIDR) and port
 * ranges, compiled from their policy spelling at load and compared with
 * an event's peer without allocating.
 */
#ifndef MID_POL_NET_H
#define MID_POL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mid.h"

#define MID_CIDR_STRLEN 64 /* room for "ffff:...:ffff/128" and a NUL */

struct mid_cidr {
	int family;       /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network byte order, host bits zero */
	unsigned prefix;  /* 0..32 or 0..128 */
};

struct mid_portrange {
	uint16_t lo, hi;  /* 1 <= lo <= hi <= 65535 */
};

/* Parse "10.0.0.0/8", "::1", "fd00::/8". A block with host bits set is
 * refused with the block it probably meant; so is an IPv4-mapped IPv6
 * address, which never reaches a rule (the shim reports it as IPv4). */
MID_WUR enum mid_rc mid_cidr_parse(const char *s, struct mid_cidr *out, char *why,
				   size_t whylen);

/* Is 'addr' of 'family' inside the block? Other families never are. */
bool mid_cidr_match(const struct mid_cidr *c, int family, const uint8_t *addr);

/* "10.0.0.0/8"; a single address is written without its prefix. */
void mid_cidr_format(const struct mid_cidr *c, char *buf, size_t buflen);

/* Parse a port range "LO-HI" (1..65535, LO <= HI). */
MID_WUR enum mid_rc mid_portrange_parse(const char *s, struct mid_portrange *out, char *why,
					size_t whylen);

#endif
