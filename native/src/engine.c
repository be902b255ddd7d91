/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loop_internal.h"
#include "st_engine.h"

_Static_assert(sizeof(((st_engine_shared *)0)->conn_active) / sizeof(int32_t) ==
               ST_ENGINE_MAX_VENUES, "conn_active size");
_Static_assert(sizeof(((st_engine_shared *)0)->peer_state) / sizeof(int32_t) ==
               ST_MEMPOOL_MAX_PEERS, "peer_state size");
_Static_assert(sizeof(((st_engine_shared *)0)->stages) / sizeof(st_histogram) == ST_STAGES,
               "stages size");
_Static_assert(sizeof(((st_engine_command *)0)->data) == ST_ENGINE_COMMAND_BYTES, "data size");
_Static_assert(sizeof(((st_histogram *)0)->buckets) / sizeof(uint64_t) == ST_HIST_BUCKETS,
               "buckets size");

#define CLOSE_GRACE_NS 2000000000ull   /* a STOP waits this long for closes */
#define PUBLISH_EVERY_NS 1000000ull    /* shared state refresh */

static void on_action(void *ctx, st_mempool_event *ev);

int st_engine_init(st_engine *e, st_loop *loop, st_mempool *pool, int shared_fd)
{
	if (!e || !loop) {
		if (shared_fd >= 0)
			close(shared_fd);
		return -EINVAL;
	}
	memset(e, 0, sizeof(*e));
	e->loop = loop;
	e->pool = pool;
	e->min_announcers = 1;
	e->cpu = -1;
	e->shared_fd = shared_fd;
	e->shared_len = (sizeof(st_engine_shared) + 4095) & ~(size_t)4095;
	int flags = MAP_SHARED | MAP_ANONYMOUS;
	if (shared_fd >= 0) {
		/* emptied, then sized: a previous run's counters do not survive */
		if (ftruncate(shared_fd, 0) != 0 ||
		    ftruncate(shared_fd, (off_t)e->shared_len) != 0) {
			int rc = -errno;
			st_engine_exit(e);
			return rc;
		}
		flags = MAP_SHARED;
	}
	void *map = mmap(NULL, e->shared_len, PROT_READ | PROT_WRITE, flags, e->shared_fd, 0);
	if (map == MAP_FAILED) {
		int rc = -errno;
		st_engine_exit(e);
		return rc;
	}
	e->shared = map;
	e->shared->version = ST_ENGINE_VERSION;
	e->shared->pid = (uint32_t)getpid();
	e->shared->armed_until_ns = UINT64_MAX;   /* like st_risk: armed unless [ha] says */
	__atomic_store_n(&e->shared->magic, ST_ENGINE_MAGIC, __ATOMIC_RELEASE);
	if (pool)
		st_mempool_set_action_hook(pool, on_action, e);
	return 0;
}

int st_engine_add_venue(st_engine *e, st_desk *v)
{
	if (e->nvenues == ST_ENGINE_MAX_VENUES || e->thread_started)
		return -ENOSPC;
	v->ack_hist = &e->shared->stages[ST_STAGE_ACK];
	v->trigger_ack_hist = &e->shared->stages[ST_STAGE_TRIGGER_ACK];
	e->venues[e->nvenues] = v;
	e->shared->nvenues = (int32_t)(e->nvenues + 1);
	return (int)e->nvenues++;
}

int st_engine_route(st_engine *e, int32_t action, uint32_t venue_mask)
{
	if (action <= 0 || action >= ST_ENGINE_MAX_ACTIONS ||
	    (e->nvenues < 32 && venue_mask >> e->nvenues))
		return -EINVAL;
	e->action_venues[action] = venue_mask;
	return 0;
}

void st_engine_set_min_announcers(st_engine *e, uint32_t n)
{
	e->min_announcers = n ? n : 1;
}

void st_engine_set_rehearsal(st_engine *e, uint32_t every_us)
{
	e->rehearse_every_ns = (uint64_t)every_us * 1000u;
}

st_engine_shared *st_engine_get_shared(st_engine *e)
{
	return e->shared;
}

/* ---- the trigger: called inside the loop pass that parsed the transaction ---- */

/* Each stage of one trigger; sent_ns: when the kernel had its orders. */
static void book_stages(st_engine *e, const st_mempool_event *ev, uint64_t sent_ns)
{
	st_engine_shared *s = e->shared;

	st_histogram_add(&s->stages[ST_STAGE_RECEIVE], ev->t_reaped_ns - ev->t_recv_ns);
	st_histogram_add(&s->stages[ST_STAGE_PARSE], ev->t_parsed_ns - ev->t_reaped_ns);
	st_histogram_add(&s->stages[ST_STAGE_DECIDE], ev->t_decided_ns - ev->t_parsed_ns);
	st_histogram_add(&s->stages[ST_STAGE_ORDER], sent_ns - ev->t_decided_ns);
	st_histogram_add(&s->stages[ST_STAGE_TRIGGER_SEND], sent_ns - ev->t_recv_ns);
}

