/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "inner.h"
#include "loop_internal.h"
#include "st_mempool.h"

#define MS 1000000ull
#define REQUEST_WAYS 16 /* entries per bucket: a bucket full of requests in flight is rare */
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
                    st_mempool_request *requests, uint32_t request_slots, uint32_t slots,
                    uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	m->magic = magic;
	m->strategy = strategy;
	m->nonce = seed ^ 0x5354524154554dull;
	int rc = st_seen_init(&m->received, received, slots, seed);
	if (rc)
		return rc;
	if (request_slots < REQUEST_WAYS || (request_slots & (request_slots - 1)))
		return -EINVAL;
	memset(requests, 0, (size_t)request_slots * sizeof(*requests));
	m->requests = requests;
	m->requests_mask = request_slots / REQUEST_WAYS - 1;
	return st_seen_init(&m->acted, acted, slots, seed * 31 + 7);
}


/* Asked of a live peer recently (or queued for it), and not received since? */
static int requested(const st_mempool *m, const st_mempool_request *r, uint64_t now)
{
	if (!r->live || now >= r->deadline_ns)
		return 0;
	const struct st_peer *peer = m->peers[r->peer];
	return peer && peer->state == ST_PEER_OPEN && peer->ep.gen == r->peer_gen;
}

static st_mempool_request *bucket_of(const st_mempool *m, const uint8_t id[32])
{
	uint64_t h;

	memcpy(&h, id + 16, 8);
	h = (h ^ m->received.seed) * 0xBF58476D1CE4E5B9ull;
	return &m->requests[((uint32_t)(h >> 32) & m->requests_mask) * REQUEST_WAYS];
}

/* The live request for id, or NULL. */
static st_mempool_request *find_request(st_mempool *m, const uint8_t id[32])
{
	st_mempool_request *bucket = bucket_of(m, id);

	for (int w = 0; w < REQUEST_WAYS; w++)
		if (bucket[w].live && !memcmp(bucket[w].id, id, 32))
			return &bucket[w];
	return NULL;
}

/*
 * A fresh request for id (not live yet: the caller fills it in): a free entry
 * of its bucket, or else the stalest one not in flight. NULL when all of them
 * are in flight: evicting one would drop the transaction its peer is about
 * to deliver, so the caller waits until one answers or its deadline passes.
 */
