/* SPDX-License-Identifier: MIT */
#include <bearssl.h>
#include <errno.h>
#include <string.h>

#include "inner.h"
#include "st_ws.h"

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void st_ws_init(st_ws_context *ws, uint8_t *msg, size_t msg_cap)
{
	memset(ws, 0, sizeof(*ws));
	ws->msg = msg;
	ws->msg_cap = msg_cap;
	ws->hdr_need = 2;
}

/* ---- handshake ---------------------------------------------------------- */

static size_t base64(const uint8_t *in, size_t len, char *out)
{
	static const char A[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = A[(v >> 18) & 63];
		out[o++] = A[(v >> 12) & 63];
		out[o++] = i + 1 < len ? A[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? A[v & 63] : '=';
	}
	out[o] = 0;
	return o;
}

/* Bounded string builder: `ok` drops to 0 once something did not fit. */
struct writer {
	char *p;
	size_t cap, len;
	int ok;
};

static void put(struct writer *w, const char *s)
{
	size_t n = strlen(s);

	if (!w->ok || w->len + n > w->cap) {
		w->ok = 0;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

int st_ws_accept_for_key(const char *key, size_t key_len, char out[29])
{
	uint8_t digest[20];
	br_sha1_context sha1;

	if (key_len > 64)
		return -EINVAL;
	br_sha1_init(&sha1);
	br_sha1_update(&sha1, key, key_len);
	br_sha1_update(&sha1, WS_GUID, sizeof(WS_GUID) - 1);
	br_sha1_out(&sha1, digest);
	base64(digest, sizeof(digest), out);
	return 0;
}

long st_ws_handshake_request(st_ws_context *ws, char *out, size_t cap,
                             const char *host_header, const char *path,
                             const char *extra_headers, const uint8_t nonce[16])
{
	char key[25];
	struct writer w = {out, cap, 0, 1};

	base64(nonce, 16, key);
	st_ws_accept_for_key(key, 24, ws->accept);

	put(&w, "GET ");
	put(&w, path && *path ? path : "/");
	put(&w, " HTTP/1.1\r\nHost: ");
	put(&w, host_header);
	put(&w, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	        "Sec-WebSocket-Key: ");
	put(&w, key);
	put(&w, "\r\nSec-WebSocket-Version: 13\r\n");
	if (extra_headers)
		put(&w, extra_headers);
	put(&w, "\r\n");
	return w.ok ? (long)w.len : ST_EBUFFER_TOO_SMALL;
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive equality of p[0..n) with the NUL-ended s. */
static int equals_ci(const uint8_t *p, size_t n, const char *s)
{
	size_t i = 0;

	for (; i < n && s[i]; i++)
		if (lower(p[i]) != lower((unsigned char)s[i]))
			return 0;
	return i == n && !s[i];
}

/* Does the comma-separated list p[0..n) hold token (case-insensitive)? */
static int has_token_ci(const uint8_t *p, size_t n, const char *token)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		start = i;
		while (i < n && p[i] != ',')
			i++;
		end = i;
		while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if (end > start && equals_ci(p + start, end - start, token))
			return 1;
	}
	return 0;
}

long st_ws_handshake_response(st_ws_context *ws, const uint8_t *data, size_t len)
{
	static const char STATUS[] = "HTTP/1.1 101";
	size_t end = 0;
	int upgrade = 0, connection = 0, accept = 0;

	/* Find the blank line that ends the headers, within the limit. */
	size_t scan = len < ST_WS_MAX_RESPONSE ? len : ST_WS_MAX_RESPONSE;
	for (size_t i = 3; i < scan; i++) {
		if (data[i] == '\n' && data[i - 1] == '\r' && data[i - 2] == '\n' &&
		    data[i - 3] == '\r') {
			end = i + 1;
			break;
		}
	}
	if (!end)
		return len >= ST_WS_MAX_RESPONSE ? ST_EWS_RESPONSE_TOO_LARGE : ST_NEED_MORE;

	if (end < sizeof(STATUS) || memcmp(data, STATUS, sizeof(STATUS) - 1) != 0 ||
	    (data[sizeof(STATUS) - 1] != ' ' && data[sizeof(STATUS) - 1] != '\r'))
		return ST_EWS_HANDSHAKE_STATUS;

	const uint8_t *line = memchr(data, '\n', end) + 1;
	while (line < data + end - 2) {
		const uint8_t *eol = memchr(line, '\r', (size_t)(data + end - line));
		if (eol[1] != '\n' || memchr(line, '\n', (size_t)(eol - line)))
			return ST_EWS_HANDSHAKE_HEADERS; /* a bare CR or LF inside a line */
		const uint8_t *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			return ST_EWS_HANDSHAKE_HEADERS;
		const uint8_t *v = colon + 1, *ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t nlen = (size_t)(colon - line), vlen = (size_t)(ve - v);

		if (equals_ci(line, nlen, "upgrade"))
			upgrade = equals_ci(v, vlen, "websocket");
		else if (equals_ci(line, nlen, "connection"))
			connection = has_token_ci(v, vlen, "upgrade");
		else if (equals_ci(line, nlen, "sec-websocket-accept"))
			accept = !accept && vlen == 28 && memcmp(v, ws->accept, 28) == 0 ? 1 : -1;
		else if (equals_ci(line, nlen, "sec-websocket-extensions") ||
		         equals_ci(line, nlen, "sec-websocket-protocol"))
			return ST_EWS_HANDSHAKE_HEADERS; /* we offered none */
		line = eol + 2;
	}
	if (accept != 1)
		return ST_EWS_BAD_ACCEPT;
	if (!upgrade || !connection)
		return ST_EWS_HANDSHAKE_HEADERS;
	return (long)end;
}

/* ---- UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF) */

/* Feeds one byte; returns 0 when the byte cannot appear here. */
static int utf8_step(st_ws_context *ws, uint8_t b)
{
	if (ws->utf8_need) {
		if (b < ws->utf8_lo || b > ws->utf8_hi)
			return 0;
		ws->utf8_need--;
		ws->utf8_lo = 0x80;
		ws->utf8_hi = 0xBF;
		return 1;
	}
	if (b < 0x80)
		return 1;
	ws->utf8_lo = 0x80;
	ws->utf8_hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF) {
		ws->utf8_need = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		ws->utf8_need = 2;
		if (b == 0xE0)
			ws->utf8_lo = 0xA0;
		else if (b == 0xED)
			ws->utf8_hi = 0x9F;
	} else if (b >= 0xF0 && b <= 0xF4) {
		ws->utf8_need = 3;
		if (b == 0xF0)
			ws->utf8_lo = 0x90;
		else if (b == 0xF4)
			ws->utf8_hi = 0x8F;
	} else {
		return 0;
	}
	return 1;
}

static int utf8_feed(st_ws_context *ws, const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		/* ASCII runs, eight bytes at a time. */
		if (!ws->utf8_need) {
			while (i + 8 <= n) {
				uint64_t v;
				memcpy(&v, p + i, 8);
				if (v & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			if (i == n)
				break;
		}
		if (!utf8_step(ws, p[i++]))
			return 0;
	}
	return 1;
}

/* ---- frames -------------------------------------------------------------- */

static long fail(st_ws_context *ws, int err)
{
	uint16_t code = ST_WS_CLOSE_PROTOCOL;

	if (err == ST_EWS_BAD_UTF8)
		code = ST_WS_CLOSE_BAD_DATA;
	else if (err == ST_EWS_TOO_BIG)
		code = ST_WS_CLOSE_TOO_BIG;
	ws->error = err;
	if (!ws->close_sent) {
		ws->close_pending = 1;
		ws->close_code_out = code;
	}
	ws->pong_pending = 0;
	return err;
}

static int close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

/* A control frame's payload is in ws->ctrl. Returns 0 or an error. */
static int on_control(st_ws_context *ws)
{
	size_t n = (size_t)ws->frame_len;

	switch (ws->frame_op) {
	case ST_WS_OP_PING:
		/* Only the latest ping needs an answer (RFC 6455 §5.5.3). */
		memcpy(ws->pong, ws->ctrl, n);
		ws->pong_len = (uint8_t)n;
		ws->pong_pending = 1;
		return 0;
	case ST_WS_OP_PONG:
		ws->pongs++;
		return 0;
	default: /* close */
		if (n == 1)
			return ST_EWS_BAD_CLOSE;
		ws->close_code_in = ST_WS_CLOSE_NO_STATUS;
		if (n >= 2) {
			unsigned code = ((unsigned)ws->ctrl[0] << 8) | ws->ctrl[1];
			if (!close_code_valid(code))
				return ST_EWS_BAD_CLOSE;
			st_ws_context probe = {.utf8_need = 0};
			if (!utf8_feed(&probe, ws->ctrl + 2, n - 2) || probe.utf8_need)
				return ST_EWS_BAD_UTF8;
			ws->close_code_in = (uint16_t)code;
		}
		ws->close_received = 1;
		ws->pong_pending = 0;
		if (!ws->close_sent && !ws->close_pending) {
			ws->close_pending = 1;
			ws->close_code_out = ws->close_code_in == ST_WS_CLOSE_NO_STATUS
			                         ? ST_WS_CLOSE_NORMAL
			                         : ws->close_code_in;
		}
		return 0;
	}
}

/* The header in ws->hdr is complete. Returns 0 or an error. */
static int on_header(st_ws_context *ws)
{
	uint8_t b0 = ws->hdr[0], b1 = ws->hdr[1];
	uint8_t op = b0 & 0x0F;
	uint64_t len = b1 & 0x7F;

	if (ws->hdr_len == 4) {
		len = ((uint64_t)ws->hdr[2] << 8) | ws->hdr[3];
		if (len < 126)
			return ST_EWS_BAD_LENGTH; /* not the minimal encoding */
	} else if (ws->hdr_len == 10) {
		len = 0;
		for (int i = 2; i < 10; i++)
			len = (len << 8) | ws->hdr[i];
		if (len >> 63)
			return ST_EWS_LENGTH_TOP_BIT;
		if (len < 65536)
			return ST_EWS_BAD_LENGTH; /* not the minimal encoding */
	}
	ws->frame_op = op;
	ws->frame_fin = (b0 & 0x80) != 0;
	ws->frame_len = len;
	ws->frame_done = 0;

	if (op >= ST_WS_OP_CLOSE)
		return 0; /* checked when the first two bytes came in */
	if (op == ST_WS_OP_CONT ? !ws->msg_op : ws->msg_op)
		return ST_EWS_BAD_CONTINUATION;
	if (len > ws->msg_cap - ws->msg_len)
		return ST_EWS_TOO_BIG;
	if (op != ST_WS_OP_CONT) {
		ws->msg_op = op;
		ws->msg_len = 0;
		ws->utf8_need = 0;
	}
	return 0;
}

/* First two header bytes are in: check them and size the header. */
static int on_first_bytes(st_ws_context *ws)
{
	uint8_t b0 = ws->hdr[0], b1 = ws->hdr[1];
	uint8_t op = b0 & 0x0F, len7 = b1 & 0x7F;

	if (b0 & 0x70)
		return ST_EWS_RESERVED_BITS; /* no extension was negotiated */
	if (b1 & 0x80)
		return ST_EWS_MASKED_FRAME;  /* servers must not mask */
	if ((op > ST_WS_OP_BINARY && op < ST_WS_OP_CLOSE) || op > ST_WS_OP_PONG)
		return ST_EWS_BAD_OPCODE;
	if (op >= ST_WS_OP_CLOSE && (!(b0 & 0x80) || len7 > 125))
		return ST_EWS_BAD_CONTROL;
	ws->hdr_need = len7 == 126 ? 4 : len7 == 127 ? 10 : 2;
	return 0;
}

/* The frame's payload is all in. Returns 0 or an error. */
static int on_frame_end(st_ws_context *ws)
{
	if (ws->frame_op >= ST_WS_OP_CLOSE) {
		int rc = on_control(ws);
		if (rc)
			return rc;
	} else if (ws->frame_fin) {
		if (ws->msg_op == ST_WS_OP_TEXT && ws->utf8_need)
			return ST_EWS_BAD_UTF8; /* message ends inside a character */
		ws->msg_ready = 1;
	}
	ws->hdr_len = 0;
	ws->hdr_need = 2;
	return 0;
}

long st_ws_recv(st_ws_context *ws, const uint8_t *data, size_t len)
{
	size_t i = 0;
	int rc;

	if (ws->error)
		return ws->error;
	while (i < len && !ws->msg_ready && !ws->close_received) {
		if (ws->hdr_len < ws->hdr_need) {
			ws->hdr[ws->hdr_len++] = data[i++];
			if (ws->hdr_len == 2 && (rc = on_first_bytes(ws)))
				return fail(ws, rc);
			if (ws->hdr_len < ws->hdr_need)
				continue;
			if ((rc = on_header(ws)))
				return fail(ws, rc);
			if (ws->frame_len == 0 && (rc = on_frame_end(ws)))
				return fail(ws, rc);
			continue;
		}
		size_t take = len - i;
		if (take > ws->frame_len - ws->frame_done)
			take = (size_t)(ws->frame_len - ws->frame_done);
		if (ws->frame_op >= ST_WS_OP_CLOSE) {
			memcpy(ws->ctrl + ws->frame_done, data + i, take);
		} else {
			if (ws->msg_op == ST_WS_OP_TEXT && !utf8_feed(ws, data + i, take))
				return fail(ws, ST_EWS_BAD_UTF8);
			memcpy(ws->msg + ws->msg_len, data + i, take);
			ws->msg_len += take;
		}
		ws->frame_done += take;
		i += take;
		if (ws->frame_done == ws->frame_len && (rc = on_frame_end(ws)))
			return fail(ws, rc);
	}
	/* After the server's close frame nothing more is read (RFC 6455 §5.5.1). */
	if (ws->close_received)
		i = len;
	return (long)i;
}

int st_ws_message(const st_ws_context *ws, const uint8_t **data, size_t *len)
{
	if (!ws->msg_ready)
		return 0;
	*data = ws->msg;
	*len = ws->msg_len;
	return ws->msg_op;
}

void st_ws_message_done(st_ws_context *ws)
{
	ws->msg_ready = 0;
	ws->msg_op = 0;
	ws->msg_len = 0;
}

int st_ws_state(const st_ws_context *ws)
{
	if (ws->error)
		return ST_WS_FAILED;
	if (ws->close_sent && ws->close_received)
		return ST_WS_CLOSED;
	if (ws->close_sent || ws->close_received || ws->close_pending)
		return ST_WS_CLOSING;
	return ST_WS_OPEN;
}

int st_ws_error(const st_ws_context *ws)
{
	return ws->error;
}

int st_ws_peer_close_code(const st_ws_context *ws)
{
	return ws->close_code_in;
}

void st_ws_close(st_ws_context *ws, uint16_t code)
{
	if (!ws->close_sent && !ws->close_pending) {
		ws->close_pending = 1;
		ws->close_code_out = code;
	}
}

size_t st_ws_frame_header_len(size_t len)
{
	return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
}

size_t st_ws_frame(uint8_t *out, size_t cap, int opcode, const void *payload,
                   size_t len, uint32_t mask_key)
{
	size_t h = st_ws_frame_header_len(len);
	uint8_t mask[4];

	if (cap < h || len > cap - h)
		return 0;
	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
	} else {
		out[1] = 0x80 | 127;
		st_store_be64(out + 2, (uint64_t)len);
	}
	memcpy(mask, &mask_key, 4);
	memcpy(out + h - 4, mask, 4);

	/* Copy and mask, eight bytes at a time. */
	const uint8_t *src = payload;
	uint8_t *dst = out + h;
	uint64_t m8;
	size_t i = 0;
	memcpy(&m8, mask, 4);
	memcpy((uint8_t *)&m8 + 4, mask, 4);
	for (; i + 8 <= len; i += 8) {
		uint64_t v;
		memcpy(&v, src + i, 8);
		v ^= m8;
		memcpy(dst + i, &v, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ mask[i & 3];
	return h + len;
}

size_t st_ws_take_control(st_ws_context *ws, uint8_t *out, uint32_t mask_key)
{
	if (ws->close_sent)
		return 0;
	if (ws->pong_pending && !ws->close_pending) {
		ws->pong_pending = 0;
		return st_ws_frame(out, ST_WS_MAX_CONTROL_FRAME, ST_WS_OP_PONG,
		                   ws->pong, ws->pong_len, mask_key);
	}
	if (ws->close_pending) {
		uint8_t code[2] = {(uint8_t)(ws->close_code_out >> 8),
		                   (uint8_t)ws->close_code_out};
		ws->close_pending = 0;
		ws->close_sent = 1;
		return st_ws_frame(out, ST_WS_MAX_CONTROL_FRAME, ST_WS_OP_CLOSE, code,
		                   2, mask_key);
	}
	return 0;
}
