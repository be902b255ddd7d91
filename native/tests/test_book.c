/* SPDX-License-Identifier: MIT */
/*
 * The top-of-book reader: prices at a field, or first in a level array, into
 * fixed point; both sides or neither; acks ignored, bad messages dropped and
 * counted; and no allocation per update.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "st_desk.h"
#include "t_util.h"

#include "t_alloc.h"

static st_desk venue;
static st_journal journal;
static st_conn conn;
static st_conn_pair pair;

static st_desk_field field(uint8_t depth, const char *parent, const char *key)
{
	st_desk_field f = {.depth = depth};
	snprintf(f.parent, sizeof(f.parent), "%s", parent);
	snprintf(f.key, sizeof(f.key), "%s", key);
	return f;
}

static int book(const char *msg)
{
	return st_desk_on_book(&venue, (const uint8_t *)msg, strlen(msg), 42);
}

/* A message that sets the book to bid/ask (fixed point). */
static void reads(const char *msg, int64_t bid, int64_t ask)
{
	venue.bid = venue.ask = 0;
	int rc = book(msg);
	T_CHECK(rc == 1 && venue.bid == bid && venue.ask == ask && venue.book_time_ns == 42,
	        "%s: rc %d bid %lld ask %lld", msg, rc, (long long)venue.bid, (long long)venue.ask);
}

/* A message that is dropped, counted, and leaves the book as it was. */
static void drops(const char *msg)
{
	venue.bid = 100;
	venue.ask = 200;
	uint64_t before = venue.stats.book_dropped;
	int rc = book(msg);
	T_CHECK(rc == -EBADMSG && venue.stats.book_dropped == before + 1 && venue.bid == 100 &&
	        venue.ask == 200, "%s: rc %d, bid %lld", msg, rc, (long long)venue.bid);
}

static void set_schema(st_desk_field bid, st_desk_field ask, unsigned decimals)
{
	st_desk_book_schema s = {.bid = bid, .ask = ask};
	T_CHECK(st_desk_set_book_feed(&venue, &s, decimals, NULL, NULL, 0) == 0, "schema");
}

