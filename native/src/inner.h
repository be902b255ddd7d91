/* SPDX-License-Identifier: MIT */
/* Private helpers shared by the native modules. Not part of the API. */
#ifndef ST_INNER_H
#define ST_INNER_H

#include <stddef.h>
#include <stdint.h>

#include "st_sha256.h"

#define ST_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline uint32_t st_load_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void st_store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void st_store_be64(uint8_t *p, uint64_t v)
{
	st_store_be32(p, (uint32_t)(v >> 32));
	st_store_be32(p + 4, (uint32_t)v);
}

/* The two SHA-256 compression backends (sha256_portable.c, sha256_shani.c). */
void st_sha256_compress_portable(uint32_t state[8], const uint8_t *blocks,
                                 size_t nblocks);
void st_sha256_compress_shani(uint32_t state[8], const uint8_t *blocks,
                              size_t nblocks);

/* SHA-256 initial hash value (FIPS 180-4 §5.3.3). */
extern const uint32_t st_sha256_iv[8];

/*
 * Finishes a hash whose state already covers `prefix_len` bytes (a multiple
 * of 64): compresses msg and the padding, writes the big-endian digest.
 */
void st_sha256_finish(uint32_t state[8], st_sha256_compress_fn compress,
                      uint64_t prefix_len, const uint8_t *msg, size_t len,
                      uint8_t out[32]);

/*
 * Finds the SubjectPublicKeyInfo (its whole DER TLV) in a DER certificate,
 * for SPKI pinning (tls.c). Returns 0, or -1 when the DER is malformed.
 */
int st_der_find_spki(const uint8_t *cert, size_t len, const uint8_t **spki,
                     size_t *spki_len);

#endif
