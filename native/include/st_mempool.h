/* SPDX-License-Identifier: MIT */
/*
 * The mempool watcher: outbound Bitcoin peers on the loop, each a plain TCP
 * endpoint with the P2P codec. Handshake (version with relay=1, then
 * wtxidrelay, sendaddrv2, verack), pings answered, unknown commands ignored,
 * inv (MSG_TX, MSG_WTX) -> getdata for ids not received yet and not already
 * asked of a live peer within ST_MEMPOOL_REQUEST_MS -> tx -> parse -> strategy
 * -> an event when an action fires, once per txid. A
 * malformed message drops that peer with a named, counted reason; it
 * reconnects with backoff and the others go on.
 *
 * Flow: announcements wait in the peer's pending ring (room for one inv of
 * ST_BTC_MAX_INV) and go out as getdata, in order, as its out-queue drains; an
 * inv that does not fit waits unread until it does (TCP pushes back).
 * Liveness: open peers are pinged every ping_interval_ms and dropped when the
 * pong is ping_timeout_ms late, or when nothing useful (inv of transactions,
 * tx) came for idle_timeout_ms. Misbehaviour: each drop adds its reason's
 * penalty to the peer's score; backoff grows until the peer has behaved for
 * good_after_ms (or delivered a transaction); at park_score it is parked for
 * park_ms, doubling per park up to park_max_ms (Bitcoin Core's misbehaviour
 * score and discouragement, in miniature).
 */
#ifndef ST_MEMPOOL_H
#define ST_MEMPOOL_H

#include <stdint.h>

#include "st_btc.h"
#include "st_loop.h"
#include "st_strategy.h"

/* cdef-begin */
#define ST_PEER_CLOSED      0
#define ST_PEER_CONNECTING  1
#define ST_PEER_HANDSHAKE   2
#define ST_PEER_OPEN        3
#define ST_PEER_BACKOFF     4
#define ST_PEER_PARKED      5        /* misbehaved: no reconnect until parked_until_ns */

#define ST_PEER_OUTQ        262144
#define ST_PEER_MAX_GETDATA 1000     /* entries per getdata (Bitcoin Core MAX_GETDATA_SZ) */
#define ST_PEER_PENDING     50000    /* announcements waiting: one whole inv (ST_BTC_MAX_INV) */
#define ST_MEMPOOL_EVENTS   1024     /* event ring (power of 2) */
#define ST_MEMPOOL_REQUEST_MS 2000   /* then another peer may be asked */
#define ST_MEMPOOL_MAX_PEERS 16

#define ST_EVENT_ACTION     1
#define ST_EVENT_PEER_UP    2
#define ST_EVENT_PEER_DOWN  3

#define ST_EBTC_HANDSHAKE   (-10410)
#define ST_EBTC_PING_TIMEOUT (-10411)
#define ST_EBTC_IDLE        (-10412)

/*
 * Ids seen recently: three hash tables in rotation (insert into one, look up
 * in two, clear the third a few slots per insert), so entries expire after
 * one to two tables' worth of inserts with no deletion and no pause.
 */
typedef struct st_seen {
	uint8_t (*slots)[32];     /* 3 tables of mask + 1 slots each */
	uint32_t mask;
	uint32_t active;
	uint32_t count;           /* inserts into the active table */
	uint32_t clear_pos;
	uint64_t seed;
} st_seen;

typedef struct st_mempool_event {
	/* cdef-visible */
	int32_t kind;
	int32_t peer;
	int32_t action;
	int32_t exchange;
	int64_t amount;
	int64_t total;
	int32_t error;
	int32_t announcers;       /* peers that had announced it when it fired */
	int32_t orders;           /* orders the engine sent for it (-risk reason: refused) */
	uint8_t txid[32];         /* internal byte order */
	/* CLOCK_MONOTONIC ns: the kernel received its last segment (its software
	 * receive timestamp; the loop pass when there is none), parsed, decided,
	 * (set by the engine's hook) its orders submitted to the kernel, and
	 * the receive completion carrying that segment reaped. */
	uint64_t t_recv_ns;
	uint64_t t_parsed_ns;
	uint64_t t_decided_ns;
	uint64_t t_sent_ns;
	uint64_t t_reaped_ns;
} st_mempool_event;

