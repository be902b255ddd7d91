/* SPDX-License-Identifier: MIT */
/*
 * One venue on the hot thread: its connection pair, order legs (a template
 * each), the HMAC key when orders are signed, pre-trade risk, the journal,
 * the clock offset, and the answers coming back.
 *
 * st_venue_fire() turns one trigger into its order set in a single pass:
 * risk -> build (+ sign) -> journal -> frame + encrypt + submit. Answers to
 * orders are parsed here without a general JSON library, journaled and
 * turned into events; every other message (logon, time, status answers)
 * goes to an inbox that Python reads.
 *
 * Firing and polling allocate nothing and take no lock; the only system
 * calls are the ring's own.
 */
#ifndef ST_VENUE_H
#define ST_VENUE_H

#include <stdint.h>

#include "st_conn.h"
#include "st_histogram.h"
#include "st_hmac.h"
#include "st_journal.h"
#include "st_order.h"
#include "st_risk.h"

/* cdef-begin */
#define ST_VENUE_BINANCE        1
#define ST_VENUE_KRAKEN         2

#define ST_VENUE_MAX_LEGS       8
#define ST_VENUE_INFLIGHT       1024    /* orders sent and not answered */
#define ST_VENUE_EVENTS         4096
#define ST_VENUE_INBOX          262144  /* bytes of messages for Python */
#define ST_VENUE_MAX_MESSAGE    65536
#define ST_VENUE_RETRIES        16

#define ST_SIDE_BUY             0
#define ST_SIDE_SELL            1

/* What an order's answer says. */
#define ST_ORDER_STATUS_NONE      0
#define ST_ORDER_STATUS_ACCEPTED  1   /* ACK answer: accepted, state not given */
#define ST_ORDER_STATUS_NEW       2
#define ST_ORDER_STATUS_PARTIAL   3
#define ST_ORDER_STATUS_FILLED    4
#define ST_ORDER_STATUS_CANCELED  5
#define ST_ORDER_STATUS_REJECTED  6
#define ST_ORDER_STATUS_EXPIRED   7
#define ST_ORDER_STATUS_UNKNOWN   8   /* -1007, timeout, disconnect: ask the venue */
#define ST_ORDER_STATUS_NOT_FOUND 9   /* the venue never had it */

/* Events. */
#define ST_VEVENT_SENT          1   /* seq, leg, price, quantity */
#define ST_VEVENT_RISK_REJECT   2   /* code = ST_RISK_* reason, leg */
#define ST_VEVENT_ACK           3   /* the venue accepted: order_status */
#define ST_VEVENT_REJECTED      4   /* the venue refused: code, http_status */
#define ST_VEVENT_UNKNOWN       5   /* outcome unknown: reconcile */
#define ST_VEVENT_RATE_LIMIT    6   /* 429 / 418: backing off until retry_at_ms */
#define ST_VEVENT_CLOCK         7   /* -1021: resync the clock, then st_venue_clock_synced */
#define ST_VEVENT_AUTH          8   /* -1022 or a refused token: credentials are wrong */
#define ST_VEVENT_CONN          9   /* connection `conn` changed state: code = ST_CONN_* */

/* Venue error codes that matter. */
#define ST_BINANCE_OUTCOME_UNKNOWN (-1007)
#define ST_BINANCE_TOO_MANY_REQUESTS (-1003)
#define ST_BINANCE_TOO_MANY_ORDERS (-1015)
#define ST_BINANCE_TIMESTAMP       (-1021)
#define ST_BINANCE_SIGNATURE       (-1022)
#define ST_BINANCE_REJECTED        (-2010)
#define ST_BINANCE_NO_SUCH_ORDER   (-2013)
#define ST_BINANCE_UNKNOWN_ORDER   (-2011)   /* order.cancel: not an open order */
/* Kraken answers with strings; these stand for their classes. */
#define ST_KRAKEN_EORDER           (-30001)
#define ST_KRAKEN_EAPI_AUTH        (-30002)
#define ST_KRAKEN_RATE_LIMIT       (-30003)
#define ST_KRAKEN_OTHER            (-30004)

