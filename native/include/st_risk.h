/* SPDX-License-Identifier: MIT */
/*
 * Pre-trade risk for one venue: a kill switch, a token bucket (GCRA) that
 * keeps us under the venue's order rate, a back-off window after the venue
 * says 429/418, maximum quantity and notional per order, a cap on orders
 * whose outcome is still open, one order set per trigger txid, and a guard
 * against trading on a stale price. Every check is O(1); a rejected order is
 * counted under its reason and never sent.
 *
 * The kill switch may be set from any thread; everything else belongs to the
 * hot thread.
 */
#ifndef ST_RISK_H
#define ST_RISK_H

#include <stdint.h>

#include "st_mempool.h"

/* cdef-begin */
/* Why an order was not sent (index into st_risk.rejected). */
#define ST_RISK_OK               0
#define ST_RISK_KILLED           1
#define ST_RISK_DUPLICATE_TRIGGER 2
#define ST_RISK_RATE             3   /* our own token bucket */
#define ST_RISK_VENUE_BACKOFF    4   /* the venue said 429 or 418: wait */
#define ST_RISK_MAX_QUANTITY     5
#define ST_RISK_MAX_NOTIONAL     6
#define ST_RISK_OPEN_ORDERS      7
#define ST_RISK_STALE_PRICE      8
#define ST_RISK_NO_PRICE         9
#define ST_RISK_NOT_READY        10  /* not logged on / clock not synced */
#define ST_RISK_JOURNAL_FULL     11
#define ST_RISK_SEND_FAILED      12  /* connection not open or queue full */
#define ST_RISK_DISARMED         13  /* this host does not hold the HA lease (reversible) */
#define ST_RISK_REASONS          14

#define ST_RISK_TRIGGER_SLOTS    4096

typedef struct st_risk_limits {
	/* cdef-visible */
	int64_t max_quantity;         /* fixed point, the template's decimals */
	uint64_t max_notional;        /* price x quantity, both fixed point */
	uint32_t max_open_orders;
	uint32_t burst;               /* orders the bucket lets through at once */
	uint64_t interval_ns;         /* one token per interval */
	uint64_t max_price_age_ns;
} st_risk_limits;

typedef struct st_risk {
	st_risk_limits limits;
	volatile int killed;
	uint32_t open_orders;
	uint64_t armed_until_ns;      /* CLOCK_MONOTONIC; orders pass only before it (atomic) */
	uint64_t bucket_tat_ns;       /* GCRA theoretical arrival time */
	uint64_t venue_backoff_until_ns;
	uint64_t accepted;
	uint64_t rejected[ST_RISK_REASONS];
	st_seen triggers;
	uint8_t trigger_ids[ST_RISK_TRIGGER_SLOTS * 3][32];
} st_risk;

/* Sets up risk with the given limits. Returns 0 or -EINVAL (a zero limit). */
int st_risk_init(st_risk *r, const st_risk_limits *limits, uint64_t seed);

/* Replaces the limits (hot thread only). Returns 0 or -EINVAL. */
int st_risk_set_limits(st_risk *r, const st_risk_limits *limits);

/* Stops or allows every further order; safe from any thread. */
void st_risk_kill(st_risk *r, int killed);
int st_risk_killed(const st_risk *r);

/*
 * Host failover: order sets pass only while now < until_ns (CLOCK_MONOTONIC,
 * st_now_ns()); 0 disarms, UINT64_MAX (the default) is always armed. Safe
 * from any thread; the hot thread needs no message to disarm on time.
 */
void st_risk_arm(st_risk *r, uint64_t until_ns);
uint64_t st_risk_armed_until(const st_risk *r);

/* Claims a trigger txid: ST_RISK_OK the first time, else a duplicate. */
int st_risk_claim_trigger(st_risk *r, const uint8_t txid[32]);

/*
 * Checks an order set of n orders (quantities and prices given) at time
 * now_ns; price_time_ns is when the price was observed (0: none). Takes n
 * tokens and counts them open when it passes. Returns ST_RISK_OK or the
 * reason, and counts the rejection of all n under it.
 */
int st_risk_check(st_risk *r, uint32_t n, const int64_t *quantities, const int64_t *prices,
                  uint64_t price_time_ns, uint64_t now_ns);

/* Counts n orders rejected for a reason found outside st_risk_check. */
void st_risk_reject(st_risk *r, int reason, uint32_t n);

/* An order's outcome is final (filled, rejected, expired, ...). */
void st_risk_order_closed(st_risk *r);

/* The venue asked us to wait until until_ns (429 / 418 retryAfter). */
void st_risk_venue_backoff(st_risk *r, uint64_t until_ns);

const char *st_risk_reason_name(int reason);

/* Counters: orders refused for a reason, orders passed, orders open now. */
uint64_t st_risk_rejected(const st_risk *r, int reason);
uint64_t st_risk_accepted(const st_risk *r);
uint32_t st_risk_open_orders(const st_risk *r);
/* cdef-end */

#endif
