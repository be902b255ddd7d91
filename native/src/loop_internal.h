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
	ST_OP_CANCEL = 4,
};

static inline uint64_t st_user_data(const st_conn *c, enum st_op op)
{
	return ((uint64_t)c->gen << 16) | ((uint64_t)c->index << 8) | (uint64_t)op;
}

/* Monotonic clock in ns (vDSO: no system call). */
uint64_t st_now_ns(void);

/* A free SQE; submits first when the queue is full. Never NULL. */
struct io_uring_sqe *st_loop_sqe(st_loop *loop);
/* Submits what was prepared (no syscall in SQPOLL mode while awake). */
void st_loop_submit(st_loop *loop);
/* A provided buffer's memory, and giving it back to the kernel. */
const uint8_t *st_loop_buf(const st_loop *loop, uint16_t bid);
void st_loop_buf_return(st_loop *loop, uint16_t bid);
/* Registers a connection; returns its index or -ENOSPC. */
int st_loop_add_conn(st_loop *loop, st_conn *conn);

/* conn.c: a completion for this connection (current generation). */
void st_conn_complete(st_conn *conn, enum st_op op, int res, unsigned flags);
/* conn.c: acts on due deadlines; returns 1 when it did something. */
int st_conn_tick(st_conn *conn, uint64_t now);
/* conn.c: the earliest deadline, 0 when none. */
uint64_t st_conn_next_deadline(const st_conn *conn);
/* conn.c: closes the socket without a goodbye (loop exit). */
void st_conn_teardown(st_conn *conn);

#endif
