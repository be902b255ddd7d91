/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the native tests. Each test is one program: exit 0 pass,
 * 1 fail, 77 skip (liburing's convention), run by tests/test_native_c.py.
 */
#ifndef T_UTIL_H
#define T_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

static int t_failures;

#define T_CHECK(cond, ...)                                                  \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
			        __LINE__, #cond);                           \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			t_failures++;                                       \
		}                                                           \
	} while (0)

static inline int t_exit_code(void)
{
	return t_failures ? T_EXIT_FAIL : T_EXIT_PASS;
}

/* Decodes a hex string into out; returns the byte count or -1. */
static inline long t_unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = strlen(hex);

	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return (long)(n / 2);
}

/* Lowercase hex of n bytes into out (2n + 1 bytes with the NUL). */
static inline void t_hex(const unsigned char *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

#endif
