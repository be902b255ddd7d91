/* SPDX-License-Identifier: MIT */
#include <bearssl.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "st_random.h"

/* The key changes on every refill, so a fixed nonce never repeats a stream. */
static const uint8_t NONCE[12];

static void refill(st_random_context *ctx)
{
	memset(ctx->buf, 0, sizeof(ctx->buf));
	ctx->chacha20(ctx->key, NONCE, 0, ctx->buf, sizeof(ctx->buf));
	/* Fast key erasure: the first 32 bytes become the next key. */
	memcpy(ctx->key, ctx->buf, sizeof(ctx->key));
	explicit_bzero(ctx->buf, sizeof(ctx->key));
	ctx->pos = sizeof(ctx->key);
	ctx->refills++;
}

static int fill_from_kernel(uint8_t *out, size_t len)
{
	while (len) {
		ssize_t n = getrandom(out, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

void st_random_init_seeded(st_random_context *ctx, const uint8_t seed[32])
{
	br_chacha20_run fast = br_chacha20_sse2_get();

	memcpy(ctx->key, seed, sizeof(ctx->key));
	ctx->chacha20 = fast ? fast : br_chacha20_ct_run;
	ctx->pos = sizeof(ctx->buf);
	ctx->refills = 0;
}

int st_random_init(st_random_context *ctx)
{
	uint8_t seed[32];
	int rc = fill_from_kernel(seed, sizeof(seed));

	if (rc < 0)
		return rc;
	st_random_init_seeded(ctx, seed);
	explicit_bzero(seed, sizeof(seed));
	return 0;
}

int st_random_reseed(st_random_context *ctx)
{
	uint8_t fresh[32];
	int rc = fill_from_kernel(fresh, sizeof(fresh));

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(fresh); i++)
		ctx->key[i] ^= fresh[i];
	explicit_bzero(fresh, sizeof(fresh));
	/* Drop what is left of the old stream. */
	explicit_bzero(ctx->buf, sizeof(ctx->buf));
	ctx->pos = sizeof(ctx->buf);
	return 0;
}

void st_random_bytes(st_random_context *ctx, void *out, size_t len)
{
	uint8_t *p = out;

	while (len) {
		if (ctx->pos == sizeof(ctx->buf))
			refill(ctx);
		size_t take = sizeof(ctx->buf) - ctx->pos;
		if (take > len)
			take = len;
		memcpy(p, ctx->buf + ctx->pos, take);
		/* Output once handed out is not kept. */
		explicit_bzero(ctx->buf + ctx->pos, take);
		ctx->pos += (uint32_t)take;
		p += take;
		len -= take;
	}
}

uint32_t st_random_u32(st_random_context *ctx)
{
	uint32_t v;

	st_random_bytes(ctx, &v, sizeof(v));
	return v;
}

uint64_t st_random_refills(const st_random_context *ctx)
{
	return ctx->refills;
}

void st_random_wipe(st_random_context *ctx)
{
	explicit_bzero(ctx, sizeof(*ctx));
}
