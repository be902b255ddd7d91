/* SPDX-License-Identifier: MIT */
/* Every code has a name and a description; -errno codes use the C library's. */
#include <errno.h>

#include "st_error.h"
#include "t_util.h"

int main(void)
{
	static const int CODES[] = {ST_OK, ST_NEED_MORE, ST_ECPU_UNSUPPORTED,
	                            ST_EBUFFER_TOO_SMALL, ST_EBAD_IMPL};

	for (size_t i = 0; i < sizeof(CODES) / sizeof(CODES[0]); i++) {
		T_CHECK(strcmp(st_error_name(CODES[i]), "ST_UNKNOWN_ERROR") != 0,
		        "code %d unnamed", CODES[i]);
		T_CHECK(strcmp(st_strerror(CODES[i]), "unknown error code") != 0,
		        "code %d undescribed", CODES[i]);
	}
	T_CHECK(strcmp(st_error_name(-ECONNRESET), "ECONNRESET") == 0, "errno name");
	T_CHECK(strstr(st_strerror(-ECONNRESET), "reset") != NULL, "errno text");
	T_CHECK(strcmp(st_error_name(-99999), "ST_UNKNOWN_ERROR") == 0, "unknown");
	T_CHECK(strcmp(st_strerror(12345), "unknown error code") == 0, "positive");
	return t_exit_code();
}
