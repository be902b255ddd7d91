/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the SPKI finder that pinning runs on a server's leaf
 * certificate (our own DER walk), and PEM trust loading (BearSSL's decoders
 * driven by our code). */
#include <stdint.h>

#include "inner.h"
#include "st_tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *spki;
	size_t spki_len;
	st_tls_trust trust;

	if (st_der_find_spki(data, size, &spki, &spki_len) == 0 &&
	    (spki < data || spki + spki_len > data + size))
		__builtin_trap();
	st_tls_trust_init(&trust);
	st_tls_trust_load_pem(&trust, data, size);
	st_tls_trust_free(&trust);
	return 0;
}
