/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "inner.h"
#include "loop_internal.h"
#include "st_mempool.h"

#define MS 1000000ull
#define REQUEST_WAYS 4 /* entries per bucket: collisions evict only when 4 meet */
#define PROTOCOL_VERSION 70016
#define USER_AGENT "/stratum:0.1.0/"

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- seen-set ---------------------------------------------------------------- */

int st_seen_init(st_seen *s, uint8_t (*storage)[32], uint32_t slots, uint64_t seed)
{
	if (slots < 16 || (slots & (slots - 1)))
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	memset(storage, 0, (size_t)3 * slots * 32);
	s->slots = storage;
	s->mask = slots - 1;
	s->seed = seed;
	return 0;
}

static uint8_t (*table(st_seen *s, uint32_t k))[32]
{
	return s->slots + (size_t)(k % 3) * (s->mask + 1);
}

/* Ids are hashes, but chosen ones could be ground to collide: key it. */
static uint32_t slot_of(const st_seen *s, const uint8_t id[32])
{
	uint64_t h;

	memcpy(&h, id + 8, 8);
	h = (h ^ s->seed) * 0x9E3779B97F4A7C15ull;
	return (uint32_t)(h >> 32) & s->mask;
}

static int present(st_seen *s, uint8_t (*t)[32], const uint8_t id[32], uint32_t *free_slot)
{
	for (uint32_t i = slot_of(s, id);; i = (i + 1) & s->mask) {
		static const uint8_t zero[32];
		if (!memcmp(t[i], zero, 32)) {
			*free_slot = i;
			return 0;
		}
		if (!memcmp(t[i], id, 32))
			return 1;
	}
}

int st_seen_contains(st_seen *s, const uint8_t id[32])
{
	uint32_t slot;

	return present(s, table(s, s->active + 2), id, &slot) ||
	       present(s, table(s, s->active), id, &slot);
}

int st_seen_insert(st_seen *s, const uint8_t id[32])
{
	static const uint8_t zero[32];
	uint8_t (*active)[32] = table(s, s->active);
	uint32_t slot;

	if (!memcmp(id, zero, 32))
		return 0; /* the empty marker; never a real id */
	if (present(s, table(s, s->active + 2), id, &slot) || present(s, active, id, &slot))
		return 0;
	memcpy(active[slot], id, 32);
	/* Clear the next table two slots per insert: it is empty by the time
	 * the active one holds half its slots and they rotate. */
	uint8_t (*next)[32] = table(s, s->active + 1);
	for (int k = 0; k < 2 && s->clear_pos <= s->mask; k++)
		memset(next[s->clear_pos++], 0, 32);
	if (++s->count > s->mask / 2) {
		while (s->clear_pos <= s->mask)
			memset(next[s->clear_pos++], 0, 32);
		s->active = (s->active + 1) % 3;
		s->count = 0;
		s->clear_pos = 0;
	}
	return 1;
}

/* ---- the watcher ------------------------------------------------------------------- */

int st_mempool_init(st_mempool *m, uint32_t magic, st_strategy *strategy,
                    uint8_t (*received)[32], uint8_t (*acted)[32],
                    st_mempool_request *requests, uint32_t slots, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->magic = magic;
	m->strategy = strategy;
	m->nonce = seed ^ 0x5354524154554dull;
	int rc = st_seen_init(&m->received, received, slots, seed);
	if (rc)
		return rc;
	if (slots < REQUEST_WAYS)
		return -EINVAL;
	memset(requests, 0, (size_t)slots * sizeof(*requests));
	m->requests = requests;
	m->requests_mask = slots / REQUEST_WAYS - 1;
	return st_seen_init(&m->acted, acted, slots, seed * 31 + 7);
}


/*
 * The live request for id, or NULL. With `create`, a missing one takes a
 * free entry of its bucket, or else the one whose deadline is oldest.
 */
