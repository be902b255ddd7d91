/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "inner.h"
#include "loop_internal.h"

#define CQE_BATCH 64
#define SQPOLL_IDLE_MS 2000

uint64_t st_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t st_realtime_to_mono(uint64_t realtime_ns)
{
	struct timespec rt;

	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t mono = st_now_ns();
	uint64_t real = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	uint64_t ago = real > realtime_ns ? real - realtime_ns : 0;
	return mono > ago ? mono - ago : 0;
}

const char *st_loop_mode_name(int mode)
{
	switch (mode) {
	case ST_LOOP_INTERRUPT:
		return "interrupt";
	case ST_LOOP_BUSY:
		return "busy";
	case ST_LOOP_SQPOLL:
		return "sqpoll";
	default:
		return "unknown";
	}
}

int st_loop_probe(void)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(4, &ring, 0);

	if (rc < 0)
		return rc;
	io_uring_queue_exit(&ring);
	return 0;
}

#define RING_PAGE 4096
_Static_assert(ST_LOOP_NBUFS == ST_LOOP_MAX_CONNS * ST_LOOP_GROUP_BUFS, "buffer groups");
_Static_assert(ST_LOOP_GROUP_BUFS * sizeof(struct io_uring_buf) <= RING_PAGE, "ring page");

/* One provided-buffer ring (group) per endpoint slot, each in its own page. */
static int setup_buffers(st_loop *loop)
{
	void *p = mmap(NULL, (size_t)ST_LOOP_NBUFS * ST_LOOP_BUFSIZE, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	loop->bufs = p;
	p = mmap(NULL, (size_t)ST_LOOP_MAX_CONNS * RING_PAGE, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	loop->rings = p;
	for (uint32_t g = 0; g < ST_LOOP_MAX_CONNS; g++) {
		struct io_uring_buf_ring *ring = (void *)(loop->rings + (size_t)g * RING_PAGE);
		struct io_uring_buf_reg reg;
		memset(&reg, 0, sizeof(reg));
		reg.ring_addr = (uintptr_t)ring;
		reg.ring_entries = ST_LOOP_GROUP_BUFS;
		reg.bgid = (uint16_t)g;
		int rc = io_uring_register_buf_ring(&loop->ring, &reg, 0);
		if (rc < 0)
			return rc;
		loop->buf_rings[g] = ring;
		io_uring_buf_ring_init(ring);
		for (uint16_t bid = 0; bid < ST_LOOP_GROUP_BUFS; bid++)
			io_uring_buf_ring_add(ring, (void *)st_loop_buf(loop, g, bid), ST_LOOP_BUFSIZE,
			                      bid, io_uring_buf_ring_mask(ST_LOOP_GROUP_BUFS), bid);
		io_uring_buf_ring_advance(ring, ST_LOOP_GROUP_BUFS);
		loop->group_free[g] = ST_LOOP_GROUP_BUFS;
	}
	return 0;
}

int st_loop_init(st_loop *loop, int mode, int sqpoll_cpu)
{
	struct io_uring_params params;
	int rc;

	memset(loop, 0, sizeof(*loop));
	memset(&params, 0, sizeof(params));
	switch (mode) {
	case ST_LOOP_INTERRUPT:
	case ST_LOOP_BUSY:
		/* No IPI to run completion work while we run: the kernel raises
		 * IORING_SQ_TASKRUN and we enter it ourselves (cheaper in a VM). */
		params.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
		break;
	case ST_LOOP_SQPOLL:
		params.flags |= IORING_SETUP_SQPOLL;
		params.sq_thread_idle = SQPOLL_IDLE_MS;
		if (sqpoll_cpu >= 0) {
			params.flags |= IORING_SETUP_SQ_AFF;
			params.sq_thread_cpu = (unsigned)sqpoll_cpu;
		}
		break;
	default:
		return -EINVAL;
	}
	loop->mode = mode;
	rc = io_uring_queue_init_params(ST_LOOP_ENTRIES, &loop->ring, &params);
	if (rc < 0)
		return rc;
	loop->ring_ok = 1;
	rc = io_uring_register_files_sparse(&loop->ring, ST_LOOP_MAX_CONNS);
	if (rc >= 0)
		rc = setup_buffers(loop);
	if (rc >= 0)
		rc = st_random_init(&loop->rng);
	if (rc < 0) {
		st_loop_exit(loop);
		return rc;
	}
	loop->now_ns = st_now_ns();
	return 0;
}

void st_loop_exit(st_loop *loop)
{
	for (uint32_t i = 0; i < loop->nconns; i++)
		loop->endpoints[i]->ops->teardown(loop->endpoints[i]);
	if (loop->ring_ok) {
		for (uint32_t g = 0; g < ST_LOOP_MAX_CONNS; g++)
			if (loop->buf_rings[g])
				io_uring_unregister_buf_ring(&loop->ring, (int)g);
		io_uring_queue_exit(&loop->ring);
	}
	if (loop->rings)
		munmap(loop->rings, (size_t)ST_LOOP_MAX_CONNS * RING_PAGE);
	if (loop->bufs)
		munmap(loop->bufs, (size_t)ST_LOOP_NBUFS * ST_LOOP_BUFSIZE);
	st_random_wipe(&loop->rng);
	loop->ring_ok = 0;
	loop->rings = NULL;
	memset(loop->buf_rings, 0, sizeof(loop->buf_rings));
	loop->bufs = NULL;
	loop->nconns = 0;
}

struct io_uring_sqe *st_loop_sqe(st_loop *loop)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);

	while (!sqe) {
		io_uring_submit(&loop->ring);
		sqe = io_uring_get_sqe(&loop->ring);
	}
	return sqe;
}

