/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <time.h>

#include "st_json.h"
#include "st_desk.h"

#define INFLIGHT_MASK (ST_DESK_INFLIGHT - 1)

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);  /* vDSO: no system call */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ms(void)
{
	return wall_ns() / 1000000;
}

/* ---- set-up ---------------------------------------------------------------- */

static int name_ok(const char *name)
{
	return memchr(name, 0, ST_DESK_NAME) != NULL;
}

static int field_ok(const st_desk_field *f)
{
	return f->depth <= ST_JSON_MAX_DEPTH && name_ok(f->parent) && name_ok(f->key) &&
	       (!f->depth || f->key[0]);
}

static int schema_ok(const st_desk_schema *s)
{
	const st_desk_field *fields[] = {
		&s->request_id, &s->client_id, &s->status, &s->codes[0], &s->codes[1],
		&s->error_text, &s->order_status, &s->order_id, &s->retry_at,
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!field_ok(fields[i]))
			return 0;
	for (size_t i = 0; i < ST_DESK_RULES; i++) {
		const st_desk_rule *r = &s->rules[i];
		if (r->on && ((r->on != ST_DESK_ON_CODE && r->on != ST_DESK_ON_STATUS) ||
		              r->event < ST_VEVENT_REJECTED || r->event > ST_VEVENT_AUTH))
			return 0;
	}
	for (size_t i = 0; i < ST_DESK_TEXT_CODES; i++)
		if (!name_ok(s->text_codes[i].prefix))
			return 0;
	for (size_t i = 0; i < ST_DESK_STATUS_NAMES; i++)
		if (!name_ok(s->statuses[i].name) ||
		    s->statuses[i].status > ST_ORDER_STATUS_NOT_FOUND)
			return 0;
	return s->request_id.depth && s->status.depth;
}

int st_desk_init(st_desk *v, const st_desk_schema *schema, uint16_t index,
                 st_conn_pair *pair, st_journal *journal, const st_risk_limits *limits,
                 uint64_t ack_timeout_ns, uint64_t seed)
{
	if (!v || !schema || !schema_ok(schema) || !pair || !pair->conns[0] || !journal ||
	    !limits || !ack_timeout_ns || limits->max_open_orders > ST_DESK_INFLIGHT)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	int rc = st_risk_init(&v->risk, limits, seed);
	if (rc)
		return rc;
	v->schema = *schema;
	v->index = index;
	v->pair = pair;
	v->journal = journal;
	v->ack_timeout_ns = ack_timeout_ns;
	v->first_seq = v->oldest_seq = journal->next_seq;
	v->conn_state[0] = v->conn_state[1] = ST_CONN_CLOSED;
	return 0;
}

int st_desk_set_epoch(st_desk *v, uint64_t epoch, unsigned lane)
{
	uint64_t before = st_journal_next_seq(v->journal);

	if (v->skip_to > v->oldest_seq && epoch * ST_JOURNAL_EPOCH_IDS >= before)
		return -EBUSY;    /* one jump pending is all check_deadlines keeps */
	int rc = st_journal_set_epoch(v->journal, epoch, lane);
	uint64_t after = st_journal_next_seq(v->journal);
	if (rc || after == before)
		return rc;
	if (after < v->first_seq)
		v->first_seq = after;   /* the journal had taken no id: ours start here */
	/* check_deadlines walks ids one by one: it must not walk the gap */
	if (v->oldest_seq == before) {
		v->oldest_seq = after;
	} else {
		v->skip_from = before;
		v->skip_to = after;
	}
	return 0;
}

int st_desk_set_key(st_desk *v, const void *secret, size_t len)
{
	int rc = st_hmac_sha256_key_init(&v->key, ST_SHA256_AUTO, secret, len);
	v->has_key = rc == 0;
	return rc;
}

