/* SPDX-License-Identifier: MIT */
/*
 * The io_uring event loop: one ring per hot thread, sockets as fixed files,
 * a provided buffer ring feeding multishot receives, sends, and deadlines
 * (handshake, ping, reconnect) checked every iteration and honoured by the
 * wait. Three modes chosen at start:
 *   ST_LOOP_INTERRUPT  wait in the kernel for completions
 *   ST_LOOP_BUSY       spin on the completion queue; completion work is
 *                      run when the kernel flags it (COOP_TASKRUN), not by
 *                      an interrupt
 *   ST_LOOP_SQPOLL     a kernel thread, pinned to a chosen core, polls the
 *                      submission queue (sends leave with no system call)
 *                      and runs the completion work; we wait in the kernel
 *                      for completions. Measured best with the thread on the
 *                      caller's own core (docs/ARCHITECTURE.md §0).
 * After start-up the loop makes no system call but the ring's own
 * (io_uring_enter, and not even that in SQPOLL mode while the kernel thread
 * is awake); connection set-up and teardown (socket, close) are the exception.
 */
#ifndef ST_LOOP_H
#define ST_LOOP_H

#include <liburing.h>
#include <stdint.h>
#include <sys/socket.h>

#include "st_error.h"
#include "st_random.h"

/* cdef-begin */
#define ST_LOOP_INTERRUPT   0
#define ST_LOOP_BUSY        1
#define ST_LOOP_SQPOLL      2

#define ST_LOOP_MAX_CONNS   16
/* Each endpoint receives into its own group of provided buffers, so one
 * that is flooded and not read cannot take the buffers of the others. */
#define ST_LOOP_GROUP_BUFS  8       /* per endpoint (a power of 2) */
#define ST_LOOP_NBUFS       128     /* ST_LOOP_MAX_CONNS x ST_LOOP_GROUP_BUFS */
#define ST_LOOP_BUFSIZE     16384
#define ST_LOOP_ENTRIES     256

struct st_endpoint;
struct st_loop;

/* What the loop calls on an endpoint (a venue connection, a Bitcoin peer). */
typedef struct st_endpoint_ops {
	void (*complete)(struct st_endpoint *ep, int op, int res, unsigned flags);
	int (*tick)(struct st_endpoint *ep, uint64_t now);
	uint64_t (*next_deadline)(const struct st_endpoint *ep);
	void (*teardown)(struct st_endpoint *ep);
} st_endpoint_ops;

/* A received chunk: part of a provided buffer not consumed yet. */
typedef struct st_tcp_input {
	uint16_t bid;
	uint16_t off;
	uint32_t len;
} st_tcp_input;

/* One TCP socket on the loop; the first member of every endpoint. */
typedef struct st_endpoint {
	const st_endpoint_ops *ops;
	struct st_loop *loop;
	uint32_t index;           /* fixed-file slot and user_data tag */
	uint32_t gen;             /* bumped at close: older completions are stale */
	int fd;
	int busy_poll_us;
	uint8_t recv_armed;
	uint8_t send_inflight;
	uint8_t eof;              /* the peer closed TCP; input still drains */
	uint8_t rx_stamp;         /* receive with the kernel's software timestamp */
	uint32_t in_head, in_count;
	/* With rx_stamp: the kernel's receive time (CLOCK_REALTIME ns) of the last
	 * segment of the latest receive, and when its completion was reaped
	 * (CLOCK_MONOTONIC ns). recvmsg's header for the multishot receive. */
	uint64_t rx_kernel_ns;
	uint64_t rx_reaped_ns;
	struct msghdr rx_msg;
	st_tcp_input in[ST_LOOP_GROUP_BUFS];
	struct sockaddr_storage addr;
	socklen_t addrlen;
} st_endpoint;

typedef struct st_loop {
	struct io_uring ring;
	uint8_t *rings;           /* one page per endpoint's buffer ring */
	struct io_uring_buf_ring *buf_rings[ST_LOOP_MAX_CONNS];
	uint32_t group_free[ST_LOOP_MAX_CONNS];  /* buffers the kernel may fill */
	uint8_t *bufs;
	int mode;
	int ring_ok;
	uint32_t nconns;
	st_endpoint *endpoints[ST_LOOP_MAX_CONNS];
	uint64_t now_ns;
	uint64_t iterations;
	uint64_t enobufs;
	int corked;               /* > 0: sends wait for st_loop_uncork() */
	st_random_context rng;
} st_loop;

/*
 * Sets up the ring and its buffers in the given mode. sqpoll_cpu pins the
 * SQPOLL thread (-1: let the kernel place it; ignored in other modes).
 * Returns 0 or -errno (-EINVAL: unknown mode; -EPERM/-ENOSYS: no io_uring
 * here; -ENOMEM: RLIMIT_MEMLOCK too low for the buffers).
 */
int st_loop_init(st_loop *loop, int mode, int sqpoll_cpu);

/* Closes every connection's socket and frees the ring and buffers. */
void st_loop_exit(st_loop *loop);

/*
 * Processes completions and deadlines for up to timeout_ns (0: one pass,
 * no waiting). Returns as soon as a pass did any work, with the number of
 * completions handled (0 on timeout), or -errno if the ring failed.
 */
int st_loop_run(st_loop *loop, int64_t timeout_ns);

/*
 * Holds submissions back while several sends are prepared (the orders of one
 * trigger), then submits them in one go: one io_uring_enter for all of them
 * instead of one each. Nests.
 */
void st_loop_cork(st_loop *loop);
void st_loop_uncork(st_loop *loop);

/* "interrupt", "busy", "sqpoll"; "unknown" otherwise. */
const char *st_loop_mode_name(int mode);

/*
 * Sets up and tears down a small io_uring to prove the kernel allows it.
 * Returns 0, or -errno (-ENOSYS: no io_uring; -EPERM: disabled by
 * kernel.io_uring_disabled or a seccomp policy; -ENOMEM: locked-memory limit).
 */
int st_loop_probe(void);

/*
 * Reconnect delay (equal jitter) for the attempt-th retry, attempt 0 the
 * first: cap = min(base_ms * 2^attempt, max_ms), and the delay is cap / 2
 * plus random % (cap / 2 + 1), so within [cap / 2, cap]: never above max_ms,
 * never zero, at least max_ms / 2 once the doubling reaches the cap. A base
 * of 0 counts as 1 ms and a max below the base as the base. Pure: the
 * caller supplies the random word. Cannot fail.
 */
uint64_t st_loop_backoff_ns(uint32_t base_ms, uint32_t max_ms, uint32_t attempt,
                            uint64_t random);
/* cdef-end */

#endif
