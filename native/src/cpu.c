/* SPDX-License-Identifier: MIT */
#include <cpuid.h>

#include "st_cpu.h"

/* cpuid leaf 1 ECX and leaf 7 EBX bits (Intel SDM vol. 2A, CPUID). */
#define LEAF1_ECX_PCLMUL  (1u << 1)
#define LEAF1_ECX_SSSE3   (1u << 9)
#define LEAF1_ECX_SSE41   (1u << 19)
#define LEAF1_ECX_AES     (1u << 25)
#define LEAF7_EBX_AVX2    (1u << 5)
#define LEAF7_EBX_SHA     (1u << 29)

static unsigned detect(void)
{
	unsigned a, b, c, d, features = 0;

	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	unsigned leaf1_ecx = c;
	if (leaf1_ecx & LEAF1_ECX_AES)
		features |= ST_CPU_AES;
	if (leaf1_ecx & LEAF1_ECX_PCLMUL)
		features |= ST_CPU_PCLMUL;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return features;
	if (b & LEAF7_EBX_AVX2)
		features |= ST_CPU_AVX2;
	/* Our SHA-NI code also uses SSSE3 (pshufb) and SSE4.1 (pblendw). */
	if ((b & LEAF7_EBX_SHA) && (leaf1_ecx & LEAF1_ECX_SSSE3) &&
	    (leaf1_ecx & LEAF1_ECX_SSE41))
		features |= ST_CPU_SHA;
	return features;
}

unsigned st_cpu_features(void)
{
	/* Racing first calls both compute the same value: no lock needed. */
	static unsigned cached;
	static int known;

	if (!__atomic_load_n(&known, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&cached, detect(), __ATOMIC_RELAXED);
		__atomic_store_n(&known, 1, __ATOMIC_RELEASE);
	}
	return __atomic_load_n(&cached, __ATOMIC_RELAXED);
}
