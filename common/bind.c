/* SPDX-License-Identifier: MIT */
/*
 * Session keys and answer proofs (see bind.h). Each field is followed by
 * a NUL byte, so no two different field lists hash the same bytes.
 */
#define _GNU_SOURCE
#include "bind.h"

#include <string.h>

static void field(struct mid_hmac *m, const char *s)
{
	mid_hmac_update(m, s, strlen(s) + 1);
}

void mid_bind_session_key(const unsigned char secret[MID_SHA256_LEN], int64_t org_id,
                          const char *device, const char *sid,
                          unsigned char key[MID_BIND_KEY_BYTES])
{
	unsigned char id[8];
	struct mid_hmac m;
	int i;

	for(i = 0; i < 8; i++)
		id[i] = (unsigned char)((uint64_t)org_id >> (8 * i));
	mid_hmac_init(&m, secret, MID_SHA256_LEN);
	field(&m, "midshim-session-v1");
	mid_hmac_update(&m, id, sizeof(id));
	field(&m, device);
	field(&m, sid);
	mid_hmac_final(&m, key);
}

void mid_bind_proof(const unsigned char key[MID_BIND_KEY_BYTES], const char *nonce,
                    const char *device, bool allowed, const char *code,
                    const char *request_id, char out[2 * MID_SHA256_LEN + 1])
{
	unsigned char mac[MID_SHA256_LEN];
	struct mid_hmac m;

	mid_hmac_init(&m, key, MID_BIND_KEY_BYTES);
	field(&m, "midshim-reply-v1");
	field(&m, nonce);
	field(&m, device);
	field(&m, allowed ? "true" : "false");
	field(&m, code);
	field(&m, request_id);
	mid_hmac_final(&m, mac);
	mid_hex(mac, sizeof(mac), out);
}

bool mid_bind_id_ok(const char *s)
{
	size_t i;

	for(i = 0; i < MID_BIND_HEX; i++)
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[MID_BIND_HEX] == '\0';
}
