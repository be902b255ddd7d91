/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "st_bench.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int st_bench_hmac_sha256_hex(const st_hmac_sha256_key *key, const void *msg,
                             size_t len, uint32_t batch, uint32_t nsamples,
                             double *out_ns)
{
	char hex[ST_HMAC_SHA256_HEX_LEN];

	if (!batch || !nsamples)
		return -EINVAL;
	for (uint32_t s = 0; s < nsamples; s++) {
		uint64_t start = now_ns();
		for (uint32_t i = 0; i < batch; i++) {
			st_hmac_sha256_hex(key, msg, len, hex);
			/* Keep the compiler from dropping or merging the calls. */
			__asm__ volatile("" : : "r"(hex) : "memory");
		}
		out_ns[s] = (double)(now_ns() - start) / batch;
	}
	return 0;
}

#define ECHO_TIMEOUT_NS 5000000000ull

int st_bench_ws_echo(st_loop *loop, st_conn *conn, const void *payload, size_t len,
                     uint32_t warmup, uint32_t samples, double *out_ns)
{
	uint8_t echo[ST_BENCH_MAX_ECHO];

	if (len > sizeof(echo) || !samples)
		return -EINVAL;
	for (uint32_t i = 0; i < warmup + samples; i++) {
		uint64_t start = now_ns();
		int opcode = 0;
		long n;
		int rc = st_conn_send(conn, ST_WS_OP_TEXT, payload, len);
		if (rc < 0)
			return rc;
		while ((n = st_conn_recv(conn, echo, sizeof(echo), &opcode)) >= 0 && !opcode) {
			if (st_conn_state(conn) != ST_CONN_OPEN)
				return st_conn_last_error(conn) ? st_conn_last_error(conn)
				                                : ST_ECONN_NOT_OPEN;
			if (now_ns() - start > ECHO_TIMEOUT_NS)
				return -ETIMEDOUT;
			if ((rc = st_loop_run(loop, (int64_t)ECHO_TIMEOUT_NS)) < 0)
				return rc;
		}
		uint64_t end = now_ns();
		if (n < 0)
			return (int)n;
		if ((size_t)n != len || memcmp(echo, payload, len))
			return -EBADMSG;
		if (i >= warmup)
			out_ns[i - warmup] = (double)(end - start);
	}
	return 0;
}

int st_bench_parse_match(const st_strategy *s, const uint8_t *txs, size_t len,
                         uint32_t count, uint32_t passes, double *out_ns,
                         uint32_t *actions)
{
	st_btc_tx tx;
	st_strategy_decision d;

	if (!count || !passes)
		return -EINVAL;
	for (uint32_t p = 0; p < passes; p++) {
		uint32_t fired = 0;
		size_t off = 0;
		uint64_t start = now_ns();
		for (uint32_t i = 0; i < count; i++) {
			long n = st_btc_tx_parse(&tx, txs + off, len - off);
			if (n < 0)
				return (int)n;
			off += (size_t)n;
			fired += (uint32_t)st_strategy_match(s, &tx, &d);
		}
		out_ns[p] = (double)(now_ns() - start) / count;
		*actions = fired;
	}
	return 0;
}

int st_bench_order(const st_order_template *t, const st_hmac_sha256_key *key, st_conn *conn,
                   uint32_t batch, uint32_t samples, double *out_ns)
{
	br_ssl_engine_context *eng = st_tls_engine(&conn->tls);
	uint8_t msg[ST_ORDER_MAX_TEXT + 256];
	st_order_fields f = {.request_id = 1, .client_id = 1000000000000000ull,
	                     .timestamp_ms = 1700000000000ull, .price = 5200000,
	                     .quantity = 1000000};

	if (conn->state != ST_CONN_OPEN || !batch || !samples)
		return -EINVAL;
	for (uint32_t s = 0; s < samples; s++) {
		uint64_t start = now_ns();
		for (uint32_t i = 0; i < batch; i++) {
			f.request_id++;
			f.client_id++;
			f.timestamp_ms++;
			long n = st_order_build(t, key, &f, msg, sizeof(msg));
			if (n < 0)
				return (int)n;
			size_t cap, len;
			uint8_t *buf = br_ssl_engine_sendapp_buf(eng, &cap);
			if (!buf)
				return ST_ECONN_QUEUE_FULL;
			size_t framed = st_ws_frame(buf, cap, ST_WS_OP_TEXT, msg, (size_t)n,
			                            st_random_u32(&conn->ep.loop->rng));
			if (!framed)
				return -EMSGSIZE;
			br_ssl_engine_sendapp_ack(eng, framed);
			br_ssl_engine_flush(eng, 0);
			uint8_t *record = br_ssl_engine_sendrec_buf(eng, &len);
			if (!record)
				return -EIO;
			__asm__ volatile("" : : "r"(record) : "memory");
			br_ssl_engine_sendrec_ack(eng, len); /* what the send would hand the kernel */
		}
		out_ns[s] = (double)(now_ns() - start) / batch;
	}
	return 0;
}