static st_mempool_request *claim_request(st_mempool *m, const uint8_t id[32], uint64_t now)
{
	st_mempool_request *bucket = bucket_of(m, id), *victim = NULL;

	for (int w = 0; w < REQUEST_WAYS; w++) {
		st_mempool_request *r = &bucket[w];
		if (!r->live) {
			victim = r;
			break;
		}
		if (!requested(m, r, now) && (!victim || r->deadline_ns < victim->deadline_ns))
			victim = r;
	}
	if (!victim)
		return NULL;
	memcpy(victim->id, id, 32);
	victim->announcers = 0;
	victim->queued = 0;
	victim->live = 0;
	return victim;
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

#define REQUEST_GIVE_UP_NS (60ull * 1000 * MS)  /* then an id is forgotten */
#define SWEEP_EVERY_NS (500ull * MS)
#define OUT_RESERVE 1024 /* out-queue room getdata leaves for pings, pongs */
#define PEER_HOLD 2      /* on_message: the message waits, unread, for room */

static void peer_complete(st_endpoint *ep, int op, int res, unsigned flags);
static int peer_tick(st_endpoint *ep, uint64_t now);
static uint64_t peer_next_deadline(const st_endpoint *ep);
static void peer_teardown(st_endpoint *ep);
static void peer_pump(st_peer *p);

static const st_endpoint_ops PEER_OPS = {
	peer_complete, peer_tick, peer_next_deadline, peer_teardown,
};

void st_peer_default_policy(st_peer_policy *out)
{
	*out = (st_peer_policy){
		.backoff_base_ms = 200, .backoff_max_ms = 30000, .handshake_timeout_ms = 10000,
		.good_after_ms = 60000, .ping_interval_ms = 30000, .ping_timeout_ms = 60000,
		.idle_timeout_ms = 600000, .park_score = 100, .park_ms = 600000,
		.park_max_ms = 86400000, .penalty_malformed = 50, .penalty_unresponsive = 20,
		.penalty_idle = 10, .penalty_network = 0,
	};
}

int st_peer_set_policy(st_peer *p, const st_peer_policy *policy)
{
	if (!policy->handshake_timeout_ms || (policy->ping_interval_ms && !policy->ping_timeout_ms))
		return -EINVAL;
	p->policy = *policy;
	st_peer_set_backoff(p, policy->backoff_base_ms, policy->backoff_max_ms);
	if (p->policy.park_max_ms < p->policy.park_ms)
		p->policy.park_max_ms = p->policy.park_ms;
	return 0;
}

int st_peer_init(st_peer *p, st_loop *loop, st_mempool *m, int32_t id, const char *ip,
                 int port, uint8_t *buf, size_t cap)
{
	if (id < 0 || id >= ST_MEMPOOL_MAX_PEERS || m->peers[id])
		return -EINVAL;
	memset(p, 0, offsetof(st_peer, out));
	p->ep.fd = -1;
	p->pool = m;
	p->id = id;
	st_peer_default_policy(&p->policy);
	st_btc_decoder_init(&p->dec, m->magic, buf, cap);
	int rc = st_endpoint_init(&p->ep, loop, &PEER_OPS, ip, port);
	p->ep.rx_stamp = 1; /* a trigger's clock starts when the kernel took its packet */
	if (rc == 0)
		m->peers[id] = p;
	return rc;
}

void st_peer_set_backoff(st_peer *p, uint32_t base_ms, uint32_t max_ms)
{
	p->policy.backoff_base_ms = base_ms ? base_ms : 1;
	p->policy.backoff_max_ms = max_ms < p->policy.backoff_base_ms ? p->policy.backoff_base_ms
	                                                              : max_ms;
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
	p->got_version = p->got_verack = p->wtxid_relay = p->held = 0;
	p->pend_head = p->pend_count = 0; /* requests of a closed connection: swept to others */
	p->good_at_ns = p->ping_at_ns = p->ping_nonce = p->idle_at_ns = 0;
	st_btc_decoder_init(&p->dec, p->pool->magic, p->dec.buf, p->dec.cap);
}

static int peer_queue(st_peer *p, const char *command, const void *payload, size_t len);
static void peer_flush(st_peer *p);

/* ---- pending requests, getdata, and the request sweep --------------------- */

static void pending_push(st_peer *p, uint32_t type, const uint8_t id[32])
{
	uint8_t *e = p->pending[(p->pend_head + p->pend_count) % ST_PEER_PENDING];

	put_le(e, type, 4);
	memcpy(e + 4, id, 32);
	p->pend_count++;
}

/* Queues the entries in pool->getdata as one getdata (the caller checked the room). */
static void getdata_send(st_peer *p, size_t count)
{
	uint8_t *start = p->pool->getdata + 9 - (count < 0xFD ? 1 : 3); /* CompactSize, then entries */

	if (!count)
		return;
	if (count < 0xFD) {
		start[0] = (uint8_t)count;
	} else {
		start[0] = 0xFD;
		put_le(start + 1, count, 2);
	}
	p->pool->stats.getdata_entries += count;
	p->stats.getdata_entries += count;
	peer_queue(p, "getdata", start, (size_t)(p->pool->getdata + 9 - start) + count * 36);
}

/*
 * What the head of the pending ring asks for: 1 with r set (send it), 0 when
 * it is not needed any more (received, or asked of another live peer), -1 when
 * it must wait (every request slot of its bucket is in flight).
 */
static int pending_take(st_peer *p, const uint8_t *e, uint64_t now, st_mempool_request **out)
{
	st_mempool *m = p->pool;
	const uint8_t *id = e + 4;
	st_mempool_request *r;

	if (st_seen_contains(&m->received, id)) {
		m->stats.inv_duplicates++; /* received while it waited */
		return 0;
	}
	r = find_request(m, id);
	if (r) {
		r->announcers |= (uint16_t)(1u << p->id);
		int mine = r->peer == p->id && r->peer_gen == p->ep.gen;
		if (requested(m, r, now) && !(mine && r->queued)) {
			m->stats.inv_duplicates++; /* asked of another peer while it waited */
			return 0;
		}
	} else {
		r = claim_request(m, id, now);
		if (!r) {
			m->stats.requests_full++;
			return -1;
		}
		r->inv_type = e[0]; /* ST_BTC_INV_TX or ST_BTC_INV_WTX */
		r->announcers = (uint16_t)(1u << p->id);
		r->live = 1;
	}
	*out = r;
	return 1;
}

/*
 * Moves pending requests into the out-queue as getdata batches, in the order
 * they were announced, while they fit (leaving room for pings and pongs). The
 * rest goes as the peer reads what we sent; then an inv held for room is read.
 */
static void peer_drain(st_peer *p)
{
	st_mempool *m = p->pool;
	uint64_t now = p->ep.loop->now_ns;
	size_t n = 0;

	while (p->pend_count && p->state == ST_PEER_OPEN) {
		if (n == ST_PEER_MAX_GETDATA) {
			getdata_send(p, n);
			n = 0;
		}
		if (p->out_len + OUT_RESERVE + ST_BTC_HEADER_LEN + 3 + (n + 1) * 36 > sizeof(p->out))
			break;
		const uint8_t *e = p->pending[p->pend_head];
		st_mempool_request *r = NULL;
		int take = pending_take(p, e, now, &r);
		if (take < 0)
			break; /* the next drain (a send done, the sweep) tries again */
		if (take) {
			uint8_t *w = m->getdata + 9 + n++ * 36;
			/* Ask for witness data: MSG_WITNESS_TX for a txid, MSG_WTX as is. */
			put_le(w, r->inv_type == ST_BTC_INV_TX ? ST_BTC_INV_WITNESS_TX : ST_BTC_INV_WTX, 4);
			memcpy(w + 4, r->id, 32);
			r->peer = p->id;
			r->peer_gen = p->ep.gen;
			r->deadline_ns = now + (uint64_t)ST_MEMPOOL_REQUEST_MS * MS;
			r->queued = 0;
		}
		p->pend_head = (p->pend_head + 1) % ST_PEER_PENDING;
		p->pend_count--;
	}
	getdata_send(p, n);
	p->stats.pending = p->pend_count;
	peer_flush(p);
}

/*
 * Requests that went unanswered (the peer dropped, said notfound, or let the
 * deadline pass) are queued for another peer that announced the same id;
 * ids nobody delivers for a minute are forgotten (Bitcoin Core's
 * TxRequestTracker does this, and more). Every open peer's ring is drained.
 */
static void sweep_requests(st_mempool *m, uint64_t now)
{
	m->next_sweep_ns = now + SWEEP_EVERY_NS;
	for (int32_t q = 0; q < ST_MEMPOOL_MAX_PEERS; q++) {
		st_peer *to = m->peers[q];
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
			if (to->pend_count == ST_PEER_PENDING)
				break;
			/* Queued for `to`: no other sweep re-asks it while it waits. */
			r->peer = q;
			r->peer_gen = to->ep.gen;
			r->deadline_ns = now + (uint64_t)ST_MEMPOOL_REQUEST_MS * MS;
			r->queued = 1;
			pending_push(to, r->inv_type, r->id);
		}
		peer_drain(to);
		if (to->held && to->state == ST_PEER_OPEN)
			peer_pump(to);
	}
}

