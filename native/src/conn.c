/* SPDX-License-Identifier: MIT */
/*
 * A venue connection's state machine. Everything that happens to it comes
 * through st_conn_complete() (a completion), st_conn_tick() (a deadline) or
 * the caller (open, send, recv, close); after each, pump() moves bytes
 * between the socket, BearSSL and the WebSocket codec until nothing moves.
 */
#include <errno.h>
#include <string.h>

#include "inner.h"
#include "loop_internal.h"

#define MS 1000000ull


static void pump(st_conn *c);

static const char *const STATE_NAMES[] = {
	"closed", "connecting", "tls", "upgrading", "open", "closing", "backoff",
};

const char *st_conn_state_name(int state)
{
	if (state < 0 || state >= (int)ST_ARRAY_LEN(STATE_NAMES))
		return "unknown";
	return STATE_NAMES[state];
}

/* ---- set-up ---------------------------------------------------------------- */

/* Rejects text that could smuggle a header or request line. */
static int header_safe(const char *s, int allow_crlf_lines)
{
	for (const char *p = s; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\r' || ch == '\n') {
			/* Only as a CRLF pair, and only where header lines may end. */
			if (!allow_crlf_lines || (ch == '\r' && p[1] != '\n') ||
			    (ch == '\n' && (p == s || p[-1] != '\r')))
				return 0;
			continue;
		}
		if ((ch < ' ' && ch != '\t') || ch == 0x7F)
			return 0;
	}
	return 1;
}

/* "Name: value\r\n" lines only, each with a colon, the last one ended. */
static int extra_headers_ok(const char *h)
{
	size_t n = strlen(h);
	const char *line = h;

	if (n == 0)
		return 1;
	if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n' || !header_safe(h, 1))
		return 0;
	while (*line) {
		const char *eol = strstr(line, "\r\n");
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon || colon == line)
			return 0;
		line = eol + 2;
	}
	return 1;
}

static void conn_complete(st_endpoint *ep, int op, int res, unsigned flags);
static int conn_tick(st_endpoint *ep, uint64_t now);
static uint64_t conn_next_deadline(const st_endpoint *ep);
static void conn_teardown(st_endpoint *ep);

static const st_endpoint_ops CONN_OPS = {
	conn_complete, conn_tick, conn_next_deadline, conn_teardown,
};

int st_conn_init(st_conn *c, st_loop *loop, const st_tls_trust *trust,
                 const char *host, const char *ip, int port, int proto,
                 const char *path, const char *extra_headers, uint8_t *msg,
                 size_t msg_cap)
{
	int rc;

	memset(c, 0, offsetof(st_conn, tls));
	c->ep.fd = -1;
	if ((proto != ST_CONN_PROTO_WS && proto != ST_CONN_PROTO_TLS) || !msg || !msg_cap)
		return -EINVAL;
	c->proto = proto;
	if (!path || path[0] != '/' || strlen(path) >= sizeof(c->path) ||
	    strpbrk(path, " \t") || !header_safe(path, 0))
		return -EINVAL;
	if (!extra_headers)
		extra_headers = "";
	if (strlen(extra_headers) >= sizeof(c->extra_headers) ||
	    !extra_headers_ok(extra_headers))
		return -EINVAL;
	if ((rc = st_tls_init(&c->tls, trust, host)) < 0)
		return rc;
	strcpy(c->path, path);
	strcpy(c->extra_headers, extra_headers);
	/* Host header: the name, with the port unless it is the default. */
	size_t hl = strlen(host);
	memcpy(c->host_header, host, hl + 1);
	if (port != 443) {
		char digits[8];
		int n = 0;
		for (int p = port; p > 0 && n < 6; p /= 10)
			digits[n++] = (char)('0' + p % 10);
		c->host_header[hl++] = ':';
		while (n)
			c->host_header[hl++] = digits[--n];
		c->host_header[hl] = 0;
	}
	c->msg = msg;
	c->msg_cap = msg_cap;
	c->handshake_timeout_ms = 10000;
	c->close_timeout_ms = 1000;
	c->backoff_base_ms = 100;
	c->backoff_max_ms = 30000;
	c->auto_reconnect = 1;
	st_ws_init(&c->ws, msg, msg_cap);
	/* Last: registering makes the loop call us. */
	return st_endpoint_init(&c->ep, loop, &CONN_OPS, ip, port);
}

