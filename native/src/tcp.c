/* SPDX-License-Identifier: MIT */
/* TCP plumbing shared by every endpoint on the loop: address, connect,
 * multishot receive with a per-endpoint buffer budget, sends, close. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "loop_internal.h"

int st_endpoint_init(st_endpoint *ep, st_loop *loop, const st_endpoint_ops *ops,
                     const char *ip, int port)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ep->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ep->addr;

	memset(ep, 0, sizeof(*ep));
	ep->fd = -1;
	ep->ops = ops;
	ep->loop = loop;
	if (port < 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		ep->addrlen = sizeof(*v4);
	} else if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		ep->addrlen = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	if (loop->nconns == ST_LOOP_MAX_CONNS)
		return -ENOSPC;
	ep->index = loop->nconns;
	loop->endpoints[loop->nconns++] = ep;
	return 0;
}

int st_endpoint_connect(st_endpoint *ep)
{
	st_loop *loop = ep->loop;
	int one = 1;
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    (ep->busy_poll_us > 0 &&
	     setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &ep->busy_poll_us,
	                sizeof(ep->busy_poll_us)) < 0) ||
	    (ep->rx_stamp && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)) {
		int err = -errno;
		close(fd);
		return err;
	}
	int rc = io_uring_register_files_update(&loop->ring, ep->index, &fd, 1);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	ep->fd = fd;
	struct io_uring_sqe *sqe = st_loop_sqe(loop);
	io_uring_prep_connect(sqe, (int)ep->index, (struct sockaddr *)&ep->addr, ep->addrlen);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, st_user_data(ep, ST_OP_CONNECT));
	st_loop_submit(loop);
	return 0;
}

/* Room for SCM_TIMESTAMPNS in each buffer, after recvmsg's header. */
#define RX_CONTROL CMSG_SPACE(sizeof(struct timespec))

void st_endpoint_arm_recv(st_endpoint *ep)
{
	struct io_uring_sqe *sqe = st_loop_sqe(ep->loop);

	if (ep->rx_stamp) {
		/* recvmsg, not recv: the timestamp rides in each buffer's control
		 * area, so it costs no system call of its own. */
		ep->rx_msg = (struct msghdr){.msg_controllen = RX_CONTROL};
		io_uring_prep_recvmsg_multishot(sqe, (int)ep->index, &ep->rx_msg, 0);
	} else {
		io_uring_prep_recv_multishot(sqe, (int)ep->index, NULL, 0, 0);
	}
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)ep->index;
	io_uring_sqe_set_data64(sqe, st_user_data(ep, ST_OP_RECV));
	ep->recv_armed = 1;
}

int st_endpoint_recv_wanted(const st_endpoint *ep)
{
	return ep->fd >= 0 && !ep->recv_armed && !ep->eof && ep->in_count == 0 &&
	       ep->loop->group_free[ep->index] > 0;
}

void st_endpoint_send(st_endpoint *ep, const uint8_t *buf, size_t len)
{
	struct io_uring_sqe *sqe = st_loop_sqe(ep->loop);

	io_uring_prep_send(sqe, (int)ep->index, buf, len, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, st_user_data(ep, ST_OP_SEND));
	ep->send_inflight = 1;
}

/*
 * A recvmsg buffer: header, control, payload. Takes the kernel's receive time
 * from the control area, sets *res to the payload's length (0: the peer closed
 * TCP; -EBADMSG: a header that does not fit) and returns the payload's offset.
 */
static uint32_t recvmsg_payload(st_endpoint *ep, uint16_t bid, int *res)
{
	uint8_t *buf = (uint8_t *)st_loop_buf(ep->loop, ep->index, bid);
	struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, *res, &ep->rx_msg);

	if (!o) {
		*res = -EBADMSG;
		return 0;
	}
	ep->rx_kernel_ns = 0;   /* none in this receive: the trigger falls back to the pass */
	ep->rx_reaped_ns = st_now_ns();
	for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, &ep->rx_msg); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(o, &ep->rx_msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			ep->rx_kernel_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		}
	}
	uint8_t *payload = io_uring_recvmsg_payload(o, &ep->rx_msg);
	*res = (int)io_uring_recvmsg_payload_length(o, *res, &ep->rx_msg);
	return (uint32_t)(payload - buf);
}

