/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket codec on its own: every vector fed whole and byte by byte
 * (picohttpparser's per-byte style), RFC 6455's own examples for framing and
 * the handshake, and each protocol error with its close code.
 */
#include <stdint.h>

#include "st_ws.h"
#include "t_util.h"

#define MSG_CAP 70000

static uint8_t msgbuf[MSG_CAP];
static uint8_t input[200000];

/* What feeding a byte string produced. */
struct outcome {
	int messages;
	int last_op;
	size_t last_len;
	uint8_t last_first, last_final; /* first and last byte of the last message */
	int error;
	uint8_t control[ST_WS_MAX_CONTROL_FRAME];
	size_t control_len;
};

static void feed(const uint8_t *data, size_t len, size_t step, size_t cap,
                 struct outcome *out)
{
	st_ws_context ws;
	size_t off = 0;

	memset(out, 0, sizeof(*out));
	st_ws_init(&ws, msgbuf, cap);
	while (off < len) {
		size_t chunk = step && step < len - off ? step : len - off;
		size_t used = 0;
		while (used < chunk) {
			long n = st_ws_recv(&ws, data + off + used, chunk - used);
			const uint8_t *m;
			size_t mlen;
			if (n < 0) {
				out->error = (int)n;
				goto done;
			}
			used += (size_t)n;
			int op = st_ws_message(&ws, &m, &mlen);
			if (op) {
				out->messages++;
				out->last_op = op;
				out->last_len = mlen;
				out->last_first = mlen ? m[0] : 0;
				out->last_final = mlen ? m[mlen - 1] : 0;
				st_ws_message_done(&ws);
			} else if (n == 0 && used < chunk) {
				break; /* closed: the codec takes no more */
			}
		}
		off += chunk;
	}
done:
	/* Mask 0 keeps the control frame readable. */
	out->control_len = st_ws_take_control(&ws, out->control, 0);
}

static size_t frame(uint8_t *out, int b0, const uint8_t *payload, size_t len)
{
	size_t h = 2;

	out[0] = (uint8_t)b0;
	if (len < 126) {
		out[1] = (uint8_t)len;
	} else if (len < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		h = 4;
	} else {
		out[1] = 127;
		memset(out + 2, 0, 8);
		for (int i = 0; i < 8; i++)
			out[9 - i] = (uint8_t)(len >> (8 * i));
		h = 10;
	}
	if (payload)
		memcpy(out + h, payload, len);
	else
		for (size_t i = 0; i < len; i++)
			out[h + i] = (uint8_t)('a' + i % 26);
	return h + len;
}

/* Runs one byte string whole and byte by byte; both must agree. */
static void both(const char *name, const uint8_t *data, size_t len, size_t cap,
                 struct outcome *out)
{
	struct outcome bytewise;

	feed(data, len, 0, cap, out);
	feed(data, len, 1, cap, &bytewise);
	T_CHECK(out->messages == bytewise.messages && out->error == bytewise.error &&
	        out->last_len == bytewise.last_len && out->control_len == bytewise.control_len &&
	        !memcmp(out->control, bytewise.control, out->control_len),
	        "%s: whole and byte-by-byte feeding disagree", name);
}

static void expect_close(const char *name, const uint8_t *data, size_t len, size_t cap,
                         int error, unsigned code)
{
	struct outcome o;

	both(name, data, len, cap, &o);
	T_CHECK(o.error == error, "%s: error %d, want %d", name, o.error, error);
	T_CHECK(o.control_len == 2 + 4 + 2 && o.control[0] == 0x88 &&
	        ((unsigned)o.control[6] << 8 | o.control[7]) == code,
	        "%s: close frame with code %u expected", name, code);
}

static void sizes(void)
{
	static const size_t SIZES[] = {0, 125, 126, 65535, 65536};
	for (size_t i = 0; i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
		struct outcome o;
		size_t n = frame(input, 0x82, NULL, SIZES[i]);
		both("size", input, n, MSG_CAP, &o);
		T_CHECK(o.messages == 1 && o.last_op == ST_WS_OP_BINARY && o.last_len == SIZES[i] &&
		        !o.error, "payload of %zu bytes", SIZES[i]);
		if (SIZES[i])
			T_CHECK(o.last_first == 'a' && o.last_final == 'a' + (SIZES[i] - 1) % 26,
			        "payload bytes of %zu", SIZES[i]);
	}
}

static void fragments_and_ping(void)
{
	struct outcome o;
	size_t n = 0;

	n += frame(input + n, 0x01, (const uint8_t *)"Hel", 3);      /* text, no FIN */
	n += frame(input + n, 0x89, (const uint8_t *)"ping!", 5);    /* ping between */
	n += frame(input + n, 0x00, (const uint8_t *)"lo, ", 4);     /* continuation */
	n += frame(input + n, 0x80, (const uint8_t *)"world", 5);    /* final */
	both("fragments", input, n, MSG_CAP, &o);
	T_CHECK(o.messages == 1 && o.last_op == ST_WS_OP_TEXT && o.last_len == 12 && !o.error,
	        "fragmented message reassembled");
	T_CHECK(o.control_len == 2 + 4 + 5 && o.control[0] == 0x8A &&
	        !memcmp(o.control + 6, "ping!", 5), "pong echoes the ping payload");

	/* UTF-8 split across fragments is fine: "é" = c3 a9. */
	n = frame(input, 0x01, (const uint8_t *)"caf\xc3", 4);
	n += frame(input + n, 0x80, (const uint8_t *)"\xa9", 1);
	both("utf8 across fragments", input, n, MSG_CAP, &o);
	T_CHECK(o.messages == 1 && !o.error, "UTF-8 character split across fragments");
}

static void errors(void)
{
	uint8_t masked[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
	uint8_t rsv[] = {0xC1, 0x00};
	uint8_t opcode3[] = {0x83, 0x00};
	uint8_t opcode11[] = {0x8B, 0x00};
	uint8_t long_ping[130] = {0x89, 126, 0, 126};
	uint8_t frag_ping[] = {0x09, 0x00};
	uint8_t orphan[] = {0x80, 0x01, 'x'};
	uint8_t nested[] = {0x01, 0x01, 'a', 0x01, 0x01, 'b'};
	uint8_t nonminimal16[] = {0x82, 126, 0x00, 0x05, 1, 2, 3, 4, 5};
	uint8_t nonminimal64[] = {0x82, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
	uint8_t huge64[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
	uint8_t bad_utf8[] = {0x81, 0x02, 0xC0, 0xAF};          /* overlong */
	uint8_t surrogate[] = {0x81, 0x03, 0xED, 0xA0, 0x80};
	uint8_t past_max[] = {0x81, 0x04, 0xF4, 0x90, 0x80, 0x80};
	uint8_t cut_utf8[] = {0x81, 0x01, 0xE2};
	uint8_t close1[] = {0x88, 0x01, 0x03};
	uint8_t close_bad_code[] = {0x88, 0x02, 0x03, 0xED};    /* 1005 may not be sent */
	uint8_t close_bad_reason[] = {0x88, 0x03, 0x03, 0xE8, 0xFF};
	uint8_t big[] = {0x82, 0x7E, 0x01, 0x00};               /* 256 > cap 200 */

	expect_close("masked", masked, sizeof(masked), MSG_CAP, ST_EWS_MASKED_FRAME, 1002);
	expect_close("rsv", rsv, sizeof(rsv), MSG_CAP, ST_EWS_RESERVED_BITS, 1002);
	expect_close("opcode 3", opcode3, sizeof(opcode3), MSG_CAP, ST_EWS_BAD_OPCODE, 1002);
	expect_close("opcode 11", opcode11, sizeof(opcode11), MSG_CAP, ST_EWS_BAD_OPCODE, 1002);
	expect_close("long ping", long_ping, sizeof(long_ping), MSG_CAP, ST_EWS_BAD_CONTROL, 1002);
	expect_close("fragmented ping", frag_ping, sizeof(frag_ping), MSG_CAP, ST_EWS_BAD_CONTROL, 1002);
	expect_close("orphan", orphan, sizeof(orphan), MSG_CAP, ST_EWS_BAD_CONTINUATION, 1002);
	expect_close("nested", nested, sizeof(nested), MSG_CAP, ST_EWS_BAD_CONTINUATION, 1002);
	expect_close("16-bit length", nonminimal16, sizeof(nonminimal16), MSG_CAP, ST_EWS_BAD_LENGTH, 1002);
	expect_close("64-bit length", nonminimal64, sizeof(nonminimal64), MSG_CAP, ST_EWS_BAD_LENGTH, 1002);
	expect_close("top bit", huge64, sizeof(huge64), MSG_CAP, ST_EWS_LENGTH_TOP_BIT, 1002);
	expect_close("overlong", bad_utf8, sizeof(bad_utf8), MSG_CAP, ST_EWS_BAD_UTF8, 1007);
	expect_close("surrogate", surrogate, sizeof(surrogate), MSG_CAP, ST_EWS_BAD_UTF8, 1007);
	expect_close("past U+10FFFF", past_max, sizeof(past_max), MSG_CAP, ST_EWS_BAD_UTF8, 1007);
	expect_close("cut character", cut_utf8, sizeof(cut_utf8), MSG_CAP, ST_EWS_BAD_UTF8, 1007);
	expect_close("close 1 byte", close1, sizeof(close1), MSG_CAP, ST_EWS_BAD_CLOSE, 1002);
	expect_close("close 1005", close_bad_code, sizeof(close_bad_code), MSG_CAP, ST_EWS_BAD_CLOSE, 1002);
	expect_close("close reason", close_bad_reason, sizeof(close_bad_reason), MSG_CAP, ST_EWS_BAD_UTF8, 1007);
	expect_close("too big", big, sizeof(big), 200, ST_EWS_TOO_BIG, 1009);
}

static void server_close(void)
{
	uint8_t data[] = {0x88, 0x05, 0x03, 0xE9, 'b', 'y', 'e', 0x81, 0x01, 'x'};
	uint8_t empty[] = {0x88, 0x00};
	struct outcome o;
	st_ws_context ws;

	both("server close", data, sizeof(data), MSG_CAP, &o);
	T_CHECK(!o.error && o.messages == 0, "nothing after the close is read");
	T_CHECK(o.control_len == 8 && o.control[0] == 0x88 && o.control[6] == 0x03 &&
	        o.control[7] == 0xE9, "close 1001 echoed");

	st_ws_init(&ws, msgbuf, MSG_CAP);
	T_CHECK(st_ws_recv(&ws, empty, 2) == 2, "empty close consumed");
	T_CHECK(st_ws_peer_close_code(&ws) == ST_WS_CLOSE_NO_STATUS, "no status = 1005");
	T_CHECK(st_ws_state(&ws) == ST_WS_CLOSING, "closing until we answer");
	uint8_t out[ST_WS_MAX_CONTROL_FRAME];
	T_CHECK(st_ws_take_control(&ws, out, 0) == 8 && out[6] == 0x03 && out[7] == 0xE8,
	        "an empty close is answered with 1000");
	T_CHECK(st_ws_state(&ws) == ST_WS_CLOSED, "closed both ways");
	T_CHECK(st_ws_take_control(&ws, out, 0) == 0, "nothing after the close");
}

static void framing(void)
{
	/* RFC 6455 §5.7: a masked "Hello" with mask 37 fa 21 3d. */
	static const uint8_t HELLO[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                                0x7f, 0x9f, 0x4d, 0x51, 0x58};
	uint8_t out[80000], key[4] = {0x37, 0xfa, 0x21, 0x3d};
	uint32_t mask;

	memcpy(&mask, key, 4);
	T_CHECK(st_ws_frame(out, sizeof(out), ST_WS_OP_TEXT, "Hello", 5, mask) == 11 &&
	        !memcmp(out, HELLO, 11), "RFC 6455 masked Hello");
	T_CHECK(st_ws_frame(out, 10, ST_WS_OP_TEXT, "Hello", 5, mask) == 0, "too small");
	/* Lengths at the encoding boundaries, unmasked again to compare. */
	static const size_t LENS[] = {0, 125, 126, 65535, 65536};
	for (size_t i = 0; i < 5; i++) {
		size_t n = LENS[i], h = st_ws_frame_header_len(n);
		for (size_t j = 0; j < n; j++)
			input[j] = (uint8_t)j;
		T_CHECK(st_ws_frame(out, sizeof(out), ST_WS_OP_BINARY, input, n, mask) == h + n,
		        "frame of %zu", n);
		int ok = 1;
		for (size_t j = 0; j < n; j++)
			ok &= (uint8_t)(out[h + j] ^ key[j & 3]) == (uint8_t)j;
		T_CHECK(ok && (out[1] & 0x80), "payload of %zu masked right", n);
	}
}

static void handshake(void)
{
	st_ws_context ws;
	char req[1024];
	const uint8_t nonce[16] = "the sample nonce";
	static const char GOOD[] =
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
		"Connection: keep-alive, Upgrade\r\n"
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
	size_t good_len = sizeof(GOOD) - 1 - 2; /* the trailing frame is not ours */

	st_ws_init(&ws, msgbuf, MSG_CAP);
	long n = st_ws_handshake_request(&ws, req, sizeof(req), "example.com:9443", "/ws",
	                                 "X-Api: k\r\n", nonce);
	req[n > 0 ? n : 0] = 0;
	T_CHECK(n > 0 && strstr(req, "GET /ws HTTP/1.1\r\nHost: example.com:9443\r\n") == req,
	        "request line: %s", req);
	T_CHECK(strstr(req, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n") != NULL,
	        "RFC 6455 key");
	T_CHECK(strstr(req, "\r\nX-Api: k\r\n\r\n") != NULL, "extra headers, then the end");
	T_CHECK(st_ws_handshake_request(&ws, req, 40, "h", "/", NULL, nonce) ==
	        ST_EBUFFER_TOO_SMALL, "small buffer");
	st_ws_handshake_request(&ws, req, sizeof(req), "h", "/", NULL, nonce);

	/* Byte by byte, it needs more until the blank line, then takes only it. */
	for (size_t i = 1; i < good_len; i++)
		T_CHECK(st_ws_handshake_response(&ws, (const uint8_t *)GOOD, i) == ST_NEED_MORE,
		        "need more at %zu", i);
	T_CHECK(st_ws_handshake_response(&ws, (const uint8_t *)GOOD, sizeof(GOOD) - 1) ==
	        (long)good_len, "complete response");

	static const struct {
		const char *text;
		int error;
	} BAD[] = {
		{"HTTP/1.1 200 OK\r\n\r\n", ST_EWS_HANDSHAKE_STATUS},
		{"HTTP/1.1 1010 Nope\r\n\r\n", ST_EWS_HANDSHAKE_STATUS},
		{"HTTP/1.1 101 x\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ST_EWS_HANDSHAKE_HEADERS},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: AAAAMLBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ST_EWS_BAD_ACCEPT},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		 ST_EWS_BAD_ACCEPT},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ST_EWS_HANDSHAKE_HEADERS},
		{"HTTP/1.1 101 x\r\nno colon here\r\n\r\n", ST_EWS_HANDSHAKE_HEADERS},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\rX: y\r\n\r\n", ST_EWS_HANDSHAKE_HEADERS},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\nSec-WebSocket-Extensions: x\r\n"
		 "Connection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ST_EWS_HANDSHAKE_HEADERS},
		{"HTTP/1.1 101 x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Accept: AAAAMLBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", ST_EWS_BAD_ACCEPT},
	};
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
		T_CHECK(st_ws_handshake_response(&ws, (const uint8_t *)BAD[i].text,
		                                 strlen(BAD[i].text)) == BAD[i].error,
		        "bad response %zu", i);

	memset(input, 'a', ST_WS_MAX_RESPONSE);
	T_CHECK(st_ws_handshake_response(&ws, input, ST_WS_MAX_RESPONSE) ==
	        ST_EWS_RESPONSE_TOO_LARGE, "endless headers are refused");
}

int main(void)
{
	sizes();
	fragments_and_ping();
	errors();
	server_close();
	framing();
	handshake();
	return t_exit_code();
}
