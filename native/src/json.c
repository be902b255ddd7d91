/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "st_error.h"
#include "st_json.h"

struct frame {
	uint8_t is_object;
	st_json_span key;          /* the key this container sits under */
	/* An array that is the value of a member, or the first element of such
	 * an array: its first scalar is reported as that member's value. */
	int leaf_depth;            /* 0: none */
	st_json_span leaf_parent, leaf_key;
};

static const st_json_span NO_KEY = {(const uint8_t *)"", 0};

struct scanner {
	const uint8_t *s;
	size_t n, i;
	int depth;
	struct frame stack[ST_JSON_MAX_DEPTH + 1];
	st_json_visit visit;
	void *ctx;
};

static void skip_ws(struct scanner *sc)
{
	while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
	                         sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
		sc->i++;
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string starting at the opening quote; *out spans its raw content. */
static int scan_string(struct scanner *sc, st_json_span *out)
{
	size_t start = ++sc->i;
	while (sc->i < sc->n) {
		uint8_t c = sc->s[sc->i];
		if (c == '"') {
			*out = (st_json_span){sc->s + start, sc->i - start};
			sc->i++;
			return 0;
		}
		if (c < 0x20)
			return ST_EJSON_SYNTAX;
		if (c == '\\') {
			if (++sc->i >= sc->n)
				return ST_EJSON_SYNTAX;
			c = sc->s[sc->i];
			if (c == 'u') {
				for (int k = 1; k <= 4; k++)
					if (sc->i + k >= sc->n || !is_hex(sc->s[sc->i + k]))
						return ST_EJSON_SYNTAX;
				sc->i += 4;
			} else if (!strchr("\"\\/bfnrt", c)) {
				return ST_EJSON_SYNTAX;
			}
		}
		sc->i++;
	}
	return ST_EJSON_SYNTAX;
}

static size_t digits(struct scanner *sc)
{
	size_t start = sc->i;
	while (sc->i < sc->n && is_digit(sc->s[sc->i]))
		sc->i++;
	return sc->i - start;
}

static int scan_number(struct scanner *sc, st_json_span *out)
{
	size_t start = sc->i;
	if (sc->s[sc->i] == '-')
		sc->i++;
	size_t first = sc->i;
	size_t nd = digits(sc);
	if (!nd || (nd > 1 && sc->s[first] == '0'))
		return ST_EJSON_SYNTAX;
	if (sc->i < sc->n && sc->s[sc->i] == '.') {
		sc->i++;
		if (!digits(sc))
			return ST_EJSON_SYNTAX;
	}
	if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
		sc->i++;
		if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
			sc->i++;
		if (!digits(sc))
			return ST_EJSON_SYNTAX;
	}
	*out = (st_json_span){sc->s + start, sc->i - start};
	return 0;
}

static int scan_word(struct scanner *sc, const char *word, st_json_span *out)
{
	size_t len = strlen(word);
	if (sc->n - sc->i < len || memcmp(sc->s + sc->i, word, len))
		return ST_EJSON_SYNTAX;
	*out = (st_json_span){sc->s + sc->i, len};
	sc->i += len;
	return 0;
}

/* A scalar value at sc->i, reported under key (first: the first element of
 * its container). */
static int scan_scalar(struct scanner *sc, st_json_span key, int first)
{
	st_json_span value;
	int type, rc;
	uint8_t c = sc->s[sc->i];

	if (c == '"') {
		type = ST_JSON_STRING;
		rc = scan_string(sc, &value);
	} else if (c == '-' || is_digit(c)) {
		type = ST_JSON_NUMBER;
		rc = scan_number(sc, &value);
	} else if (c == 't') {
		type = ST_JSON_TRUE;
		rc = scan_word(sc, "true", &value);
	} else if (c == 'f') {
		type = ST_JSON_FALSE;
		rc = scan_word(sc, "false", &value);
	} else if (c == 'n') {
		type = ST_JSON_NULL;
		rc = scan_word(sc, "null", &value);
	} else {
		return ST_EJSON_SYNTAX;
	}
	if (rc)
		return rc;
	const struct frame *f = &sc->stack[sc->depth];
	if (!f->is_object && first && f->leaf_depth)
		sc->visit(sc->ctx, f->leaf_depth, f->leaf_parent, f->leaf_key, type, value);
	else
		sc->visit(sc->ctx, sc->depth, f->is_object ? f->key : NO_KEY,
		          f->is_object ? key : NO_KEY, type, value);
	return 0;
}