void st_loop_submit(st_loop *loop)
{
	if (!loop->corked && io_uring_sq_ready(&loop->ring))
		io_uring_submit(&loop->ring);
}

void st_loop_cork(st_loop *loop)
{
	loop->corked++;
}

void st_loop_uncork(st_loop *loop)
{
	if (loop->corked && --loop->corked == 0)
		st_loop_submit(loop);
}

const uint8_t *st_loop_buf(const st_loop *loop, uint32_t group, uint16_t bid)
{
	return loop->bufs + ((size_t)group * ST_LOOP_GROUP_BUFS + bid) * ST_LOOP_BUFSIZE;
}

void st_loop_buf_return(st_loop *loop, uint32_t group, uint16_t bid)
{
	io_uring_buf_ring_add(loop->buf_rings[group], (void *)st_loop_buf(loop, group, bid),
	                      ST_LOOP_BUFSIZE, bid, io_uring_buf_ring_mask(ST_LOOP_GROUP_BUFS), 0);
	io_uring_buf_ring_advance(loop->buf_rings[group], 1);
	loop->group_free[group]++;
}

/* Dispatches every completion waiting; returns how many. */
static int reap(st_loop *loop)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	unsigned n = io_uring_peek_batch_cqe(&loop->ring, cqes, CQE_BATCH);

	for (unsigned i = 0; i < n; i++) {
		uint64_t ud = cqes[i]->user_data;
		unsigned idx = (unsigned)(ud >> 8) & 0xFF;
		uint32_t gen = (uint32_t)(ud >> 16);
		st_endpoint *ep = idx < loop->nconns ? loop->endpoints[idx] : NULL;
		unsigned flags = cqes[i]->flags;

		if (flags & IORING_CQE_F_BUFFER)
			loop->group_free[idx]--; /* the group is the endpoint's slot */
		if (!ep || ep->gen != gen) {
			/* From a socket already torn down: give back its buffer. */
			if (flags & IORING_CQE_F_BUFFER)
				st_loop_buf_return(loop, idx,
				                   (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT));
			continue;
		}
		ep->ops->complete(ep, (int)(ud & 0xFF), cqes[i]->res, flags);
	}
	io_uring_cq_advance(&loop->ring, n);
	return (int)n;
}

static int tick(st_loop *loop, uint64_t *next_deadline)
{
	int work = 0;

	*next_deadline = 0;
	for (uint32_t i = 0; i < loop->nconns; i++) {
		st_endpoint *ep = loop->endpoints[i];
		work += ep->ops->tick(ep, loop->now_ns);
		uint64_t d = ep->ops->next_deadline(ep);
		if (d && (!*next_deadline || d < *next_deadline))
			*next_deadline = d;
	}
	return work;
}

int st_loop_run(st_loop *loop, int64_t timeout_ns)
{
	uint64_t end = st_now_ns() + (timeout_ns > 0 ? (uint64_t)timeout_ns : 0);

	for (;;) {
		uint64_t next;
		loop->iterations++;
		loop->now_ns = st_now_ns();
		int work = reap(loop) + tick(loop, &next);
		st_loop_submit(loop);
		if (work)
			return work;
		if (loop->now_ns >= end)
			return 0;
		if (loop->mode == ST_LOOP_BUSY) {
			if (IO_URING_READ_ONCE(*loop->ring.sq.kflags) & IORING_SQ_TASKRUN)
				io_uring_get_events(&loop->ring);
			else
				__builtin_ia32_pause();
			continue;
		}
		/* Sleep in the kernel until a completion, a deadline or the end. */
		uint64_t wake = next && next < end ? next : end;
		if (wake <= loop->now_ns)
			continue; /* a deadline is due: no sleeping */
		struct __kernel_timespec ts = {
			.tv_sec = (long long)((wake - loop->now_ns) / 1000000000u),
			.tv_nsec = (long long)((wake - loop->now_ns) % 1000000000u),
		};
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
			return rc;
	}
}