/* Called on the hot thread when a transaction fires an action, before the
 * event is queued: the engine turns it into orders in the same pass. */
typedef void (*st_mempool_action_fn)(void *ctx, st_mempool_event *ev);

typedef struct st_mempool_stats {
	/* cdef-visible */
	uint64_t txs;             /* distinct transactions parsed */
	uint64_t tx_duplicates;   /* delivered again (asked of two peers) */
	uint64_t unrequested;     /* transactions we did not ask that peer for: dropped */
	uint64_t actions;
	uint64_t inv_entries;
	uint64_t inv_duplicates;  /* received already, or asked of a live peer (when
	                             announced or when its turn to be asked came) */
	uint64_t getdata_entries;
	uint64_t malformed;       /* peers dropped for bad bytes */
	uint64_t events_dropped;  /* the ring was full */
	uint64_t requests_full;   /* a request waited: its bucket's slots all in flight */
} st_mempool_stats;

/* A request in flight, in 16-way buckets (a full bucket evicts the stalest not in flight). */
typedef struct st_mempool_request {
	uint8_t id[32];
	int32_t peer;             /* asked of this peer ... */
	uint32_t peer_gen;        /* ... on this connection of it */
	uint64_t deadline_ns;
	uint16_t announcers;      /* every peer that announced it (bit per id) */
	uint8_t inv_type;         /* how it was announced: MSG_TX or MSG_WTX */
	uint8_t live;             /* not received yet */
	uint8_t queued;           /* in peer's pending ring, not sent yet (a sweep's re-ask) */
} st_mempool_request;

struct st_peer;

typedef struct st_mempool {
	uint32_t magic;
	st_strategy *strategy;    /* swapped with one atomic store */
	st_seen received;         /* ids of transactions received */
	st_seen acted;            /* txids that fired an action */
	st_mempool_request *requests;
	uint32_t requests_mask;   /* buckets - 1 */
	uint64_t next_sweep_ns;
	struct st_peer *peers[ST_MEMPOOL_MAX_PEERS];
	st_mempool_event events[ST_MEMPOOL_EVENTS];
	uint32_t ev_head, ev_tail;
	st_mempool_stats stats;
	uint64_t nonce;
	st_mempool_action_fn on_action;
	void *on_action_ctx;
	uint8_t getdata[9 + ST_PEER_MAX_GETDATA * 36];  /* scratch for one request */
} st_mempool;

typedef struct st_peer_stats {
	/* cdef-visible */
	uint64_t connects;
	uint64_t handshakes;
	uint64_t messages;
	uint64_t txs;
	uint64_t failures;
	uint64_t getdata_entries; /* requested of it (sent, not just queued) */
	uint64_t notfound;        /* entries it said it does not have */
	uint64_t pings;           /* ours, sent */
	uint64_t pongs;           /* its answers, matched */
	uint64_t parks;           /* times parked */
	/* Current values, not counters: */
	uint64_t pending;         /* announcements waiting to be requested */
	uint64_t score;           /* misbehaviour since it was last parked */
	uint64_t backoff_attempt; /* drops since it last behaved (the backoff's exponent) */
	uint64_t parked_until_ns; /* CLOCK_MONOTONIC; 0 when not parked */
} st_peer_stats;

/* What a peer may get away with, and for how long (0 turns a timer off). */
typedef struct st_peer_policy {
	/* cdef-visible */
	uint32_t backoff_base_ms, backoff_max_ms;
	uint32_t handshake_timeout_ms;
	uint32_t good_after_ms;        /* open this long: backoff starts over */
	uint32_t ping_interval_ms;
	uint32_t ping_timeout_ms;
	uint32_t idle_timeout_ms;      /* no inv of transactions, no tx, this long */
	uint32_t park_score;           /* parked when its score reaches this */
	uint32_t park_ms, park_max_ms; /* first park; doubled per park up to max */
	/* Penalty per drop reason (Bitcoin Core scores a protocol violation 100): */
	uint32_t penalty_malformed;    /* bad bytes, handshake out of order */
	uint32_t penalty_unresponsive; /* handshake or ping timeout, does not read */
	uint32_t penalty_idle;         /* nothing useful for idle_timeout_ms */
	uint32_t penalty_network;      /* refused, reset, closed */
} st_peer_policy;