/* ---- misbehaviour, backoff, parking ------------------------------------------- */

static int malformed(int err)
{
	return err <= ST_EBTC_BAD_MAGIC && err >= ST_EBTC_HANDSHAKE;
}

static uint32_t penalty_of(const st_peer_policy *pol, int err)
{
	if (malformed(err))
		return pol->penalty_malformed;
	if (err == ST_EBTC_PING_TIMEOUT || err == -ETIMEDOUT || err == -ENOBUFS)
		return pol->penalty_unresponsive;
	if (err == ST_EBTC_IDLE)
		return pol->penalty_idle;
	return pol->penalty_network;
}

/* Open and behaved long enough, or delivered what it was asked for. */
static void peer_behaved(st_peer *p)
{
	p->good_at_ns = 0;
	p->backoff_attempt = 0;
	p->stats.backoff_attempt = 0;
}

static void peer_fail(st_peer *p, int err)
{
	const st_peer_policy *pol = &p->policy;
	int was_open = p->state == ST_PEER_OPEN;
	uint64_t now = p->ep.loop->now_ns;

	p->last_error = err;
	p->stats.failures++;
	if (malformed(err))
		p->pool->stats.malformed++;
	peer_teardown(&p->ep);
	p->stats.score += penalty_of(pol, err);
	p->stats.pending = 0;
	if (pol->park_score && p->stats.score >= pol->park_score) {
		uint64_t park = pol->park_ms;
		for (uint64_t k = 0; k < p->stats.parks && park < pol->park_max_ms; k++)
			park *= 2;
		if (park > pol->park_max_ms)
			park = pol->park_max_ms;
		p->stats.parks++;
		p->stats.score = 0;
		p->state = ST_PEER_PARKED;
		p->deadline_ns = p->stats.parked_until_ns = now + park * MS;
	} else {
		p->state = ST_PEER_BACKOFF;
		p->deadline_ns = now + st_backoff_ns(p->ep.loop, pol->backoff_base_ms,
		                                     pol->backoff_max_ms, &p->backoff_attempt);
	}
	p->stats.backoff_attempt = p->backoff_attempt;
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

/* Something useful came: the idle timer starts over. */
static void peer_useful(st_peer *p)
{
	if (p->policy.idle_timeout_ms)
		p->idle_at_ns = p->ep.loop->now_ns + (uint64_t)p->policy.idle_timeout_ms * MS;
}

/*
 * inv -> pending requests for what is neither received nor asked of a live
 * peer; they go out as the out-queue drains. An inv whose entries do not fit
 * in the ring waits, unread, until they do.
 */
static int on_inv(st_peer *p, const uint8_t *payload, size_t len)
{
	st_mempool *m = p->pool;
	uint64_t now = p->ep.loop->now_ns;
	size_t first;
	long n = st_btc_inv_parse(payload, len, &first);
	int useful = 0;

	if (n < 0)
		return (int)n;
	if ((size_t)n > ST_PEER_PENDING - p->pend_count)
		return PEER_HOLD;
	p->stats.messages++;
	for (long i = 0; i < n; i++) {
		const uint8_t *e = payload + first + (size_t)i * 36;
		uint32_t type = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
		                (uint32_t)e[3] << 24;
		if (type != ST_BTC_INV_TX && type != ST_BTC_INV_WTX)
			continue;
		useful = 1;
		m->stats.inv_entries++;
		if (st_seen_contains(&m->received, e + 4)) {
			m->stats.inv_duplicates++;
			continue;
		}
		st_mempool_request *r = find_request(m, e + 4);
		if (r) {
			r->announcers |= (uint16_t)(1u << p->id);
			if (requested(m, r, now)) {
				m->stats.inv_duplicates++;
				continue;
			}
		}
		pending_push(p, type, e + 4);
	}
	if (useful)
		peer_useful(p);
	peer_drain(p);
	return p->ep.fd < 0 ? 1 : 0;
}

/* notfound: what this peer was asked and will not deliver goes elsewhere. */
static int on_notfound(st_peer *p, const uint8_t *payload, size_t len)
{
	size_t first;
	long n = st_btc_inv_parse(payload, len, &first);

	if (n < 0)
		return (int)n;
	for (long i = 0; i < n; i++) {
		st_mempool_request *r = find_request(p->pool, payload + first + (size_t)i * 36 + 4);
		if (r && r->peer == p->id) {
			r->announcers &= (uint16_t)~(1u << p->id);
			r->deadline_ns = p->ep.loop->now_ns; /* due now */
		}
	}
	p->stats.notfound += (uint64_t)n;
	p->pool->next_sweep_ns = 0;
	return 0;
}

/* The live request a delivered transaction answers, if this peer was asked. */
static st_mempool_request *answered(st_peer *p, const uint8_t id[32])
{
	st_mempool_request *r = find_request(p->pool, id);

	return r && r->peer == p->id && r->peer_gen == p->ep.gen && !r->queued ? r : NULL;
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
	 * push transactions of its own choosing into the strategy. The payload is
	 * the whole transaction, so the framing's checksum hash is its wtxid (and
	 * its txid without witness): not hashed a second time. */
	memcpy(wtxid, st_btc_message_digest(&p->dec), 32);
	if (tx.segwit)
		st_btc_txid(&tx, txid);
	else
		memcpy(txid, wtxid, 32);
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
	peer_useful(p);
	if (p->good_at_ns)
		peer_behaved(p); /* it delivers what it announced */
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
	                       .t_recv_ns = p->ep.loop->now_ns, .t_reaped_ns = p->ep.loop->now_ns,
	                       .t_parsed_ns = t_parsed, .t_decided_ns = st_now_ns()};
	if (p->ep.rx_kernel_ns) {
		ev.t_recv_ns = st_realtime_to_mono(p->ep.rx_kernel_ns);
		ev.t_reaped_ns = p->ep.rx_reaped_ns;
	}
	memcpy(ev.txid, txid, 32);
	m->stats.actions++;
	if (m->on_action)
		m->on_action(m->on_action_ctx, &ev);
	push_event(m, &ev);
	return 0;
}