void st_conn_set_timeouts(st_conn *c, uint32_t handshake_ms, uint32_t ping_interval_ms,
                          uint32_t close_ms)
{
	c->handshake_timeout_ms = handshake_ms;
	c->ping_interval_ms = ping_interval_ms;
	c->close_timeout_ms = close_ms;
}

void st_conn_set_backoff(st_conn *c, uint32_t base_ms, uint32_t max_ms, int auto_reconnect)
{
	c->backoff_base_ms = base_ms ? base_ms : 1;
	c->backoff_max_ms = max_ms < c->backoff_base_ms ? c->backoff_base_ms : max_ms;
	c->auto_reconnect = auto_reconnect != 0;
}

void st_conn_set_busy_poll(st_conn *c, int usec)
{
	c->ep.busy_poll_us = usec;
}

int st_conn_add_pin(st_conn *c, const uint8_t spki_sha256[32])
{
	return st_tls_add_pin(&c->tls, spki_sha256);
}

/* ---- teardown, failure, backoff ------------------------------------------- */

/* Closes the socket and forgets everything tied to it. */
static void teardown(st_conn *c)
{
	st_endpoint_close(&c->ep);
	c->tls_closing = 0;
	c->out_head = c->out_len = c->out_frame_left = 0;
	c->msg_ready = 0;
	c->deadline_ns = c->next_ping_ns = c->pong_deadline_ns = 0;
}

static void conn_teardown(st_endpoint *ep)
{
	teardown((st_conn *)ep);
}

static void conn_fail(st_conn *c, int err)
{
	c->last_error = err;
	c->stats.failures++;
	teardown(c);
	if (c->auto_reconnect && !c->closing_requested) {
		c->state = ST_CONN_BACKOFF;
		c->deadline_ns = c->ep.loop->now_ns + st_backoff_ns(c->ep.loop, c->backoff_base_ms,
		                                                    c->backoff_max_ms,
		                                                    &c->backoff_attempt);
	} else {
		c->state = ST_CONN_CLOSED;
	}
}

/* ---- connecting ------------------------------------------------------------- */

static int start_connect(st_conn *c)
{
	st_loop *loop = c->ep.loop;
	int rc = st_endpoint_connect(&c->ep);

	if (rc < 0)
		return rc;
	c->state = ST_CONN_CONNECTING;
	c->stats.connects++;
	c->connect_start_ns = loop->now_ns = st_now_ns();
	c->deadline_ns = loop->now_ns + (uint64_t)c->handshake_timeout_ms * MS;
	c->resp_len = 0;
	st_ws_init(&c->ws, c->msg, c->msg_cap);
	return 0;
}

int st_conn_open(st_conn *c)
{
	if (c->state != ST_CONN_CLOSED && c->state != ST_CONN_BACKOFF)
		return -EALREADY;
	c->closing_requested = 0;
	c->backoff_attempt = 0;
	int rc = start_connect(c);
	if (rc < 0)
		c->last_error = rc;
	return rc;
}

static void become_open(st_conn *c)
{
	uint64_t now = c->ep.loop->now_ns;

	c->state = ST_CONN_OPEN;
	c->stats.opens++;
	c->stats.last_handshake_ns = now - c->connect_start_ns;
	c->backoff_attempt = 0;
	c->deadline_ns = 0;
	c->pongs_seen = c->ws.pongs;
	c->next_ping_ns = c->ping_interval_ms ? now + (uint64_t)c->ping_interval_ms * MS : 0;
}

/* TLS is up: raw mode is open; WebSocket mode sends the upgrade request. */
static void on_tls_ready(st_conn *c, br_ssl_engine_context *eng)
{
	uint8_t nonce[16];
	size_t cap;
	uint8_t *buf;

	if (!(br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP))
		return; /* the engine failed meanwhile: the pump sees BR_SSL_CLOSED */
	st_tls_handshake_done(&c->tls);
	if (st_tls_resumed(&c->tls))
		c->stats.tls_resumed++;
	if (c->proto == ST_CONN_PROTO_TLS) {
		become_open(c);
		return;
	}
	buf = br_ssl_engine_sendapp_buf(eng, &cap);
	if (!buf)
		return; /* the engine failed meanwhile: the pump sees BR_SSL_CLOSED */
	st_random_bytes(&c->ep.loop->rng, nonce, sizeof(nonce));
	long n = st_ws_handshake_request(&c->ws, (char *)buf, cap, c->host_header,
	                                 c->path, c->extra_headers, nonce);
	if (n < 0) {
		conn_fail(c, (int)n);
		return;
	}
	br_ssl_engine_sendapp_ack(eng, (size_t)n);
	br_ssl_engine_flush(eng, 0);
	c->state = ST_CONN_UPGRADING;
}

