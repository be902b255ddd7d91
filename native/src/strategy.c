/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "inner.h"
#include "st_strategy.h"

/* Keyed multiply-xor hash over the script (SipHash would be stronger; the
 * secret seed is what keeps chosen scripts from colliding on purpose). */
static uint64_t script_hash(const st_strategy *s, const uint8_t *p, size_t len)
{
	uint64_t h = s->seed[0] ^ (len * 0x9E3779B97F4A7C15ull);
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w ^ s->seed[1]) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	uint64_t tail = 0;
	memcpy(&tail, p + i, len - i);
	h = (h ^ tail ^ s->seed[1]) * 0x94D049BB133111EBull;
	return h ^ (h >> 29);
}

int st_strategy_init(st_strategy *s, st_strategy_slot *slots, uint32_t nslots,
                     const uint8_t seed[16])
{
	if (!nslots || (nslots & (nslots - 1)))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	memcpy(s->seed, seed, 16);
	memset(slots, 0, (size_t)nslots * sizeof(*slots));
	s->slots = slots;
	s->mask = nslots - 1;
	return 0;
}

static st_strategy_slot *find(const st_strategy *s, const uint8_t *script, size_t len)
{
	uint32_t i = (uint32_t)script_hash(s, script, len) & s->mask;

	for (;; i = (i + 1) & s->mask) {
		st_strategy_slot *slot = &s->slots[i];
		if (!slot->len || (slot->len == len && !memcmp(slot->script, script, len)))
			return slot;
	}
}

int st_strategy_add_script(st_strategy *s, const uint8_t *script, size_t len,
                           uint32_t exchange)
{
	if (!len || len > ST_STRATEGY_MAX_SCRIPT || exchange >= ST_STRATEGY_MAX_EXCHANGES)
		return -EINVAL;
	if ((s->count + 1) * 2 > s->mask + 1)
		return -ENOSPC; /* keep at least half the slots empty: probes stay short */
	st_strategy_slot *slot = find(s, script, len);
	if (slot->len)
		return -EEXIST;
	slot->len = (uint8_t)len;
	memcpy(slot->script, script, len);
	slot->exchange = (uint16_t)exchange;
	s->count++;
	return 0;
}

int st_strategy_set_deposit(st_strategy *s, uint32_t exchange, int64_t threshold,
                            int32_t action)
{
	if (exchange >= ST_STRATEGY_MAX_EXCHANGES)
		return -EINVAL;
	s->deposit_threshold[exchange] = threshold;
	s->deposit_action[exchange] = action;
	return 0;
}

void st_strategy_set_whale(st_strategy *s, int64_t threshold, int32_t action)
{
	s->whale_threshold = threshold;
	s->whale_action = action;
}

int st_strategy_lookup(const st_strategy *s, const uint8_t *script, size_t len)
{
	if (!len || len > ST_STRATEGY_MAX_SCRIPT)
		return -1;
	const st_strategy_slot *slot = find(s, script, len);
	return slot->len ? slot->exchange : -1;
}

/* Saturating: consensus-invalid values must not overflow our sums. */
static int64_t add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (b <= 0)
		return a; /* negative values count for nothing */
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

int st_strategy_match(const st_strategy *s, const st_btc_tx *tx, st_strategy_decision *out)
{
	int64_t sums[ST_STRATEGY_MAX_EXCHANGES];
	uint64_t hit = 0; /* bit per exchange paid by this transaction */
	size_t pos = 0, len;
	int64_t value, total = 0;
	const uint8_t *script;

	_Static_assert(ST_STRATEGY_MAX_EXCHANGES <= 64, "one bit per exchange");
	while (st_btc_tx_next_output(tx, &pos, &value, &script, &len)) {
		total = add_sat(total, value);
		if (!s->count || !len || len > ST_STRATEGY_MAX_SCRIPT)
			continue;
		const st_strategy_slot *slot = find(s, script, len);
		if (!slot->len)
			continue;
		uint64_t bit = 1ull << slot->exchange;
		if (!(hit & bit)) {
			hit |= bit;
			sums[slot->exchange] = 0;
		}
		sums[slot->exchange] = add_sat(sums[slot->exchange], value);
	}

	out->action = ST_STRATEGY_NO_ACTION;
	out->exchange = -1;
	out->amount = 0;
	out->total = total;
	for (; hit; hit &= hit - 1) {
		uint32_t ex = (uint32_t)__builtin_ctzll(hit);
		if (s->deposit_action[ex] && sums[ex] >= s->deposit_threshold[ex] &&
		    sums[ex] > out->amount) {
			out->action = s->deposit_action[ex];
			out->exchange = (int32_t)ex;
			out->amount = sums[ex];
		}
	}
	if (out->action == ST_STRATEGY_NO_ACTION && s->whale_action &&
	    total >= s->whale_threshold) {
		out->action = s->whale_action;
		out->amount = total;
	}
	return out->action != ST_STRATEGY_NO_ACTION;
}
