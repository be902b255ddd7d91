/* SPDX-License-Identifier: MIT */
/* Private interface between the loop (loop.c) and connections (conn.c). */
#ifndef ST_LOOP_INTERNAL_H
#define ST_LOOP_INTERNAL_H

#include "st_conn.h"
#include "st_loop.h"

/* What a completion was for; packed into user_data with (conn, generation). */
enum st_op {
	ST_OP_CONNECT = 1,
	ST_OP_RECV = 2,
	ST_OP_SEND = 3,
};

static inline uint64_t st_user_data(const st_endpoint *ep, enum st_op op)
{
	return ((uint64_t)ep->gen << 16) | ((uint64_t)ep->index << 8) | (uint64_t)op;
}

/* A provided buffer may hold no more than 64 KiB: offsets are 16-bit. */
_Static_assert(ST_LOOP_BUFSIZE <= 65535, "st_tcp_input.off is a uint16_t");


/* Monotonic clock in ns (vDSO: no system call). */
uint64_t st_now_ns(void);
/* A CLOCK_REALTIME time (a kernel timestamp) on the monotonic clock: both
 * clocks read now (vDSO); a time ahead of now counts as now. */
uint64_t st_realtime_to_mono(uint64_t realtime_ns);

/* A free SQE; submits first when the queue is full. Never NULL. */
struct io_uring_sqe *st_loop_sqe(st_loop *loop);
/* Submits what was prepared (no syscall in SQPOLL mode while awake). */
void st_loop_submit(st_loop *loop);
/* A provided buffer of a group (an endpoint's slot), and giving it back. */
const uint8_t *st_loop_buf(const st_loop *loop, uint32_t group, uint16_t bid);
void st_loop_buf_return(st_loop *loop, uint32_t group, uint16_t bid);
/* ---- endpoints (tcp.c): the TCP plumbing every endpoint shares ---------- */

/*
 * Registers an endpoint on the loop for ip:port (IPv4 or IPv6 literal).
 * Returns 0, -EINVAL (bad address or port) or -ENOSPC (loop full).
 */
int st_endpoint_init(st_endpoint *ep, st_loop *loop, const st_endpoint_ops *ops,
                     const char *ip, int port);
/* Opens a socket (TCP_NODELAY, SO_BUSY_POLL if set) in its fixed-file slot
 * and submits the connect. Returns 0 or -errno. */
int st_endpoint_connect(st_endpoint *ep);
/* Multishot receive into the endpoint's own group of provided buffers. */
void st_endpoint_arm_recv(st_endpoint *ep);
/* Should a receive be armed now (connected, nothing unread, buffers free)? */
int st_endpoint_recv_wanted(const st_endpoint *ep);
/* Submits one send; one at a time (send_inflight). */
void st_endpoint_send(st_endpoint *ep, const uint8_t *buf, size_t len);
/*
 * Books a receive completion: queues its buffer (when the group runs dry the
 * kernel ends the receive with -ENOBUFS; it is armed again once the input is
 * consumed). Returns 0, 1 for EOF, or -errno to fail with.
 */
int st_endpoint_on_recv(st_endpoint *ep, int res, unsigned flags);
/* The unread input at the head (NULL when none), and consuming it. */
const uint8_t *st_endpoint_input(const st_endpoint *ep, size_t *len);
void st_endpoint_consume(st_endpoint *ep, size_t n);
/* Closes the socket, gives back its buffers; later completions are stale. */
void st_endpoint_close(st_endpoint *ep);

/* st_loop_backoff_ns() with the loop's random word; counts the attempt. */
uint64_t st_backoff_ns(st_loop *loop, uint32_t base_ms, uint32_t max_ms, uint32_t *attempt);

#endif
