/* SPDX-License-Identifier: MIT */
/* Runtime CPU feature detection (cpuid), read once and cached. */
#ifndef ST_CPU_H
#define ST_CPU_H

/* cdef-begin */
#define ST_CPU_SHA     1u   /* SHA extensions (SHA-NI) with SSSE3 and SSE4.1 */
#define ST_CPU_AES     2u   /* AES-NI */
#define ST_CPU_PCLMUL  4u   /* carry-less multiply (GHASH for AES-GCM) */
#define ST_CPU_AVX2    8u

/* Bitmask of ST_CPU_* features this CPU has. Never fails. */
unsigned st_cpu_features(void);
/* cdef-end */

#endif