int st_desk_add_leg(st_desk *v, const st_desk_leg_spec *spec, const void *message_spec,
                    size_t message_len, const void *payload_spec, size_t payload_len,
                    int sign, unsigned price_decimals, unsigned quantity_decimals)
{
	if (v->nlegs == ST_DESK_MAX_LEGS)
		return -ENOSPC;
	if (!spec || (spec->side != ST_SIDE_BUY && spec->side != ST_SIDE_SELL) ||
	    spec->quantity <= 0 || (spec->has_price && spec->tick <= 0) ||
	    spec->offset_bps <= -10000 || spec->offset_bps >= 10000 ||
	    (sign == ST_ORDER_SIGN_HMAC_HEX && !v->has_key))
		return -EINVAL;
	st_desk_leg *leg = &v->legs[v->nlegs];
	int rc = st_order_template_init(&leg->tmpl, message_spec, message_len, payload_spec,
	                                payload_len, sign, price_decimals, quantity_decimals);
	if (rc)
		return rc;
	if (spec->has_price != !!(leg->tmpl.message.slots_used & (1u << ST_SLOT_PRICE)))
		return -EINVAL;
	leg->spec = *spec;
	return (int)v->nlegs++;
}

int st_desk_prepare_template(st_desk *v, unsigned leg, const void *message_spec,
                             size_t message_len, const void *payload_spec, size_t payload_len,
                             int sign, unsigned price_decimals, unsigned quantity_decimals)
{
	if (leg >= v->nlegs)
		return -EINVAL;
	st_desk_leg *l = &v->legs[leg];
	const st_order_template *now = &l->tmpl;
	if (sign != now->sign || price_decimals != now->price_decimals ||
	    quantity_decimals != now->quantity_decimals)
		return -EINVAL;
	/* Acquire: the hot thread's copy out of the spare is over before we write it. */
	if (__atomic_load_n(&l->spare_full, __ATOMIC_ACQUIRE))
		return -EBUSY;
	int rc = st_order_template_init(&l->spare, message_spec, message_len, payload_spec,
	                                payload_len, sign, price_decimals, quantity_decimals);
	if (rc)
		return rc;
	if (!!(l->spare.message.slots_used & (1u << ST_SLOT_PRICE)) != l->spec.has_price)
		return -EINVAL;
	__atomic_store_n(&l->spare_full, 1, __ATOMIC_RELEASE);
	return 0;
}

