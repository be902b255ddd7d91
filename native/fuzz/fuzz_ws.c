/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the WebSocket codec as a hostile server drives it. The
 * first byte picks the feed step (1..16 bytes or all at once) and the
 * message limit; the rest is an upgrade response followed by frames.
 */
#include <stdint.h>
#include <string.h>

#include "st_ws.h"

static uint8_t msg[1 << 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st_ws_context ws;
	const uint8_t nonce[16] = {0};
	char req[512];
	uint8_t control[ST_WS_MAX_CONTROL_FRAME];

	if (size < 1)
		return 0;
	size_t step = data[0] & 15 ? (size_t)(data[0] & 15) : size;
	size_t cap = data[0] & 0x80 ? 64 : sizeof(msg);
	data++;
	size--;
	st_ws_init(&ws, msg, cap);
	st_ws_handshake_request(&ws, req, sizeof(req), "h", "/", NULL, nonce);
	long n = st_ws_handshake_response(&ws, data, size);
	size_t off = n > 0 ? (size_t)n : 0; /* a bad response: fuzz the frames anyway */
	while (off < size) {
		size_t chunk = step < size - off ? step : size - off;
		long used = st_ws_recv(&ws, data + off, chunk);
		if (used < 0)
			break;
		const uint8_t *m;
		size_t mlen;
		if (st_ws_message(&ws, &m, &mlen)) {
			if (mlen > cap)
				__builtin_trap();
			st_ws_message_done(&ws);
		} else if (used == 0) {
			break; /* closed */
		}
		off += (size_t)used;
		if (st_ws_take_control(&ws, control, 0x12345678) > sizeof(control))
			__builtin_trap();
	}
	return 0;
}
