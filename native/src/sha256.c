/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 front end: backend selection, streaming and padding. The
 * compression itself is in sha256_shani.c or sha256_portable.c.
 */
#include <string.h>

#include "inner.h"
#include "st_cpu.h"
#include "st_error.h"

const uint32_t st_sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

int st_sha256_auto_impl(void)
{
	return (st_cpu_features() & ST_CPU_SHA) ? ST_SHA256_SHANI
	                                        : ST_SHA256_PORTABLE;
}

int st_sha256_impl_available(int impl)
{
	switch (impl) {
	case ST_SHA256_AUTO:
	case ST_SHA256_PORTABLE:
		return 1;
	case ST_SHA256_SHANI:
		return (st_cpu_features() & ST_CPU_SHA) != 0;
	default:
		return 0;
	}
}

const char *st_sha256_impl_name(int impl)
{
	switch (impl) {
	case ST_SHA256_AUTO:
		return "auto";
	case ST_SHA256_PORTABLE:
		return "portable";
	case ST_SHA256_SHANI:
		return "shani";
	default:
		return "unknown";
	}
}

/* Resolves impl to a compression function; 0 or an ST_E* code. */
static int pick_compress(int impl, st_sha256_compress_fn *out)
{
	if (impl == ST_SHA256_AUTO)
		impl = st_sha256_auto_impl();
	switch (impl) {
	case ST_SHA256_PORTABLE:
		*out = st_sha256_compress_portable;
		return 0;
	case ST_SHA256_SHANI:
		if (!(st_cpu_features() & ST_CPU_SHA))
			return ST_ECPU_UNSUPPORTED;
		*out = st_sha256_compress_shani;
		return 0;
	default:
		return ST_EBAD_IMPL;
	}
}

void st_sha256_finish(uint32_t state[8], st_sha256_compress_fn compress,
                      uint64_t prefix_len, const uint8_t *msg, size_t len,
                      uint8_t out[32])
{
	uint8_t tail[2 * ST_SHA256_BLOCK];
	size_t full = len / ST_SHA256_BLOCK;
	size_t rest = len % ST_SHA256_BLOCK;

	if (full)
		compress(state, msg, full);
	/* 0x80, zeros, then the bit length: one block, or two when the
	 * remainder leaves fewer than 9 bytes for them. */
	size_t tail_len = rest < 56 ? ST_SHA256_BLOCK : 2 * ST_SHA256_BLOCK;
	if (rest) /* msg may be NULL when len is 0 */
		memcpy(tail, msg + full * ST_SHA256_BLOCK, rest);
	tail[rest] = 0x80;
	memset(tail + rest + 1, 0, tail_len - rest - 1 - 8);
	st_store_be64(tail + tail_len - 8, (prefix_len + len) * 8);
	compress(state, tail, tail_len / ST_SHA256_BLOCK);
	for (size_t i = 0; i < 8; i++)
		st_store_be32(out + 4 * i, state[i]);
}

int st_sha256_init(st_sha256_context *ctx, int impl)
{
	int rc = pick_compress(impl, &ctx->compress);
	if (rc < 0)
		return rc;
	memcpy(ctx->state, st_sha256_iv, sizeof(ctx->state));
	ctx->count = 0;
	return 0;
}

void st_sha256_update(st_sha256_context *ctx, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used = (size_t)(ctx->count % ST_SHA256_BLOCK);

	if (!len)
		return; /* data may be NULL */
	ctx->count += len;
	if (used) {
		size_t take = ST_SHA256_BLOCK - used;
		if (take > len)
			take = len;
		memcpy(ctx->buf + used, p, take);
		p += take;
		len -= take;
		if (used + take < ST_SHA256_BLOCK)
			return;
		ctx->compress(ctx->state, ctx->buf, 1);
	}
	if (len >= ST_SHA256_BLOCK) {
		ctx->compress(ctx->state, p, len / ST_SHA256_BLOCK);
		p += len - len % ST_SHA256_BLOCK;
		len %= ST_SHA256_BLOCK;
	}
	if (len)
		memcpy(ctx->buf, p, len);
}

void st_sha256_final(st_sha256_context *ctx, uint8_t out[32])
{
	size_t used = (size_t)(ctx->count % ST_SHA256_BLOCK);

	st_sha256_finish(ctx->state, ctx->compress, ctx->count - used, ctx->buf,
	                 used, out);
}

int st_sha256(int impl, const void *data, size_t len, uint8_t out[32])
{
	st_sha256_compress_fn compress;
	uint32_t state[8];
	int rc = pick_compress(impl, &compress);

	if (rc < 0)
		return rc;
	memcpy(state, st_sha256_iv, sizeof(state));
	st_sha256_finish(state, compress, 0, data, len, out);
	return 0;
}

void st_sha256d(const void *data, size_t len, uint8_t out[32])
{
	uint8_t first[32];

	/* AUTO always resolves to a runnable backend: cannot fail. */
	(void)st_sha256(ST_SHA256_AUTO, data, len, first);
	(void)st_sha256(ST_SHA256_AUTO, first, sizeof(first), out);
}