/* ---- bytes in ---------------------------------------------------------------- */

/* Upgrade response: taken byte by byte up to the blank line, so frames that
 * follow in the same record stay in BearSSL for the codec. */
static size_t on_upgrade_bytes(st_conn *c, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		c->resp[c->resp_len++] = data[i];
		if (c->resp_len >= 4 && !memcmp(c->resp + c->resp_len - 4, "\r\n\r\n", 4)) {
			long rc = st_ws_handshake_response(&c->ws, c->resp, c->resp_len);
			if (rc < 0)
				conn_fail(c, (int)rc);
			else
				become_open(c);
			return i + 1;
		}
		if (c->resp_len == sizeof(c->resp)) {
			conn_fail(c, ST_EWS_RESPONSE_TOO_LARGE);
			return i + 1;
		}
	}
	return len;
}

static size_t on_ws_bytes(st_conn *c, const uint8_t *data, size_t len)
{
	const uint8_t *m;
	size_t mlen;

	if (st_ws_message(&c->ws, &m, &mlen))
		return 0; /* the last message has not been taken yet */
	long n = st_ws_recv(&c->ws, data, len);
	if (n < 0) {
		/* Protocol error: the codec queued a close with the right code. It
		 * goes out; what the server still sends is dropped until it closes
		 * or the close timeout ends the connection (RFC 6455 §7.1.7). */
		if (c->state != ST_CONN_CLOSING) {
			c->last_error = (int)n;
			c->state = ST_CONN_CLOSING;
			c->deadline_ns = c->ep.loop->now_ns + (uint64_t)c->close_timeout_ms * MS;
		}
		/* No data frame may follow our close: keep only the rest of a
		 * frame TLS already has part of. */
		c->out_len = c->out_frame_left;
		return len;
	}
	if (st_ws_message(&c->ws, &m, &mlen)) {
		c->stats.msgs_received++;
		c->stats.bytes_received += mlen;
	}
	if (c->ws.pongs != c->pongs_seen) {
		c->stats.pongs_received += c->ws.pongs - c->pongs_seen;
		c->pongs_seen = c->ws.pongs;
		c->pong_deadline_ns = 0;
	}
	if (c->ws.close_received && c->state == ST_CONN_OPEN) {
		c->state = ST_CONN_CLOSING;
		c->last_error = ST_ECONN_CLOSED_BY_PEER;
		c->deadline_ns = c->ep.loop->now_ns + (uint64_t)c->close_timeout_ms * MS;
	}
	return (size_t)n;
}

static size_t on_raw_bytes(st_conn *c, const uint8_t *data, size_t len)
{
	if (c->msg_ready)
		return 0;
	size_t n = len < c->msg_cap ? len : c->msg_cap;
	memcpy(c->msg, data, n);
	c->msg_len = n;
	c->msg_ready = 1;
	c->stats.msgs_received++;
	c->stats.bytes_received += n;
	return n;
}

static size_t on_app_bytes(st_conn *c, const uint8_t *data, size_t len)
{
	switch (c->state) {
	case ST_CONN_UPGRADING:
		return on_upgrade_bytes(c, data, len);
	case ST_CONN_OPEN:
	case ST_CONN_CLOSING:
		return c->proto == ST_CONN_PROTO_WS ? on_ws_bytes(c, data, len)
		                                    : on_raw_bytes(c, data, len);
	default:
		return len;
	}
}

/* ---- bytes out --------------------------------------------------------------- */

