/* SPDX-License-Identifier: MIT */
/*
 * Binding midd's validate answers to the shim's requests. The shim sends a
 * fresh nonce with each request (x-mid-nonce) and names its session
 * (x-mid-session, or "new" to get one); midd answers with a "proof", an
 * HMAC-SHA256 over the nonce and the decision under the session's key, so
 * a server the program put in midd's place, or an old answer replayed,
 * cannot pass for an allow. midd derives each session's key from a secret
 * of its own, the org, the deviceId and the session id, and hands the key
 * to the shim once, in the answer that opens the session.
 */
#ifndef MID_BIND_H
#define MID_BIND_H

#include <stdbool.h>
#include <stdint.h>

#include "sha256.h"

#define MID_BIND_NONCE_HEADER "x-mid-nonce"
#define MID_BIND_SESSION_HEADER "x-mid-session"
#define MID_BIND_NEW "new"   /* x-mid-session: open a session */
#define MID_BIND_ID_BYTES 16 /* a nonce or session id, sent as hex */
#define MID_BIND_HEX (2 * MID_BIND_ID_BYTES)
#define MID_BIND_KEY_BYTES MID_SHA256_LEN

/* The key of session 'sid' (hex) for 'device' of org 'org_id', under
 * midd's 'secret'. */
void mid_bind_session_key(const unsigned char secret[MID_SHA256_LEN], int64_t org_id,
                          const char *device, const char *sid,
                          unsigned char key[MID_BIND_KEY_BYTES]);

/* The proof of a validate answer, as hex into 'out' (65 bytes). */
void mid_bind_proof(const unsigned char key[MID_BIND_KEY_BYTES], const char *nonce,
                    const char *device, bool allowed, const char *code,
                    const char *request_id, char out[2 * MID_SHA256_LEN + 1]);

/* Is 's' a nonce or session id: exactly MID_BIND_HEX lowercase hex digits? */
bool mid_bind_id_ok(const char *s);

#endif
