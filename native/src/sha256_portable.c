/* SPDX-License-Identifier: MIT */
/*
 * Portable compression backend: BearSSL's SHA-256 (br_sha2small_round),
 * reached through its public state get/set calls.
 */
#include <bearssl.h>

#include "inner.h"

void st_sha256_compress_portable(uint32_t state[8], const uint8_t *blocks,
                                 size_t nblocks)
{
	br_sha256_context bc;
	uint8_t encoded[32];

	for (size_t i = 0; i < 8; i++)
		st_store_be32(encoded + 4 * i, state[i]);
	/* The count only matters for BearSSL's own padding, which we never use. */
	br_sha256_set_state(&bc, encoded, 0);
	br_sha256_update(&bc, blocks, nblocks * ST_SHA256_BLOCK);
	br_sha256_state(&bc, encoded);
	for (size_t i = 0; i < 8; i++)
		state[i] = st_load_be32(encoded + 4 * i);
}
