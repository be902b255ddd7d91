/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 and SHA-256d with two interchangeable compression backends:
 * SHA-NI (x86 SHA extensions, picked at run time when the CPU has them) and
 * BearSSL's portable C. Both are always built so both can be tested.
 *
 * No function here allocates, locks or makes a system call.
 */
#ifndef ST_SHA256_H
#define ST_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

/* cdef-begin */
#define ST_SHA256_AUTO      0   /* fastest available */
#define ST_SHA256_PORTABLE  1   /* BearSSL br_sha2small_round */
#define ST_SHA256_SHANI     2   /* x86 SHA extensions */

#define ST_SHA256_LEN       32
#define ST_SHA256_BLOCK     64

/* Compresses nblocks consecutive 64-byte blocks into state. */
typedef void (*st_sha256_compress_fn)(uint32_t state[8], const uint8_t *blocks,
                                      size_t nblocks);

/* Streaming context. Caller-allocated; fields are private. */
typedef struct st_sha256_context {
	uint32_t state[8];
	uint64_t count;
	uint8_t buf[64];
	st_sha256_compress_fn compress;
} st_sha256_context;

/* 1 when impl can run on this CPU, 0 when not or when impl is unknown. */
int st_sha256_impl_available(int impl);

/* What ST_SHA256_AUTO resolves to on this CPU (never ST_SHA256_AUTO). */
int st_sha256_auto_impl(void);

/* "shani", "portable", "auto"; "unknown" for anything else. */
const char *st_sha256_impl_name(int impl);

/*
 * Starts a hash with the given implementation.
 * Returns 0, ST_ECPU_UNSUPPORTED when the CPU cannot run impl, or
 * ST_EBAD_IMPL when impl is not an ST_SHA256_* value.
 */
int st_sha256_init(st_sha256_context *ctx, int impl);

/* Adds len bytes. Cannot fail. */
void st_sha256_update(st_sha256_context *ctx, const void *data, size_t len);

/* Writes the 32-byte digest. The context must be re-initialised to reuse. */
void st_sha256_final(st_sha256_context *ctx, uint8_t out[32]);

/* One-shot SHA-256. Returns 0 or the errors of st_sha256_init. */
int st_sha256(int impl, const void *data, size_t len, uint8_t out[32]);

/*
 * SHA-256d = SHA-256(SHA-256(data)), Bitcoin's txid and block hash, in
 * internal byte order (block explorers show it reversed). Uses the fastest
 * implementation. Cannot fail.
 */
void st_sha256d(const void *data, size_t len, uint8_t out[32]);
/* cdef-end */

#endif