/* Total length of the frame we queued at p (we wrote it: well formed). */
static size_t queued_frame_len(const uint8_t *p)
{
	size_t len = p[1] & 0x7F, h = 2;

	if (len == 126) {
		len = (size_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | p[i];
		h = 10;
	}
	return h + 4 + len;
}

/*
 * Moves owed control frames and queued frames into TLS; 1 if any moved.
 * A control frame goes only between frames, never inside one that TLS has
 * part of, and our close only once every queued frame is out.
 */
static int write_app(st_conn *c, br_ssl_engine_context *eng)
{
	size_t cap, w = 0;
	uint8_t *buf = br_ssl_engine_sendapp_buf(eng, &cap);

	if (!buf)
		return 0;
	if (c->proto == ST_CONN_PROTO_WS && !c->out_frame_left &&
	    (!c->ws.close_pending || !c->out_len) && cap >= ST_WS_MAX_CONTROL_FRAME)
		w += st_ws_take_control(&c->ws, buf, st_random_u32(&c->ep.loop->rng));
	while (c->out_len && cap > w) {
		const uint8_t *head = c->out + c->out_head;
		if (!c->out_frame_left)
			c->out_frame_left = c->proto == ST_CONN_PROTO_WS ? queued_frame_len(head)
			                                                : c->out_len;
		size_t n = c->out_frame_left < cap - w ? c->out_frame_left : cap - w;
		memcpy(buf + w, head, n);
		w += n;
		c->out_head += n;
		c->out_len -= n;
		c->out_frame_left -= n;
	}
	if (!c->out_len)
		c->out_head = 0;
	if (!w)
		return 0;
	br_ssl_engine_sendapp_ack(eng, w);
	br_ssl_engine_flush(eng, 0);
	return 1;
}

/* Writes one message as a frame (or raw bytes) into dst; returns its size. */
static size_t encode(st_conn *c, uint8_t *dst, size_t cap, int opcode,
                     const void *payload, size_t len)
{
	if (c->proto == ST_CONN_PROTO_TLS) {
		if (len > cap)
			return 0;
		memcpy(dst, payload, len);
		return len;
	}
	return st_ws_frame(dst, cap, opcode, payload, len, st_random_u32(&c->ep.loop->rng));
}

static int send_message(st_conn *c, int opcode, const void *payload, size_t len)
{
	br_ssl_engine_context *eng = st_tls_engine(&c->tls);
	size_t cap, n;

	/* Fast path: straight into BearSSL's buffer, encrypted, on the wire. */
	if (!c->out_len && !c->ep.send_inflight) {
		uint8_t *buf = br_ssl_engine_sendapp_buf(eng, &cap);
		if (buf && (n = encode(c, buf, cap, opcode, payload, len))) {
			br_ssl_engine_sendapp_ack(eng, n);
			br_ssl_engine_flush(eng, 0);
			pump(c);
			st_loop_submit(c->ep.loop);
			return 0;
		}
	}
	/* TLS is busy with an earlier record: queue the frame. */
	if (c->out_head && c->out_head + c->out_len + len + ST_WS_MAX_HEADER > sizeof(c->out)) {
		memmove(c->out, c->out + c->out_head, c->out_len);
		c->out_head = 0;
	}
	size_t tail = c->out_head + c->out_len;
	n = encode(c, c->out + tail, sizeof(c->out) - tail, opcode, payload, len);
	if (!n)
		return ST_ECONN_QUEUE_FULL;
	c->out_len += n;
	c->stats.queued_sends++;
	pump(c);
	st_loop_submit(c->ep.loop);
	return 0;
}

int st_conn_drop_queued(st_conn *c)
{
	/* The head frame may be partly with TLS already: it must go out whole. */
	size_t keep = c->out_frame_left, off = c->out_head + keep;
	int dropped = 0;

	if (c->proto != ST_CONN_PROTO_WS)
		return 0;
	while (off < c->out_head + c->out_len) {
		off += queued_frame_len(c->out + off);
		dropped++;
	}
	c->out_len = keep;
	if (!keep)
		c->out_head = 0;
	return dropped;
}

#define TLS_APPLICATION_DATA 23 /* record content type (RFC 5246) */

void st_conn_rehearse(st_conn *c, const void *payload, size_t len)
{
	br_ssl_engine_context *eng = st_tls_engine(&c->tls);

	if (c->state != ST_CONN_OPEN || len > ST_CONN_REHEARSAL_MAX)
		return;
	/* A copy of the record layer's output state: encrypting with it leaves
	 * the connection's sequence number where it was. */
	__typeof__(eng->out) out = eng->out;
	uint8_t *record = c->rehearsal + ST_CONN_REHEARSAL_ROOM;
	size_t n = c->proto == ST_CONN_PROTO_WS
		? st_ws_frame(record, ST_WS_MAX_HEADER + ST_CONN_REHEARSAL_MAX, ST_WS_OP_TEXT,
		              payload, len, 0x5eed5eedu) /* not the mask source's word */
		: (memcpy(record, payload, len), len);
	if (n)
		out.vtable->encrypt(&out.vtable, TLS_APPLICATION_DATA, eng->version_out,
		                    record, &n);
}

int st_conn_send(st_conn *c, int opcode, const void *payload, size_t len)
{
	if (opcode != ST_WS_OP_TEXT && opcode != ST_WS_OP_BINARY)
		return -EINVAL; /* control frames are the connection's business */
	if (c->state != ST_CONN_OPEN || c->ep.eof)
		return ST_ECONN_NOT_OPEN;
	int rc = send_message(c, opcode, payload, len);
	if (rc == 0) {
		c->stats.msgs_sent++;
		c->stats.bytes_sent += len;
	}
	return rc;
}

/* ---- the pump ------------------------------------------------------------------ */

static void on_tls_closed(st_conn *c, br_ssl_engine_context *eng)
{
	int err = br_ssl_engine_last_error(eng);

	if (err) {
		conn_fail(c, ST_TLS_CODE_BASE - err);
	} else if (c->closing_requested) {
		teardown(c);
		c->state = ST_CONN_CLOSED;
	} else {
		conn_fail(c, c->last_error == ST_ECONN_CLOSED_BY_PEER || !c->ws.error
		                 ? ST_ECONN_CLOSED_BY_PEER
		                 : c->ws.error);
	}
}

static void on_eof(st_conn *c)
{
	if (c->closing_requested) {
		teardown(c);
		c->state = ST_CONN_CLOSED;
	} else if (c->ws.error) {
		conn_fail(c, c->ws.error);
	} else {
		conn_fail(c, c->ws.close_received ? ST_ECONN_CLOSED_BY_PEER : -ECONNRESET);
	}
}

static void pump(st_conn *c)
{
	br_ssl_engine_context *eng = st_tls_engine(&c->tls);

	while (c->ep.fd >= 0 && c->state != ST_CONN_CONNECTING) {
		unsigned st = br_ssl_engine_current_state(eng);
		int progress = 0;

		if (st & BR_SSL_CLOSED) {
			on_tls_closed(c, eng);
			return;
		}
		if ((st & BR_SSL_SENDREC) && !c->ep.send_inflight) {
			size_t len;
			uint8_t *buf = br_ssl_engine_sendrec_buf(eng, &len);
			st_endpoint_send(&c->ep, buf, len);
		}
		size_t have;
		const uint8_t *input = st_endpoint_input(&c->ep, &have);
		if ((st & BR_SSL_RECVREC) && input) {
			size_t cap;
			uint8_t *dst = br_ssl_engine_recvrec_buf(eng, &cap);
			size_t n = have < cap ? have : cap;
			memcpy(dst, input, n);
			br_ssl_engine_recvrec_ack(eng, n);
			st_endpoint_consume(&c->ep, n);
			progress = 1;
		}
		if (st & BR_SSL_RECVAPP) {
			size_t len;
			uint8_t *data = br_ssl_engine_recvapp_buf(eng, &len);
			size_t used = on_app_bytes(c, data, len);
			if (c->ep.fd < 0)
				return;
			if (used) {
				br_ssl_engine_recvapp_ack(eng, used);
				progress = 1;
			}
		}
		/* Feeding input may have moved (or failed) the engine. */
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED)
			continue;
		if (st & BR_SSL_SENDAPP) {
			if (c->state == ST_CONN_TLS) {
				on_tls_ready(c, eng);
				progress = 1;
			} else if (c->state == ST_CONN_OPEN || c->state == ST_CONN_CLOSING) {
				progress |= write_app(c, eng);
			}
		}
		/* Close frames went both ways: end TLS with close_notify. */
		if (c->state == ST_CONN_CLOSING && c->proto == ST_CONN_PROTO_WS &&
		    !c->tls_closing && c->ws.close_sent && c->ws.close_received &&
		    !c->out_len && !c->ep.send_inflight &&
		    !(br_ssl_engine_current_state(eng) & BR_SSL_SENDREC)) {
			br_ssl_engine_close(eng);
			c->tls_closing = 1;
			progress = 1;
		}
		if (c->ep.fd < 0)
			return;
		if (!progress)
			break;
	}
	if (c->ep.fd < 0)
		return;
	if (c->ep.eof) {
		/* The server closed TCP: once what it sent before is delivered (or
		 * the app leaves it waiting), the connection is over. */
		if (!c->ep.in_count && !(br_ssl_engine_current_state(eng) & BR_SSL_RECVAPP))
			on_eof(c);
		return;
	}
	if (c->state != ST_CONN_CONNECTING && st_endpoint_recv_wanted(&c->ep))
		st_endpoint_arm_recv(&c->ep);
}

