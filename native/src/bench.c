/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <time.h>

#include "st_bench.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int st_bench_hmac_sha256_hex(const st_hmac_sha256_key *key, const void *msg,
                             size_t len, uint32_t batch, uint32_t nsamples,
                             double *out_ns)
{
	char hex[ST_HMAC_SHA256_HEX_LEN];

	if (!batch || !nsamples)
		return -EINVAL;
	for (uint32_t s = 0; s < nsamples; s++) {
		uint64_t start = now_ns();
		for (uint32_t i = 0; i < batch; i++) {
			st_hmac_sha256_hex(key, msg, len, hex);
			/* Keep the compiler from dropping or merging the calls. */
			__asm__ volatile("" : : "r"(hex) : "memory");
		}
		out_ns[s] = (double)(now_ns() - start) / batch;
	}
	return 0;
}