int st_desk_swap_template(st_desk *v, unsigned leg)
{
	if (leg >= v->nlegs)
		return -EINVAL;
	st_desk_leg *l = &v->legs[leg];
	if (!__atomic_load_n(&l->spare_full, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	l->tmpl = l->spare;
	__atomic_store_n(&l->spare_full, 0, __ATOMIC_RELEASE);
	return 0;
}

void st_desk_set_book(st_desk *v, int64_t bid, int64_t ask, uint64_t now_ns)
{
	if (bid <= 0 || ask <= 0 || bid > ask)
		return; /* a crossed or empty book is no price */
	v->bid = bid;
	v->ask = ask;
	v->book_time_ns = now_ns;
}

void st_desk_set_ready(st_desk *v, int conn)
{
	if ((conn == 0 || conn == 1) && v->pair->conns[conn])
		v->ready_opens[conn] = v->pair->conns[conn]->stats.opens;
}

void st_desk_set_clock_offset(st_desk *v, int64_t offset_ms)
{
	v->clock_offset_ms = offset_ms;
}

st_risk *st_desk_risk(st_desk *v)
{
	return &v->risk;
}

const st_desk_stats *st_desk_get_stats(const st_desk *v)
{
	return &v->stats;
}

void st_desk_exit(st_desk *v)
{
	st_hmac_sha256_key_wipe(&v->key);
	v->has_key = 0;
}

/* ---- events and inbox ------------------------------------------------------- */

static void emit(st_desk *v, const st_desk_event *e)
{
	uint32_t head = __atomic_load_n(&v->event_head, __ATOMIC_ACQUIRE);
	if (v->event_tail - head >= ST_DESK_EVENTS) {
		v->stats.events_dropped++;
		return;
	}
	v->events[v->event_tail % ST_DESK_EVENTS] = *e;
	__atomic_store_n(&v->event_tail, v->event_tail + 1, __ATOMIC_RELEASE);
}

int st_desk_next_event(st_desk *v, st_desk_event *out)
{
	uint32_t tail = __atomic_load_n(&v->event_tail, __ATOMIC_ACQUIRE);
	if (v->event_head == tail)
		return 0;
	*out = v->events[v->event_head % ST_DESK_EVENTS];
	__atomic_store_n(&v->event_head, v->event_head + 1, __ATOMIC_RELEASE);
	return 1;
}

static void inbox_copy_in(st_desk *v, uint32_t at, const void *src, size_t len)
{
	size_t off = at % ST_DESK_INBOX, first = ST_DESK_INBOX - off;
	if (first > len)
		first = len;
	memcpy(v->inbox + off, src, first);
	memcpy(v->inbox, (const uint8_t *)src + first, len - first);
}

static void inbox_copy_out(const st_desk *v, uint32_t at, void *dst, size_t len)
{
	size_t off = at % ST_DESK_INBOX, first = ST_DESK_INBOX - off;
	if (first > len)
		first = len;
	memcpy(dst, v->inbox + off, first);
	memcpy((uint8_t *)dst + first, v->inbox, len - first);
}

/* Each message: 4 bytes of length, 1 of connection, then the bytes. */
static void inbox_put(st_desk *v, int conn, const uint8_t *msg, size_t len)
{
	uint32_t used = v->inbox_tail - __atomic_load_n(&v->inbox_head, __ATOMIC_ACQUIRE);
	if (len + 5 > ST_DESK_INBOX - used) {
		v->stats.inbox_dropped++;
		return;
	}
	uint8_t hdr[5] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
	                  (uint8_t)(len >> 24), (uint8_t)conn};
	inbox_copy_in(v, v->inbox_tail, hdr, 5);
	inbox_copy_in(v, v->inbox_tail + 5, msg, len);
	__atomic_store_n(&v->inbox_tail, v->inbox_tail + (uint32_t)len + 5, __ATOMIC_RELEASE);
}

long st_desk_next_message(st_desk *v, uint8_t *out, size_t cap, int *conn)
{
	uint8_t hdr[5];
	if (v->inbox_head == __atomic_load_n(&v->inbox_tail, __ATOMIC_ACQUIRE))
		return 0;
	inbox_copy_out(v, v->inbox_head, hdr, 5);
	size_t len = hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 24;
	if (len > cap)
		return -EMSGSIZE;
	inbox_copy_out(v, v->inbox_head + 5, out, len);
	__atomic_store_n(&v->inbox_head, v->inbox_head + (uint32_t)len + 5, __ATOMIC_RELEASE);
	*conn = hdr[4];
	return (long)len;
}

/* ---- firing ----------------------------------------------------------------- */

static int conn_ready(const st_desk *v, int i)
{
	const st_conn *c = v->pair->conns[i];
	return c && c->state == ST_CONN_OPEN && !c->ep.eof && v->ready_opens[i] &&
	       v->ready_opens[i] == c->stats.opens;
}

/* The connection to send on: the active one, else the standby (a failover). */
static int pick_conn(st_desk *v)
{
	int active = v->pair->active;
	if (conn_ready(v, active))
		return active;
	if (conn_ready(v, !active)) {
		v->pair->active = !active;
		v->pair->failovers++;
		return !active;
	}
	return -1;
}

/* The leg's limit price: offset_bps through the book, on the tick. */
static int64_t leg_price(const st_desk *v, const st_desk_leg_spec *s)
{
	if (!s->has_price || !v->book_time_ns)
		return 0;
	if (s->side == ST_SIDE_BUY) {
		__int128 p = (__int128)v->ask * (10000 + s->offset_bps) / 10000;
		return (int64_t)(p / s->tick * s->tick);
	}
	__int128 p = ((__int128)v->bid * (10000 - s->offset_bps) + 9999) / 10000;
	return (int64_t)((p + s->tick - 1) / s->tick * s->tick);
}

static void reject_set(st_desk *v, int reason, uint64_t now_ns)
{
	st_desk_event e = {.type = ST_VEVENT_RISK_REJECT, .code = reason, .time_ns = now_ns};
	emit(v, &e);
}

static void journal_order(st_desk *v, uint16_t type, const st_desk_inflight *o, int32_t code,
                          uint64_t wall)
{
	st_journal_record rec = {
		.type = type, .venue = v->index, .seq = o->seq,
		.time_ns = wall, .price = o->price, .quantity = o->quantity,
		.error_code = code, .leg = o->leg, .side = (uint8_t)v->legs[o->leg].spec.side,
	};
	memcpy(rec.trigger, o->trigger, 32);
	st_journal_append(v->journal, &rec);
}

/* Builds, journals and sends one order; risk has passed it already. */
static void send_order(st_desk *v, int conn, uint8_t leg, int64_t price, int64_t quantity,
                       const uint8_t trigger[32], int retried, uint64_t now_ns)
{
	uint64_t seq = st_journal_take_seq(v->journal);
	uint64_t wall = wall_ns();   /* one clock read: the order's timestamp and its record */
	st_desk_inflight *o = &v->inflight[seq & INFLIGHT_MASK];
	st_order_fields f = {
		.request_id = seq, .client_id = seq,
		.timestamp_ms = (uint64_t)((int64_t)(wall / 1000000) + v->clock_offset_ms),
		.price = price, .quantity = quantity,
	};
	*o = (st_desk_inflight){.seq = seq, .sent_ns = now_ns, .trigger_ns = v->trigger_ns,
	                         .price = price, .quantity = quantity, .leg = leg,
	                         .retried = (uint8_t)retried};
	memcpy(o->trigger, trigger, 32);

	long n = st_order_build(&v->legs[leg].tmpl, &v->key, &f, v->out, sizeof(v->out));
	journal_order(v, ST_JOURNAL_ORDER, o, 0, wall);
	int rc = n < 0 ? (int)n : st_conn_send(v->pair->conns[conn], ST_WS_OP_TEXT, v->out, (size_t)n);
	if (rc) {
		journal_order(v, ST_JOURNAL_SEND_FAILED, o, rc, wall);
		st_risk_order_closed(&v->risk);
		st_risk_reject(&v->risk, ST_RISK_SEND_FAILED, 1);
		st_desk_event e = {.type = ST_VEVENT_RISK_REJECT, .code = ST_RISK_SEND_FAILED,
		                    .leg = leg, .seq = seq, .time_ns = now_ns};
		emit(v, &e);
		return;
	}
	o->busy = 1;
	o->conn = (uint8_t)conn;
	o->conn_opens = v->pair->conns[conn]->stats.opens;
	v->stats.orders_sent++;
	st_desk_event e = {.type = ST_VEVENT_SENT, .leg = leg, .conn = (uint8_t)conn, .seq = seq,
	                    .price = price, .quantity = quantity, .time_ns = now_ns};
	emit(v, &e);
}

/* 1 when an order still waiting for its answer holds a slot the next n
 * orders need (it has waited while ST_DESK_INFLIGHT others came and went). */
static int inflight_taken(const st_desk *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (v->inflight[(v->journal->next_seq + i) & INFLIGHT_MASK].busy)
			return 1;
	return 0;
}

/* Risk, then every order of the set. Returns the number sent or -reason. */
static int send_set(st_desk *v, uint32_t n, const uint8_t *legs, const int64_t *quantities,
                    const uint8_t trigger[32], int retried, uint64_t now_ns)
{
	int64_t prices[ST_DESK_RETRIES > ST_DESK_MAX_LEGS ? ST_DESK_RETRIES : ST_DESK_MAX_LEGS];
	int reason = ST_RISK_OK;

	for (uint32_t i = 0; i < n; i++)
		prices[i] = leg_price(v, &v->legs[legs[i]].spec);
	int conn = pick_conn(v);
	if (st_risk_killed(&v->risk))
		reason = ST_RISK_KILLED;
	else if (conn < 0)
		reason = ST_RISK_NOT_READY;
	else if (st_journal_count(v->journal) + 3 * (uint64_t)n > v->journal->capacity)
		reason = ST_RISK_JOURNAL_FULL;
	else if (inflight_taken(v, n))
		reason = ST_RISK_OPEN_ORDERS;
	if (reason)
		st_risk_reject(&v->risk, reason, n);
	else
		reason = st_risk_check(&v->risk, n, quantities, prices, v->book_time_ns, now_ns);
	if (reason) {
		reject_set(v, reason, now_ns);
		return -reason;
	}
	for (uint32_t i = 0; i < n; i++)
		send_order(v, conn, legs[i], prices[i], quantities[i], trigger, retried, now_ns);
	return (int)n;
}

int st_desk_fire(st_desk *v, const uint8_t txid[32], uint64_t now_ns)
{
	uint8_t legs[ST_DESK_MAX_LEGS];
	int64_t quantities[ST_DESK_MAX_LEGS];

	v->stats.triggers++;
	if (!v->nlegs)
		return 0;
	if (st_risk_killed(&v->risk)) {
		st_risk_reject(&v->risk, ST_RISK_KILLED, v->nlegs);
		reject_set(v, ST_RISK_KILLED, now_ns);
		return -ST_RISK_KILLED;
	}
	int reason = st_risk_claim_trigger(&v->risk, txid);
	if (reason) {
		reject_set(v, reason, now_ns);
		return -reason;
	}
	for (uint32_t i = 0; i < v->nlegs; i++) {
		legs[i] = (uint8_t)i;
		quantities[i] = v->legs[i].spec.quantity;
	}
	return send_set(v, v->nlegs, legs, quantities, txid, 0, now_ns);
}

void st_desk_rehearse(st_desk *v)
{
	int conn = v->pair->active;

	if (!v->nlegs || !conn_ready(v, conn))
		return;   /* no failover for a rehearsal: that is the next order's call */
	uint64_t seq = st_journal_next_seq(v->journal), wall = wall_ns();
	const st_desk_leg *leg = &v->legs[0];
	st_order_fields f = {
		.request_id = seq, .client_id = seq,
		.timestamp_ms = (uint64_t)((int64_t)(wall / 1000000) + v->clock_offset_ms),
		.price = leg_price(v, &leg->spec), .quantity = leg->spec.quantity,
	};
	/* v->out is free between fires: st_conn_send copied or queued the last order. */
	long n = st_order_build(&leg->tmpl, &v->key, &f, v->out, sizeof(v->out));
	if (n > 0)
		st_conn_rehearse(v->pair->conns[conn], v->out, (size_t)n);
	st_journal_touch(v->journal);
}

int st_desk_clock_synced(st_desk *v, int64_t offset_ms, uint64_t now_ns)
{
	uint8_t legs[ST_DESK_RETRIES];
	int64_t quantities[ST_DESK_RETRIES];
	int sent = 0;

	v->clock_offset_ms = offset_ms;
	/* Each retry goes alone: its own trigger, its own risk check. */
	for (uint32_t i = 0; i < v->nretries; i++) {
		legs[0] = v->retries[i].leg;
		quantities[0] = v->retries[i].quantity;
		int rc = send_set(v, 1, legs, quantities, v->retries[i].trigger, 1, now_ns);
		if (rc > 0) {
			sent += rc;
			v->stats.retries++;
		}
	}
	v->nretries = 0;
	return sent;
}

int st_desk_send_control(st_desk *v, int conn, const void *text, size_t len)
{
	if (conn < -1 || conn > 1 || (conn >= 0 && !v->pair->conns[conn]))
		return -EINVAL;
	st_conn *c = v->pair->conns[conn < 0 ? v->pair->active : conn];
	return st_conn_send(c, ST_WS_OP_TEXT, text, len);
}

/* ---- answers ---------------------------------------------------------------- */

/* What one answer says, read through the venue's schema. */
struct answer {
	const st_desk_schema *schema;
	int id_seen;              /* the answer has a request id field, ours or not */
	int has_id;
	int64_t id;
	int has_client_id;
	int64_t client_id;
	int ok;
	int64_t http_status;
	int64_t codes[ST_DESK_CODE_FIELDS];  /* as each code field says */
	int64_t code;
	int order_status;
	int64_t venue_order_id;
	int64_t retry_after_ms;
	st_json_span error;       /* error text */
	st_json_span order_id;    /* the venue's order id, when text */
};

static int at(const st_desk_field *f, int depth, st_json_span parent, st_json_span key)
{
	return f->depth == depth && st_json_is(key, f->key) && st_json_is(parent, f->parent);
}

/* A number, or a string of decimal digits. */
static int as_int(int type, st_json_span value, int64_t *out)
{
	return (type == ST_JSON_NUMBER || type == ST_JSON_STRING) && st_json_int(value, out) == 0;
}

/* The sequence number at the end of a client order id. */
static int client_seq(int type, st_json_span value, int64_t *out)
{
	if (type != ST_JSON_STRING || value.len < ST_ORDER_CLIENT_ID_DIGITS)
		return 0;
	st_json_span digits = {value.p + value.len - ST_ORDER_CLIENT_ID_DIGITS,
	                       ST_ORDER_CLIENT_ID_DIGITS};
	for (size_t i = 0; i < digits.len; i++)
		if (digits.p[i] < '0' || digits.p[i] > '9')
			return 0;
	return st_json_int(digits, out) == 0;
}

static int status_word(const st_desk_schema *s, st_json_span word)
{
	for (size_t i = 0; i < ST_DESK_STATUS_NAMES && s->statuses[i].name[0]; i++)
		if (st_json_is(word, s->statuses[i].name))
			return s->statuses[i].status;
	return ST_ORDER_STATUS_NONE;
}

static void visit_answer(void *ctx, int depth, st_json_span parent, st_json_span key, int type,
                         st_json_span value)
{
	struct answer *a = ctx;
	const st_desk_schema *s = a->schema;
	int64_t n;

	if (at(&s->request_id, depth, parent, key)) {
		a->id_seen = 1;
		if (as_int(type, value, &n) && n >= 0) {
			a->has_id = 1;
			a->id = n;
		}
	}
	if (at(&s->client_id, depth, parent, key) && client_seq(type, value, &n)) {
		a->has_client_id = 1;
		a->client_id = n;
	}
	if (at(&s->status, depth, parent, key)) {
		if (type == ST_JSON_TRUE)
			a->ok = 1;
		else if (as_int(type, value, &n)) {
			a->ok = n == s->ok_value;
			if (s->status_is_http)
				a->http_status = n;
		}
	}
	for (size_t i = 0; i < ST_DESK_CODE_FIELDS; i++)
		if (at(&s->codes[i], depth, parent, key) && as_int(type, value, &n) &&
		    n >= INT32_MIN && n <= INT32_MAX)
			a->codes[i] = n;
	if (at(&s->error_text, depth, parent, key) && type == ST_JSON_STRING)
		a->error = value;
	if (at(&s->order_status, depth, parent, key) && type == ST_JSON_STRING)
		a->order_status = status_word(s, value);
	if (at(&s->order_id, depth, parent, key)) {
		if (type == ST_JSON_STRING)
			a->order_id = value;
		if (as_int(type, value, &n))
			a->venue_order_id = n;
	}
	if (at(&s->retry_at, depth, parent, key) && as_int(type, value, &n))
		a->retry_after_ms = n;
}

static int starts_with(st_json_span s, const char *prefix)
{
	size_t len = strlen(prefix);
	return s.len >= len && memcmp(s.p, prefix, len) == 0;
}

/* The code of a refusal: the answer's own, what its text stands for, or the default. */
static int64_t refusal_code(const st_desk_schema *s, const struct answer *a)
{
	for (size_t i = ST_DESK_CODE_FIELDS; i-- > 0;)
		if (a->codes[i])
			return a->codes[i];
	for (size_t i = 0; a->error.len && i < ST_DESK_TEXT_CODES && s->text_codes[i].prefix[0]; i++)
		if (starts_with(a->error, s->text_codes[i].prefix))
			return s->text_codes[i].code;
	return s->default_code;
}

/* Sorts an answer to an order into its event; fills a->order_status. */
static uint32_t classify(const st_desk *v, struct answer *a)
{
	const st_desk_schema *s = &v->schema;
	uint32_t event = ST_VEVENT_REJECTED;

	if (!s->status_is_http)
		a->http_status = a->ok ? 200 : 400;
	if (a->ok) {
		if (a->order_status == ST_ORDER_STATUS_NONE)
			a->order_status = ST_ORDER_STATUS_ACCEPTED;
		return ST_VEVENT_ACK;
	}
	a->code = refusal_code(s, a);
	for (size_t i = 0; i < ST_DESK_RULES && s->rules[i].on; i++) {
		const st_desk_rule *r = &s->rules[i];
		if (r->value == (r->on == ST_DESK_ON_CODE ? a->code : a->http_status)) {
			event = r->event;
			break;
		}
	}
	a->order_status = event == ST_VEVENT_UNKNOWN ? ST_ORDER_STATUS_UNKNOWN
	                                             : ST_ORDER_STATUS_REJECTED;
	return event;
}

static int is_final(const st_desk *v, const st_desk_inflight *o, int status)
{
	switch (status) {
	case ST_ORDER_STATUS_FILLED:
	case ST_ORDER_STATUS_CANCELED:
	case ST_ORDER_STATUS_REJECTED:
	case ST_ORDER_STATUS_EXPIRED:
	case ST_ORDER_STATUS_NOT_FOUND:
		return 1;
	case ST_ORDER_STATUS_ACCEPTED:
		return !v->legs[o->leg].spec.rests; /* IOC / market: done once accepted */
	default:
		return 0;
	}
}

static void backoff(st_desk *v, const struct answer *a, uint64_t now_ns)
{
	int64_t wait_ms = ST_DESK_DEFAULT_BACKOFF_MS;
	if (a->retry_after_ms > 0) {
		wait_ms = a->retry_after_ms - ((int64_t)wall_ms() + v->clock_offset_ms);
		if (wait_ms < 0)
			wait_ms = 0;
	}
	st_risk_venue_backoff(&v->risk, now_ns + (uint64_t)wait_ms * 1000000);
	v->stats.rate_limited++;
}

static void on_order_answer(st_desk *v, st_desk_inflight *o, struct answer *a, int conn,
                            uint64_t now_ns)
{
	uint32_t event = classify(v, a);
	st_journal_record rec = {
		.type = ST_JOURNAL_ACK, .venue = v->index, .seq = o->seq,
		.time_ns = wall_ns(), .price = o->price, .quantity = o->quantity,
		.venue_order_id = (uint64_t)a->venue_order_id, .http_status = (int32_t)a->http_status,
		.error_code = (int32_t)a->code, .order_status = (uint8_t)a->order_status,
		.leg = o->leg, .side = (uint8_t)v->legs[o->leg].spec.side,
	};
	memcpy(rec.trigger, o->trigger, 32);
	st_json_span detail = a->order_id.len ? a->order_id : a->error;
	if (detail.len)
		memcpy(rec.detail, detail.p, detail.len < sizeof(rec.detail) - 1
		                                 ? detail.len : sizeof(rec.detail) - 1);
	st_journal_append(v->journal, &rec);

	st_desk_event e = {
		.type = event, .code = (int32_t)a->code, .http_status = (int32_t)a->http_status,
		.order_status = (uint8_t)a->order_status, .leg = o->leg, .conn = (uint8_t)conn,
		.seq = o->seq, .venue_order_id = (uint64_t)a->venue_order_id, .price = o->price,
		.quantity = o->quantity, .latency_ns = now_ns - o->sent_ns,
		.retry_at_ms = (uint64_t)a->retry_after_ms, .time_ns = now_ns,
	};
	emit(v, &e);
	if (v->ack_hist && o->trigger_ns) {
		st_histogram_add(v->ack_hist, e.latency_ns);
		st_histogram_add(v->trigger_ack_hist, now_ns - o->trigger_ns);
	}

	switch (event) {
	case ST_VEVENT_ACK: v->stats.acks++; break;
	case ST_VEVENT_UNKNOWN: v->stats.unknown++; break;
	case ST_VEVENT_RATE_LIMIT: backoff(v, a, now_ns); break;
	case ST_VEVENT_CLOCK:
		v->stats.clock_resyncs++;
		if (!(o->retried & 1) && v->nretries < ST_DESK_RETRIES) {
			st_desk_retry *r = &v->retries[v->nretries++];
			r->leg = o->leg;
			r->quantity = o->quantity;
			memcpy(r->trigger, o->trigger, 32);
		}
		break;
	default: break;
	}
	if (event != ST_VEVENT_ACK && event != ST_VEVENT_UNKNOWN)
		v->stats.rejects++;
	if (is_final(v, o, a->order_status))
		st_risk_order_closed(&v->risk);
	o->busy = 0;
}

void st_desk_on_message(st_desk *v, int conn, const uint8_t *msg, size_t len, uint64_t now_ns)
{
	struct answer a = {.schema = &v->schema};
	if (!len) {
		v->stats.bad_messages++; /* nothing to hand on */
		return;
	}
	int rc = st_json_scan(msg, len, visit_answer, &a);
	if (rc) {
		v->stats.bad_messages++;
		inbox_put(v, conn, msg, len);
		return;
	}
	if (!a.id_seen && a.has_client_id) {
		a.has_id = 1;
		a.id = a.client_id;
	}
	if (a.has_id) {
		st_desk_inflight *o = &v->inflight[(uint64_t)a.id & INFLIGHT_MASK];
		if (o->busy && o->seq == (uint64_t)a.id) {
			on_order_answer(v, o, &a, conn, now_ns);
			return;
		}
		if ((uint64_t)a.id >= v->oldest_seq && (uint64_t)a.id < v->journal->next_seq)
			v->stats.unmatched++; /* one of ours, answered twice or after resolve */
	}
	inbox_put(v, conn, msg, len);
}

/* Orders whose answer is late, or whose connection dropped, become unknown. */
static void check_deadlines(st_desk *v, uint64_t now_ns)
{
	while (v->oldest_seq < v->journal->next_seq) {
		st_desk_inflight *o = &v->inflight[v->oldest_seq & INFLIGHT_MASK];
		if (o->busy && o->seq == v->oldest_seq && o->sent_ns + v->ack_timeout_ns > now_ns) {
			const st_conn *c = v->pair->conns[o->conn];
			if (c->state == ST_CONN_OPEN && !c->ep.eof && c->stats.opens == o->conn_opens)
				return; /* still waiting, in time, on the connection it left by */
		}
		if (o->busy && o->seq == v->oldest_seq) {
			journal_order(v, ST_JOURNAL_TIMEOUT, o, 0, wall_ns());
			v->stats.unknown++;
			st_desk_event e = {.type = ST_VEVENT_UNKNOWN, .order_status = ST_ORDER_STATUS_UNKNOWN,
			                    .leg = o->leg, .seq = o->seq, .price = o->price,
			                    .quantity = o->quantity, .latency_ns = now_ns - o->sent_ns,
			                    .time_ns = now_ns};
			emit(v, &e);
			o->busy = 0; /* stays open in risk until resolved */
		}
		if (++v->oldest_seq == v->skip_from)
			v->oldest_seq = v->skip_to;
	}
}

int st_desk_poll(st_desk *v, uint64_t now_ns)
{
	int handled = 0, opcode;

	for (int i = 0; i < 2; i++) {
		st_conn *c = v->pair->conns[i];
		if (!c)
			continue;
		if (c->state != v->conn_state[i]) {
			v->conn_state[i] = c->state;
			st_desk_event e = {.type = ST_VEVENT_CONN, .code = c->state,
			                    .http_status = c->last_error, .conn = (uint8_t)i,
			                    .time_ns = now_ns};
			emit(v, &e);
		}
		long n;
		while ((n = st_conn_recv(c, v->msg, sizeof(v->msg), &opcode)) > 0) {
			st_desk_on_message(v, i, v->msg, (size_t)n, now_ns);
			handled++;
		}
		if (n == -EMSGSIZE) {
			/* Larger than any answer we expect: the connection is not sane.
			 * The message goes too, or every poll would fail the connection
			 * again and push its reconnect back. */
			v->stats.bad_messages++;
			st_conn_discard(c);
			st_conn_abort(c, -EMSGSIZE);
		}
	}
	handled += st_desk_poll_book(v, now_ns);
	check_deadlines(v, now_ns);
	return handled;
}

int st_desk_resolve(st_desk *v, uint64_t seq, int order_status, uint64_t venue_order_id,
                    int32_t error_code)
{
	if (order_status < ST_ORDER_STATUS_NONE || order_status > ST_ORDER_STATUS_NOT_FOUND)
		return -EINVAL;
	st_journal_record rec = {
		.type = ST_JOURNAL_RESOLVED, .venue = v->index, .seq = seq,
		.time_ns = wall_ns(), .venue_order_id = venue_order_id,
		.http_status = 200, .error_code = error_code, .order_status = (uint8_t)order_status,
	};
	int rc = st_journal_append(v->journal, &rec);
	/* Orders of an earlier process were never counted open in this one. */
	if (rc == 0 && seq >= v->first_seq && order_status != ST_ORDER_STATUS_NEW &&
	    order_status != ST_ORDER_STATUS_PARTIAL)
		st_risk_order_closed(&v->risk);
	return rc;
}