/* ---- completions and deadlines ------------------------------------------------ */

static void conn_complete(st_endpoint *ep, int op, int res, unsigned flags)
{
	st_conn *c = (st_conn *)ep;

	switch (op) {
	case ST_OP_CONNECT:
		if (res < 0) {
			conn_fail(c, res);
			return;
		}
		if ((res = st_tls_start(&c->tls)) < 0) {
			conn_fail(c, res);
			return;
		}
		c->state = ST_CONN_TLS;
		break;
	case ST_OP_RECV:
		res = st_endpoint_on_recv(ep, res, flags);
		if (res < 0) {
			conn_fail(c, res);
			return;
		}
		if (res == 1) {
			/* EOF. While the handshake runs there is nothing to keep; once
			 * open, what came before the EOF is still delivered first. */
			if (c->state != ST_CONN_OPEN && c->state != ST_CONN_CLOSING) {
				conn_fail(c, -ECONNRESET);
				return;
			}
			if (c->state == ST_CONN_OPEN) {
				c->state = ST_CONN_CLOSING;
				c->deadline_ns = ep->loop->now_ns + (uint64_t)c->close_timeout_ms * MS;
			}
		}
		break;
	case ST_OP_SEND:
		ep->send_inflight = 0;
		if (res < 0) {
			conn_fail(c, res);
			return;
		}
		br_ssl_engine_sendrec_ack(st_tls_engine(&c->tls), (size_t)res);
		break;
	default:
		return;
	}
	pump(c);
}

