/* SPDX-License-Identifier: MIT */
/*
 * Timing loops for `stratum bench`. Timing a sub-microsecond call from
 * Python would measure the FFI, so the loop runs here: each sample is the
 * mean over `batch` back-to-back calls, read with CLOCK_MONOTONIC (vDSO).
 */
#ifndef ST_BENCH_H
#define ST_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "st_conn.h"
#include "st_hmac.h"
#include "st_order.h"
#include "st_strategy.h"

/* cdef-begin */
/*
 * Fills out_ns[0..nsamples) with nanoseconds per st_hmac_sha256_hex() call.
 * Returns 0, or -EINVAL when batch or nsamples is 0.
 */
int st_bench_hmac_sha256_hex(const st_hmac_sha256_key *key, const void *msg,
                             size_t len, uint32_t batch, uint32_t nsamples,
                             double *out_ns);

/*
 * Round trips of one message through an OPEN connection to an echo server:
 * warmup untimed, then out_ns[0..samples) with ns from just before the send
 * until the echo is in hand, each echo checked byte for byte. len is at most
 * ST_BENCH_MAX_ECHO. Returns 0, -EINVAL, -ETIMEDOUT (a round trip took over
 * 5 s), -EBADMSG (the echo differs), or the connection's error.
 */
#define ST_BENCH_MAX_ECHO 4096

/*
 * Parse + strategy match over `count` serialized transactions laid end to
 * end in txs[0..len): fills out_ns[0..passes) with the mean ns per
 * transaction of each pass, and *actions with the actions fired in one pass.
 * Returns 0 or the first parse error.
 */
int st_bench_parse_match(const st_strategy *s, const uint8_t *txs, size_t len,
                         uint32_t count, uint32_t passes, double *out_ns,
                         uint32_t *actions);
/*
 * Builds, signs (when the template signs), frames and encrypts batch x
 * samples orders on an OPEN connection, timing each batch; the TLS records
 * are discarded, not sent, so the connection is of no further use.
 */
int st_bench_order(const st_order_template *t, const st_hmac_sha256_key *key, st_conn *conn,
                   uint32_t batch, uint32_t samples, double *out_ns);
int st_bench_ws_echo(st_loop *loop, st_conn *conn, const void *payload, size_t len,
                     uint32_t warmup, uint32_t samples, double *out_ns);
/* cdef-end */

#endif
