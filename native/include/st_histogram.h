/* SPDX-License-Identifier: MIT */
/*
 * Latency histograms with log-linear buckets: 8 per power of two (about 12 %
 * wide), from 1 ns to past 4 s. Adding is a few instructions, no lock: one
 * writer (the hot thread); readers copy the counters and accept a count that
 * is one sample ahead of the buckets.
 */
#ifndef ST_HISTOGRAM_H
#define ST_HISTOGRAM_H

#include <stdint.h>

/* cdef-begin */
#define ST_HIST_SUB         8       /* buckets per power of two */
#define ST_HIST_BUCKETS     256

typedef struct st_histogram {
	/* cdef-visible */
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t buckets[256];    /* ST_HIST_BUCKETS (cffi needs the number) */
} st_histogram;

void st_histogram_add(st_histogram *h, uint64_t ns);

/* The bucket a value falls in, and the smallest value of a bucket. */
uint32_t st_histogram_bucket(uint64_t ns);
uint64_t st_histogram_bucket_low(uint32_t bucket);
/* cdef-end */

#endif
