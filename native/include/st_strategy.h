/* SPDX-License-Identifier: MIT */
/*
 * What a transaction means to us: the exchange script set (every output
 * script of known exchange wallets, P2PKH to P2TR), a whale threshold on the
 * total output value and, per exchange, a deposit threshold on the sum of
 * outputs to its scripts. Tables are built by Python (open addressing with a
 * keyed hash, so chosen scripts cannot pile into one chain) and handed to
 * the hot thread whole; a swap is one atomic pointer store.
 *
 * Matching allocates nothing and makes no system call.
 */
#ifndef ST_STRATEGY_H
#define ST_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "st_btc.h"

/* cdef-begin */
#define ST_STRATEGY_MAX_SCRIPT     40    /* P2TR/P2WSH are 34 bytes */
#define ST_STRATEGY_MAX_EXCHANGES  64
#define ST_STRATEGY_NO_ACTION      0

typedef struct st_strategy_slot {
	uint8_t len;          /* 0: empty */
	uint8_t script[ST_STRATEGY_MAX_SCRIPT];
	uint16_t exchange;
} st_strategy_slot;

typedef struct st_strategy {
	uint64_t seed[2];
	st_strategy_slot *slots;
	uint32_t mask;
	uint32_t count;
	int64_t whale_threshold;
	int32_t whale_action;
	int64_t deposit_threshold[ST_STRATEGY_MAX_EXCHANGES];
	int32_t deposit_action[ST_STRATEGY_MAX_EXCHANGES];
} st_strategy;

/* What a transaction triggered. */
typedef struct st_strategy_decision {
	/* cdef-visible */
	int32_t action;       /* ST_STRATEGY_NO_ACTION when nothing */
	int32_t exchange;     /* deposit: which exchange; whale: -1 */
	int64_t amount;       /* deposit: sats to that exchange; whale: total */
	int64_t total;        /* sum of the transaction's outputs */
} st_strategy_decision;

/*
 * Sets up an empty strategy over nslots caller-owned slots (a power of two;
 * at most half are ever filled). seed keys the hash (16 random bytes).
 * Returns 0 or -EINVAL.
 */
int st_strategy_init(st_strategy *s, st_strategy_slot *slots, uint32_t nslots,
                     const uint8_t seed[16]);

/*
 * Adds one exchange script. Returns 0, -EINVAL (empty or longer than
 * ST_STRATEGY_MAX_SCRIPT, or exchange out of range), -EEXIST (the script is
 * already there) or -ENOSPC (table half full).
 */
int st_strategy_add_script(st_strategy *s, const uint8_t *script, size_t len,
                           uint32_t exchange);

/* Deposit rule for one exchange: sum to its scripts >= threshold -> action. */
int st_strategy_set_deposit(st_strategy *s, uint32_t exchange, int64_t threshold,
                            int32_t action);

/* Whale rule: total output value >= threshold -> action (0 turns it off). */
void st_strategy_set_whale(st_strategy *s, int64_t threshold, int32_t action);

/* The exchange a script belongs to, or -1. */
int st_strategy_lookup(const st_strategy *s, const uint8_t *script, size_t len);

/*
 * Judges one parsed transaction. A deposit (the exchange receiving the most,
 * if several qualify) wins over a whale. Returns 1 with *out filled when an
 * action fires, else 0 (and *out still carries the total).
 */
int st_strategy_match(const st_strategy *s, const st_btc_tx *tx,
                      st_strategy_decision *out);
/* cdef-end */

#endif
