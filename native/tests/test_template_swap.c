/* SPDX-License-Identifier: MIT */
/*
 * A leg's template replaced while the hot thread fires (a venue whose orders
 * carry a token gets a new token on each reconnect): st_desk_prepare_template
 * compiles into the leg's spare on one thread, st_desk_swap_template copies
 * it in on the hot one. Checked: what does not fit the leg is refused, a
 * second prepare waits for the swap (-EBUSY), a swap with nothing prepared is
 * -EAGAIN, the swap allocates nothing, and with both threads racing every
 * order the hot thread builds carries one whole token, never a mix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "st_conn.h"
#include "st_journal.h"
#include "st_desk.h"
#include "t_alloc.h"
#include "t_util.h"

#define SWAPS 2000
#define DEADLINE_S 60

/* Two tokens of the same length, as Kraken's are: a torn copy would mix them. */
static const char OLD[] = "{\"req_id\":\0\1,\"price\":\0\4,\"qty\":\0\5,\"cl\":\"st\0\2\","
                          "\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
static const char NEW[] = "{\"req_id\":\0\1,\"price\":\0\4,\"qty\":\0\5,\"cl\":\"st\0\2\","
                          "\"token\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"}";
static const char NO_PRICE[] = "{\"req_id\":\0\1,\"qty\":\0\5,\"token\":\"C\"}";
static const st_desk_schema SCHEMA = {
	.request_id = {.depth = 1, .key = "req_id"}, .status = {.depth = 1, .key = "success"},
};

static st_conn conn;          /* never opened: building needs no connection */
static st_conn_pair pair;
static st_journal journal;
static st_desk venue;
static volatile int done;

static long build(uint8_t *out, size_t cap)
{
	st_order_fields f = {.request_id = 7, .client_id = 7, .price = 5200000,
	                     .quantity = 1000000};
	return st_order_build(&venue.legs[0].tmpl, &venue.key, &f, out, cap);
}

/* 'A' or 'B' for a whole token, 0 for anything else. */
static char token_of(const uint8_t *msg, long n)
{
	const uint8_t *at = memmem(msg, (size_t)n, "\"token\":\"", 9);
	if (!at)
		return 0;
	at += 9;
	for (int i = 1; i < 40; i++)
		if (at[i] != at[0])
			return 0;
	return at[0] == 'A' || at[0] == 'B' ? (char)at[0] : 0;
}

static int prepare(const char *spec, size_t len)
{
	return st_desk_prepare_template(&venue, 0, spec, len, NULL, 0, ST_ORDER_SIGN_NONE, 2, 8);
}

/* The slow side: a new template as soon as the last one went in. */
static void *preparer(void *arg)
{
	(void)arg;
	for (int i = 0; i < SWAPS; i++) {
		const char *spec = i % 2 ? OLD : NEW;
		int rc;
		while ((rc = prepare(spec, sizeof(OLD) - 1)) == -EBUSY)
			sched_yield();
		if (rc != 0) {
			fprintf(stderr, "prepare failed: %d\n", rc);
			break;
		}
	}
	done = 1;
	return NULL;
}

static void on_deadline(int sig)
{
	static const char msg[] = "test_template_swap: hung\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) { /* nothing more to do */ }
	_exit(T_EXIT_FAIL);
}

int main(void)
{
	char dir[] = "/tmp/st-template-swap-XXXXXX", path[600];
	uint8_t out[ST_ORDER_MAX_TEXT + 256];

	signal(SIGALRM, on_deadline);
	alarm(DEADLINE_S);
	T_CHECK(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/journal", dir);
	T_CHECK(st_journal_open(&journal, path, 100) == 0, "journal");
	st_conn_pair_init(&pair, &conn, NULL);
	st_risk_limits limits = {
		.max_quantity = 1000000000, .max_notional = UINT64_MAX / 2, .max_open_orders = 10,
		.burst = 10, .interval_ns = 1, .max_price_age_ns = UINT64_MAX / 4,
	};
	T_CHECK(st_desk_init(&venue, &SCHEMA, 0, &pair, &journal, &limits, 1000000000ull, 1) == 0,
	        "venue init");
	st_desk_leg_spec leg = {.side = ST_SIDE_BUY, .quantity = 1000000, .tick = 1,
	                         .has_price = 1};
	T_CHECK(st_desk_add_leg(&venue, &leg, OLD, sizeof(OLD) - 1, NULL, 0, ST_ORDER_SIGN_NONE,
	                        2, 8) == 0, "leg");
	if (t_failures)
		return t_exit_code();

	/* What does not fit the leg. */
	T_CHECK(st_desk_prepare_template(&venue, 1, NEW, sizeof(NEW) - 1, NULL, 0,
	                                 ST_ORDER_SIGN_NONE, 2, 8) == -EINVAL, "no leg 1");
	T_CHECK(st_desk_prepare_template(&venue, 0, NEW, sizeof(NEW) - 1, NULL, 0,
	                                 ST_ORDER_SIGN_NONE, 3, 8) == -EINVAL, "other decimals");
	T_CHECK(prepare(NO_PRICE, sizeof(NO_PRICE) - 1) == -EINVAL, "a priced leg without price");
	T_CHECK(st_desk_swap_template(&venue, 0) == -EAGAIN, "nothing prepared, nothing swapped");
	T_CHECK(token_of(out, build(out, sizeof(out))) == 'A', "the old template still in place");

	/* One swap, by hand, counted. */
	T_CHECK(prepare(NEW, sizeof(NEW) - 1) == 0, "prepare");
	T_CHECK(prepare(OLD, sizeof(OLD) - 1) == -EBUSY, "a second prepare before the swap");
	T_CHECK(token_of(out, build(out, sizeof(out))) == 'A', "prepared is not yet in use");
	T_CHECK(t_alloc_counter_ready(), "allocation counter is blind");
	long before = allocations;
	T_CHECK(st_desk_swap_template(&venue, 0) == 0, "swap");
	long n = build(out, sizeof(out));
	T_CHECK(allocations == before, "swap + build allocated %ld times", allocations - before);
	T_CHECK(token_of(out, n) == 'B', "the new template in use: %.*s", (int)n, out);
	T_CHECK(st_desk_swap_template(&venue, 0) == -EAGAIN, "swapped once only");

	/* Both threads at once: every order whole. */
	pthread_t thread;
	long orders = 0, torn = 0, swaps = 0;
	T_CHECK(pthread_create(&thread, NULL, preparer, NULL) == 0, "thread");
	while (!done || venue.legs[0].spare_full) {
		if (st_desk_swap_template(&venue, 0) == 0)
			swaps++;
		n = build(out, sizeof(out));
		orders++;
		if (!token_of(out, n))
			torn++;
	}
	pthread_join(thread, NULL);
	T_CHECK(swaps == SWAPS, "%ld swaps of %d", swaps, SWAPS);
	T_CHECK(torn == 0, "%ld of %ld orders carried a torn token", torn, orders);
	T_CHECK(token_of(out, build(out, sizeof(out))) == 'A', "the last one prepared is in use");

	st_journal_close(&journal);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0) { /* a temp dir left behind */ }
	return t_exit_code();
}