static void peer_opened(st_peer *p)
{
	const st_peer_policy *pol = &p->policy;
	uint64_t now = p->ep.loop->now_ns;

	p->state = ST_PEER_OPEN;
	p->deadline_ns = 0;
	p->stats.parked_until_ns = 0;
	/* Backoff starts over only once the peer has behaved for a while. */
	p->good_at_ns = now + (uint64_t)pol->good_after_ms * MS;
	p->ping_nonce = 0;
	p->ping_at_ns = pol->ping_interval_ms ? now + (uint64_t)pol->ping_interval_ms * MS : 0;
	peer_useful(p);
	p->stats.handshakes++;
	peer_event(p, ST_EVENT_PEER_UP, 0);
}

/* One whole message. Returns 0, PEER_HOLD, or the error that drops the peer. */
static int on_message(st_peer *p, const char *cmd, const uint8_t *payload, size_t len)
{
	if (!strcmp(cmd, "inv") && p->state == ST_PEER_OPEN)
		return on_inv(p, payload, len); /* counted once read, not while held */
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
		peer_opened(p);
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
	if (!strcmp(cmd, "pong")) {
		uint64_t nonce = 0;
		if (len == 8)
			memcpy(&nonce, payload, 8); /* both sides little-endian */
		if (p->ping_nonce && nonce == p->ping_nonce) {
			p->ping_nonce = 0;
			p->stats.pongs++;
			p->ping_at_ns = p->ep.loop->now_ns + (uint64_t)p->policy.ping_interval_ms * MS;
		}
		return 0; /* a stale or unknown nonce: ignored, as Bitcoin Core does */
	}
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

	p->held = 0;
	while (p->ep.fd >= 0) {
		const char *cmd;
		const uint8_t *payload;
		size_t len;
		if (st_btc_message(&p->dec, &cmd, &payload, &len)) {
			int rc = on_message(p, cmd, payload, len);
			if (p->ep.fd < 0)
				return; /* dropped while queueing */
			if (rc == PEER_HOLD) {
				p->held = 1; /* read again as the ring drains; TCP pushes back */
				peer_flush(p);
				return;
			}
			if (rc < 0) {
				peer_fail(p, rc);
				return;
			}
			st_btc_message_done(&p->dec);
			continue;
		}
		if (!(input = st_endpoint_input(&p->ep, &have)))
			break;
		long n = st_btc_recv(&p->dec, input, have);
		if (n < 0) {
			peer_fail(p, (int)n);
			return;
		}
		st_endpoint_consume(&p->ep, (size_t)n);
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
	p->stats.parked_until_ns = 0;
	p->ep.loop->now_ns = st_now_ns();
	p->deadline_ns = p->ep.loop->now_ns + (uint64_t)p->policy.handshake_timeout_ms * MS;
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
		if (p->held)
			return; /* the input waits for room in the ring */
		break;
	case ST_OP_SEND:
		ep->send_inflight = 0;
		if (res < 0) {
			peer_fail(p, res);
			return;
		}
		memmove(p->out, p->out + res, p->out_len - (size_t)res);
		p->out_len -= (size_t)res;
		peer_drain(p); /* room for more of what it announced */
		if (p->ep.fd < 0)
			return;
		break;
	default:
		return;
	}
	peer_pump(p);
}

