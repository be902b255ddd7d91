/* SPDX-License-Identifier: MIT */
/*
 * A venue's top-of-book stream, read on the hot thread: each message goes
 * through the JSON scanner once, the schema says where its best bid and ask
 * are, and both prices become the desk's (fixed point) or neither does.
 * Nothing is allocated; no library parses the numbers.
 */
#include <errno.h>
#include <string.h>

#include "st_json.h"
#include "st_desk.h"

struct quote {
	const st_desk_book_schema *schema;
	unsigned decimals;
	int bid_seen, ask_seen;    /* the field was there (parsed or not) */
	int bad;                   /* a price that does not parse, or a side given twice */
	int64_t bid, ask;
};

static int field_ok(const st_desk_field *f)
{
	return f->depth >= 1 && f->depth <= ST_JSON_MAX_DEPTH && f->key[0] &&
	       memchr(f->parent, 0, ST_DESK_NAME) && memchr(f->key, 0, ST_DESK_NAME);
}

static int at(const st_desk_field *f, int depth, st_json_span parent, st_json_span key)
{
	return f->depth == depth && st_json_is(key, f->key) && st_json_is(parent, f->parent);
}

/*
 * A positive decimal "8476.98" (string or number) as fixed point with
 * `decimals` places. Digits beyond them must be zeros ("25.35000000" at 2):
 * a price finer than the desk's is refused, not rounded. No sign, no
 * exponent.
 */
static int price_fixed(int type, st_json_span s, unsigned decimals, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, whole = 0;
	unsigned places = 0;

	if (type != ST_JSON_STRING && type != ST_JSON_NUMBER)
		return -1;
	for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++, whole++) {
		if (v > (uint64_t)INT64_MAX / 10 - 9)
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (!whole)
		return -1;
	if (i < s.len && s.p[i] == '.') {
		if (++i == s.len)
			return -1;
		for (; i < s.len && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
			if (places == decimals) {
				if (s.p[i] != '0')
					return -1;
				continue;
			}
			if (v > (uint64_t)INT64_MAX / 10 - 9)
				return -1;
			v = v * 10 + (uint64_t)(s.p[i] - '0');
			places++;
		}
	}
	if (i != s.len)
		return -1;
	for (; places < decimals; places++) {
		if (v > (uint64_t)INT64_MAX / 10)
			return -1;
		v *= 10;
	}
	*out = (int64_t)v;
	return 0;
}

static void side(struct quote *q, int *seen, int64_t *price, int type, st_json_span value)
{
	if (*seen || price_fixed(type, value, q->decimals, price))
		q->bad = 1;
	*seen = 1;
}

static void visit_quote(void *ctx, int depth, st_json_span parent, st_json_span key, int type,
                        st_json_span value)
{
	struct quote *q = ctx;

	if (at(&q->schema->bid, depth, parent, key))
		side(q, &q->bid_seen, &q->bid, type, value);
	if (at(&q->schema->ask, depth, parent, key))
		side(q, &q->ask_seen, &q->ask, type, value);
}

int st_desk_set_book_feed(st_desk *v, const st_desk_book_schema *schema,
                          unsigned price_decimals, st_conn *conn, const void *subscribe,
                          size_t subscribe_len)
{
	if (!schema || !field_ok(&schema->bid) || !field_ok(&schema->ask) || price_decimals > 18 ||
	    subscribe_len > sizeof(v->book_subscribe) || (subscribe_len && !subscribe))
		return -EINVAL;
	v->book_schema = *schema;
	v->book_decimals = price_decimals;
	v->book_conn = conn;
	v->book_opens = 0;
	v->book_subscribe_len = subscribe_len;
	if (subscribe_len)
		memcpy(v->book_subscribe, subscribe, subscribe_len);
	return 0;
}

int st_desk_on_book(st_desk *v, const uint8_t *msg, size_t len, uint64_t now_ns)
{
	struct quote q = {.schema = &v->book_schema, .decimals = v->book_decimals};

	if (!v->book_schema.bid.depth)
		return 0;   /* no book schema set */
	int rc = st_json_scan(msg, len, visit_quote, &q);
	if (!rc && !q.bid_seen && !q.ask_seen)
		return 0;   /* an ack, a heartbeat: not a book message */
	if (rc || q.bad || !q.bid_seen || !q.ask_seen || q.bid <= 0 || q.bid >= q.ask) {
		v->stats.book_dropped++;
		return -EBADMSG;
	}
	st_desk_set_book(v, q.bid, q.ask, now_ns);
	v->stats.book_updates++;
	return 1;
}

void st_desk_get_book(const st_desk *v, int64_t *bid, int64_t *ask, uint64_t *time_ns)
{
	*bid = v->bid;
	*ask = v->ask;
	*time_ns = v->book_time_ns;
}

int st_desk_poll_book(st_desk *v, uint64_t now_ns)
{
	st_conn *c = v->book_conn;
	int handled = 0, opcode;
	long n;

	if (!c)
		return 0;
	if (c->state == ST_CONN_OPEN && c->stats.opens != v->book_opens) {
		/* (re)connected: subscribe once per connection */
		if (!v->book_subscribe_len ||
		    st_conn_send(c, ST_WS_OP_TEXT, v->book_subscribe, v->book_subscribe_len) == 0)
			v->book_opens = c->stats.opens;
	}
	while ((n = st_conn_recv(c, v->msg, sizeof(v->msg), &opcode)) > 0) {
		st_desk_on_book(v, v->msg, (size_t)n, now_ns);
		handled++;
	}
	if (n == -EMSGSIZE) {
		v->stats.book_dropped++;    /* no top of book is this large */
		st_conn_discard(c);
	}
	return handled;
}
