/* SPDX-License-Identifier: MIT */
/*
 * One venue on the hot thread: its connection pair, order legs (a template
 * each), the HMAC key when orders are signed, pre-trade risk, the journal,
 * the clock offset, and the answers coming back.
 *
 * st_desk_fire() turns one trigger into its order set in a single pass:
 * risk -> build (+ sign) -> journal -> frame + encrypt + submit. Answers to
 * orders are parsed here without a general JSON library, journaled and
 * turned into events; every other message (logon, time, status answers)
 * goes to an inbox that Python reads.
 *
 * Firing and polling allocate nothing and take no lock; the only system
 * calls are the ring's own.
 */
#ifndef ST_DESK_H
#define ST_DESK_H

#include <stdint.h>

#include "st_conn.h"
#include "st_histogram.h"
#include "st_hmac.h"
#include "st_journal.h"
#include "st_order.h"
#include "st_risk.h"

/* cdef-begin */
#define ST_DESK_MAX_LEGS       8
#define ST_DESK_INFLIGHT       1024    /* orders sent and not answered */
#define ST_DESK_EVENTS         4096
#define ST_DESK_INBOX          262144  /* bytes of messages for Python */
#define ST_DESK_MAX_MESSAGE    65536
#define ST_DESK_RETRIES        16
#define ST_DESK_DEFAULT_BACKOFF_MS 1000  /* after a rate limit that says not until when */

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
#define ST_ORDER_STATUS_UNKNOWN   8   /* the venue timed out, or we did: ask it */
#define ST_ORDER_STATUS_NOT_FOUND 9   /* the venue never had it */

/* Events. */
#define ST_VEVENT_SENT          1   /* seq, leg, price, quantity */
#define ST_VEVENT_RISK_REJECT   2   /* code = ST_RISK_* reason, leg */
#define ST_VEVENT_ACK           3   /* the venue accepted: order_status */
#define ST_VEVENT_REJECTED      4   /* the venue refused: code, http_status */
#define ST_VEVENT_UNKNOWN       5   /* outcome unknown: reconcile */
#define ST_VEVENT_RATE_LIMIT    6   /* backing off until retry_at_ms (venue time) */
#define ST_VEVENT_CLOCK         7   /* timestamp refused: resync, then st_desk_clock_synced */
#define ST_VEVENT_AUTH          8   /* signature, key or token refused */
#define ST_VEVENT_CONN          9   /* connection `conn` changed state: code = ST_CONN_* */

/*
 * Where a venue's answers keep what the desk reads, and what their codes
 * mean: data the venue's profile hands over at start-up, so that one reader
 * serves every venue. Names are NUL-terminated within ST_DESK_NAME bytes.
 */
#define ST_DESK_NAME           32
#define ST_DESK_CODE_FIELDS    2
#define ST_DESK_RULES          16
#define ST_DESK_TEXT_CODES     8
#define ST_DESK_STATUS_NAMES   12

/* Which value a rule tests. */
#define ST_DESK_ON_CODE        1   /* the error code */
#define ST_DESK_ON_STATUS      2   /* the status field's number (an HTTP status) */

/* One value of an answer: the member `key` of the object that is the value
 * of `parent` ("" at the top level or inside an array), at scanner depth
 * `depth` (1: the top-level object; 0: answers have no such value). */
typedef struct st_desk_field {
	/* cdef-visible */
	uint8_t depth;
	char parent[32];          /* ST_DESK_NAME */
	char key[32];
} st_desk_field;

/* An answer that is not ok and whose code (or status) is `value` means
 * `event`: ST_VEVENT_UNKNOWN, _RATE_LIMIT, _CLOCK, _AUTH or _REJECTED. */
typedef struct st_desk_rule {
	/* cdef-visible */
	int32_t value;
	uint8_t on;               /* ST_DESK_ON_*; 0 ends the list */
	uint8_t event;
} st_desk_rule;

/* Error text that starts with `prefix` has error code `code`. */
typedef struct st_desk_text_code {
	/* cdef-visible */
	char prefix[32];          /* "" ends the list */
	int32_t code;
} st_desk_text_code;

