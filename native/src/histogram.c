/* SPDX-License-Identifier: MIT */
#include "st_histogram.h"

uint32_t st_histogram_bucket(uint64_t ns)
{
	if (ns < ST_HIST_SUB)
		return (uint32_t)ns;
	uint32_t exp = 63u - (uint32_t)__builtin_clzll(ns);           /* >= 3 */
	uint32_t sub = (uint32_t)(ns >> (exp - 3)) & (ST_HIST_SUB - 1);
	uint32_t b = (exp - 2) * ST_HIST_SUB + sub;
	return b < ST_HIST_BUCKETS ? b : ST_HIST_BUCKETS - 1;
}

uint64_t st_histogram_bucket_low(uint32_t bucket)
{
	if (bucket < ST_HIST_SUB)
		return bucket;
	uint32_t exp = bucket / ST_HIST_SUB + 2, sub = bucket % ST_HIST_SUB;
	return ((uint64_t)ST_HIST_SUB + sub) << (exp - 3);
}

void st_histogram_add(st_histogram *h, uint64_t ns)
{
	if (!h)
		return;
	h->buckets[st_histogram_bucket(ns)]++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	__atomic_store_n(&h->count, h->count + 1, __ATOMIC_RELEASE);
}