static int conn_tick(st_endpoint *ep, uint64_t now)
{
	st_conn *c = (st_conn *)ep;

	if (c->deadline_ns && now >= c->deadline_ns) {
		c->deadline_ns = 0;
		switch (c->state) {
		case ST_CONN_BACKOFF: {
			int rc = start_connect(c);
			if (rc < 0)
				conn_fail(c, rc);
			return 1;
		}
		case ST_CONN_CLOSING:
			if (c->ep.eof) {
				on_eof(c); /* what the app did not take by now is dropped */
			} else if (c->closing_requested) {
				teardown(c);
				c->state = ST_CONN_CLOSED;
			} else {
				conn_fail(c, c->ws.error ? c->ws.error : ST_ECONN_CLOSED_BY_PEER);
			}
			return 1;
		case ST_CONN_CONNECTING:
		case ST_CONN_TLS:
		case ST_CONN_UPGRADING:
			conn_fail(c, -ETIMEDOUT);
			return 1;
		default:
			return 0;
		}
	}
	if (c->state != ST_CONN_CONNECTING && st_endpoint_recv_wanted(ep)) {
		st_endpoint_arm_recv(ep); /* after -ENOBUFS, once buffers came back */
		return 1;
	}
	if (c->state != ST_CONN_OPEN || !c->ping_interval_ms)
		return 0;
	if (c->pong_deadline_ns && now >= c->pong_deadline_ns) {
		conn_fail(c, -ETIMEDOUT); /* the server stopped answering pings */
		return 1;
	}
	if (c->next_ping_ns && now >= c->next_ping_ns) {
		uint64_t interval = (uint64_t)c->ping_interval_ms * MS;
		c->next_ping_ns = now + interval;
		if (!c->pong_deadline_ns)
			c->pong_deadline_ns = now + interval;
		if (c->proto == ST_CONN_PROTO_WS && send_message(c, ST_WS_OP_PING, &now, sizeof(now)) == 0)
			c->stats.pings_sent++;
		return 1;
	}
	return 0;
}