/* The order status a venue's status word stands for. */
typedef struct st_desk_status_name {
	/* cdef-visible */
	char name[32];            /* "" ends the list */
	uint8_t status;           /* ST_ORDER_STATUS_* */
} st_desk_status_name;

/*
 * Numbers may come as JSON numbers or as strings of decimal digits. An
 * answer is an order's when its request id (or, when it carries none, the
 * last ST_ORDER_CLIENT_ID_DIGITS digits of its client order id) is the
 * order's sequence number. It is ok when its status is true or equals
 * ok_value; otherwise its code is the last nonzero of `codes`, else what
 * its error text maps to, else default_code, and the first matching rule
 * says what it means (none: rejected).
 */
typedef struct st_desk_schema {
	/* cdef-visible */
	st_desk_field request_id;
	st_desk_field client_id;
	st_desk_field status;
	int64_t ok_value;
	uint8_t status_is_http;   /* the status number is an HTTP status: report it */
	st_desk_field codes[2];  /* ST_DESK_CODE_FIELDS */
	st_desk_field error_text;
	int32_t default_code;
	st_desk_field order_status;
	st_desk_field order_id;  /* a number: the venue's order id; text: journal detail */
	st_desk_field retry_at;  /* wall time in ms when a rate limit lifts */
	st_desk_rule rules[16];  /* ST_DESK_RULES */
	st_desk_text_code text_codes[8];      /* ST_DESK_TEXT_CODES */
	st_desk_status_name statuses[12];     /* ST_DESK_STATUS_NAMES */
} st_desk_schema;

/*
 * Where a venue's top-of-book messages keep the best bid and ask price: a
 * string or number of decimal digits, or the first element of a level array
 * under that key ("bids":[["8476.97","415"]]). A message with neither is not
 * a book message (acks, heartbeats); one with a single side, a price that
 * does not parse or a crossed book is dropped whole.
 */
typedef struct st_desk_book_schema {
	/* cdef-visible */
	st_desk_field bid;
	st_desk_field ask;
} st_desk_book_schema;

#define ST_DESK_BOOK_SUBSCRIBE 1024  /* bytes of a book subscribe message */

typedef struct st_desk_leg_spec {
	/* cdef-visible */
	int side;                 /* ST_SIDE_* */
	int64_t quantity;         /* fixed point */
	int32_t offset_bps;       /* limit price: this far through the book (< 0: behind it) */
	int64_t tick;             /* price rounded to a multiple of this */
	int has_price;            /* 0: market order */
	int rests;                /* can rest on the book (GTC limit) */
} st_desk_leg_spec;

typedef struct st_desk_leg {
	st_desk_leg_spec spec;
	st_order_template tmpl;
	st_order_template spare;  /* the next template, compiled off the hot thread */
	uint32_t spare_full;      /* 1: spare waits for st_desk_swap_template (atomic) */
} st_desk_leg;

typedef struct st_desk_event {
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
} st_desk_event;

typedef struct st_desk_stats {
	/* cdef-visible */
	uint64_t triggers;
	uint64_t orders_sent;
	uint64_t acks;
	uint64_t rejects;         /* refused by the venue */
	uint64_t unknown;         /* the venue could not say, timeouts */
	uint64_t rate_limited;
	uint64_t clock_resyncs;
	uint64_t retries;         /* orders sent again after a clock resync */
	uint64_t unmatched;       /* answers that match no order in flight */
	uint64_t bad_messages;    /* not JSON, or not a shape we know */
	uint64_t inbox_dropped;
	uint64_t events_dropped;
	uint64_t book_updates;    /* book messages applied */
	uint64_t book_dropped;    /* book messages malformed, partial or crossed */
} st_desk_stats;

typedef struct st_desk_inflight {
	uint64_t seq;
	uint64_t sent_ns;
	uint64_t trigger_ns;      /* when the trigger arrived (0: fired by hand) */
	int64_t price;
	int64_t quantity;
	uint64_t conn_opens;      /* the connection's stats.opens at send */
	uint8_t leg;
	uint8_t busy;
	uint8_t retried;          /* already a retry after a CLOCK answer */
	uint8_t conn;             /* which connection of the pair carried it */
	uint8_t trigger[32];
} st_desk_inflight;