static void on_action(void *ctx, st_mempool_event *ev)
{
	st_engine *e = ctx;
	st_engine_shared *s = e->shared;
	uint32_t mask = ev->action > 0 && ev->action < ST_ENGINE_MAX_ACTIONS
		? e->action_venues[ev->action] : 0;

	s->triggers++;
	if ((uint32_t)ev->announcers < e->min_announcers) {
		s->too_few_announcers++;   /* counted here; the event says 0 orders */
		return;
	}
	int sent = 0, refused = 0;
	st_loop_cork(e->loop);   /* every order of this trigger leaves in one submit */
	for (uint32_t i = 0; i < e->nvenues; i++) {
		if (!(mask & (1u << i)))
			continue;
		e->venues[i]->trigger_ns = ev->t_recv_ns;
		int rc = st_desk_fire(e->venues[i], ev->txid, st_now_ns());
		e->venues[i]->trigger_ns = 0;
		if (rc > 0)
			sent += rc;
		else if (rc < 0)
			refused = rc;
	}
	st_loop_uncork(e->loop);
	ev->t_sent_ns = st_now_ns();  /* after the submit: the orders are with the kernel */
	ev->orders = sent ? sent : refused;
	if (!sent)
		return;
	if (e->loop->mode == ST_LOOP_SQPOLL) {
		/* The submit only moved the SQ tail: the SQ thread has yet to take
		 * the orders. Booked once the ring's head has passed them. */
		if (e->sent_pending)
			book_stages(e, &e->sent_event, ev->t_sent_ns);
		e->sent_event = *ev;
		e->sent_tail = e->loop->ring.sq.sqe_tail;
		e->sent_pending = 1;
		return;
	}
	book_stages(e, ev, ev->t_sent_ns);
}

/* SQPOLL: books the pending trigger once the SQ thread has taken its orders. */
static void check_sent(st_engine *e)
{
	if (!e->sent_pending)
		return;
	unsigned head = io_uring_smp_load_acquire(e->loop->ring.sq.khead);
	if ((int)(head - e->sent_tail) < 0)
		return;
	e->sent_pending = 0;
	book_stages(e, &e->sent_event, st_now_ns());
}

/* ---- commands ------------------------------------------------------------------- */

int st_engine_command_post(st_engine *e, const st_engine_command *cmd)
{
	if (cmd->len > ST_ENGINE_COMMAND_BYTES)
		return -EINVAL;
	uint32_t tail = e->cmd_tail;
	if (tail - __atomic_load_n(&e->cmd_head, __ATOMIC_ACQUIRE) == ST_ENGINE_COMMANDS)
		return -EAGAIN;
	st_engine_command *slot = &e->commands[tail % ST_ENGINE_COMMANDS];
	memcpy(slot, cmd, offsetof(st_engine_command, data) + cmd->len);
	__atomic_store_n(&e->cmd_tail, tail + 1, __ATOMIC_RELEASE);
	return 0;
}

static st_desk *venue_of(st_engine *e, int32_t index)
{
	return index >= 0 && (uint32_t)index < e->nvenues ? e->venues[index] : NULL;
}

static void start_stop(st_engine *e)
{
	e->closing = 1;
	e->close_deadline_ns = st_now_ns() + CLOSE_GRACE_NS;
	for (uint32_t i = 0; i < e->nvenues; i++) {
		st_risk_kill(&e->venues[i]->risk, 1);  /* stop triggering first */
		for (int c = 0; c < 2; c++)
			if (e->venues[i]->pair->conns[c])
				st_conn_close(e->venues[i]->pair->conns[c]);
		if (e->venues[i]->book_conn)
			st_conn_close(e->venues[i]->book_conn);
	}
}

/* The kill switch: no new order set passes risk, and nothing still queued in a
 * connection leaves (those orders time out as unknown and are reconciled). */
static void kill_venue(st_desk *v, int killed)
{
	st_risk_kill(&v->risk, killed);
	for (int c = 0; killed && c < 2; c++)
		if (v->pair->conns[c])
			st_conn_drop_queued(v->pair->conns[c]);
}

/* Host failover: no venue passes an order set from now on. */
static void disarm(st_engine *e, uint64_t now)
{
	st_engine_shared *s = e->shared;

	for (uint32_t i = 0; i < e->nvenues; i++)
		st_risk_arm(&e->venues[i]->risk, 0);
	if (s->armed_until_ns)   /* the interval ended now, or at its deadline if earlier */
		s->disarmed_ns = s->armed_until_ns < now ? s->armed_until_ns : now;
	__atomic_store_n(&s->armed_until_ns, 0, __ATOMIC_RELEASE);
}

