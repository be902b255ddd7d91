/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <string.h>

#include "inner.h"
#include "st_error.h"
#include "st_btc.h"
#include "st_conn.h"
#include "st_journal.h"
#include "st_mempool.h"
#include "st_order.h"
#include "st_tls.h"
#include "st_ws.h"

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
	{ST_EWS_HANDSHAKE_STATUS, "ST_EWS_HANDSHAKE_STATUS",
	 "the server did not answer the WebSocket upgrade with 101"},
	{ST_EWS_HANDSHAKE_HEADERS, "ST_EWS_HANDSHAKE_HEADERS",
	 "the upgrade response lacks Upgrade/Connection headers or adds ones we did not offer"},
	{ST_EWS_BAD_ACCEPT, "ST_EWS_BAD_ACCEPT",
	 "Sec-WebSocket-Accept is missing or does not match our key"},
	{ST_EWS_RESPONSE_TOO_LARGE, "ST_EWS_RESPONSE_TOO_LARGE",
	 "the upgrade response headers are too large"},
	{ST_EWS_MASKED_FRAME, "ST_EWS_MASKED_FRAME", "the server sent a masked frame"},
	{ST_EWS_RESERVED_BITS, "ST_EWS_RESERVED_BITS",
	 "frame with reserved bits set (no extension was negotiated)"},
	{ST_EWS_BAD_OPCODE, "ST_EWS_BAD_OPCODE", "frame with an unknown opcode"},
	{ST_EWS_BAD_CONTROL, "ST_EWS_BAD_CONTROL",
	 "control frame fragmented or longer than 125 bytes"},
	{ST_EWS_BAD_CONTINUATION, "ST_EWS_BAD_CONTINUATION",
	 "continuation frame out of sequence"},
	{ST_EWS_BAD_LENGTH, "ST_EWS_BAD_LENGTH", "frame length not minimally encoded"},
	{ST_EWS_TOO_BIG, "ST_EWS_TOO_BIG", "message larger than the configured limit"},
	{ST_EWS_BAD_UTF8, "ST_EWS_BAD_UTF8", "text message is not valid UTF-8"},
	{ST_EWS_BAD_CLOSE, "ST_EWS_BAD_CLOSE", "close frame with an invalid code or length"},
	{ST_EWS_LENGTH_TOP_BIT, "ST_EWS_LENGTH_TOP_BIT",
	 "64-bit frame length with its most significant bit set"},
	{ST_ECONN_NOT_OPEN, "ST_ECONN_NOT_OPEN", "the connection is not open"},
	{ST_ECONN_QUEUE_FULL, "ST_ECONN_QUEUE_FULL",
	 "the connection's send queue is full (or the message is larger than it)"},
	{ST_ECONN_CLOSED_BY_PEER, "ST_ECONN_CLOSED_BY_PEER", "the server closed the connection"},
	{ST_EBTC_BAD_MAGIC, "ST_EBTC_BAD_MAGIC", "message from another network (bad magic)"},
	{ST_EBTC_BAD_CHECKSUM, "ST_EBTC_BAD_CHECKSUM", "message checksum does not match its payload"},
	{ST_EBTC_TOO_LARGE, "ST_EBTC_TOO_LARGE", "message length over the limit"},
	{ST_EBTC_BAD_COMMAND, "ST_EBTC_BAD_COMMAND",
	 "message command is not printable ASCII padded with NULs"},
	{ST_EBTC_TRUNCATED, "ST_EBTC_TRUNCATED", "payload ends inside a field"},
	{ST_EBTC_NONCANONICAL, "ST_EBTC_NONCANONICAL", "CompactSize not in its shortest form"},
	{ST_EBTC_BAD_COUNT, "ST_EBTC_BAD_COUNT",
	 "a count larger than the bytes left can hold (or over the protocol limit)"},
	{ST_EBTC_TRAILING, "ST_EBTC_TRAILING", "bytes left over after the message's content"},
	{ST_EBTC_HANDSHAKE, "ST_EBTC_HANDSHAKE", "version/verack out of order"},
	{ST_EBTC_PING_TIMEOUT, "ST_EBTC_PING_TIMEOUT", "the peer did not answer our ping in time"},
	{ST_EBTC_IDLE, "ST_EBTC_IDLE", "the peer announced no transaction for too long"},
	{ST_ETLS_PEM, "ST_ETLS_PEM", "malformed PEM or certificate in the trust file"},
	{ST_ETLS_NO_ANCHORS, "ST_ETLS_NO_ANCHORS", "the trust file holds no usable certificate"},
	{ST_ETLS_BAD_HOST, "ST_ETLS_BAD_HOST", "invalid TLS host name"},
	{ST_ETLS_TOO_MANY_PINS, "ST_ETLS_TOO_MANY_PINS", "too many SPKI pins"},
	{ST_EORDER_SPEC, "ST_EORDER_SPEC",
	 "order template: unknown slot, too long, too many slots, or a signature slot that does "
	 "not fit the signing mode"},
	{ST_EORDER_VALUE, "ST_EORDER_VALUE",
	 "order value out of range (price or quantity not positive, client id too large)"},
	{ST_EJOURNAL_FULL, "ST_EJOURNAL_FULL", "the order journal is full: start a new one"},
	{ST_EJOURNAL_CORRUPT, "ST_EJOURNAL_CORRUPT",
	 "not a journal of this version (bad header, record size or capacity)"},
	{ST_EJOURNAL_AHEAD, "ST_EJOURNAL_AHEAD",
	 "the journal holds client ids past this epoch (a stale epoch, or a journal of a run "
	 "without [ha]): start a new journal"},
};

static int is_tls(int code)
{
	return code <= ST_TLS_CODE_BASE && code >= ST_TLS_CODE_LAST;
}

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
	if (is_tls(code))
		return st_tls_error_name(ST_TLS_CODE_BASE - code);
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
	if (is_tls(code))
		return st_tls_error_text(ST_TLS_CODE_BASE - code);
	if (code < 0 && code >= ST_ERRNO_MAX_NEG) {
		const char *desc = strerrordesc_np(-code);
		if (desc)
			return desc;
	}
	return "unknown error code";
}