static st_mempool_request *find_request(st_mempool *m, const uint8_t id[32], int create)
{
	uint64_t h;

	memcpy(&h, id + 16, 8);
	h = (h ^ m->received.seed) * 0xBF58476D1CE4E5B9ull;
	st_mempool_request *bucket =
		&m->requests[((uint32_t)(h >> 32) & m->requests_mask) * REQUEST_WAYS];
	st_mempool_request *victim = &bucket[0];
	for (int w = 0; w < REQUEST_WAYS; w++) {
		st_mempool_request *r = &bucket[w];
		if (r->live && !memcmp(r->id, id, 32))
			return r;
		if (victim->live && (!r->live || r->deadline_ns < victim->deadline_ns))
			victim = r;
	}
	if (!create)
		return NULL;
	memcpy(victim->id, id, 32);
	victim->announcers = 0;
	victim->live = 0; /* the caller fills it in */
	return victim;
}

/* Asked of a live peer recently, and not received since? */
static int requested(const st_mempool *m, const st_mempool_request *r, uint64_t now)
{
	if (!r->live || now >= r->deadline_ns)
		return 0;
	const struct st_peer *peer = m->peers[r->peer];
	return peer && peer->state == ST_PEER_OPEN && peer->ep.gen == r->peer_gen;
}


st_strategy *st_mempool_set_strategy(st_mempool *m, st_strategy *strategy)
{
	return __atomic_exchange_n(&m->strategy, strategy, __ATOMIC_ACQ_REL);
}

static void push_event(st_mempool *m, const st_mempool_event *ev)
{
	uint32_t tail = m->ev_tail;

	if (tail - __atomic_load_n(&m->ev_head, __ATOMIC_ACQUIRE) == ST_MEMPOOL_EVENTS) {
		m->stats.events_dropped++;
		return;
	}
	m->events[tail % ST_MEMPOOL_EVENTS] = *ev;
	__atomic_store_n(&m->ev_tail, tail + 1, __ATOMIC_RELEASE);
}

int st_mempool_next_event(st_mempool *m, st_mempool_event *out)
{
	uint32_t head = m->ev_head;

	if (head == __atomic_load_n(&m->ev_tail, __ATOMIC_ACQUIRE))
		return 0;
	*out = m->events[head % ST_MEMPOOL_EVENTS];
	__atomic_store_n(&m->ev_head, head + 1, __ATOMIC_RELEASE);
	return 1;
}

void st_mempool_set_action_hook(st_mempool *m, st_mempool_action_fn fn, void *ctx)
{
	m->on_action = fn;
	m->on_action_ctx = ctx;
}

const st_mempool_stats *st_mempool_get_stats(const st_mempool *m)
{
	return &m->stats;
}

/* ---- a peer ---------------------------------------------------------------------- */

static void peer_complete(st_endpoint *ep, int op, int res, unsigned flags);
static int peer_tick(st_endpoint *ep, uint64_t now);
static uint64_t peer_next_deadline(const st_endpoint *ep);
static void peer_teardown(st_endpoint *ep);

static const st_endpoint_ops PEER_OPS = {
	peer_complete, peer_tick, peer_next_deadline, peer_teardown,
};

int st_peer_init(st_peer *p, st_loop *loop, st_mempool *m, int32_t id, const char *ip,
                 int port, uint8_t *buf, size_t cap)
{
	if (id < 0 || id >= ST_MEMPOOL_MAX_PEERS || m->peers[id])
		return -EINVAL;
	memset(p, 0, offsetof(st_peer, out));
	p->ep.fd = -1;
	p->pool = m;
	p->id = id;
	p->backoff_base_ms = 200;
	p->backoff_max_ms = 30000;
	p->handshake_timeout_ms = 10000;
	st_btc_decoder_init(&p->dec, m->magic, buf, cap);
	int rc = st_endpoint_init(&p->ep, loop, &PEER_OPS, ip, port);
	if (rc == 0)
		m->peers[id] = p;
	return rc;
}

void st_peer_set_backoff(st_peer *p, uint32_t base_ms, uint32_t max_ms)
{
	p->backoff_base_ms = base_ms ? base_ms : 1;
	p->backoff_max_ms = max_ms < p->backoff_base_ms ? p->backoff_base_ms : max_ms;
}

static void peer_event(st_peer *p, int kind, int error)
{
	st_mempool_event ev = {.kind = kind, .peer = p->id, .error = error};

	push_event(p->pool, &ev);
}

