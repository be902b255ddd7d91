/* SPDX-License-Identifier: MIT */
/*
 * Order templates: a venue's request text prepared once, with slots that are
 * filled in place for each order (request id, client order id, timestamp,
 * price, quantity, signature). A venue that signs every order gets its
 * signing payload as a second template over the same slot values, and the
 * signature slot receives hex HMAC-SHA256 of it.
 *
 * A template spec is text in which the byte 0x00 followed by a slot number
 * marks a slot (JSON and the venues' signing payloads never contain a raw
 * NUL). The client order id, timestamp and signature are fixed width; price
 * and quantity are fixed-point numbers with the template's decimals.
 *
 * Building allocates nothing, takes no lock and makes no system call.
 */
#ifndef ST_ORDER_H
#define ST_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "st_hmac.h"

/* cdef-begin */
#define ST_ORDER_MAX_TEXT      1024   /* template text and built message */
#define ST_ORDER_MAX_SEGMENTS  32

/* Slots. */
#define ST_SLOT_REQUEST_ID     1      /* decimal, as many digits as needed */
#define ST_SLOT_CLIENT_ID      2      /* decimal, ST_ORDER_CLIENT_ID_DIGITS wide */
#define ST_SLOT_TIMESTAMP      3      /* ms since the epoch, 13 digits */
#define ST_SLOT_PRICE          4      /* fixed point, price_decimals */
#define ST_SLOT_QUANTITY       5      /* fixed point, quantity_decimals */
#define ST_SLOT_SIGNATURE      6      /* 64 hex digits (message template only) */
#define ST_SLOT_COUNT          7

#define ST_ORDER_CLIENT_ID_DIGITS 16

/* How an order is signed. */
#define ST_ORDER_SIGN_NONE     0      /* session logged on, or a token in the text */
#define ST_ORDER_SIGN_HMAC_HEX 1      /* hex HMAC-SHA256 of the payload template */

#define ST_EORDER_SPEC         (-10700)
#define ST_EORDER_VALUE        (-10701)

/* One literal run followed by (optionally) a slot. */
typedef struct st_order_segment {
	uint16_t offset;
	uint16_t length;
	uint8_t slot;             /* 0: none (the last segment) */
} st_order_segment;

/* A text with slots, compiled from a spec. */
typedef struct st_order_text {
	uint8_t literal[ST_ORDER_MAX_TEXT];
	st_order_segment segments[ST_ORDER_MAX_SEGMENTS];
	uint32_t nsegments;
	uint32_t slots_used;      /* bit per slot */
} st_order_text;

typedef struct st_order_template {
	st_order_text message;
	st_order_text payload;    /* what is signed (ST_ORDER_SIGN_HMAC_HEX) */
	int sign;
	uint8_t price_decimals;
	uint8_t quantity_decimals;
} st_order_template;

/* The values of one order. Prices and quantities are fixed point. */
typedef struct st_order_fields {
	/* cdef-visible */
	uint64_t request_id;
	uint64_t client_id;       /* below 10^ST_ORDER_CLIENT_ID_DIGITS */
	uint64_t timestamp_ms;
	int64_t price;            /* > 0 when the template has a price slot */
	int64_t quantity;         /* > 0 */
} st_order_fields;

/*
 * Compiles a template. message_spec must contain the signature slot exactly
 * when sign is ST_ORDER_SIGN_HMAC_HEX, and payload_spec (NULL otherwise) must
 * not. Returns 0 or ST_EORDER_SPEC (unknown slot, spec too long, too many
 * slots, a signature slot that does not fit the mode) or -EINVAL.
 */
int st_order_template_init(st_order_template *t, const void *message_spec, size_t message_len,
                           const void *payload_spec, size_t payload_len, int sign,
                           unsigned price_decimals, unsigned quantity_decimals);

/*
 * Builds one order into out (cap bytes), signing it with key when the
 * template signs. Returns the message length, ST_EORDER_VALUE (a value out of
 * range: price or quantity not positive, client id too large) or
 * ST_EBUFFER_TOO_SMALL.
 */
long st_order_build(const st_order_template *t, const st_hmac_sha256_key *key,
                    const st_order_fields *f, uint8_t *out, size_t cap);

/* Writes a fixed-point number (value / 10^decimals, all decimals kept);
 * returns its length, or 0 if cap is too small or value is negative. */
size_t st_order_format_decimal(char *out, size_t cap, int64_t value, unsigned decimals);
/* cdef-end */

#endif
