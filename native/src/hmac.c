/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "inner.h"
#include "st_error.h"
#include "st_hmac.h"

#define IPAD 0x36
#define OPAD 0x5c

/* State after compressing one block of (key XOR pad). */
static void padded_key_state(uint32_t state[8], st_sha256_compress_fn compress,
                             const uint8_t key_block[64], uint8_t pad)
{
	uint8_t block[ST_SHA256_BLOCK];

	for (size_t i = 0; i < ST_SHA256_BLOCK; i++)
		block[i] = key_block[i] ^ pad;
	memcpy(state, st_sha256_iv, 8 * sizeof(uint32_t));
	compress(state, block, 1);
	explicit_bzero(block, sizeof(block));
}

int st_hmac_sha256_key_init(st_hmac_sha256_key *key, int impl,
                            const void *secret, size_t secret_len)
{
	st_sha256_context hc;
	uint8_t key_block[ST_SHA256_BLOCK] = {0};
	int rc = st_sha256_init(&hc, impl);

	if (rc < 0)
		return rc;
	if (secret_len > ST_SHA256_BLOCK) {
		st_sha256_update(&hc, secret, secret_len);
		st_sha256_final(&hc, key_block);
	} else if (secret_len) {
		memcpy(key_block, secret, secret_len);
	}
	key->compress = hc.compress;
	padded_key_state(key->inner, key->compress, key_block, IPAD);
	padded_key_state(key->outer, key->compress, key_block, OPAD);
	explicit_bzero(key_block, sizeof(key_block));
	explicit_bzero(&hc, sizeof(hc));
	return 0;
}

void st_hmac_sha256(const st_hmac_sha256_key *key, const void *msg,
                    size_t len, uint8_t out[32])
{
	uint32_t state[8];
	uint8_t inner_digest[ST_SHA256_LEN];

	memcpy(state, key->inner, sizeof(state));
	st_sha256_finish(state, key->compress, ST_SHA256_BLOCK, msg, len,
	                 inner_digest);
	memcpy(state, key->outer, sizeof(state));
	st_sha256_finish(state, key->compress, ST_SHA256_BLOCK, inner_digest,
	                 sizeof(inner_digest), out);
}

void st_hmac_sha256_hex(const st_hmac_sha256_key *key, const void *msg,
                        size_t len, char out[64])
{
	static const char digits[16] = "0123456789abcdef";
	uint8_t mac[ST_SHA256_LEN];

	st_hmac_sha256(key, msg, len, mac);
	for (size_t i = 0; i < sizeof(mac); i++) {
		out[2 * i] = digits[mac[i] >> 4];
		out[2 * i + 1] = digits[mac[i] & 15];
	}
}

void st_hmac_sha256_key_wipe(st_hmac_sha256_key *key)
{
	explicit_bzero(key, sizeof(*key));
}
