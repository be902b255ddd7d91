/* SPDX-License-Identifier: MIT */
/* CSPRNG: seeded streams reproduce, chunking does not change the stream,
 * reseeding and kernel seeding diverge, and the key moves on every refill. */
#include <stdint.h>

#include "st_random.h"
#include "t_util.h"

#define N 5000

int main(void)
{
	static uint8_t bulk[N], bytewise[N], other[N];
	uint8_t seed[32] = {1, 2, 3};
	st_random_context a, b;

	st_random_init_seeded(&a, seed);
	st_random_bytes(&a, bulk, N);
	st_random_init_seeded(&b, seed);
	for (size_t i = 0; i < N; i++)
		st_random_bytes(&b, &bytewise[i], 1);
	T_CHECK(memcmp(bulk, bytewise, N) == 0, "chunking changed the stream");
	T_CHECK(a.refills == b.refills && a.refills >= N / ST_RANDOM_BUFSIZE,
	        "refills %llu", (unsigned long long)a.refills);
	T_CHECK(memcmp(a.key, seed, 32) != 0, "key was not replaced");

	/* No 64-byte window of the output repeats (a stuck generator would). */
	for (size_t i = 64; i + 64 <= N; i += 64)
		T_CHECK(memcmp(bulk, bulk + i, 64) != 0, "repeat at %zu", i);

	T_CHECK(st_random_reseed(&b) == 0, "reseed");
	st_random_bytes(&b, other, N);
	st_random_init_seeded(&a, seed);
	st_random_bytes(&a, bulk, N);
	st_random_bytes(&a, bytewise, N);
	T_CHECK(memcmp(other, bytewise, N) != 0, "reseed did not change the stream");

	T_CHECK(st_random_init(&a) == 0 && st_random_init(&b) == 0, "init");
	T_CHECK(st_random_u32(&a) != st_random_u32(&b) ||
	        st_random_u32(&a) != st_random_u32(&b), "two kernel seeds agree");

	st_random_wipe(&a);
	static const st_random_context zero;
	T_CHECK(memcmp(&a, &zero, sizeof(a)) == 0, "wipe leaves bytes");
	return t_exit_code();
}