static void peer_teardown(st_endpoint *ep)
{
	st_peer *p = (st_peer *)ep;

	st_endpoint_close(ep);
	p->out_len = p->out_sending = 0;
	p->got_version = p->got_verack = p->wtxid_relay = 0;
	st_btc_decoder_init(&p->dec, p->pool->magic, p->dec.buf, p->dec.cap);
}

static int peer_queue(st_peer *p, const char *command, const void *payload, size_t len);
static void peer_flush(st_peer *p);

/* ---- getdata batches and the request sweep --------------------------------- */

#define REQUEST_GIVE_UP_NS (60ull * 1000 * MS)  /* then an id is forgotten */
#define SWEEP_EVERY_NS (500ull * MS)

/* Queues the batch in pool->getdata as one getdata to `to`. With `may_fail`
 * a full queue drops the peer (it does not read); otherwise the batch is
 * just not sent and the next sweep tries again. */
static int batch_flush(st_peer *to, size_t *n, int may_fail)
{
	uint8_t *want = to->pool->getdata;
	size_t count = *n, hdr = count < 0xFD ? 1 : 3;
	uint8_t *start = want + 9 - hdr; /* the CompactSize count, right before the entries */

	*n = 0;
	if (!count)
		return 0;
	if (hdr == 1) {
		start[0] = (uint8_t)count;
	} else {
		start[0] = 0xFD;
		put_le(start + 1, count, 2);
	}
	if (!may_fail && to->out_len + ST_BTC_HEADER_LEN + hdr + count * 36 > sizeof(to->out))
		return 0;
	to->pool->stats.getdata_entries += count;
	return peer_queue(to, "getdata", start, hdr + count * 36) < 0 ? 1 : 0;
}

/* Adds one request to the batch for `to`; sends the batch when full. */
static int batch_add(st_peer *to, size_t *n, st_mempool_request *r, uint64_t now, int may_fail)
{
	uint8_t *w = to->pool->getdata + 9 + *n * 36;

	/* Ask for witness data: MSG_WITNESS_TX for a txid, MSG_WTX as is. */
	put_le(w, r->inv_type == ST_BTC_INV_TX ? ST_BTC_INV_WITNESS_TX : ST_BTC_INV_WTX, 4);
	memcpy(w + 4, r->id, 32);
	r->peer = to->id;
	r->peer_gen = to->ep.gen;
	r->deadline_ns = now + (uint64_t)ST_MEMPOOL_REQUEST_MS * MS;
	return ++*n == ST_PEER_MAX_GETDATA ? batch_flush(to, n, may_fail) : 0;
}

/*
 * Requests that went unanswered (the peer dropped, said notfound, or let the
 * deadline pass) go to another peer that announced the same id, in batches;
 * ids nobody delivers for a minute are forgotten (Bitcoin Core's
 * TxRequestTracker does this, and more).
 */
static void sweep_requests(st_mempool *m, uint64_t now)
{
	m->next_sweep_ns = now + SWEEP_EVERY_NS;
	for (int32_t q = 0; q < ST_MEMPOOL_MAX_PEERS; q++) {
		st_peer *to = m->peers[q];
		size_t n = 0;
		if (!to || to->state != ST_PEER_OPEN)
			continue;
		for (uint32_t i = 0; i < (m->requests_mask + 1) * REQUEST_WAYS; i++) {
			st_mempool_request *r = &m->requests[i];
			if (!r->live)
				continue;
			if (now > r->deadline_ns + REQUEST_GIVE_UP_NS) {
				r->live = 0;
				continue;
			}
			if (requested(m, r, now) || !(r->announcers & (1u << q)) ||
			    (r->peer == q && r->peer_gen == to->ep.gen))
				continue;
			if (batch_add(to, &n, r, now, 0))
				break;
		}
		batch_flush(to, &n, 0);
		peer_flush(to);
	}
}

static void peer_fail(st_peer *p, int err)
{
	int was_open = p->state == ST_PEER_OPEN;

	p->last_error = err;
	p->stats.failures++;
	if (err <= ST_EBTC_BAD_MAGIC && err >= ST_EBTC_HANDSHAKE)
		p->pool->stats.malformed++;
	peer_teardown(&p->ep);
	p->state = ST_PEER_BACKOFF;
	p->deadline_ns = p->ep.loop->now_ns + st_backoff_ns(p->ep.loop, p->backoff_base_ms,
	                                                    p->backoff_max_ms, &p->backoff_attempt);
	if (was_open) {
		peer_event(p, ST_EVENT_PEER_DOWN, err);
		p->pool->next_sweep_ns = 0; /* its requests go to others at the next tick */
	}
}

