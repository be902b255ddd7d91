/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what a hostile Bitcoin peer can send. The first byte
 * picks the feed step; the rest goes through the P2P decoder, and every
 * `tx` payload through the transaction parser, txid/wtxid and a strategy
 * match; every `inv` through the inv checks. The input is also parsed as a
 * bare transaction (the seed corpus is real transactions from the block).
 */
#include <stdint.h>
#include <string.h>

#include "st_btc.h"
#include "st_strategy.h"

static uint8_t payload[1 << 20];
static st_strategy_slot slots[64];

static void judge_tx(const st_strategy *s, const uint8_t *data, size_t len)
{
	st_btc_tx tx;
	st_strategy_decision d;
	uint8_t id[32];
	long n = st_btc_tx_parse(&tx, data, len);

	if (n < 0)
		return;
	if ((size_t)n > len || tx.out_end > (size_t)n || tx.lock_off + 4 != (size_t)n)
		__builtin_trap();
	st_btc_txid(&tx, id);
	st_btc_wtxid(&tx, id);
	st_strategy_match(s, &tx, &d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static st_strategy strategy;
	static int ready;
	st_btc_decoder dec;
	const uint8_t seed[16] = {1};

	if (!ready) {
		st_strategy_init(&strategy, slots, 64, seed);
		st_strategy_add_script(&strategy, (const uint8_t *)"\x00\x14xxxxxxxxxxxxxxxxxxxx", 22, 1);
		st_strategy_set_deposit(&strategy, 1, 1, 1);
		st_strategy_set_whale(&strategy, 1000, 2);
		ready = 1;
	}
	if (size < 1)
		return 0;
	size_t step = data[0] & 31 ? (size_t)(data[0] & 31) : size;
	data++;
	size--;
	judge_tx(&strategy, data, size);

	st_btc_decoder_init(&dec, ST_BTC_MAGIC_MAINNET, payload, sizeof(payload));
	for (size_t off = 0; off < size;) {
		size_t chunk = step < size - off ? step : size - off;
		long n = st_btc_recv(&dec, data + off, chunk);
		const char *cmd;
		const uint8_t *p;
		size_t plen, first;
		if (n < 0)
			break;
		off += (size_t)n;
		if (st_btc_message(&dec, &cmd, &p, &plen)) {
			if (!strcmp(cmd, "tx"))
				judge_tx(&strategy, p, plen);
			else if (!strcmp(cmd, "inv") || !strcmp(cmd, "getdata"))
				st_btc_inv_parse(p, plen, &first);
			st_btc_message_done(&dec);
		} else if (n == 0) {
			break;
		}
	}
	return 0;
}
