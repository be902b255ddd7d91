/* SPDX-License-Identifier: MIT */
/*
 * A small JSON scanner for venue answers on the hot thread: it walks one
 * document without allocating, checks its syntax, and reports every scalar
 * value with its key and the key of the object that holds it. Strings are
 * reported raw (between the quotes, escapes left as they are).
 */
#ifndef ST_JSON_H
#define ST_JSON_H

#include <stddef.h>
#include <stdint.h>

#define ST_JSON_MAX_DEPTH   16

#define ST_EJSON_SYNTAX     (-10900)
#define ST_EJSON_DEPTH      (-10901)

enum st_json_type { ST_JSON_STRING, ST_JSON_NUMBER, ST_JSON_TRUE, ST_JSON_FALSE, ST_JSON_NULL };

typedef struct st_json_span {
	const uint8_t *p;
	size_t len;
} st_json_span;

/* One scalar: depth 1 is a member of the top-level object. parent is the key
 * of the object holding it (empty at depth 1 or inside arrays), key is its
 * own key (empty for array elements). The first scalar of an array that is a
 * member's value (or of its first element, an array, and so on: a book level
 * "bids":[["8476.97","415"]]) is reported as that member's value, with its
 * depth, parent and key. */
typedef void (*st_json_visit)(void *ctx, int depth, st_json_span parent, st_json_span key,
                              int type, st_json_span value);

/* Scans one document (leading/trailing whitespace allowed). Returns 0,
 * ST_EJSON_SYNTAX or ST_EJSON_DEPTH. */
int st_json_scan(const uint8_t *s, size_t n, st_json_visit visit, void *ctx);

/* 1 when span equals the NUL-terminated word. */
int st_json_is(st_json_span span, const char *word);

/* Parses an optionally negative decimal integer; 0 on success. */
int st_json_int(st_json_span span, int64_t *out);

#endif