/* After a value: a comma (returns 1: another member follows) or closing
 * brackets (returns 0 once the outermost container has closed). */
static int after_value(struct scanner *sc)
{
	for (;;) {
		skip_ws(sc);
		if (sc->i >= sc->n)
			return ST_EJSON_SYNTAX;
		uint8_t c = sc->s[sc->i++];
		if (c == ',')
			return 1;
		if (c != (sc->stack[sc->depth].is_object ? '}' : ']'))
			return ST_EJSON_SYNTAX;
		if (--sc->depth == 0)
			return 0;
	}
}

/* Walks the document iteratively, one member or element per turn. */
static int scan(struct scanner *sc)
{
	int first = 0;     /* just opened a container: it may close at once */
	int rc;

	for (;;) {
		st_json_span key = NO_KEY;
		skip_ws(sc);
		if (sc->i >= sc->n)
			return ST_EJSON_SYNTAX;
		uint8_t c = sc->s[sc->i];
		if (sc->depth) {
			const struct frame *top = &sc->stack[sc->depth];
			if (first && c == (top->is_object ? '}' : ']')) {
				sc->i++;
				if (--sc->depth == 0)
					return 0;
				goto next;
			}
			if (top->is_object) {
				if (c != '"' || (rc = scan_string(sc, &key)))
					return ST_EJSON_SYNTAX;
				skip_ws(sc);
				if (sc->i >= sc->n || sc->s[sc->i] != ':')
					return ST_EJSON_SYNTAX;
				sc->i++;
				skip_ws(sc);
				if (sc->i >= sc->n)
					return ST_EJSON_SYNTAX;
				c = sc->s[sc->i];
			}
		}
		if (c == '{' || c == '[') {
			if (sc->depth == ST_JSON_MAX_DEPTH)
				return ST_EJSON_DEPTH;
			sc->i++;
			struct frame open = {.is_object = c == '{', .key = key};
			const struct frame *top = &sc->stack[sc->depth];
			if (c == '[' && sc->depth && top->is_object) {
				open.leaf_depth = sc->depth;
				open.leaf_parent = top->key;
				open.leaf_key = key;
			} else if (c == '[' && sc->depth && first && top->leaf_depth) {
				open.leaf_depth = top->leaf_depth;
				open.leaf_parent = top->leaf_parent;
				open.leaf_key = top->leaf_key;
			}
			sc->stack[++sc->depth] = open;
			first = 1;
			continue;
		}
		if (!sc->depth)
			return ST_EJSON_SYNTAX; /* the document must be an object or array */
		if ((rc = scan_scalar(sc, key, first)))
			return rc;
next:
		first = 0;
		if ((rc = after_value(sc)) <= 0)
			return rc;
	}
}

int st_json_scan(const uint8_t *s, size_t n, st_json_visit visit, void *ctx)
{
	struct scanner sc = {.s = s, .n = n, .visit = visit, .ctx = ctx};
	int rc = scan(&sc);
	if (rc)
		return rc;
	skip_ws(&sc);
	return sc.i == sc.n ? 0 : ST_EJSON_SYNTAX;
}

int st_json_is(st_json_span span, const char *word)
{
	size_t len = strlen(word);
	return span.len == len && memcmp(span.p, word, len) == 0;
}

int st_json_int(st_json_span span, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0;

	if (span.len && span.p[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i == span.len || span.len - i > 19)
		return -1;
	for (; i < span.len; i++) {
		if (!is_digit(span.p[i]))
			return -1;
		uint64_t d = (uint64_t)(span.p[i] - '0');
		if (v > (INT64_MAX - d) / 10)
			return -1; /* 19 digits may not fit (order ids of up to 19 do) */
		v = v * 10 + d;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}
