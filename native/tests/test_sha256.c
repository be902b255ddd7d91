/* SPDX-License-Identifier: MIT */
/* SHA-256 known answers on both backends: FIPS 180-4 examples, the lengths
 * around the padding boundary, 1 MiB, and streaming split at every offset. */
#include <stdint.h>

#include "st_sha256.h"
#include "t_util.h"

struct vector {
	const char *msg; /* NULL: pattern input i % 251 of `len` bytes */
	size_t len;
	const char *digest;
};

static const struct vector VECTORS[] = {
	{"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklm"
	 "nopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	{NULL, 55, "463eb28e72f82e0a96c0a4cc53690c571281131f672aa229e0d45ae59b598b59"},
	{NULL, 56, "da2ae4d6b36748f2a318f23e7ab1dfdf45acdc9d049bd80e59de82a60895f562"},
	{NULL, 63, "29af2686fd53374a36b0846694cc342177e428d1647515f078784d69cdb9e488"},
	{NULL, 64, "fdeab9acf3710362bd2658cdc9a29e8f9c757fcf9811603a8c447cd1d9151108"},
	{NULL, 65, "4bfd2c8b6f1eec7a2afeb48b934ee4b2694182027e6d0fc075074f2fabb31781"},
	{NULL, 1 << 20, "631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769"},
};

#define MILLION_A "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static uint8_t big[1 << 20];

static const uint8_t *input_of(const struct vector *v)
{
	if (v->msg)
		return (const uint8_t *)v->msg;
	for (size_t i = 0; i < v->len; i++)
		big[i] = (uint8_t)(i % 251);
	return big;
}

static void check_impl(int impl)
{
	const char *name = st_sha256_impl_name(impl);
	uint8_t out[32];
	char hex[65];

	for (size_t i = 0; i < sizeof(VECTORS) / sizeof(VECTORS[0]); i++) {
		const struct vector *v = &VECTORS[i];
		const uint8_t *in = input_of(v);

		T_CHECK(st_sha256(impl, in, v->len, out) == 0, "%s", name);
		t_hex(out, 32, hex);
		T_CHECK(strcmp(hex, v->digest) == 0, "%s len %zu: %s", name, v->len, hex);

		/* Streaming, split in two at a spread of offsets. */
		size_t step = v->len > 200 ? 65537 : 1;
		for (size_t cut = 0; cut <= v->len; cut += step) {
			st_sha256_context ctx;
			T_CHECK(st_sha256_init(&ctx, impl) == 0, "%s", name);
			st_sha256_update(&ctx, in, cut);
			st_sha256_update(&ctx, in + cut, v->len - cut);
			st_sha256_final(&ctx, out);
			t_hex(out, 32, hex);
			T_CHECK(strcmp(hex, v->digest) == 0, "%s len %zu cut %zu", name, v->len, cut);
		}
	}

	/* FIPS 180-4's one million 'a', fed byte by byte through update. */
	st_sha256_context ctx;
	T_CHECK(st_sha256_init(&ctx, impl) == 0, "%s", name);
	for (int i = 0; i < 1000000; i++)
		st_sha256_update(&ctx, "a", 1);
	st_sha256_final(&ctx, out);
	t_hex(out, 32, hex);
	T_CHECK(strcmp(hex, MILLION_A) == 0, "%s million a: %s", name, hex);
}

int main(void)
{
	uint8_t out[32];

	check_impl(ST_SHA256_PORTABLE);
	check_impl(ST_SHA256_AUTO);
	if (st_sha256_impl_available(ST_SHA256_SHANI))
		check_impl(ST_SHA256_SHANI);
	else
		T_CHECK(st_sha256(ST_SHA256_SHANI, "", 0, out) == ST_ECPU_UNSUPPORTED,
		        "shani must refuse on a CPU without SHA-NI");
	T_CHECK(st_sha256(99, "", 0, out) == ST_EBAD_IMPL, "unknown impl");

	/* No bytes may come as a NULL pointer (an empty P2P payload does). */
	char hex[65];
	st_sha256_context ctx;
	T_CHECK(st_sha256(ST_SHA256_AUTO, NULL, 0, out) == 0, "NULL, 0");
	st_sha256_init(&ctx, ST_SHA256_AUTO);
	st_sha256_update(&ctx, "abc", 3);
	st_sha256_update(&ctx, NULL, 0);
	st_sha256_final(&ctx, out);
	t_hex(out, 32, hex);
	T_CHECK(!strcmp(hex, VECTORS[1].digest), "update with NULL, 0 changes nothing");
	return t_exit_code();
}