/* Queues one message; a full queue means the peer does not read: drop it. */
static int peer_queue(st_peer *p, const char *command, const void *payload, size_t len)
{
	size_t n = st_btc_frame(p->out + p->out_len, sizeof(p->out) - p->out_len,
	                        p->pool->magic, command, payload, len);
	if (!n) {
		peer_fail(p, -ENOBUFS);
		return -1;
	}
	p->out_len += n;
	return 0;
}

static void peer_flush(st_peer *p)
{
	if (p->ep.fd >= 0 && !p->ep.send_inflight && p->out_len) {
		p->out_sending = p->out_len;
		st_endpoint_send(&p->ep, p->out, p->out_sending);
	}
}

static void send_version(st_peer *p)
{
	uint8_t v[128];
	size_t n = 0;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	put_le(v + n, PROTOCOL_VERSION, 4), n += 4;
	put_le(v + n, 0, 8), n += 8;                     /* services: none */
	put_le(v + n, (uint64_t)ts.tv_sec, 8), n += 8;
	memset(v + n, 0, 26), n += 26;                   /* addr_recv */
	memset(v + n, 0, 26), n += 26;                   /* addr_from */
	put_le(v + n, p->pool->nonce + (uint64_t)p->id, 8), n += 8;
	v[n++] = sizeof(USER_AGENT) - 1;
	memcpy(v + n, USER_AGENT, sizeof(USER_AGENT) - 1), n += sizeof(USER_AGENT) - 1;
	put_le(v + n, 0, 4), n += 4;                     /* start_height */
	v[n++] = 1;                                      /* relay: send us transactions */
	peer_queue(p, "version", v, n);
}

/* inv -> getdata for what is neither received nor asked of a live peer. */
static int on_inv(st_peer *p, const uint8_t *payload, size_t len)
{
	st_mempool *m = p->pool;
	uint64_t now = p->ep.loop->now_ns;
	size_t first, n_want = 0;
	long n = st_btc_inv_parse(payload, len, &first);

	if (n < 0)
		return (int)n;
	for (long i = 0; i < n; i++) {
		const uint8_t *e = payload + first + (size_t)i * 36;
		uint32_t type = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
		                (uint32_t)e[3] << 24;
		if (type != ST_BTC_INV_TX && type != ST_BTC_INV_WTX)
			continue;
		m->stats.inv_entries++;
		if (st_seen_contains(&m->received, e + 4)) {
			m->stats.inv_duplicates++;
			continue;
		}
		st_mempool_request *r = find_request(m, e + 4, 1);
		if (!r->live) {
			r->deadline_ns = now; /* not asked of anyone yet */
			r->inv_type = (uint8_t)type;
			r->live = 1;
		}
		r->announcers |= (uint16_t)(1u << p->id);
		if (requested(m, r, now)) {
			m->stats.inv_duplicates++;
			continue;
		}
		if (batch_add(p, &n_want, r, now, 1))
			return 1; /* dropped: it does not read what we send */
	}
	return batch_flush(p, &n_want, 1);
}

/* notfound: what this peer was asked and will not deliver goes elsewhere. */
static int on_notfound(st_peer *p, const uint8_t *payload, size_t len)
{
	size_t first;
	long n = st_btc_inv_parse(payload, len, &first);

	if (n < 0)
		return (int)n;
	for (long i = 0; i < n; i++) {
		st_mempool_request *r = find_request(p->pool, payload + first + (size_t)i * 36 + 4, 0);
		if (r && r->peer == p->id) {
			r->announcers &= (uint16_t)~(1u << p->id);
			r->deadline_ns = p->ep.loop->now_ns; /* due now */
		}
	}
	p->pool->next_sweep_ns = 0;
	return 0;
}

