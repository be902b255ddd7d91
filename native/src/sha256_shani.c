/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 compression with the x86 SHA extensions.
 *
 * The instructions keep the eight working variables in two registers as
 * ABEF and CDGH. Each sha256rnds2 does two rounds, so a group of four rounds
 * is two of them with the message+constant words shifted down in between.
 * The message schedule is four registers (16 words) updated in a ring with
 * sha256msg1/sha256msg2 (FIPS 180-4 §6.2.2 step 1).
 *
 * Only this function is compiled for the SHA target; callers reach it only
 * when st_cpu_features() reports ST_CPU_SHA.
 */
#include <immintrin.h>

#include "inner.h"

static const uint32_t K[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

__attribute__((target("sha,sse4.1,ssse3")))
void st_sha256_compress_shani(uint32_t state[8], const uint8_t *blocks,
                              size_t nblocks)
{
	/* pshufb mask turning each big-endian message word little-endian. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL,
	                                     0x0405060700010203ULL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);

	/* state[] order (A..H) to the register order the instructions want. */
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

	for (; nblocks > 0; nblocks--, blocks += ST_SHA256_BLOCK) {
		const __m128i abef_in = abef, cdgh_in = cdgh;
		__m128i w[4];

#pragma GCC unroll 16
		for (unsigned g = 0; g < 16; g++) {
			/* Rounds 4g .. 4g+3. */
			if (g < 4)
				w[g] = _mm_shuffle_epi8(_mm_loadu_si128(
					(const __m128i *)(blocks + 16 * g)), bswap);
			__m128i wk = _mm_add_epi32(w[g % 4],
				_mm_load_si128((const __m128i *)&K[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			if (g >= 3 && g < 15) {
				/* Finish the schedule words of group g+1. */
				__m128i tail = _mm_alignr_epi8(w[g % 4],
				                               w[(g + 3) % 4], 4);
				w[(g + 1) % 4] = _mm_sha256msg2_epu32(
					_mm_add_epi32(w[(g + 1) % 4], tail), w[g % 4]);
			}
			abef = _mm_sha256rnds2_epu32(abef, cdgh,
			                             _mm_shuffle_epi32(wk, 0x0E));
			if (g >= 1 && g < 13)
				w[(g + 3) % 4] = _mm_sha256msg1_epu32(w[(g + 3) % 4],
				                                      w[g % 4]);
		}
		abef = _mm_add_epi32(abef, abef_in);
		cdgh = _mm_add_epi32(cdgh, cdgh_in);
	}

	/* Back to state[] order. */
	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	dcba = _mm_blend_epi16(feba, dchg, 0xF0);
	hgfe = _mm_alignr_epi8(dchg, feba, 8);
	_mm_storeu_si128((__m128i *)&state[0], dcba);
	_mm_storeu_si128((__m128i *)&state[4], hgfe);
}
