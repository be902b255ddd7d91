/* SPDX-License-Identifier: MIT */
/*
 * One venue connection: TCP + TLS + WebSocket driven by the loop, with
 * states, reconnect with jittered exponential backoff, keepalive pings,
 * and a hot-standby pair that fails over with no handshake on the critical
 * path.
 *
 * st_conn_send() frames, encrypts and submits in the caller's thread with
 * no allocation; when TLS is still busy with the previous record the frame
 * waits in a fixed per-connection queue and leaves on the send completion.
 */
#ifndef ST_CONN_H
#define ST_CONN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "st_loop.h"
#include "st_tls.h"
#include "st_ws.h"

/* cdef-begin */
/* States. */
#define ST_CONN_CLOSED      0
#define ST_CONN_CONNECTING  1
#define ST_CONN_TLS         2
#define ST_CONN_UPGRADING   3
#define ST_CONN_OPEN        4
#define ST_CONN_CLOSING     5
#define ST_CONN_BACKOFF     6

/* What runs over TLS: WebSocket (venues) or raw bytes (TLS tests). */
#define ST_CONN_PROTO_WS    0
#define ST_CONN_PROTO_TLS   1

#define ST_CONN_OUTQ        65536   /* frames waiting for the TLS engine */
#define ST_CONN_REHEARSAL_MAX  2048  /* largest message st_conn_rehearse encrypts */
#define ST_CONN_REHEARSAL_ROOM 64    /* >= TLS record header + nonce, >= its tag */
#define ST_CONN_MAX_EXTRA   2048    /* extra upgrade request headers */
#define ST_CONN_MAX_PATH    1024

#define ST_ECONN_NOT_OPEN   (-10300)
#define ST_ECONN_QUEUE_FULL (-10301)
#define ST_ECONN_CLOSED_BY_PEER (-10302)

/* Counters, read by Python and the health monitor. */
typedef struct st_conn_stats {
	/* cdef-visible */
	uint64_t connects;        /* TCP connects started */
	uint64_t opens;           /* times the connection became OPEN */
	uint64_t tls_resumed;     /* handshakes that resumed a session */
	uint64_t failures;        /* times it failed (see last_error) */
	uint64_t msgs_sent;
	uint64_t msgs_received;
	uint64_t bytes_sent;      /* application bytes, before framing */
	uint64_t bytes_received;
	uint64_t pings_sent;
	uint64_t pongs_received;
	uint64_t queued_sends;    /* sends that had to wait for TLS */
	uint64_t last_handshake_ns; /* TCP connect to OPEN */
} st_conn_stats;

typedef struct st_conn {
	st_endpoint ep;           /* first: the loop sees a connection as this */
	int state;
	int proto;
	int last_error;
	uint8_t auto_reconnect;
	uint8_t closing_requested;
	uint8_t msg_ready;        /* raw TLS: msg[0..msg_len) waits */
	uint8_t tls_closing;      /* close_notify started */
	uint8_t *msg;
	size_t msg_cap, msg_len;
	uint32_t backoff_base_ms, backoff_max_ms, backoff_attempt;
	uint32_t handshake_timeout_ms, ping_interval_ms, close_timeout_ms;
	uint64_t deadline_ns;     /* handshake / reconnect / close deadline */
	uint64_t next_ping_ns;
	uint64_t pong_deadline_ns;
	uint32_t pongs_seen;
	uint64_t connect_start_ns;
	size_t resp_len;
	size_t out_head;          /* queued frames: out[out_head .. out_head+out_len) */
	size_t out_len;
	size_t out_frame_left;    /* bytes of the head frame not yet handed to TLS */
	st_conn_stats stats;
	st_tls_context tls;
	st_ws_context ws;
	char host_header[ST_TLS_MAX_HOST + 8];
	char path[ST_CONN_MAX_PATH];
	char extra_headers[ST_CONN_MAX_EXTRA];
	uint8_t resp[ST_WS_MAX_RESPONSE];
	uint8_t out[ST_CONN_OUTQ];
	/* st_conn_rehearse's record: room for TLS's header and nonce before the
	 * frame, its tag after */
	uint8_t rehearsal[ST_CONN_REHEARSAL_ROOM + ST_WS_MAX_HEADER + ST_CONN_REHEARSAL_MAX +
	                  ST_CONN_REHEARSAL_ROOM];
} st_conn;