/* The live request a delivered transaction answers, if this peer was asked. */
static st_mempool_request *answered(st_peer *p, const uint8_t id[32])
{
	st_mempool_request *r = find_request(p->pool, id, 0);

	return r && r->peer == p->id && r->peer_gen == p->ep.gen ? r : NULL;
}

static int on_tx(st_peer *p, const uint8_t *payload, size_t len)
{
	st_mempool *m = p->pool;
	st_btc_tx tx;
	st_strategy_decision d;
	uint8_t txid[32], wtxid[32];
	long n = st_btc_tx_parse(&tx, payload, len);

	if (n < 0)
		return (int)n;
	if ((size_t)n != len)
		return ST_EBTC_TRAILING;
	/* Only what we asked this peer for, by the id we asked for: a peer cannot
	 * push transactions of its own choosing into the strategy. */
	st_btc_txid(&tx, txid);
	if (tx.segwit)
		st_btc_wtxid(&tx, wtxid);
	else
		memcpy(wtxid, txid, 32);
	uint64_t t_parsed = st_now_ns();
	st_mempool_request *r = answered(p, txid);
	if (!r)
		r = answered(p, wtxid);
	if (!r) {
		m->stats.unrequested++;
		return 0;
	}
	uint16_t announcers = r->announcers;
	r->live = 0;
	if (!st_seen_insert(&m->received, txid)) {
		m->stats.tx_duplicates++;
		return 0;
	}
	st_seen_insert(&m->received, wtxid);
	p->stats.txs++;
	m->stats.txs++;

	const st_strategy *s = __atomic_load_n(&m->strategy, __ATOMIC_ACQUIRE);
	if (!s || !st_strategy_match(s, &tx, &d))
		return 0;
	if (m->ev_tail - __atomic_load_n(&m->ev_head, __ATOMIC_ACQUIRE) == ST_MEMPOOL_EVENTS) {
		m->stats.events_dropped++; /* not marked acted: a later delivery may fire */
		return 0;
	}
	/* Delivered by two peers, a transaction still acts once. */
	if (!st_seen_insert(&m->acted, txid))
		return 0;
	st_mempool_event ev = {.kind = ST_EVENT_ACTION, .peer = p->id, .action = d.action,
	                       .exchange = d.exchange, .amount = d.amount, .total = d.total,
	                       .announcers = __builtin_popcount(announcers),
	                       .t_recv_ns = p->ep.loop->now_ns, .t_parsed_ns = t_parsed,
	                       .t_decided_ns = st_now_ns()};
	memcpy(ev.txid, txid, 32);
	m->stats.actions++;
	if (m->on_action)
		m->on_action(m->on_action_ctx, &ev);
	push_event(m, &ev);
	return 0;
}

/* One whole message. Returns 0, or the error that drops the peer. */
static int on_message(st_peer *p, const char *cmd, const uint8_t *payload, size_t len)
{
	p->stats.messages++;
	if (!strcmp(cmd, "version")) {
		if (p->got_version || len < 4 + 8 + 8 + 26)
			return ST_EBTC_HANDSHAKE;
		p->got_version = 1;
		/* BIP 339 and BIP 155: both before our verack. */
		if (peer_queue(p, "wtxidrelay", NULL, 0) || peer_queue(p, "sendaddrv2", NULL, 0) ||
		    peer_queue(p, "verack", NULL, 0))
			return 1;
		return 0;
	}
	if (!strcmp(cmd, "verack")) {
		if (!p->got_version || p->got_verack)
			return ST_EBTC_HANDSHAKE;
		p->got_verack = 1;
		p->state = ST_PEER_OPEN;
		p->deadline_ns = 0;
		p->backoff_attempt = 0;
		p->stats.handshakes++;
		peer_event(p, ST_EVENT_PEER_UP, 0);
		return 0;
	}
	if (!strcmp(cmd, "wtxidrelay")) {
		if (p->got_verack)
			return ST_EBTC_HANDSHAKE; /* only before verack (BIP 339) */
		p->wtxid_relay = 1;
		return 0;
	}
	if (p->state != ST_PEER_OPEN)
		return 0; /* nothing else counts before the handshake */
	if (!strcmp(cmd, "ping"))
		return len == 8 && peer_queue(p, "pong", payload, 8) ? 1 : 0;
	if (!strcmp(cmd, "inv"))
		return on_inv(p, payload, len);
	if (!strcmp(cmd, "tx"))
		return on_tx(p, payload, len);
	if (!strcmp(cmd, "notfound"))
		return on_notfound(p, payload, len);
	return 0; /* unknown commands are ignored */
}

