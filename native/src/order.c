/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "st_order.h"

#define SLOT_MARK 0x00
#define MAX_DECIMALS 18

static int compile_text(st_order_text *text, const uint8_t *spec, size_t len)
{
	memset(text, 0, sizeof(*text));
	if (len > ST_ORDER_MAX_TEXT)
		return ST_EORDER_SPEC;
	size_t w = 0, start = 0;
	for (size_t i = 0; i < len; i++) {
		if (spec[i] != SLOT_MARK) {
			text->literal[w++] = spec[i];
			continue;
		}
		if (i + 1 >= len || spec[i + 1] == 0 || spec[i + 1] >= ST_SLOT_COUNT)
			return ST_EORDER_SPEC;
		if (text->nsegments + 1 >= ST_ORDER_MAX_SEGMENTS)
			return ST_EORDER_SPEC;
		uint8_t slot = spec[++i];
		text->segments[text->nsegments++] = (st_order_segment){
			.offset = (uint16_t)start, .length = (uint16_t)(w - start), .slot = slot};
		text->slots_used |= 1u << slot;
		start = w;
	}
	text->segments[text->nsegments++] = (st_order_segment){
		.offset = (uint16_t)start, .length = (uint16_t)(w - start), .slot = 0};
	return 0;
}

int st_order_template_init(st_order_template *t, const void *message_spec, size_t message_len,
                           const void *payload_spec, size_t payload_len, int sign,
                           unsigned price_decimals, unsigned quantity_decimals)
{
	if (!t || !message_spec || price_decimals > MAX_DECIMALS ||
	    quantity_decimals > MAX_DECIMALS)
		return -EINVAL;
	if (sign != ST_ORDER_SIGN_NONE && sign != ST_ORDER_SIGN_HMAC_HEX)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	int rc = compile_text(&t->message, message_spec, message_len);
	if (rc)
		return rc;
	const uint32_t sig_bit = 1u << ST_SLOT_SIGNATURE;
	if (sign == ST_ORDER_SIGN_HMAC_HEX) {
		if (!payload_spec || !(t->message.slots_used & sig_bit))
			return ST_EORDER_SPEC;
		if ((rc = compile_text(&t->payload, payload_spec, payload_len)))
			return rc;
		if (t->payload.slots_used & sig_bit)
			return ST_EORDER_SPEC;
	} else if (payload_spec || (t->message.slots_used & sig_bit)) {
		return ST_EORDER_SPEC;
	}
	t->sign = sign;
	t->price_decimals = (uint8_t)price_decimals;
	t->quantity_decimals = (uint8_t)quantity_decimals;
	return 0;
}

/* Digits of v right-aligned in out[0..width), zero padded. */
static void format_fixed(char *out, unsigned width, uint64_t v)
{
	for (unsigned i = width; i-- > 0;) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static size_t format_unsigned(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t st_order_format_decimal(char *out, size_t cap, int64_t value, unsigned decimals)
{
	char tmp[48];
	size_t n = 0;
	uint64_t v = (uint64_t)value;

	if (value < 0 || decimals > MAX_DECIMALS)
		return 0;
	for (unsigned i = 0; i < decimals; i++) {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	}
	if (decimals)
		tmp[n++] = '.';
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (n > cap)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* The formatted value of every slot of one order. */
struct slot_values {
	char text[ST_SLOT_COUNT][64];
	uint8_t len[ST_SLOT_COUNT];
};

static long expand(const st_order_text *text, const struct slot_values *v,
                   uint8_t *out, size_t cap)
{
	size_t w = 0;
	for (uint32_t i = 0; i < text->nsegments; i++) {
		const st_order_segment *s = &text->segments[i];
		size_t add = s->length + (s->slot ? v->len[s->slot] : 0);
		if (add > cap - w)
			return ST_EBUFFER_TOO_SMALL;
		memcpy(out + w, text->literal + s->offset, s->length);
		w += s->length;
		if (s->slot) {
			memcpy(out + w, v->text[s->slot], v->len[s->slot]);
			w += v->len[s->slot];
		}
	}
	return (long)w;
}

long st_order_build(const st_order_template *t, const st_hmac_sha256_key *key,
                    const st_order_fields *f, uint8_t *out, size_t cap)
{
	static const uint64_t CLIENT_ID_LIMIT = 10000000000000000ull; /* 10^16 */
	static const uint64_t TIMESTAMP_LIMIT = 10000000000000ull;    /* 10^13 */
	const uint32_t used = t->message.slots_used | t->payload.slots_used;
	struct slot_values v;

	if (f->client_id >= CLIENT_ID_LIMIT || f->timestamp_ms >= TIMESTAMP_LIMIT ||
	    f->quantity <= 0 || ((used & (1u << ST_SLOT_PRICE)) && f->price <= 0))
		return ST_EORDER_VALUE;
	v.len[ST_SLOT_REQUEST_ID] = (uint8_t)format_unsigned(v.text[ST_SLOT_REQUEST_ID],
	                                                     f->request_id);
	format_fixed(v.text[ST_SLOT_CLIENT_ID], ST_ORDER_CLIENT_ID_DIGITS, f->client_id);
	v.len[ST_SLOT_CLIENT_ID] = ST_ORDER_CLIENT_ID_DIGITS;
	format_fixed(v.text[ST_SLOT_TIMESTAMP], 13, f->timestamp_ms);
	v.len[ST_SLOT_TIMESTAMP] = 13;
	v.len[ST_SLOT_PRICE] = (uint8_t)st_order_format_decimal(
		v.text[ST_SLOT_PRICE], sizeof(v.text[0]), f->price, t->price_decimals);
	v.len[ST_SLOT_QUANTITY] = (uint8_t)st_order_format_decimal(
		v.text[ST_SLOT_QUANTITY], sizeof(v.text[0]), f->quantity, t->quantity_decimals);
	v.len[ST_SLOT_SIGNATURE] = 0;

	if (t->sign == ST_ORDER_SIGN_HMAC_HEX) {
		uint8_t payload[ST_ORDER_MAX_TEXT + ST_SLOT_COUNT * 64];
		long n = expand(&t->payload, &v, payload, sizeof(payload));
		if (n < 0)
			return n;
		st_hmac_sha256_hex(key, payload, (size_t)n, v.text[ST_SLOT_SIGNATURE]);
		v.len[ST_SLOT_SIGNATURE] = ST_HMAC_SHA256_HEX_LEN;
	}
	return expand(&t->message, &v, out, cap);
}