/* Pings on a timer; a pong late, or nothing useful for too long, drops it. */
static int peer_liveness(st_peer *p, uint64_t now)
{
	if (p->good_at_ns && now >= p->good_at_ns)
		peer_behaved(p);
	if (p->idle_at_ns && now >= p->idle_at_ns) {
		peer_fail(p, ST_EBTC_IDLE);
		return 1;
	}
	if (!p->ping_at_ns || now < p->ping_at_ns)
		return 0;
	if (p->ping_nonce) {
		peer_fail(p, ST_EBTC_PING_TIMEOUT);
		return 1;
	}
	uint8_t nonce[8];
	p->ping_nonce = (p->pool->nonce ^ (now * 0x9E3779B97F4A7C15ull)) | 1;
	put_le(nonce, p->ping_nonce, 8);
	if (peer_queue(p, "ping", nonce, 8))
		return 1;
	p->stats.pings++;
	p->ping_at_ns = now + (uint64_t)p->policy.ping_timeout_ms * MS;
	peer_flush(p);
	return 1;
}

static int peer_tick(st_endpoint *ep, uint64_t now)
{
	st_peer *p = (st_peer *)ep;

	if (now >= p->pool->next_sweep_ns)
		sweep_requests(p->pool, now);

	if (p->deadline_ns && now >= p->deadline_ns) {
		p->deadline_ns = 0;
		if (p->state == ST_PEER_BACKOFF || p->state == ST_PEER_PARKED) {
			int rc = peer_connect(p);
			if (rc < 0)
				peer_fail(p, rc);
		} else {
			peer_fail(p, -ETIMEDOUT); /* the handshake did not finish */
		}
		return 1;
	}
	if (p->state == ST_PEER_OPEN && peer_liveness(p, now))
		return 1;
	if (p->state != ST_PEER_CONNECTING && p->state != ST_PEER_BACKOFF &&
	    p->state != ST_PEER_PARKED && !p->held && st_endpoint_recv_wanted(ep)) {
		st_endpoint_arm_recv(ep);
		return 1;
	}
	return 0;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a || (b && b < a) ? b : a;
}

static uint64_t peer_next_deadline(const st_endpoint *ep)
{
	const st_peer *p = (const st_peer *)ep;
	uint64_t d = p->deadline_ns;

	if (p->state == ST_PEER_OPEN) {
		d = earliest(d, p->good_at_ns);
		d = earliest(d, p->ping_at_ns);
		d = earliest(d, p->idle_at_ns);
		if (p->pend_count || p->held)
			d = earliest(d, p->pool->next_sweep_ns); /* it drains there too */
	}
	return d;
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