typedef struct st_venue_leg_spec {
	/* cdef-visible */
	int side;                 /* ST_SIDE_* */
	int64_t quantity;         /* fixed point */
	int32_t offset_bps;       /* limit price: this far through the book (< 0: behind it) */
	int64_t tick;             /* price rounded to a multiple of this */
	int has_price;            /* 0: market order */
	int rests;                /* can rest on the book (GTC limit) */
} st_venue_leg_spec;

typedef struct st_venue_leg {
	st_venue_leg_spec spec;
	st_order_template tmpl;
} st_venue_leg;

typedef struct st_venue_event {
	/* cdef-visible */
	uint32_t type;
	int32_t code;
	int32_t http_status;
	uint8_t order_status;
	uint8_t leg;
	uint8_t conn;             /* which connection of the pair */
	uint8_t reserved;
	uint64_t seq;
	uint64_t venue_order_id;
	int64_t price;
	int64_t quantity;
	uint64_t latency_ns;      /* ACK / REJECTED: send to answer */
	uint64_t retry_at_ms;     /* RATE_LIMIT: the venue's retryAfter */
	uint64_t time_ns;         /* CLOCK_MONOTONIC */
} st_venue_event;

typedef struct st_venue_stats {
	/* cdef-visible */
	uint64_t triggers;
	uint64_t orders_sent;
	uint64_t acks;
	uint64_t rejects;         /* refused by the venue */
	uint64_t unknown;         /* -1007, timeouts */
	uint64_t rate_limited;
	uint64_t clock_resyncs;
	uint64_t retries;         /* orders sent again after a clock resync */
	uint64_t unmatched;       /* answers that match no order in flight */
	uint64_t bad_messages;    /* not JSON, or not a shape we know */
	uint64_t inbox_dropped;
	uint64_t events_dropped;
} st_venue_stats;

typedef struct st_venue_inflight {
	uint64_t seq;
	uint64_t sent_ns;
	uint64_t trigger_ns;      /* when the trigger arrived (0: fired by hand) */
	int64_t price;
	int64_t quantity;
	uint64_t conn_opens;      /* the connection's stats.opens at send */
	uint8_t leg;
	uint8_t busy;
	uint8_t retried;          /* already a retry after -1021 */
	uint8_t conn;             /* which connection of the pair carried it */
	uint8_t trigger[32];
} st_venue_inflight;

typedef struct st_venue_retry {
	uint8_t leg;
	int64_t quantity;
	uint8_t trigger[32];
} st_venue_retry;

typedef struct st_venue {
	int kind;
	uint16_t index;           /* the venue's number in journal records */
	st_conn_pair *pair;
	st_journal *journal;
	st_risk risk;
	st_hmac_sha256_key key;
	uint8_t has_key;
	uint32_t nlegs;
	st_venue_leg legs[ST_VENUE_MAX_LEGS];
	int64_t bid, ask;
	uint64_t book_time_ns;
	int64_t clock_offset_ms;
	uint64_t ready_opens[2];  /* conn stats.opens when made ready (0: never) */
	int conn_state[2];        /* as last reported in a CONN event */
	uint64_t ack_timeout_ns;
	uint64_t first_seq;       /* the first order id of this process */
	uint64_t oldest_seq;      /* timeouts are checked from here */
	st_venue_inflight inflight[ST_VENUE_INFLIGHT];
	uint32_t nretries;
	st_venue_retry retries[ST_VENUE_RETRIES];
	uint32_t event_head, event_tail;
	st_venue_event events[ST_VENUE_EVENTS];
	uint32_t inbox_head, inbox_tail;
	uint8_t inbox[ST_VENUE_INBOX];
	st_venue_stats stats;
	uint64_t trigger_ns;      /* set by the engine before each fire */
	st_histogram *ack_hist;   /* send -> answer, when the engine keeps one */
	st_histogram *trigger_ack_hist;
	uint8_t msg[ST_VENUE_MAX_MESSAGE];
	uint8_t out[ST_ORDER_MAX_TEXT + 256];
} st_venue;