int st_endpoint_on_recv(st_endpoint *ep, int res, unsigned flags)
{
	if (!(flags & IORING_CQE_F_MORE))
		ep->recv_armed = 0;
	if (flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		uint32_t off = 0;
		if (res > 0 && ep->rx_stamp) {
			off = recvmsg_payload(ep, bid, &res);
			if (res < 0) {
				st_loop_buf_return(ep->loop, ep->index, bid);
				return res;
			}
		}
		if (res > 0) {
			uint32_t tail = (ep->in_head + ep->in_count) % ST_LOOP_GROUP_BUFS;
			ep->in[tail] = (st_tcp_input){bid, (uint16_t)off, off + (uint32_t)res};
			ep->in_count++;
		} else {
			st_loop_buf_return(ep->loop, ep->index, bid);
		}
	}
	if (res == 0) {
		ep->eof = 1;
		ep->recv_armed = 0;
		return 1;
	}
	if (res == -ENOBUFS) {
		ep->loop->enobufs++; /* re-armed by a tick once buffers are back */
		return 0;
	}
	return res < 0 && res != -ECANCELED ? res : 0;
}

const uint8_t *st_endpoint_input(const st_endpoint *ep, size_t *len)
{
	if (!ep->in_count)
		return NULL;
	const st_tcp_input *in = &ep->in[ep->in_head];
	*len = in->len - in->off;
	return st_loop_buf(ep->loop, ep->index, in->bid) + in->off;
}

void st_endpoint_consume(st_endpoint *ep, size_t n)
{
	st_tcp_input *in = &ep->in[ep->in_head];

	in->off = (uint16_t)(in->off + n);
	if (in->off == in->len) {
		st_loop_buf_return(ep->loop, ep->index, in->bid);
		ep->in_head = (ep->in_head + 1) % ST_LOOP_GROUP_BUFS;
		ep->in_count--;
	}
}

void st_endpoint_close(st_endpoint *ep)
{
	if (ep->fd >= 0) {
		int none = -1;
		shutdown(ep->fd, SHUT_RDWR);
		io_uring_register_files_update(&ep->loop->ring, ep->index, &none, 1);
		close(ep->fd);
		ep->fd = -1;
	}
	ep->gen++;
	while (ep->in_count) {
		st_loop_buf_return(ep->loop, ep->index, ep->in[ep->in_head].bid);
		ep->in_head = (ep->in_head + 1) % ST_LOOP_GROUP_BUFS;
		ep->in_count--;
	}
	ep->recv_armed = 0;
	ep->send_inflight = 0;
	ep->eof = 0;
}

uint64_t st_loop_backoff_ns(uint32_t base_ms, uint32_t max_ms, uint32_t attempt,
                            uint64_t random)
{
	uint64_t cap = (uint64_t)(base_ms ? base_ms : 1) * 1000000u;
	uint64_t max = (uint64_t)max_ms * 1000000u;

	if (max < cap)
		max = cap;
	for (uint32_t i = 0; i < attempt && cap < max; i++)
		cap *= 2; /* stops at the first value >= max: no overflow */
	if (cap > max)
		cap = max;
	return cap / 2 + random % (cap / 2 + 1);
}

uint64_t st_backoff_ns(st_loop *loop, uint32_t base_ms, uint32_t max_ms, uint32_t *attempt)
{
	uint64_t r = (uint64_t)st_random_u32(&loop->rng) << 32 | st_random_u32(&loop->rng);
	return st_loop_backoff_ns(base_ms, max_ms, (*attempt)++, r);
}