typedef struct st_peer {
	st_endpoint ep;
	st_mempool *pool;
	int32_t id;
	int state;
	int last_error;
	uint8_t got_version, got_verack;
	uint8_t wtxid_relay;      /* the peer sent wtxidrelay: it announces wtxids */
	st_btc_decoder dec;
	uint64_t deadline_ns;
	uint32_t backoff_attempt;
	st_peer_policy policy;
	uint64_t good_at_ns;      /* open and behaved until then: backoff starts over */
	uint64_t ping_at_ns;      /* the next ping, or (ping_nonce set) the pong deadline */
	uint64_t ping_nonce;
	uint64_t idle_at_ns;      /* dropped then unless something useful comes */
	uint8_t held;             /* an inv waits unread for room in the pending ring */
	size_t out_len, out_sending;
	st_peer_stats stats;
	uint32_t pend_head, pend_count;
	uint8_t out[ST_PEER_OUTQ];
	uint8_t pending[ST_PEER_PENDING][36]; /* inv entries (type, id), a ring */
} st_peer;

/* Seen-set over caller storage of 3 * slots ids (slots a power of two). */
int st_seen_init(st_seen *s, uint8_t (*storage)[32], uint32_t slots, uint64_t seed);
/* 1 when id was not seen (and now is), 0 when it was. */
int st_seen_insert(st_seen *s, const uint8_t id[32]);
/* 1 when id was seen. */
int st_seen_contains(st_seen *s, const uint8_t id[32]);

/*
 * A watcher for a network (ST_BTC_MAGIC_*). The seen-sets use caller storage
 * of 3 * slots ids each, the request table request_slots entries (a power of
 * two, at least 16; a few times what peers can have in flight within
 * ST_MEMPOOL_REQUEST_MS). Returns 0 or -EINVAL.
 */
int st_mempool_init(st_mempool *m, uint32_t magic, st_strategy *strategy,
                    uint8_t (*received)[32], uint8_t (*acted)[32],
                    st_mempool_request *requests, uint32_t request_slots, uint32_t slots,
                    uint64_t seed);

/* Swaps the strategy in one atomic store; returns the old one. */
st_strategy *st_mempool_set_strategy(st_mempool *m, st_strategy *strategy);

/* Sets (or, with NULL, clears) the action hook; before the loop runs. */
void st_mempool_set_action_hook(st_mempool *m, st_mempool_action_fn fn, void *ctx);

/* Takes the oldest event: 1 with *out filled, 0 when none. */
int st_mempool_next_event(st_mempool *m, st_mempool_event *out);
const st_mempool_stats *st_mempool_get_stats(const st_mempool *m);

/*
 * A peer at ip:port; messages assemble in buf[0..cap) (cap at most
 * ST_BTC_MAX_MESSAGE). id is its index in the watcher (0 .. MAX_PEERS-1).
 * Returns 0, -EINVAL or -ENOSPC (loop full).
 */
int st_peer_init(st_peer *p, st_loop *loop, st_mempool *m, int32_t id, const char *ip,
                 int port, uint8_t *buf, size_t cap);
void st_peer_set_backoff(st_peer *p, uint32_t base_ms, uint32_t max_ms);
/* The defaults: what st_peer_init sets. */
void st_peer_default_policy(st_peer_policy *out);
/* Sets the whole policy (before st_peer_open, or between connections).
 * Returns 0, or -EINVAL for a timeout of 0 where one is needed. */
int st_peer_set_policy(st_peer *p, const st_peer_policy *policy);
/* Starts connecting. Returns 0 or -errno. */
int st_peer_open(st_peer *p);
int st_peer_state(const st_peer *p);
int st_peer_last_error(const st_peer *p);
const st_peer_stats *st_peer_get_stats(const st_peer *p);
/* cdef-end */

#endif