/*
 * Sets up a venue over a connection pair and an open journal. Returns 0 or
 * -EINVAL (unknown kind, bad limits, more open orders allowed than
 * ST_VENUE_INFLIGHT).
 */
int st_venue_init(st_venue *v, int kind, uint16_t index, st_conn_pair *pair,
                  st_journal *journal, const st_risk_limits *limits, uint64_t ack_timeout_ns,
                  uint64_t seed);

/* The HMAC secret for signed templates (hashed into key state at once). */
int st_venue_set_key(st_venue *v, const void *secret, size_t len);

/* Adds one order leg; every trigger fires all legs. Returns its index,
 * -ENOSPC or the errors of st_order_template_init / -EINVAL. */
int st_venue_add_leg(st_venue *v, const st_venue_leg_spec *spec, const void *message_spec,
                     size_t message_len, const void *payload_spec, size_t payload_len,
                     int sign, unsigned price_decimals, unsigned quantity_decimals);

/* Best bid and ask (fixed point) observed at now_ns. */
void st_venue_set_book(st_venue *v, int64_t bid, int64_t ask, uint64_t now_ns);

/* Connection i (0, 1) of the pair is logged on / has its token: orders may
 * use it until it reconnects. */
void st_venue_set_ready(st_venue *v, int conn);

/* Venue time minus ours, in ms (timestamps get it added). */
void st_venue_set_clock_offset(st_venue *v, int64_t offset_ms);

/* After a -1021 resync: sets the offset and sends the orders it refused
 * again, once each, through risk. Returns how many were sent. */
int st_venue_clock_synced(st_venue *v, int64_t offset_ms, uint64_t now_ns);

/*
 * Fires the order set for one trigger. Returns the number of orders sent,
 * or -(ST_RISK_* reason) when risk refused the set (nothing sent).
 */
int st_venue_fire(st_venue *v, const uint8_t txid[32], uint64_t now_ns);

/*
 * Rehearses the first leg's order between triggers, so that the next one
 * finds the path warm: built and signed into the desk's buffer (with the
 * next client id, not taken), framed and encrypted by the active connection
 * without sending (st_conn_rehearse), and the journal's next record touched,
 * not written. Nothing is sent, journaled, counted or charged to risk.
 */
void st_venue_rehearse(st_venue *v);

/* Handles one message received on connection conn (what st_venue_poll does
 * with each; callable directly to test answers). */
void st_venue_on_message(st_venue *v, int conn, const uint8_t *msg, size_t len, uint64_t now_ns);

/* Handles what the connections received and the ack deadlines. Returns
 * the number of messages handled. */
int st_venue_poll(st_venue *v, uint64_t now_ns);

/* Sends a message Python built (logon, time, order.status) on connection
 * conn (-1: the active one). Returns what st_conn_send returns. */
int st_venue_send_control(st_venue *v, int conn, const void *text, size_t len);

/* The next inbox message: copies it to out and returns its length, 0 when
 * none, -EMSGSIZE when cap is too small. *conn says where it came from. */
long st_venue_next_message(st_venue *v, uint8_t *out, size_t cap, int *conn);

/* The next event (1) or none (0). */
int st_venue_next_event(st_venue *v, st_venue_event *out);

/* Records what reconciliation found for an order of unknown outcome. */
int st_venue_resolve(st_venue *v, uint64_t seq, int order_status, uint64_t venue_order_id,
                     int32_t error_code);

st_risk *st_venue_risk(st_venue *v);
const st_venue_stats *st_venue_get_stats(const st_venue *v);

/* Wipes the key state. */
void st_venue_exit(st_venue *v);
/* cdef-end */

#endif
