/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "st_risk.h"

static int limits_valid(const st_risk_limits *l)
{
	return l && l->max_quantity > 0 && l->max_notional > 0 && l->max_open_orders > 0 &&
	       l->burst > 0 && l->interval_ns > 0 && l->max_price_age_ns > 0;
}

int st_risk_init(st_risk *r, const st_risk_limits *limits, uint64_t seed)
{
	if (!r || !limits_valid(limits))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->limits = *limits;
	r->armed_until_ns = UINT64_MAX;   /* no [ha]: always armed */
	return st_seen_init(&r->triggers, r->trigger_ids, ST_RISK_TRIGGER_SLOTS, seed);
}

int st_risk_set_limits(st_risk *r, const st_risk_limits *limits)
{
	if (!limits_valid(limits))
		return -EINVAL;
	r->limits = *limits;
	return 0;
}

void st_risk_kill(st_risk *r, int killed)
{
	__atomic_store_n(&r->killed, killed ? 1 : 0, __ATOMIC_RELEASE);
}

int st_risk_killed(const st_risk *r)
{
	return __atomic_load_n(&r->killed, __ATOMIC_ACQUIRE);
}

void st_risk_arm(st_risk *r, uint64_t until_ns)
{
	__atomic_store_n(&r->armed_until_ns, until_ns, __ATOMIC_RELEASE);
}

uint64_t st_risk_armed_until(const st_risk *r)
{
	return __atomic_load_n(&r->armed_until_ns, __ATOMIC_ACQUIRE);
}

int st_risk_claim_trigger(st_risk *r, const uint8_t txid[32])
{
	if (st_seen_insert(&r->triggers, txid))
		return ST_RISK_OK;
	r->rejected[ST_RISK_DUPLICATE_TRIGGER]++;
	return ST_RISK_DUPLICATE_TRIGGER;
}

void st_risk_reject(st_risk *r, int reason, uint32_t n)
{
	if (reason > 0 && reason < ST_RISK_REASONS)
		r->rejected[reason] += n;
}

/* The first limit that one order breaks, or ST_RISK_OK. */
static int check_order(const st_risk_limits *l, int64_t quantity, int64_t price)
{
	if (quantity <= 0 || quantity > l->max_quantity)
		return ST_RISK_MAX_QUANTITY;
	if (price > 0) {
		unsigned __int128 notional = (unsigned __int128)(uint64_t)price * (uint64_t)quantity;
		if (notional > l->max_notional)
			return ST_RISK_MAX_NOTIONAL;
	}
	return ST_RISK_OK;
}

static int check_set(st_risk *r, uint32_t n, const int64_t *quantities, const int64_t *prices,
                     uint64_t price_time_ns, uint64_t now_ns)
{
	const st_risk_limits *l = &r->limits;

	if (st_risk_killed(r))
		return ST_RISK_KILLED;
	if (now_ns >= st_risk_armed_until(r))
		return ST_RISK_DISARMED;
	if (now_ns < r->venue_backoff_until_ns)
		return ST_RISK_VENUE_BACKOFF;
	if (!price_time_ns)
		return ST_RISK_NO_PRICE;
	if (now_ns > price_time_ns && now_ns - price_time_ns > l->max_price_age_ns)
		return ST_RISK_STALE_PRICE;
	for (uint32_t i = 0; i < n; i++) {
		int reason = check_order(l, quantities[i], prices[i]);
		if (reason)
			return reason;
	}
	if ((uint64_t)r->open_orders + n > l->max_open_orders)
		return ST_RISK_OPEN_ORDERS;
	/* GCRA: the set passes if its n tokens fit under the burst allowance. */
	uint64_t tat = r->bucket_tat_ns > now_ns ? r->bucket_tat_ns : now_ns;
	uint64_t after = tat + (uint64_t)n * l->interval_ns;
	if (after - now_ns > (uint64_t)l->burst * l->interval_ns)
		return ST_RISK_RATE;
	r->bucket_tat_ns = after;
	return ST_RISK_OK;
}

int st_risk_check(st_risk *r, uint32_t n, const int64_t *quantities, const int64_t *prices,
                  uint64_t price_time_ns, uint64_t now_ns)
{
	int reason = n ? check_set(r, n, quantities, prices, price_time_ns, now_ns)
	               : ST_RISK_OK;
	if (reason) {
		r->rejected[reason] += n;
		return reason;
	}
	r->open_orders += n;
	r->accepted += n;
	return ST_RISK_OK;
}

void st_risk_order_closed(st_risk *r)
{
	if (r->open_orders)
		r->open_orders--;
}

void st_risk_venue_backoff(st_risk *r, uint64_t until_ns)
{
	if (until_ns > r->venue_backoff_until_ns)
		r->venue_backoff_until_ns = until_ns;
}

const char *st_risk_reason_name(int reason)
{
	static const char *const NAMES[ST_RISK_REASONS] = {
		"ok", "killed", "duplicate_trigger", "rate", "venue_backoff", "max_quantity",
		"max_notional", "open_orders", "stale_price", "no_price", "not_ready",
		"journal_full", "send_failed", "disarmed",
	};
	return reason >= 0 && reason < ST_RISK_REASONS ? NAMES[reason] : "unknown";
}

uint64_t st_risk_rejected(const st_risk *r, int reason)
{
	return reason > 0 && reason < ST_RISK_REASONS ? r->rejected[reason] : 0;
}

uint64_t st_risk_accepted(const st_risk *r)
{
	return r->accepted;
}

uint32_t st_risk_open_orders(const st_risk *r)
{
	return r->open_orders;
}
