/* SPDX-License-Identifier: MIT */
/*
 * HMAC-SHA256 (RFC 2104) with a precomputed key state: the inner and outer
 * padded keys are compressed once per secret, so signing a message costs
 * only the message blocks plus one outer block.
 *
 * Signing allocates nothing, takes no lock and makes no system call.
 */
#ifndef ST_HMAC_H
#define ST_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "st_sha256.h"

/* cdef-begin */
#define ST_HMAC_SHA256_LEN      32
#define ST_HMAC_SHA256_HEX_LEN  64

/* Precomputed key state. Holds secret-derived material: wipe it when done. */
typedef struct st_hmac_sha256_key {
	uint32_t inner[8];
	uint32_t outer[8];
	st_sha256_compress_fn compress;
} st_hmac_sha256_key;

/*
 * Derives the key state from a secret of any length (longer than 64 bytes is
 * hashed first, as RFC 2104 says) with the given SHA-256 implementation.
 * Returns 0 or the errors of st_sha256_init.
 */
int st_hmac_sha256_key_init(st_hmac_sha256_key *key, int impl,
                            const void *secret, size_t secret_len);

/* Writes the 32-byte MAC of msg. Cannot fail. */
void st_hmac_sha256(const st_hmac_sha256_key *key, const void *msg,
                    size_t len, uint8_t out[32]);

/* Writes the MAC as 64 lowercase hex characters (no NUL). Cannot fail. */
void st_hmac_sha256_hex(const st_hmac_sha256_key *key, const void *msg,
                        size_t len, char out[64]);

/* Zeroes the key state so no secret-derived bytes stay in memory. */
void st_hmac_sha256_key_wipe(st_hmac_sha256_key *key);
/* cdef-end */

#endif
