/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "inner.h"
#include "st_btc.h"

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- framing ------------------------------------------------------------ */

void st_btc_decoder_init(st_btc_decoder *d, uint32_t magic, uint8_t *buf, size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->magic = magic;
	d->buf = buf;
	d->cap = cap < ST_BTC_MAX_MESSAGE ? cap : ST_BTC_MAX_MESSAGE;
}

/* Printable ASCII, then only NUL padding (Bitcoin Core's IsCommandValid). */
static int command_ok(const uint8_t cmd[12], char out[13])
{
	size_t n = 0;

	while (n < 12 && cmd[n]) {
		if (cmd[n] < 0x20 || cmd[n] > 0x7E)
			return 0;
		n++;
	}
	for (size_t i = n; i < 12; i++)
		if (cmd[i])
			return 0;
	memcpy(out, cmd, n);
	out[n] = 0;
	return n > 0;
}

static long fail(st_btc_decoder *d, int err)
{
	d->error = err;
	return err;
}

static int check_payload(st_btc_decoder *d)
{
	st_sha256d(d->buf, d->payload_len, d->digest);   /* kept: a tx's id needs it */
	if (memcmp(d->digest, d->hdr + 20, 4))
		return ST_EBTC_BAD_CHECKSUM;
	d->ready = 1;
	return 0;
}

long st_btc_recv(st_btc_decoder *d, const uint8_t *data, size_t len)
{
	size_t i = 0;

	if (d->error)
		return d->error;
	while (i < len && !d->ready) {
		if (d->hdr_len < ST_BTC_HEADER_LEN) {
			size_t take = ST_BTC_HEADER_LEN - d->hdr_len;
			if (take > len - i)
				take = len - i;
			memcpy(d->hdr + d->hdr_len, data + i, take);
			d->hdr_len += (uint32_t)take;
			i += take;
			/* Judge the magic as soon as its four bytes are in. */
			if (d->hdr_len >= 4 && load_le32(d->hdr) != d->magic)
				return fail(d, ST_EBTC_BAD_MAGIC);
			if (d->hdr_len < ST_BTC_HEADER_LEN)
				continue;
			if (!command_ok(d->hdr + 4, d->command))
				return fail(d, ST_EBTC_BAD_COMMAND);
			d->payload_len = load_le32(d->hdr + 16);
			if (d->payload_len > d->cap)
				return fail(d, ST_EBTC_TOO_LARGE);
			d->payload_done = 0;
			if (!d->payload_len) {
				int rc = check_payload(d);
				if (rc)
					return fail(d, rc);
			}
			continue;
		}
		size_t take = d->payload_len - d->payload_done;
		if (take > len - i)
			take = len - i;
		memcpy(d->buf + d->payload_done, data + i, take);
		d->payload_done += (uint32_t)take;
		i += take;
		if (d->payload_done == d->payload_len) {
			int rc = check_payload(d);
			if (rc)
				return fail(d, rc);
		}
	}
	return (long)i;
}

int st_btc_message(const st_btc_decoder *d, const char **command,
                   const uint8_t **payload, size_t *len)
{
	if (!d->ready)
		return 0;
	*command = d->command;
	*payload = d->buf;
	*len = d->payload_len;
	return 1;
}

const uint8_t *st_btc_message_digest(const st_btc_decoder *d)
{
	return d->digest;
}

void st_btc_message_done(st_btc_decoder *d)
{
	d->ready = 0;
	d->hdr_len = 0;
	d->payload_len = d->payload_done = 0;
}

int st_btc_decoder_error(const st_btc_decoder *d)
{
	return d->error;
}

size_t st_btc_frame(uint8_t *out, size_t cap, uint32_t magic, const char *command,
                    const void *payload, size_t len)
{
	size_t n = strlen(command);
	uint8_t digest[32];

	if (n == 0 || n > 12 || len > ST_BTC_MAX_MESSAGE || cap < ST_BTC_HEADER_LEN ||
	    len > cap - ST_BTC_HEADER_LEN)
		return 0;
	/* Hash and move the payload before the header goes in: it may overlap. */
	st_sha256d(payload, len, digest);
	if (len)
		memmove(out + ST_BTC_HEADER_LEN, payload, len);
	store_le32(out, magic);
	memset(out + 4, 0, 12);
	memcpy(out + 4, command, n);
	store_le32(out + 16, (uint32_t)len);
	memcpy(out + 20, digest, 4);
	return ST_BTC_HEADER_LEN + len;
}

/* ---- CompactSize and transactions ------------------------------------------ */

int st_btc_read_compact(const uint8_t *data, size_t len, size_t *pos, uint64_t *value)
{
	size_t p = *pos;
	uint64_t v;

	if (p >= len)
		return ST_EBTC_TRUNCATED;
	uint8_t first = data[p++];
	if (first < 0xFD) {
		v = first;
	} else {
		size_t n = first == 0xFD ? 2 : first == 0xFE ? 4 : 8;
		uint64_t min = first == 0xFD ? 0xFD : first == 0xFE ? 0x10000 : 0x100000000ull;
		if (len - p < n)
			return ST_EBTC_TRUNCATED;
		v = 0;
		for (size_t i = n; i-- > 0;)
			v = v << 8 | data[p + i];
		p += n;
		if (v < min)
			return ST_EBTC_NONCANONICAL;
	}
	*pos = p;
	*value = v;
	return 0;
}