static void peer_pump(st_peer *p)
{
	const uint8_t *input;
	size_t have;

	while (p->ep.fd >= 0 && (input = st_endpoint_input(&p->ep, &have))) {
		long n = st_btc_recv(&p->dec, input, have);
		const char *cmd;
		const uint8_t *payload;
		size_t len;
		if (n < 0) {
			peer_fail(p, (int)n);
			return;
		}
		st_endpoint_consume(&p->ep, (size_t)n);
		if (st_btc_message(&p->dec, &cmd, &payload, &len)) {
			int rc = on_message(p, cmd, payload, len);
			if (p->ep.fd < 0)
				return; /* dropped while queueing */
			if (rc < 0) {
				peer_fail(p, rc);
				return;
			}
			st_btc_message_done(&p->dec);
		}
	}
	if (p->ep.fd < 0)
		return;
	if (p->ep.eof) {
		peer_fail(p, -ECONNRESET);
		return;
	}
	peer_flush(p);
	if (p->state != ST_PEER_CONNECTING && st_endpoint_recv_wanted(&p->ep))
		st_endpoint_arm_recv(&p->ep);
}

static int peer_connect(st_peer *p)
{
	int rc = st_endpoint_connect(&p->ep);

	if (rc < 0)
		return rc;
	p->state = ST_PEER_CONNECTING;
	p->stats.connects++;
	p->ep.loop->now_ns = st_now_ns();
	p->deadline_ns = p->ep.loop->now_ns + (uint64_t)p->handshake_timeout_ms * MS;
	return 0;
}

int st_peer_open(st_peer *p)
{
	if (p->state != ST_PEER_CLOSED && p->state != ST_PEER_BACKOFF)
		return -EALREADY;
	int rc = peer_connect(p);
	if (rc < 0)
		p->last_error = rc;
	return rc;
}

static void peer_complete(st_endpoint *ep, int op, int res, unsigned flags)
{
	st_peer *p = (st_peer *)ep;

	switch (op) {
	case ST_OP_CONNECT:
		if (res < 0) {
			peer_fail(p, res);
			return;
		}
		p->state = ST_PEER_HANDSHAKE;
		send_version(p);
		break;
	case ST_OP_RECV:
		res = st_endpoint_on_recv(ep, res, flags);
		if (res < 0) {
			peer_fail(p, res);
			return;
		}
		break;
	case ST_OP_SEND:
		ep->send_inflight = 0;
		if (res < 0) {
			peer_fail(p, res);
			return;
		}
		memmove(p->out, p->out + res, p->out_len - (size_t)res);
		p->out_len -= (size_t)res;
		break;
	default:
		return;
	}
	peer_pump(p);
}

static int peer_tick(st_endpoint *ep, uint64_t now)
{
	st_peer *p = (st_peer *)ep;

	if (now >= p->pool->next_sweep_ns)
		sweep_requests(p->pool, now);

	if (p->deadline_ns && now >= p->deadline_ns) {
		p->deadline_ns = 0;
		if (p->state == ST_PEER_BACKOFF) {
			int rc = peer_connect(p);
			if (rc < 0)
				peer_fail(p, rc);
		} else {
			peer_fail(p, -ETIMEDOUT); /* the handshake did not finish */
		}
		return 1;
	}
	if (p->state != ST_PEER_CONNECTING && p->state != ST_PEER_BACKOFF &&
	    st_endpoint_recv_wanted(ep)) {
		st_endpoint_arm_recv(ep);
		return 1;
	}
	return 0;
}

static uint64_t peer_next_deadline(const st_endpoint *ep)
{
	return ((const st_peer *)ep)->deadline_ns;
}

int st_peer_state(const st_peer *p)
{
	return p->state;
}

int st_peer_last_error(const st_peer *p)
{
	return p->last_error;
}

const st_peer_stats *st_peer_get_stats(const st_peer *p)
{
	return &p->stats;
}