typedef struct st_desk_retry {
	uint8_t leg;
	int64_t quantity;
	uint8_t trigger[32];
} st_desk_retry;

typedef struct st_desk {
	st_desk_schema schema;
	uint16_t index;           /* the venue's number in journal records */
	st_conn_pair *pair;
	st_journal *journal;
	st_risk risk;
	st_hmac_sha256_key key;
	uint8_t has_key;
	uint32_t nlegs;
	st_desk_leg legs[ST_DESK_MAX_LEGS];
	int64_t bid, ask;
	uint64_t book_time_ns;
	/* the market-data connection (NULL: prices come by st_desk_set_book) */
	st_conn *book_conn;
	st_desk_book_schema book_schema;
	unsigned book_decimals;
	uint64_t book_opens;      /* book_conn's stats.opens when last subscribed */
	size_t book_subscribe_len;
	uint8_t book_subscribe[ST_DESK_BOOK_SUBSCRIBE];
	int64_t clock_offset_ms;
	uint64_t ready_opens[2];  /* conn stats.opens when made ready (0: never) */
	int conn_state[2];        /* as last reported in a CONN event */
	uint64_t ack_timeout_ns;
	uint64_t first_seq;       /* the first order id of this process */
	uint64_t oldest_seq;      /* timeouts are checked from here */
	uint64_t skip_from, skip_to; /* ids a new HA epoch jumped over (none taken) */
	st_desk_inflight inflight[ST_DESK_INFLIGHT];
	uint32_t nretries;
	st_desk_retry retries[ST_DESK_RETRIES];
	uint32_t event_head, event_tail;
	st_desk_event events[ST_DESK_EVENTS];
	uint32_t inbox_head, inbox_tail;
	uint8_t inbox[ST_DESK_INBOX];
	st_desk_stats stats;
	uint64_t trigger_ns;      /* set by the engine before each fire */
	st_histogram *ack_hist;   /* send -> answer, when the engine keeps one */
	st_histogram *trigger_ack_hist;
	uint8_t msg[ST_DESK_MAX_MESSAGE];
	uint8_t out[ST_ORDER_MAX_TEXT + 256];
} st_desk;

/*
 * Sets up a venue, whose answers read as schema says (copied), over a
 * connection pair and an open journal. Returns 0 or -EINVAL (a schema
 * without request id or status, a name not terminated, a bad rule, bad
 * limits, more open orders allowed than ST_DESK_INFLIGHT).
 */
int st_desk_init(st_desk *v, const st_desk_schema *schema, uint16_t index, st_conn_pair *pair,
                 st_journal *journal, const st_risk_limits *limits, uint64_t ack_timeout_ns,
                 uint64_t seed);

/*
 * Host failover: the next client ids belong to tenure `epoch`, in `lane`
 * (the engine passes the venue's index; see st_journal_set_epoch). Returns 0, the journal's errors, or -EBUSY when the
 * orders of two tenures ago are still awaited (try again after the ack
 * timeout).
 */
int st_desk_set_epoch(st_desk *v, uint64_t epoch, unsigned lane);

/* The HMAC secret for signed templates (hashed into key state at once). */
int st_desk_set_key(st_desk *v, const void *secret, size_t len);

/* Adds one order leg; every trigger fires all legs. Returns its index,
 * -ENOSPC or the errors of st_order_template_init / -EINVAL. */
int st_desk_add_leg(st_desk *v, const st_desk_leg_spec *spec, const void *message_spec,
                    size_t message_len, const void *payload_spec, size_t payload_len,
                    int sign, unsigned price_decimals, unsigned quantity_decimals);

/*
 * A new template for leg `leg` (the same order with a new token, say),
 * compiled into the leg's spare while the hot thread may be firing: the hot
 * thread never reads the spare until st_desk_swap_template. Decimals, sign
 * mode and price slot must match the leg's. Returns 0, -EINVAL (no such
 * leg, or what does not match), -EBUSY (the last one prepared is not swapped
 * in yet: try again after the engine's next pass) or the errors of
 * st_order_template_init.
 */
int st_desk_prepare_template(st_desk *v, unsigned leg, const void *message_spec,
                             size_t message_len, const void *payload_spec, size_t payload_len,
                             int sign, unsigned price_decimals, unsigned quantity_decimals);

