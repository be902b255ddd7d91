/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: venue answers as a hostile server sends them. Each input
 * goes through the JSON scanner (every reported span must lie inside the
 * input) and then through the answer reader of a venue whose schema is the
 * file ST_FUZZ_SCHEMA names (a venue profile's st_desk_schema, as
 * tools/fuzz_schemas.py writes it), with orders 0..7 in flight so that ids
 * in the input can match them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_json.h"
#include "st_desk.h"

static const uint8_t *input;
static size_t input_len;

static void inside(st_json_span s)
{
	if (s.len && (s.p < input || s.p + s.len > input + input_len))
		__builtin_trap();
}

static void check_spans(void *ctx, int depth, st_json_span parent, st_json_span key, int type,
                        st_json_span value)
{
	(void)ctx;
	if (depth < 1 || depth > ST_JSON_MAX_DEPTH || type < ST_JSON_STRING || type > ST_JSON_NULL)
		__builtin_trap();
	inside(parent);
	inside(key);
	inside(value);
}

static st_desk venue;
static st_journal journal;
static st_conn conn;
static st_conn_pair pair;

static void load_schema(st_desk_schema *schema)
{
	const char *path = getenv("ST_FUZZ_SCHEMA");
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f) {
		fprintf(stderr, "fuzz_answer: ST_FUZZ_SCHEMA must name a schema file "
		                "(tools/fuzz_schemas.py writes them)\n");
		abort();
	}
	size_t n = fread(schema, 1, sizeof(*schema), f);
	int extra = fgetc(f) != EOF;
	fclose(f);
	if (n != sizeof(*schema) || extra) {
		fprintf(stderr, "fuzz_answer: %s is not an st_desk_schema of %zu bytes\n", path,
		        sizeof(*schema));
		abort();
	}
}

static void setup(void)
{
	char path[64];
	st_desk_schema schema;
	snprintf(path, sizeof(path), "/tmp/fuzz-answer-%d.journal", (int)getpid());
	unlink(path);
	if (st_journal_open(&journal, path, 1 << 16))
		abort();
	unlink(path); /* the mapping stays; nothing is left behind */
	st_conn_pair_init(&pair, &conn, NULL);
	st_risk_limits limits = {.max_quantity = 100, .max_notional = 1000000,
	                         .max_open_orders = 64, .burst = 8, .interval_ns = 1000,
	                         .max_price_age_ns = 1000000000};
	static const char TEMPLATE[] = "{\"q\":\0\5}";
	st_desk_leg_spec leg = {.side = ST_SIDE_BUY, .quantity = 1};
	load_schema(&schema);
	if (st_desk_init(&venue, &schema, 0, &pair, &journal, &limits, 1000000000, 1) ||
	    st_desk_add_leg(&venue, &leg, TEMPLATE, sizeof(TEMPLATE) - 1, NULL, 0,
	                    ST_ORDER_SIGN_NONE, 2, 8) < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static uint8_t out[ST_DESK_MAX_MESSAGE];

	if (!ready) {
		setup();
		ready = 1;
	}
	input = data;
	input_len = size;
	(void)st_json_scan(data, size, check_spans, NULL);

	if (journal.count > journal.capacity - 64)
		journal.count = 0; /* keep appending: a long run would fill it */
	st_desk *v = &venue;
	for (uint64_t i = 0; i < 8; i++)
		v->inflight[i] = (st_desk_inflight){.seq = i, .busy = 1, .sent_ns = 1};
	st_desk_on_message(v, 0, data, size, 2);
	st_desk_event e;
	int conn_index;
	while (st_desk_next_event(v, &e))
		if (e.leg >= v->nlegs || e.type < ST_VEVENT_SENT || e.type > ST_VEVENT_CONN)
			__builtin_trap();
	long n;
	while ((n = st_desk_next_message(v, out, sizeof(out), &conn_index)) > 0)
		if ((size_t)n != size || memcmp(out, data, size))
			__builtin_trap();
	v->nretries = 0;
	return 0;
}