/*
 * Prepares a connection to ip:port (IPv4 or IPv6 literal; resolve names
 * before) for TLS name `host`, trusting `trust`. For ST_CONN_PROTO_WS,
 * path and extra_headers (NULL or complete "Name: value\r\n" lines) shape
 * the upgrade request. Received messages are assembled in msg[0..msg_cap),
 * which is also the largest message accepted. Nothing is sent until
 * st_conn_open(). Returns 0, -EINVAL (bad address, port, path or headers),
 * -ENOSPC (loop full) or the errors of st_tls_init.
 */
int st_conn_init(st_conn *conn, st_loop *loop, const st_tls_trust *trust,
                 const char *host, const char *ip, int port, int proto,
                 const char *path, const char *extra_headers, uint8_t *msg,
                 size_t msg_cap);

/* Options; call before st_conn_open(). 0 turns pings off. */
void st_conn_set_timeouts(st_conn *conn, uint32_t handshake_ms,
                          uint32_t ping_interval_ms, uint32_t close_ms);
void st_conn_set_backoff(st_conn *conn, uint32_t base_ms, uint32_t max_ms,
                         int auto_reconnect);
void st_conn_set_busy_poll(st_conn *conn, int usec);

/* Requires the server's SPKI SHA-256 to match (up to ST_TLS_MAX_PINS). */
int st_conn_add_pin(st_conn *conn, const uint8_t spki_sha256[32]);

/* Starts connecting. Returns 0 or -errno from socket set-up. */
int st_conn_open(st_conn *conn);

/*
 * Sends one message (WS: a masked frame of `opcode`, TEXT or BINARY; raw
 * TLS: the bytes). Returns 0, ST_ECONN_NOT_OPEN, ST_ECONN_QUEUE_FULL or
 * -EINVAL (another opcode).
 */
int st_conn_send(st_conn *conn, int opcode, const void *payload, size_t len);

/*
 * Goes through st_conn_send's work for a TEXT message without sending it:
 * framed into the connection's scratch record and encrypted with a copy of
 * TLS's record state, so that the real sequence number, queue, mask source
 * and counters stay as they were. Keeps the code and keys warm between
 * orders. Does nothing unless open, or for a payload over
 * ST_CONN_REHEARSAL_MAX.
 */
void st_conn_rehearse(st_conn *conn, const void *payload, size_t len);

/*
 * Copies the next received message into out and releases it. Returns its
 * length and sets *opcode, 0 when none is waiting, or -EMSGSIZE when cap is
 * too small (the message stays).
 */
long st_conn_recv(st_conn *conn, uint8_t *out, size_t cap, int *opcode);

/*
 * Releases the next received message unread (one too large for the caller's
 * buffer). Returns its length, or 0 when none is waiting. Cannot fail.
 */
long st_conn_discard(st_conn *conn);

/*
 * Drops the messages still waiting in the send queue (not yet handed to TLS);
 * a message TLS has started on leaves whole. Returns how many were dropped.
 * For the kill switch: nothing queued leaves after it.
 */
int st_conn_drop_queued(st_conn *conn);

/* Starts a graceful close (WS close 1000, then TLS close_notify) with no
 * reconnect afterwards. */
void st_conn_close(st_conn *conn);

/* Drops the connection now (as a failure would) and reconnects per backoff. */
void st_conn_abort(st_conn *conn, int reason);

int st_conn_state(const st_conn *conn);
const char *st_conn_state_name(int state);
int st_conn_last_error(const st_conn *conn);
int st_conn_tls_resumed(const st_conn *conn);
int st_conn_peer_close_code(const st_conn *conn);
const st_conn_stats *st_conn_get_stats(const st_conn *conn);

/* Two connections to one venue, both kept open; sends go to the active one. */
typedef struct st_conn_pair {
	st_conn *conns[2];
	int active;
	uint64_t failovers;
} st_conn_pair;

void st_conn_pair_init(st_conn_pair *pair, st_conn *primary, st_conn *standby);

/*
 * Sends on the active connection; when it is not OPEN and the standby is,
 * fails over first. Returns what st_conn_send returns.
 */
int st_conn_pair_send(st_conn_pair *pair, int opcode, const void *payload, size_t len);

/* Makes the standby active if it is OPEN. Returns 0 or ST_ECONN_NOT_OPEN. */
int st_conn_pair_failover(st_conn_pair *pair);

/* Index (0 or 1) of the active connection. */
int st_conn_pair_active(const st_conn_pair *pair);
/* cdef-end */

#endif