int main(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/test-book-%d.journal", (int)getpid());
	unlink(path);
	T_CHECK(st_journal_open(&journal, path, 1 << 12) == 0, "journal");
	unlink(path);
	st_conn_pair_init(&pair, &conn, NULL);
	st_desk_schema answers = {.request_id = field(1, "", "id"),
	                           .status = field(1, "", "status")};
	st_risk_limits limits = {.max_quantity = 100, .max_notional = 1000000,
	                         .max_open_orders = 8, .burst = 8, .interval_ns = 1000,
	                         .max_price_age_ns = 1000000000};
	T_CHECK(st_desk_init(&venue, &answers, 0, &pair, &journal, &limits, 1000000000, 1) == 0,
	        "venue");

	/* no schema yet: nothing is a book message */
	T_CHECK(book("{\"b\":\"1\",\"a\":\"2\"}") == 0, "a book message without a schema");

	/* a bad schema is refused */
	st_desk_book_schema bad = {.bid = field(1, "", ""), .ask = field(1, "", "a")};
	T_CHECK(st_desk_set_book_feed(&venue, &bad, 2, NULL, NULL, 0) == -EINVAL, "empty key");
	bad.bid = field(0, "", "b");
	T_CHECK(st_desk_set_book_feed(&venue, &bad, 2, NULL, NULL, 0) == -EINVAL, "depth 0");
	bad.bid = field(1, "", "b");
	T_CHECK(st_desk_set_book_feed(&venue, &bad, 19, NULL, NULL, 0) == -EINVAL, "decimals");

	/* values at a field: strings or numbers, extra zeros allowed */
	set_schema(field(1, "", "b"), field(1, "", "a"), 2);
	reads("{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35000000\",\"B\":\"31.21\","
	      "\"a\":\"25.36\",\"A\":\"40.66\"}", 2535, 2536);
	reads("{\"b\":7,\"a\":7.5}", 700, 750);
	drops("{\"b\":\"0\",\"a\":\"0.01\"}");           /* no bid */
	T_CHECK(book("{\"result\":null,\"id\":1}") == 0, "an ack is not a book message");
	T_CHECK(book("{\"x\":{\"b\":\"1\",\"a\":\"2\"}}") == 0, "the same keys deeper are not it");
	drops("{\"b\":\"25.35\"}");                         /* one side only */
	drops("{\"b\":\"25.36\",\"a\":\"25.35\"}");         /* crossed */
	drops("{\"b\":\"25.35\",\"a\":\"25.35\"}");         /* locked */
	drops("{\"b\":\"25.351\",\"a\":\"25.36\"}");        /* finer than the desk's price */
	drops("{\"b\":\"-1\",\"a\":\"25.36\"}");
	drops("{\"b\":\"1e3\",\"a\":\"2e3\"}");
	drops("{\"b\":\"1.\",\"a\":\"2\"}");
	drops("{\"b\":\".5\",\"a\":\"2\"}");
	drops("{\"b\":\"\",\"a\":\"2\"}");
	drops("{\"b\":true,\"a\":\"2\"}");
	drops("{\"b\":\"1\",\"b\":\"1.5\",\"a\":\"2\"}");   /* a side twice */
	drops("{\"b\":\"99999999999999999999\",\"a\":\"2\"}");
	drops("{\"b\":\"1\",\"a\":\"2\""); /* cut short: not JSON */

	/* the first level of a level array, inside an array of objects */
	set_schema(field(3, "", "bids"), field(3, "", "asks"), 2);
	reads("{\"arg\":{\"channel\":\"bbo-tbt\",\"instId\":\"BCH-USDT\"},\"data\":[{\"asks\":"
	      "[[\"8476.98\",\"415\",\"0\",\"13\"]],\"bids\":[[\"8476.97\",\"256\",\"0\",\"12\"]],"
	      "\"ts\":\"1597026383085\"}]}", 847697, 847698);
	reads("{\"data\":[{\"bids\":[[\"2\",\"1\"],[\"1\",\"1\"]],\"asks\":[[\"3\",\"1\"]]}]}",
	      200, 300);
	T_CHECK(book("{\"event\":\"subscribe\",\"arg\":{\"channel\":\"bbo-tbt\"}}") == 0, "ack");
	drops("{\"data\":[{\"bids\":[],\"asks\":[[\"3\",\"1\"]]}]}");  /* an empty side */
	drops("{\"data\":[{\"bids\":[[\"1\",\"2\"]],\"asks\":[[\"3\"]]}],\"x\":[}");

	/* number values in an object inside an array */
	set_schema(field(3, "", "bid"), field(3, "", "ask"), 5);
	reads("{\"channel\":\"ticker\",\"type\":\"update\",\"data\":[{\"symbol\":\"ALGO/USD\","
	      "\"bid\":0.10025,\"bid_qty\":740.0,\"ask\":0.10036,\"ask_qty\":1361.44813783}]}",
	      10025, 10036);
	T_CHECK(book("{\"channel\":\"heartbeat\"}") == 0, "heartbeat");

	/* no allocation per update */
	set_schema(field(2, "data", "b"), field(2, "data", "a"), 2);
	static const char LEVELS[] =
		"{\"topic\":\"orderbook.1.BTCUSDT\",\"type\":\"snapshot\",\"ts\":1672304484978,"
		"\"data\":{\"s\":\"BTCUSDT\",\"b\":[[\"16493.50\",\"0.006\"]],\"a\":[[\"16611.00\","
		"\"0.029\"]],\"u\":18521288,\"seq\":7961638724},\"cts\":1672304484976}";
	reads(LEVELS, 1649350, 1661100);
	T_CHECK(t_alloc_counter_ready(), "allocation counter is blind");
	long before = allocations;
	int applied = 0;
	for (int i = 0; i < 10000; i++)
		applied += book(LEVELS) == 1;
	long during = allocations - before;
	T_CHECK(applied == 10000 && during == 0, "%d applied, %ld allocations", applied, during);
	printf("allocations during 10000 book updates: %ld\n", during);
	st_journal_close(&journal);
	return t_exit_code();
}