/* Arms every venue until until_ns for tenure epoch. A new epoch first moves
 * each journal's client ids into the tenure's range; if one cannot, every
 * venue stays disarmed and arm_error says why. */
static int arm(st_engine *e, uint64_t epoch, uint64_t until_ns)
{
	st_engine_shared *s = e->shared;
	uint64_t now = st_now_ns();

	if (epoch == 0)
		return -EINVAL;
	if (epoch != s->epoch) {
		disarm(e, now);
		for (uint32_t i = 0; i < e->nvenues; i++) {
			int rc = st_desk_set_epoch(e->venues[i], epoch, i);
			if (rc) {
				s->arm_error = rc;
				return -EINVAL;
			}
		}
		s->epoch = epoch;
	}
	if (s->armed_until_ns <= now)
		s->armed_since_ns = now;
	for (uint32_t i = 0; i < e->nvenues; i++)
		st_risk_arm(&e->venues[i]->risk, until_ns);
	s->arm_error = 0;
	__atomic_store_n(&s->armed_until_ns, until_ns, __ATOMIC_RELEASE);
	return 0;
}

/* Applies one command; returns 0, or -EINVAL when it names nothing we have. */
static int apply(st_engine *e, const st_engine_command *c)
{
	st_desk *v = venue_of(e, c->venue);

	switch (c->type) {
	case ST_CMD_STOP:
		start_stop(e);
		return 0;
	case ST_CMD_KILL:
		if (c->venue == -1) {
			for (uint32_t i = 0; i < e->nvenues; i++)
				kill_venue(e->venues[i], (int)c->a);
			e->shared->killed = (int32_t)c->a;
			return 0;
		}
		if (!v)
			return -EINVAL;
		kill_venue(v, (int)c->a);
		return 0;
	case ST_CMD_ARM:
		return arm(e, (uint64_t)c->a, (uint64_t)c->b);
	case ST_CMD_DISARM:
		disarm(e, st_now_ns());
		return 0;
	case ST_CMD_SEEN:
		if (c->len % 32)
			return -EINVAL;
		for (uint32_t i = 0; i < e->nvenues; i++)
			for (uint32_t at = 0; at < c->len; at += 32)
				st_seen_insert(&e->venues[i]->risk.triggers, c->data + at);
		return 0;
	case ST_CMD_SET_STRATEGY:
		if (!e->pool)
			return -EINVAL;
		st_mempool_set_strategy(e->pool, c->ptr);
		return 0;
	default:
		break;
	}
	if (!v)
		return -EINVAL;
	switch (c->type) {
	case ST_CMD_FAILOVER:
		return st_conn_pair_failover(v->pair) ? -EINVAL : 0;
	case ST_CMD_SET_LIMITS:
		return st_risk_set_limits(&v->risk, &c->limits);
	case ST_CMD_SEND:
		return st_desk_send_control(v, c->conn, c->data, c->len) ? -EINVAL : 0;
	case ST_CMD_SET_BOOK:
		st_desk_set_book(v, c->a, c->b, st_now_ns());
		return 0;
	case ST_CMD_SET_READY:
		st_desk_set_ready(v, c->conn);
		return 0;
	case ST_CMD_CLOCK:
		if (c->d)
			st_desk_clock_synced(v, c->a, st_now_ns());
		else
			st_desk_set_clock_offset(v, c->a);
		return 0;
	case ST_CMD_SWAP_TEMPLATE:
		return c->a < 0 || c->a > UINT32_MAX ? -EINVAL
		                                      : st_desk_swap_template(v, (unsigned)c->a);
	case ST_CMD_RESOLVE:
		return st_desk_resolve(v, c->c, c->d, (uint64_t)c->a, (int32_t)c->b) ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

static void drain_commands(st_engine *e)
{
	uint32_t tail = __atomic_load_n(&e->cmd_tail, __ATOMIC_ACQUIRE);
	while (e->cmd_head != tail) {
		/* Copied out first: the slot is the poster's again once head moves. */
		const st_engine_command *slot = &e->commands[e->cmd_head % ST_ENGINE_COMMANDS];
		memcpy(&e->scratch, slot, offsetof(st_engine_command, data) + slot->len);
		__atomic_store_n(&e->cmd_head, e->cmd_head + 1, __ATOMIC_RELEASE);
		e->shared->commands++;
		if (apply(e, &e->scratch))
			e->shared->bad_commands++;
	}
}

/* ---- the pass ---------------------------------------------------------------------- */

static void publish(st_engine *e, uint64_t now)
{
	st_engine_shared *s = e->shared;
	uint64_t sent = 0, acks = 0, rejects = 0, unknown = 0, risk = 0;

	for (uint32_t i = 0; i < e->nvenues; i++) {
		const st_desk *v = e->venues[i];
		sent += v->stats.orders_sent;
		acks += v->stats.acks;
		rejects += v->stats.rejects;
		unknown += v->stats.unknown;
		for (int r = 1; r < ST_RISK_REASONS; r++)
			risk += v->risk.rejected[r];
		for (int c = 0; c < 2; c++)
			s->conn_state[i][c] = v->pair->conns[c] ? v->pair->conns[c]->state : -1;
		s->conn_active[i] = v->pair->active;
	}
	if (e->pool) {
		int32_t npeers = 0;
		for (int p = 0; p < ST_MEMPOOL_MAX_PEERS; p++) {
			s->peer_state[p] = e->pool->peers[p] ? e->pool->peers[p]->state : -1;
			if (e->pool->peers[p])
				npeers = p + 1;
		}
		s->npeers = npeers;
	}
	s->orders_sent = sent;
	s->acks = acks;
	s->rejects = rejects;
	s->unknown = unknown;
	s->risk_rejects = risk;
	s->publishes++;
	__atomic_store_n(&s->heartbeat_ns, now, __ATOMIC_RELEASE);
}

static int all_closed(const st_engine *e)
{
	for (uint32_t i = 0; i < e->nvenues; i++) {
		const st_desk *v = e->venues[i];
		for (int c = 0; c < 2; c++) {
			const st_conn *conn = v->pair->conns[c];
			if (conn && conn->state != ST_CONN_CLOSED)
				return 0;
		}
		if (v->book_conn && v->book_conn->state != ST_CONN_CLOSED)
			return 0;
	}
	return 1;
}

int st_engine_run_once(st_engine *e, int64_t timeout_ns)
{
	drain_commands(e);
	int rc = st_loop_run(e->loop, timeout_ns);
	if (rc < 0)
		return rc;
	check_sent(e);
	uint64_t now = st_now_ns();
	for (uint32_t i = 0; i < e->nvenues; i++)
		st_desk_poll(e->venues[i], now);
	if (e->rehearse_every_ns && now >= e->next_rehearsal_ns && !e->closing) {
		for (uint32_t i = 0; i < e->nvenues; i++)
			st_desk_rehearse(e->venues[i]);
		e->next_rehearsal_ns = now + e->rehearse_every_ns;
	}
	/* Shared state is for people and monitors: once a millisecond is plenty, and
	 * a busy loop spinning millions of passes need not rewrite it every time. */
	if (now >= e->next_publish_ns || e->closing) {
		publish(e, now);
		e->next_publish_ns = now + PUBLISH_EVERY_NS;
	}
	if (e->closing && (all_closed(e) || now > e->close_deadline_ns)) {
		for (uint32_t i = 0; i < e->nvenues; i++)
			st_journal_sync(e->venues[i]->journal);
		return 1;
	}
	return 0;
}

static void *engine_main(void *arg)
{
	st_engine *e = arg;
	/* Busy mode spins; the others wait in the kernel, up to 1 ms so that
	 * commands are seen within a millisecond. */
	int64_t wait_ns = e->loop->mode == ST_LOOP_BUSY ? 0 : 1000000;

	if (e->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(e->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	e->shared->hot_tid = (int32_t)gettid();
	__atomic_store_n(&e->shared->running, 1, __ATOMIC_RELEASE);
	while (st_engine_run_once(e, wait_ns) == 0)
		;
	__atomic_store_n(&e->shared->running, 0, __ATOMIC_RELEASE);
	return NULL;
}

int st_engine_start(st_engine *e, int cpu)
{
	if (e->thread_started)
		return -EALREADY;
	e->cpu = cpu;
	int rc = pthread_create(&e->thread, NULL, engine_main, e);
	if (rc)
		return -rc;
	e->thread_started = 1;
	return 0;
}

int st_engine_join(st_engine *e)
{
	if (!e->thread_started)
		return 0;
	int rc = pthread_join(e->thread, NULL);
	e->thread_started = 0;
	return -rc;
}

void st_engine_exit(st_engine *e)
{
	if (e->pool)
		st_mempool_set_action_hook(e->pool, NULL, NULL);
	for (uint32_t i = 0; i < e->nvenues; i++)
		e->venues[i]->ack_hist = e->venues[i]->trigger_ack_hist = NULL;
	if (e->shared)
		munmap(e->shared, e->shared_len);
	if (e->shared_fd >= 0)
		close(e->shared_fd);
	e->shared = NULL;
	e->shared_fd = -1;
}
