/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <string.h>

#include "inner.h"
#include "st_error.h"

struct error_entry {
	int code;
	const char *name;
	const char *comment;
};

/* Every ST_* code, its name and what it means. Keep in sync with st_error.h;
 * tests check that every code defined there is named here. */
static const struct error_entry ERRORS[] = {
	{ST_OK, "ST_OK", "success"},
	{ST_NEED_MORE, "ST_NEED_MORE", "more input is needed"},
	{ST_ECPU_UNSUPPORTED, "ST_ECPU_UNSUPPORTED",
	 "the CPU lacks the instruction set this implementation needs"},
	{ST_EBUFFER_TOO_SMALL, "ST_EBUFFER_TOO_SMALL",
	 "the output buffer is too small"},
	{ST_EBAD_IMPL, "ST_EBAD_IMPL", "no such implementation"},
};

static const struct error_entry *lookup(int code)
{
	for (size_t i = 0; i < ST_ARRAY_LEN(ERRORS); i++)
		if (ERRORS[i].code == code)
			return &ERRORS[i];
	return NULL;
}

const char *st_error_name(int code)
{
	const struct error_entry *e = lookup(code);

	if (e)
		return e->name;
	if (code < 0 && code >= ST_ERRNO_MAX_NEG) {
		const char *name = strerrorname_np(-code);
		if (name)
			return name;
	}
	return "ST_UNKNOWN_ERROR";
}

const char *st_strerror(int code)
{
	const struct error_entry *e = lookup(code);

	if (e)
		return e->comment;
	if (code < 0 && code >= ST_ERRNO_MAX_NEG) {
		const char *desc = strerrordesc_np(-code);
		if (desc)
			return desc;
	}
	return "unknown error code";
}