static uint64_t conn_next_deadline(const st_endpoint *ep)
{
	const st_conn *c = (const st_conn *)ep;

	uint64_t d = c->deadline_ns;

	if (c->state != ST_CONN_OPEN)
		return d; /* pings belong to OPEN only */
	if (c->next_ping_ns && (!d || c->next_ping_ns < d))
		d = c->next_ping_ns;
	if (c->pong_deadline_ns && (!d || c->pong_deadline_ns < d))
		d = c->pong_deadline_ns;
	return d;
}

/* ---- the caller's side -------------------------------------------------------- */

/* The next received message and its opcode; 0 when none is waiting. */
static int next_message(st_conn *c, const uint8_t **m, size_t *len)
{
	if (c->proto != ST_CONN_PROTO_TLS)
		return st_ws_message(&c->ws, m, len);
	if (!c->msg_ready)
		return 0;
	*m = c->msg;
	*len = c->msg_len;
	return ST_WS_OP_BINARY;
}

static void release_message(st_conn *c)
{
	if (c->proto == ST_CONN_PROTO_TLS)
		c->msg_ready = 0;
	else
		st_ws_message_done(&c->ws);
	/* Bytes may wait behind the message we just released. */
	pump(c);
	st_loop_submit(c->ep.loop);
}

long st_conn_recv(st_conn *c, uint8_t *out, size_t cap, int *opcode)
{
	const uint8_t *m;
	size_t len;
	int op;

	*opcode = 0;
	if (!(op = next_message(c, &m, &len)))
		return 0;
	if (len > cap)
		return -EMSGSIZE;
	memcpy(out, m, len);
	*opcode = op;
	release_message(c);
	return (long)len;
}

long st_conn_discard(st_conn *c)
{
	const uint8_t *m;
	size_t len;

	if (!next_message(c, &m, &len))
		return 0;
	release_message(c);
	return (long)len;
}

void st_conn_close(st_conn *c)
{
	c->closing_requested = 1;
	c->ep.loop->now_ns = st_now_ns();
	if (c->state == ST_CONN_OPEN) {
		c->state = ST_CONN_CLOSING;
		c->deadline_ns = c->ep.loop->now_ns + (uint64_t)c->close_timeout_ms * MS;
		if (c->proto == ST_CONN_PROTO_WS)
			st_ws_close(&c->ws, ST_WS_CLOSE_NORMAL);
		else
			br_ssl_engine_close(st_tls_engine(&c->tls));
		c->tls_closing = c->proto == ST_CONN_PROTO_TLS;
		pump(c);
		st_loop_submit(c->ep.loop);
	} else if (c->state != ST_CONN_CLOSING) {
		teardown(c);
		c->state = ST_CONN_CLOSED;
	}
}

void st_conn_abort(st_conn *c, int reason)
{
	c->ep.loop->now_ns = st_now_ns();
	conn_fail(c, reason);
}

int st_conn_state(const st_conn *c)
{
	return c->state;
}

int st_conn_last_error(const st_conn *c)
{
	return c->last_error;
}

int st_conn_tls_resumed(const st_conn *c)
{
	return st_tls_resumed(&c->tls);
}

int st_conn_peer_close_code(const st_conn *c)
{
	return st_ws_peer_close_code(&c->ws);
}

const st_conn_stats *st_conn_get_stats(const st_conn *c)
{
	return &c->stats;
}

/* ---- hot standby ----------------------------------------------------------------- */

void st_conn_pair_init(st_conn_pair *pair, st_conn *primary, st_conn *standby)
{
	pair->conns[0] = primary;
	pair->conns[1] = standby;
	pair->active = 0;
	pair->failovers = 0;
}

int st_conn_pair_failover(st_conn_pair *pair)
{
	const st_conn *standby = pair->conns[!pair->active];
	if (!standby || standby->state != ST_CONN_OPEN)
		return ST_ECONN_NOT_OPEN;
	pair->active = !pair->active;
	pair->failovers++;
	return 0;
}

int st_conn_pair_send(st_conn_pair *pair, int opcode, const void *payload, size_t len)
{
	if (pair->conns[pair->active]->state != ST_CONN_OPEN)
		(void)st_conn_pair_failover(pair);
	return st_conn_send(pair->conns[pair->active], opcode, payload, len);
}

int st_conn_pair_active(const st_conn_pair *pair)
{
	return pair->active;
}