/* On the hot thread: the prepared template replaces leg `leg`'s (a copy; no
 * allocation, no lock). Returns 0, or -EAGAIN when none is prepared. */
int st_desk_swap_template(st_desk *v, unsigned leg);

/* Best bid and ask (fixed point) observed at now_ns. */
void st_desk_set_book(st_desk *v, int64_t bid, int64_t ask, uint64_t now_ns);

/*
 * Prices from a top-of-book stream on conn (NULL: none; messages then come
 * through st_desk_on_book), read as schema says into fixed point with
 * price_decimals; subscribe (len 0: none) is sent each time conn opens.
 * st_desk_poll reads it on the polling thread. Returns 0 or -EINVAL.
 */
int st_desk_set_book_feed(st_desk *v, const st_desk_book_schema *schema,
                          unsigned price_decimals, st_conn *conn, const void *subscribe,
                          size_t subscribe_len);

/* Reads one top-of-book message received at now_ns: 1 when it set the
 * price, 0 when it is not a book message, -EBADMSG when it was dropped. */
int st_desk_on_book(st_desk *v, const uint8_t *msg, size_t len, uint64_t now_ns);

/* The book as last set: best bid, ask (fixed point) and when (0: never). */
void st_desk_get_book(const st_desk *v, int64_t *bid, int64_t *ask, uint64_t *time_ns);

/* Subscribes the book connection when it has (re)opened and reads what it
 * received (st_desk_poll does this). Returns the messages read. */
int st_desk_poll_book(st_desk *v, uint64_t now_ns);

/* Connection i (0, 1) of the pair is logged on / has its token: orders may
 * use it until it reconnects. */
void st_desk_set_ready(st_desk *v, int conn);

/* Venue time minus ours, in ms (timestamps get it added). */
void st_desk_set_clock_offset(st_desk *v, int64_t offset_ms);

/* After a CLOCK answer's resync: sets the offset and sends the orders it refused
 * again, once each, through risk. Returns how many were sent. */
int st_desk_clock_synced(st_desk *v, int64_t offset_ms, uint64_t now_ns);

/*
 * Fires the order set for one trigger. Returns the number of orders sent,
 * or -(ST_RISK_* reason) when risk refused the set (nothing sent).
 */
int st_desk_fire(st_desk *v, const uint8_t txid[32], uint64_t now_ns);

/*
 * Rehearses the first leg's order between triggers, so that the next one
 * finds the path warm: built and signed into the desk's buffer (with the
 * next client id, not taken), framed and encrypted by the active connection
 * without sending (st_conn_rehearse), and the journal's next record touched,
 * not written. Nothing is sent, journaled, counted or charged to risk.
 */
void st_desk_rehearse(st_desk *v);

/* Handles one message received on connection conn (what st_desk_poll does
 * with each; callable directly to test answers). */
void st_desk_on_message(st_desk *v, int conn, const uint8_t *msg, size_t len, uint64_t now_ns);

/* Handles what the connections received and the ack deadlines. Returns
 * the number of messages handled. */
int st_desk_poll(st_desk *v, uint64_t now_ns);

/* Sends a message Python built (logon, time, order.status) on connection
 * conn (-1: the active one). Returns what st_conn_send returns. */
int st_desk_send_control(st_desk *v, int conn, const void *text, size_t len);

/* The next inbox message: copies it to out and returns its length, 0 when
 * none, -EMSGSIZE when cap is too small. *conn says where it came from. */
long st_desk_next_message(st_desk *v, uint8_t *out, size_t cap, int *conn);

/* The next event (1) or none (0). */
int st_desk_next_event(st_desk *v, st_desk_event *out);

/* Records what reconciliation found for an order of unknown outcome. */
int st_desk_resolve(st_desk *v, uint64_t seq, int order_status, uint64_t venue_order_id,
                    int32_t error_code);

st_risk *st_desk_risk(st_desk *v);
const st_desk_stats *st_desk_get_stats(const st_desk *v);

/* Wipes the key state. */
void st_desk_exit(st_desk *v);
/* cdef-end */

#endif
