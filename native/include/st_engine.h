/* SPDX-License-Identifier: MIT */
/*
 * The engine: one hot thread runs one loop over the Bitcoin peers and the
 * venue connections. A transaction that fires an action becomes orders in
 * the same pass (mempool hook -> strategy -> risk -> order -> send), with no
 * hand-off; answers are journaled and counted as they arrive.
 *
 * Python talks to it through an SPSC command ring in (strategy swap, risk
 * limits, kill, failover, control messages, stop) and reads the SPSC rings
 * out of the watcher and each venue. Counters, connection and peer states,
 * a heartbeat and per-stage latency histograms live in a shared-memory page
 * another process can map and read.
 */
#ifndef ST_ENGINE_H
#define ST_ENGINE_H

#include <pthread.h>
#include <stdint.h>

#include "st_histogram.h"
#include "st_loop.h"
#include "st_mempool.h"
#include "st_desk.h"

/* cdef-begin */
#define ST_ENGINE_MAX_VENUES    8
#define ST_ENGINE_MAX_ACTIONS   256
#define ST_ENGINE_COMMANDS      256
#define ST_ENGINE_COMMAND_BYTES 2048
#define ST_ENGINE_MAGIC         0x454e494745545453ull   /* "STTEGINE" */
#define ST_ENGINE_VERSION       3

/* Commands. */
#define ST_CMD_STOP             1   /* close venue connections, then end the thread */
#define ST_CMD_KILL             2   /* venue (-1: all), a = 1 kill / 0 allow */
#define ST_CMD_FAILOVER         3   /* venue */
#define ST_CMD_SET_STRATEGY     4   /* ptr: st_strategy * (Python keeps the old one alive) */
#define ST_CMD_SET_LIMITS       5   /* venue, limits */
#define ST_CMD_SEND             6   /* venue, conn (-1 active), data[0..len) */
#define ST_CMD_SET_BOOK         7   /* venue, a = bid, b = ask */
#define ST_CMD_SET_READY        8   /* venue, conn */
#define ST_CMD_CLOCK            9   /* venue, a = offset ms, d = 1 after a -1021 */
#define ST_CMD_RESOLVE          10  /* venue, c = seq, d = status, a = venue order id, b = code */
#define ST_CMD_ARM              11  /* host failover, all venues: a = epoch, b = armed_until_ns */
#define ST_CMD_DISARM           12  /* host failover, all venues */
#define ST_CMD_SEEN             13  /* takeover, all venues: data = txids the old host traded */
#define ST_CMD_SWAP_TEMPLATE    14  /* venue, a = leg: its prepared template goes in */

/* Latency stages (histograms). */
#define ST_STAGE_PARSE          0   /* receive completion reaped -> transaction parsed */
#define ST_STAGE_DECIDE         1   /* parsed -> strategy decided */
#define ST_STAGE_ORDER          2   /* decided -> orders taken by the kernel */
#define ST_STAGE_TRIGGER_SEND   3   /* kernel received -> orders taken (tick to trade) */
#define ST_STAGE_ACK            4   /* order submitted -> venue's answer */
#define ST_STAGE_TRIGGER_ACK    5   /* kernel received -> venue's answer */
#define ST_STAGE_RECEIVE        6   /* kernel received -> its completion reaped */
#define ST_STAGES               7

typedef struct st_engine_command {
	/* cdef-visible */
	uint32_t type;
	int32_t venue;
	int32_t conn;
	uint32_t len;
	int64_t a;
	int64_t b;
	uint64_t c;
	int32_t d;
	st_risk_limits limits;
	void *ptr;
	uint8_t data[2048];       /* ST_ENGINE_COMMAND_BYTES */
} st_engine_command;