/* Skips a CompactSize-prefixed byte string. */
static int skip_bytes(const uint8_t *data, size_t len, size_t *pos)
{
	uint64_t n;
	int rc = st_btc_read_compact(data, len, pos, &n);

	if (rc)
		return rc;
	if (n > len - *pos)
		return ST_EBTC_TRUNCATED;
	*pos += (size_t)n;
	return 0;
}

static int skip(size_t len, size_t *pos, size_t n)
{
	if (n > len - *pos)
		return ST_EBTC_TRUNCATED;
	*pos += n;
	return 0;
}

/* A count of items, each at least `min_size` bytes: must fit what is left. */
static int read_count(const uint8_t *data, size_t len, size_t *pos, size_t min_size,
                      uint32_t *count)
{
	uint64_t n;
	int rc = st_btc_read_compact(data, len, pos, &n);

	if (rc)
		return rc;
	if (n > (len - *pos) / min_size)
		return ST_EBTC_BAD_COUNT;
	*count = (uint32_t)n;
	return 0;
}

#define MIN_INPUT  41   /* outpoint 36, empty script 1, sequence 4 */
#define MIN_OUTPUT 9    /* value 8, empty script 1 */

long st_btc_tx_parse(st_btc_tx *tx, const uint8_t *data, size_t len)
{
	size_t pos = 0;
	int rc;

	memset(tx, 0, sizeof(*tx));
	tx->raw = data;
	if (len < 4)
		return ST_EBTC_TRUNCATED;
	tx->version = (int32_t)load_le32(data);
	pos = 4;
	/* Segwit: marker 0x00 then flag 0x01 where the input count would be
	 * (BIP 144; python-bitcoinlib reads exactly this). */
	if (len - pos >= 2 && data[pos] == 0 && data[pos + 1] == 1) {
		tx->segwit = 1;
		pos += 2;
	}
	tx->in_off = pos;
	if ((rc = read_count(data, len, &pos, MIN_INPUT, &tx->n_in)))
		return rc;
	for (uint32_t i = 0; i < tx->n_in; i++) {
		if ((rc = skip(len, &pos, 36)) || (rc = skip_bytes(data, len, &pos)) ||
		    (rc = skip(len, &pos, 4)))
			return rc;
	}
	if ((rc = read_count(data, len, &pos, MIN_OUTPUT, &tx->n_out)))
		return rc;
	tx->out_off = pos;
	for (uint32_t i = 0; i < tx->n_out; i++) {
		if ((rc = skip(len, &pos, 8)) || (rc = skip_bytes(data, len, &pos)))
			return rc;
	}
	tx->out_end = pos;
	if (tx->segwit) {
		for (uint32_t i = 0; i < tx->n_in; i++) {
			uint32_t items;
			if ((rc = read_count(data, len, &pos, 1, &items)))
				return rc;
			for (uint32_t j = 0; j < items; j++)
				if ((rc = skip_bytes(data, len, &pos)))
					return rc;
		}
	}
	tx->lock_off = pos;
	if ((rc = skip(len, &pos, 4)))
		return rc;
	tx->len = pos;
	return (long)pos;
}

int st_btc_tx_next_output(const st_btc_tx *tx, size_t *pos, int64_t *value,
                          const uint8_t **script, size_t *script_len)
{
	size_t p = *pos ? *pos : tx->out_off;
	uint64_t n;

	if (p >= tx->out_end)
		return 0;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | tx->raw[p + (size_t)i];
	p += 8;
	/* Already validated by st_btc_tx_parse(). */
	(void)st_btc_read_compact(tx->raw, tx->out_end, &p, &n);
	*value = (int64_t)v;
	*script = tx->raw + p;
	*script_len = (size_t)n;
	*pos = p + (size_t)n;
	return 1;
}

void st_btc_txid(const st_btc_tx *tx, uint8_t out[32])
{
	st_sha256_context ctx;
	uint8_t first[32];

	if (!tx->segwit) {
		st_sha256d(tx->raw, tx->len, out);
		return;
	}
	/* Without marker, flag and witnesses: version, ins, outs, locktime. */
	st_sha256_init(&ctx, ST_SHA256_AUTO);
	st_sha256_update(&ctx, tx->raw, 4);
	st_sha256_update(&ctx, tx->raw + tx->in_off, tx->out_end - tx->in_off);
	st_sha256_update(&ctx, tx->raw + tx->lock_off, 4);
	st_sha256_final(&ctx, first);
	st_sha256(ST_SHA256_AUTO, first, sizeof(first), out);
}

void st_btc_wtxid(const st_btc_tx *tx, uint8_t out[32])
{
	st_sha256d(tx->raw, tx->len, out);
}

long st_btc_inv_parse(const uint8_t *payload, size_t len, size_t *first)
{
	size_t pos = 0;
	uint64_t n;
	int rc = st_btc_read_compact(payload, len, &pos, &n);

	if (rc)
		return rc;
	if (n > ST_BTC_MAX_INV)
		return ST_EBTC_BAD_COUNT;
	if ((len - pos) / 36 < n)
		return ST_EBTC_TRUNCATED;
	if (len - pos != n * 36)
		return ST_EBTC_TRAILING;
	*first = pos;
	return (long)n;
}
