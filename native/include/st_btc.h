/* SPDX-License-Identifier: MIT */
/*
 * Bitcoin P2P codec and transaction parser. I/O-free, bounded, zero-copy.
 *
 *  - Framing: magic, command, length, checksum (first 4 bytes of SHA-256d of
 *    the payload). st_btc_recv() assembles one message at a time in the
 *    caller's buffer; any malformed header or payload fails the decoder once
 *    and for all (sticky) with a named reason, and the peer is dropped.
 *  - Transactions: legacy and segwit serialization, every field bounds
 *    checked, every count checked against the bytes left, CompactSize
 *    canonical. Outputs are read in place (value, script pointer + length);
 *    txid / wtxid are computed only on request.
 *
 * No function here allocates or makes a system call.
 */
#ifndef ST_BTC_H
#define ST_BTC_H

#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

/* cdef-begin */
/* Network magic as the little-endian u32 of its four wire bytes. */
#define ST_BTC_MAGIC_MAINNET   0xD9B4BEF9u   /* f9 be b4 d9 */
#define ST_BTC_MAGIC_TESTNET3  0x0709110Bu   /* 0b 11 09 07 */
#define ST_BTC_MAGIC_SIGNET    0x40CF030Au   /* 0a 03 cf 40 */
#define ST_BTC_MAGIC_REGTEST   0xDAB5BFFAu   /* fa bf b5 da */

#define ST_BTC_HEADER_LEN      24
#define ST_BTC_MAX_MESSAGE     4000000       /* Bitcoin Core MAX_PROTOCOL_MESSAGE_LENGTH */
#define ST_BTC_MAX_INV         50000         /* Bitcoin Core MAX_INV_SZ */
#define ST_BTC_INV_TX          1
#define ST_BTC_INV_WTX         5
#define ST_BTC_INV_WITNESS_TX  0x40000001

#define ST_EBTC_BAD_MAGIC      (-10400)
#define ST_EBTC_BAD_CHECKSUM   (-10401)
#define ST_EBTC_TOO_LARGE      (-10402)
#define ST_EBTC_BAD_COMMAND    (-10403)
#define ST_EBTC_TRUNCATED      (-10404)
#define ST_EBTC_NONCANONICAL   (-10405)
#define ST_EBTC_BAD_COUNT      (-10406)
#define ST_EBTC_TRAILING       (-10407)

typedef struct st_btc_decoder {
	uint32_t magic;
	uint8_t hdr[ST_BTC_HEADER_LEN];
	uint32_t hdr_len;
	uint32_t payload_len;
	uint32_t payload_done;
	uint8_t *buf;
	size_t cap;
	uint8_t ready;
	char command[13];
	int error;
	uint8_t digest[32];       /* SHA-256d of the ready message's payload */
} st_btc_decoder;

/* A parsed transaction: offsets into the caller's bytes, which must stay. */
typedef struct st_btc_tx {
	/* cdef-visible */
	const uint8_t *raw;
	size_t len;           /* bytes the transaction takes */
	int32_t version;
	uint8_t segwit;
	uint32_t n_in;
	uint32_t n_out;
	size_t in_off;        /* the input count (start of what txid hashes) */
	size_t out_off;       /* the first output */
	size_t out_end;       /* just past the last output */
	size_t lock_off;      /* nLockTime */
} st_btc_tx;

/*
 * Resets a decoder for a network; messages are assembled in buf, and cap
 * (at most ST_BTC_MAX_MESSAGE) is the largest payload accepted.
 */
void st_btc_decoder_init(st_btc_decoder *d, uint32_t magic, uint8_t *buf, size_t cap);

/*
 * Consumes bytes; stops once a whole message is ready (take it with
 * st_btc_message()). Returns bytes consumed, or the sticky error:
 * ST_EBTC_BAD_MAGIC, ST_EBTC_BAD_COMMAND, ST_EBTC_TOO_LARGE,
 * ST_EBTC_BAD_CHECKSUM.
 */
long st_btc_recv(st_btc_decoder *d, const uint8_t *data, size_t len);

/* 1 and the message when one is ready, else 0. Valid until _done(). */
int st_btc_message(const st_btc_decoder *d, const char **command,
                   const uint8_t **payload, size_t *len);
void st_btc_message_done(st_btc_decoder *d);
/* The SHA-256d of the ready message's payload (its checksum's source): for a
 * `tx` message, the wtxid, and the txid of a transaction without witness. */
const uint8_t *st_btc_message_digest(const st_btc_decoder *d);

/* The sticky error (0 when none). */
int st_btc_decoder_error(const st_btc_decoder *d);

/*
 * Writes header + payload for `command` (at most 12 characters). Returns
 * the total length, or 0 when it does not fit or the command is too long.
 */
size_t st_btc_frame(uint8_t *out, size_t cap, uint32_t magic, const char *command,
                    const void *payload, size_t len);

/*
 * Parses one transaction at the start of data[0..len). Returns the bytes it
 * takes, or ST_EBTC_TRUNCATED, ST_EBTC_NONCANONICAL, ST_EBTC_BAD_COUNT.
 * A `tx` message must be exactly one transaction: compare the result with
 * the payload length (ST_EBTC_TRAILING otherwise).
 */
long st_btc_tx_parse(st_btc_tx *tx, const uint8_t *data, size_t len);

/*
 * Iterates outputs: *pos starts at 0. Returns 1 with the next output's value
 * and script (pointing into the transaction), or 0 after the last.
 */
int st_btc_tx_next_output(const st_btc_tx *tx, size_t *pos, int64_t *value,
                          const uint8_t **script, size_t *script_len);

/* txid and wtxid, internal byte order (explorers show them reversed). */
void st_btc_txid(const st_btc_tx *tx, uint8_t out[32]);
void st_btc_wtxid(const st_btc_tx *tx, uint8_t out[32]);

/*
 * Checks an inv/getdata payload: returns the entry count (each 36 bytes:
 * u32 type, 32-byte hash, from payload + *first), or ST_EBTC_TRUNCATED,
 * ST_EBTC_NONCANONICAL, ST_EBTC_BAD_COUNT (over ST_BTC_MAX_INV), or
 * ST_EBTC_TRAILING.
 */
long st_btc_inv_parse(const uint8_t *payload, size_t len, size_t *first);

/*
 * Reads a canonical CompactSize at *pos (advanced past it). Returns 0, or
 * ST_EBTC_TRUNCATED / ST_EBTC_NONCANONICAL.
 */
int st_btc_read_compact(const uint8_t *data, size_t len, size_t *pos, uint64_t *value);
/* cdef-end */

#endif