/* What another process can read (mapped from a file). */
typedef struct st_engine_shared {
	/* cdef-visible */
	uint64_t magic;
	uint32_t version;
	uint32_t pid;
	uint64_t heartbeat_ns;        /* CLOCK_MONOTONIC of the last publish (each ms) */
	uint64_t publishes;           /* times this page was refreshed */
	uint64_t triggers;            /* actions the watcher fired */
	uint64_t too_few_announcers;  /* triggers below min_announcers: no order */
	uint64_t orders_sent;
	uint64_t acks;
	uint64_t rejects;             /* refused by a venue */
	uint64_t risk_rejects;        /* refused by our risk checks */
	uint64_t unknown;
	uint64_t commands;
	uint64_t bad_commands;
	int32_t running;
	int32_t hot_tid;              /* the engine thread's id (for SCHED_FIFO) */
	int32_t killed;
	int32_t nvenues;
	int32_t npeers;
	/* Array sizes are written out for cffi; engine.c checks them. */
	int32_t conn_state[8][2];     /* [ST_ENGINE_MAX_VENUES][2] */
	int32_t conn_active[8];
	int32_t peer_state[16];       /* ST_MEMPOOL_MAX_PEERS */
	st_histogram stages[7];       /* ST_STAGES */
	/* Host failover, as the engine applied it (CLOCK_MONOTONIC ns). */
	uint64_t epoch;               /* the tenure of the ids in use (0: none yet) */
	uint64_t armed_until_ns;      /* orders pass before this; 0 disarmed; all ones: no [ha] */
	uint64_t armed_since_ns;      /* when the current armed interval began */
	uint64_t disarmed_ns;         /* when the last one ended (a DISARM, or its deadline) */
	int32_t arm_error;            /* why the last ARM was refused (0: it was not) */
	int32_t reserved_ha;
} st_engine_shared;

typedef struct st_engine {
	st_loop *loop;
	st_mempool *pool;
	st_desk *venues[ST_ENGINE_MAX_VENUES];
	uint32_t nvenues;
	uint32_t action_venues[ST_ENGINE_MAX_ACTIONS];   /* bit per venue */
	uint32_t min_announcers;
	st_engine_shared *shared;
	size_t shared_len;
	int shared_fd;
	int cpu;
	volatile int stop;
	int closing;
	uint64_t close_deadline_ns;
	uint64_t next_publish_ns;
	/* SQPOLL: a trigger whose orders wait for the SQ thread to take them
	 * (the SQ ring's head passing sent_tail) before its stages are booked. */
	int sent_pending;
	uint64_t rehearse_every_ns;   /* 0: no rehearsal */
	uint64_t next_rehearsal_ns;
	unsigned sent_tail;
	st_mempool_event sent_event;
	pthread_t thread;
	int thread_started;
	uint32_t cmd_head, cmd_tail;
	st_engine_command commands[ST_ENGINE_COMMANDS];
	st_engine_command scratch;
} st_engine;

/*
 * Sets up an engine over a loop and a watcher (NULL: venues only). Shared
 * state goes to shared_fd, a file open for writing that the caller opened
 * safely (O_NOFOLLOW, in a folder it checked); it is emptied, sized and
 * mapped, and the engine owns it from here (closed by st_engine_exit, or
 * before an error return). -1: private memory. Returns 0 or -errno.
 */
int st_engine_init(st_engine *e, st_loop *loop, st_mempool *pool, int shared_fd);

/* Adds a venue desk; returns its index or -ENOSPC. Before start. */
int st_engine_add_venue(st_engine *e, st_desk *v);

/* Action id -> the venues whose order sets it fires (bit i = venue i). */
int st_engine_route(st_engine *e, int32_t action, uint32_t venue_mask);

/* Triggers announced by fewer peers fire nothing (default 1). */
void st_engine_set_min_announcers(st_engine *e, uint32_t n);

/* Between triggers, every desk rehearses its order (st_desk_rehearse) once
 * per every_us (0: never, the default), so that a trigger after idle finds
 * the order path warm. */
void st_engine_set_rehearsal(st_engine *e, uint32_t every_us);

/* One pass: commands, the loop (waiting up to timeout_ns), answers, shared
 * state. For a caller that drives the engine itself. Returns 1 once a STOP
 * has finished, 0 otherwise, or -errno if the ring failed. */
int st_engine_run_once(st_engine *e, int64_t timeout_ns);

/* Runs passes on a new thread pinned to cpu (-1: not pinned) until STOP.
 * Returns 0 or -errno. */
int st_engine_start(st_engine *e, int cpu);

/* Waits for the thread to end (after a STOP command). */
int st_engine_join(st_engine *e);

/*
 * Queues a command (any one thread may do so). Returns 0, -EAGAIN (the ring
 * is full: try again) or -EINVAL (data too long).
 */
int st_engine_command_post(st_engine *e, const st_engine_command *cmd);

st_engine_shared *st_engine_get_shared(st_engine *e);

/* Unmaps shared state and closes its file (after join). */
void st_engine_exit(st_engine *e);
/* cdef-end */

#endif
