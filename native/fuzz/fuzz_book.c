/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: top-of-book messages as a hostile feed sends them, read
 * through each shape of book schema the venue profiles use (a value at the
 * top level, a level array in an object inside an array, a level array in a
 * nested object, a number in an object inside an array). A message either
 * sets a sane book (bid > 0, bid < ask) or leaves the book as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_desk.h"

static st_desk venue;
static st_journal journal;
static st_conn conn;
static st_conn_pair pair;

struct shape {
	uint8_t depth;
	const char *parent, *bid, *ask;
};

static const struct shape SHAPES[] = {
	{1, "", "b", "a"}, {3, "", "bids", "asks"}, {2, "data", "b", "a"}, {3, "", "bid", "ask"},
};

static st_desk_field field(uint8_t depth, const char *parent, const char *key)
{
	st_desk_field f = {.depth = depth};
	snprintf(f.parent, sizeof(f.parent), "%s", parent);
	snprintf(f.key, sizeof(f.key), "%s", key);
	return f;
}

static void setup(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/fuzz-book-%d.journal", (int)getpid());
	unlink(path);
	if (st_journal_open(&journal, path, 1 << 12))
		abort();
	unlink(path);
	st_conn_pair_init(&pair, &conn, NULL);
	st_desk_schema answers = {.request_id = field(1, "", "id"),
	                           .status = field(1, "", "status")};
	st_risk_limits limits = {.max_quantity = 100, .max_notional = 1000000,
	                         .max_open_orders = 8, .burst = 8, .interval_ns = 1000,
	                         .max_price_age_ns = 1000000000};
	if (st_desk_init(&venue, &answers, 0, &pair, &journal, &limits, 1000000000, 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		setup();
		ready = 1;
	}
	for (size_t i = 0; i < sizeof(SHAPES) / sizeof(SHAPES[0]); i++) {
		const struct shape *s = &SHAPES[i];
		st_desk_book_schema schema = {.bid = field(s->depth, s->parent, s->bid),
		                               .ask = field(s->depth, s->parent, s->ask)};
		if (st_desk_set_book_feed(&venue, &schema, (unsigned)(i * 3), NULL, NULL, 0))
			abort();
		venue.bid = 1;
		venue.ask = 2;
		int rc = st_desk_on_book(&venue, data, size, 7);
		if (rc == 1 ? venue.bid <= 0 || venue.bid >= venue.ask :
		              venue.bid != 1 || venue.ask != 2)
			__builtin_trap();
	}
	return 0;
}
