/* SPDX-License-Identifier: MIT */
/* HMAC-SHA256: RFC 4231 test cases 1-7 on both backends, hex output. */
#include <stdint.h>

#include "st_hmac.h"
#include "t_util.h"

struct rfc4231_case {
	const char *key_hex;
	const char *data_hex;
	const char *mac_hex; /* case 5 is truncated to 128 bits */
};

#define AA_131 \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const struct rfc4231_case CASES[] = {
	{"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{"4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	 "dddddddddddddddddddddddddddddd",
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{"0102030405060708090a0b0c0d0e0f10111213141516171819",
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
	 "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c",
	 "546573742057697468205472756e636174696f6e",
	 "a3b6167473100ee06e0c796c2955552b"},
	{AA_131,
	 "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b"
	 "6579202d2048617368204b6579204669727374",
	 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{AA_131,
	 "5468697320697320612074657374207573696e672061206c6172676572207468616e20"
	 "626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c"
	 "6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520"
	 "686173686564206265666f7265206265696e6720757365642062792074686520484d41"
	 "4320616c676f726974686d2e",
	 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void check_impl(int impl)
{
	const char *name = st_sha256_impl_name(impl);
	unsigned char key[256], data[256];
	char hex[ST_HMAC_SHA256_HEX_LEN + 1];

	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		long klen = t_unhex(CASES[i].key_hex, key, sizeof(key));
		long dlen = t_unhex(CASES[i].data_hex, data, sizeof(data));
		st_hmac_sha256_key k;

		T_CHECK(klen >= 0 && dlen >= 0, "case %zu: bad vector", i + 1);
		T_CHECK(st_hmac_sha256_key_init(&k, impl, key, (size_t)klen) == 0,
		        "%s case %zu", name, i + 1);
		st_hmac_sha256_hex(&k, data, (size_t)dlen, hex);
		hex[ST_HMAC_SHA256_HEX_LEN] = 0;
		size_t want = strlen(CASES[i].mac_hex);
		T_CHECK(strncmp(hex, CASES[i].mac_hex, want) == 0,
		        "%s case %zu: got %s", name, i + 1, hex);

		st_hmac_sha256_key_wipe(&k);
		static const st_hmac_sha256_key zero;
		T_CHECK(memcmp(&k, &zero, sizeof(k)) == 0, "wipe leaves bytes");
	}
}

int main(void)
{
	st_hmac_sha256_key k;

	check_impl(ST_SHA256_PORTABLE);
	if (st_sha256_impl_available(ST_SHA256_SHANI))
		check_impl(ST_SHA256_SHANI);
	T_CHECK(st_hmac_sha256_key_init(&k, 42, "k", 1) == ST_EBAD_IMPL, "bad impl");
	return t_exit_code();
}
