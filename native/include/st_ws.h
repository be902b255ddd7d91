/* SPDX-License-Identifier: MIT */
/*
 * RFC 6455 WebSocket client codec. I/O-free: the connection feeds it the
 * bytes TLS decrypted and asks it for the bytes to encrypt and send.
 *
 *  - Handshake: st_ws_handshake_request() writes the GET/Upgrade request for
 *    a 16-byte nonce; st_ws_handshake_response() checks status 101, the
 *    Upgrade/Connection headers and Sec-WebSocket-Accept.
 *  - Framing (st_ws_frame_*) is apart from message handling (st_ws_recv):
 *    the receiver reassembles fragments into the caller's message buffer,
 *    answers pings, follows the close handshake and validates UTF-8.
 *  - A protocol error fails the codec once and for all (sticky) and queues
 *    a close frame with the right code: 1002 protocol, 1007 bad UTF-8,
 *    1009 too big.
 *
 * No function here allocates or makes a system call.
 */
#ifndef ST_WS_H
#define ST_WS_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

/* cdef-begin */
#define ST_WS_OP_CONT    0
#define ST_WS_OP_TEXT    1
#define ST_WS_OP_BINARY  2
#define ST_WS_OP_CLOSE   8
#define ST_WS_OP_PING    9
#define ST_WS_OP_PONG    10

#define ST_WS_CLOSE_NORMAL        1000
#define ST_WS_CLOSE_GOING_AWAY    1001
#define ST_WS_CLOSE_PROTOCOL      1002
#define ST_WS_CLOSE_NO_STATUS     1005
#define ST_WS_CLOSE_BAD_DATA      1007
#define ST_WS_CLOSE_TOO_BIG       1009

/* Longest frame header: 2 + 8 (length) + 4 (mask). */
#define ST_WS_MAX_HEADER          14
/* Largest control frame on the wire (header + 125-byte payload). */
#define ST_WS_MAX_CONTROL_FRAME   (ST_WS_MAX_HEADER + 125)
/* Handshake response headers larger than this are refused. */
#define ST_WS_MAX_RESPONSE        8192

/* Codec errors (also the connection's sticky error). */
#define ST_EWS_HANDSHAKE_STATUS   (-10100)
#define ST_EWS_HANDSHAKE_HEADERS  (-10101)
#define ST_EWS_BAD_ACCEPT         (-10102)
#define ST_EWS_RESPONSE_TOO_LARGE (-10103)
#define ST_EWS_MASKED_FRAME       (-10104)
#define ST_EWS_RESERVED_BITS      (-10105)
#define ST_EWS_BAD_OPCODE         (-10106)
#define ST_EWS_BAD_CONTROL        (-10107)
#define ST_EWS_BAD_CONTINUATION   (-10108)
#define ST_EWS_BAD_LENGTH         (-10109)
#define ST_EWS_TOO_BIG            (-10110)
#define ST_EWS_BAD_UTF8           (-10111)
#define ST_EWS_BAD_CLOSE          (-10112)
/* A 64-bit frame length with its most significant bit set (RFC 6455 5.2). */
#define ST_EWS_LENGTH_TOP_BIT     (-10113)

/* Receiver states. */
#define ST_WS_OPEN        0   /* messages flow */
#define ST_WS_CLOSING     1   /* a close frame was sent or received, not both */
#define ST_WS_CLOSED      2   /* close frames went both ways */
#define ST_WS_FAILED      3   /* protocol error; see st_ws_error() */

typedef struct st_ws_context {
	/* configuration */
	uint8_t *msg;            /* caller's message buffer */
	size_t msg_cap;          /* also the message size limit */
	char accept[29];         /* expected Sec-WebSocket-Accept, NUL-ended */
	/* frame parser */
	uint8_t hdr[ST_WS_MAX_HEADER];
	uint8_t hdr_len;
	uint8_t hdr_need;
	uint8_t frame_op;
	uint8_t frame_fin;
	uint64_t frame_len;
	uint64_t frame_done;
	uint8_t ctrl[125];
	/* message assembly */
	uint8_t msg_op;          /* opcode of the message being assembled, 0 none */
	uint8_t msg_ready;       /* a whole message waits in msg[0..msg_len) */
	size_t msg_len;
	uint32_t utf8_need;      /* continuation bytes still expected */
	uint8_t utf8_lo, utf8_hi;/* allowed range of the next continuation byte */
	/* output owed to the peer */
	uint8_t pong_pending;
	uint8_t pong_len;
	uint8_t pong[125];
	uint8_t close_pending;   /* 1: a close frame must be sent */
	uint8_t close_sent;
	uint8_t close_received;
	uint16_t close_code_out;
	uint16_t close_code_in;  /* what the server sent (1005 when none) */
	int error;               /* sticky ST_EWS_* or 0 */
	uint32_t pongs;          /* pong frames received */
} st_ws_context;

