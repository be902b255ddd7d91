/* SPDX-License-Identifier: MIT */
/*
 * CSPRNG for WebSocket masking keys and other non-secret-but-unpredictable
 * values. ChaCha20 keystream with fast key erasure: each refill of the
 * buffer also replaces the key, so earlier output cannot be recomputed from
 * a later state. Fresh entropy comes from getrandom() only in
 * st_random_init() and st_random_reseed(), which belong off the hot path;
 * st_random_bytes() never makes a system call and never allocates.
 */
#ifndef ST_RANDOM_H
#define ST_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define ST_RANDOM_BUFSIZE  512

/* A ChaCha20 runner in BearSSL's br_chacha20_run shape. */
typedef uint32_t (*st_chacha20_fn)(const void *key, const void *iv,
                                   uint32_t counter, void *data, size_t len);

typedef struct st_random_context {
	uint8_t key[32];
	st_chacha20_fn chacha20;
	uint8_t buf[ST_RANDOM_BUFSIZE];
	uint32_t pos;
	uint64_t refills;
} st_random_context;

/* Seeds from getrandom(). Returns 0 or -errno. */
int st_random_init(st_random_context *ctx);

/*
 * Seeds from the caller's 32 bytes: the same seed gives the same stream.
 * For tests (the injectable mask source). Cannot fail.
 */
void st_random_init_seeded(st_random_context *ctx, const uint8_t seed[32]);

/* Mixes 32 fresh bytes from getrandom() into the key. Returns 0 or -errno. */
int st_random_reseed(st_random_context *ctx);

/* Fills out with len random bytes. No system call. Cannot fail. */
void st_random_bytes(st_random_context *ctx, void *out, size_t len);

/* Four random bytes as one word (a WebSocket masking key). Cannot fail. */
uint32_t st_random_u32(st_random_context *ctx);

/* How many times the buffer has been refilled (for tests and stats). */
uint64_t st_random_refills(const st_random_context *ctx);

/* Zeroes the state. */
void st_random_wipe(st_random_context *ctx);
/* cdef-end */

#endif