/*
 * Resets the codec for a new connection; msg/msg_cap is the buffer that
 * messages are reassembled in (and the largest message accepted).
 */
void st_ws_init(st_ws_context *ws, uint8_t *msg, size_t msg_cap);

/*
 * The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2):
 * base64(SHA-1(key + GUID)), 28 characters and a NUL. key_len at most 64.
 * Returns 0 or -EINVAL.
 */
int st_ws_accept_for_key(const char *key, size_t key_len, char out[29]);

/*
 * Writes the opening handshake request for ws(s)://host[:port]/path with
 * the given 16 random bytes as Sec-WebSocket-Key. extra_headers (may be
 * NULL) is inserted verbatim: complete "Name: value\r\n" lines.
 * Returns the request length or ST_EBUFFER_TOO_SMALL.
 */
long st_ws_handshake_request(st_ws_context *ws, char *out, size_t cap,
                             const char *host_header, const char *path,
                             const char *extra_headers, const uint8_t nonce[16]);

/*
 * Checks the server's handshake response in data[0..len).
 * Returns the bytes the response takes (frames may follow), ST_NEED_MORE,
 * or ST_EWS_HANDSHAKE_STATUS, ST_EWS_HANDSHAKE_HEADERS, ST_EWS_BAD_ACCEPT,
 * ST_EWS_RESPONSE_TOO_LARGE.
 */
long st_ws_handshake_response(st_ws_context *ws, const uint8_t *data, size_t len);

/*
 * Consumes frames from data[0..len). Stops early once a whole message is
 * ready (take it with st_ws_message()). Returns the bytes consumed (>= 0) or
 * the sticky error; after an error a close frame is pending.
 */
long st_ws_recv(st_ws_context *ws, const uint8_t *data, size_t len);

/*
 * The message waiting, if any: returns its opcode (TEXT or BINARY) and
 * points *data / *len at it, or returns 0 when none is ready. The bytes stay
 * valid until st_ws_message_done().
 */
int st_ws_message(const st_ws_context *ws, const uint8_t **data, size_t *len);

/* Releases the message so that st_ws_recv() can go on. */
void st_ws_message_done(st_ws_context *ws);

/* ST_WS_OPEN, ST_WS_CLOSING, ST_WS_CLOSED or ST_WS_FAILED. */
int st_ws_state(const st_ws_context *ws);

/* The sticky error (0 when none). */
int st_ws_error(const st_ws_context *ws);

/* The close code the server sent (1005 when it sent none, 0 before). */
int st_ws_peer_close_code(const st_ws_context *ws);

/* Starts the closing handshake with code (1000 normal). */
void st_ws_close(st_ws_context *ws, uint16_t code);

/*
 * Writes the next control frame owed to the server (a pong, or a close),
 * masked with mask_key, into out (at least ST_WS_MAX_CONTROL_FRAME bytes).
 * Returns its length, or 0 when nothing is owed.
 */
size_t st_ws_take_control(st_ws_context *ws, uint8_t *out, uint32_t mask_key);

/*
 * Writes one client frame (FIN set): header, then the payload masked with
 * mask_key while it is copied. Returns the frame length, or 0 when it does
 * not fit in cap (cap >= len + ST_WS_MAX_HEADER always suffices).
 */
size_t st_ws_frame(uint8_t *out, size_t cap, int opcode, const void *payload,
                   size_t len, uint32_t mask_key);

/* Length of the header st_ws_frame() writes for a payload of len bytes. */
size_t st_ws_frame_header_len(size_t len);
/* cdef-end */

#endif
