/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inner.h"
#include "st_cpu.h"
#include "st_tls.h"

/* ---- trust anchors (start-up only: allocates) ----------------------------- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void bytes_append(void *ctx, const void *data, size_t len)
{
	struct bytes *b = ctx;

	if (b->oom)
		return;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);

	if (q)
		memcpy(q, p, len);
	return q;
}

static void anchor_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

/* Adds one DER certificate. 1 added, 0 skipped (unusable key), or error. */
static int add_der(st_tls_trust *trust, const uint8_t *der, size_t len)
{
	br_x509_decoder_context dc;
	struct bytes dn = {0};
	br_x509_trust_anchor ta;

	br_x509_decoder_init(&dc, bytes_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
	if (dn.oom) {
		free(dn.p);
		return -ENOMEM;
	}
	if (!pk) {
		free(dn.p);
		/* A certificate BearSSL cannot decode is skipped, not fatal. */
		return br_x509_decoder_last_error(&dc) == BR_ERR_X509_UNSUPPORTED ? 0
		                                                                   : ST_ETLS_PEM;
	}
	memset(&ta, 0, sizeof(ta));
	ta.dn.data = dn.p;
	ta.dn.len = dn.len;
	ta.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta.pkey.key_type = pk->key_type;
	int oom = !dn.p;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta.pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta.pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta.pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta.pkey.key.rsa.elen = pk->key.rsa.elen;
		oom |= !ta.pkey.key.rsa.n || !ta.pkey.key.rsa.e;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta.pkey.key.ec.curve = pk->key.ec.curve;
		ta.pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta.pkey.key.ec.qlen = pk->key.ec.qlen;
		oom |= !ta.pkey.key.ec.q;
	} else {
		free(dn.p);
		return 0;
	}
	if (!oom && trust->count == trust->cap) {
		size_t cap = trust->cap ? trust->cap * 2 : 16;
		br_x509_trust_anchor *a = realloc(trust->anchors, cap * sizeof(*a));
		if (a) {
			trust->anchors = a;
			trust->cap = cap;
		} else {
			oom = 1;
		}
	}
	if (oom) {
		anchor_free(&ta);
		return -ENOMEM;
	}
	trust->anchors[trust->count++] = ta;
	return 1;
}

const char *st_tls_system_bundle(void)
{
	return "/etc/ssl/certs/ca-certificates.crt";
}

void st_tls_trust_init(st_tls_trust *trust)
{
	memset(trust, 0, sizeof(*trust));
}

int st_tls_trust_load_pem(st_tls_trust *trust, const void *pem, size_t len)
{
	br_pem_decoder_context pc;
	struct bytes der = {0};
	const uint8_t *p = pem;
	int in_cert = 0, added = 0, rc = 0;

	br_pem_decoder_init(&pc);
	/* A file may end without a newline; BearSSL only closes an object on
	 * one, so one more is fed after the data (as BearSSL's own tools do). */
	int newline_fed = 0;
	while ((len > 0 || !newline_fed) && rc >= 0) {
		if (!len) {
			p = (const uint8_t *)"\n";
			len = 1;
			newline_fed = 1;
		}
		size_t n = br_pem_decoder_push(&pc, p, len);
		p += n;
		len -= n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ: {
			const char *name = br_pem_decoder_name(&pc);
			in_cert = !strcmp(name, "CERTIFICATE") ||
			          !strcmp(name, "X509 CERTIFICATE");
			der.len = 0;
			br_pem_decoder_setdest(&pc, in_cert ? bytes_append : NULL, &der);
			break;
		}
		case BR_PEM_END_OBJ:
			if (in_cert) {
				rc = der.oom ? -ENOMEM : add_der(trust, der.p, der.len);
				if (rc > 0)
					added++;
				else if (rc == 0)
					trust->skipped++;
			}
			in_cert = 0;
			break;
		case BR_PEM_ERROR:
			rc = ST_ETLS_PEM;
			break;
		default:
			break;
		}
	}
	free(der.p);
	if (rc < 0)
		return rc;
	return added ? added : ST_ETLS_NO_ANCHORS;
}

int st_tls_trust_load_file(st_tls_trust *trust, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	if (st.st_size > (16 << 20)) {
		close(fd);
		return -EFBIG;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int rc = st_tls_trust_load_pem(trust, buf, got);
	free(buf);
	return rc;
}

void st_tls_trust_free(st_tls_trust *trust)
{
	for (size_t i = 0; i < trust->count; i++)
		anchor_free(&trust->anchors[i]);
	free(trust->anchors);
	st_tls_trust_init(trust);
}

/* ---- SPKI pinning: an X.509 engine wrapped around br_x509_minimal --------- */

/* Reads one DER TLV at *p (< end). Returns 0 and sets value/next, or -1. */
static int der_next(const uint8_t *p, const uint8_t *end, uint8_t *tag,
                    const uint8_t **value, const uint8_t **next)
{
	size_t len;

	if (end - p < 2)
		return -1;
	*tag = *p++;
	len = *p++;
	if (len & 0x80) {
		size_t n = len & 0x7F;
		if (n == 0 || n > 3 || (size_t)(end - p) < n)
			return -1;
		len = 0;
		while (n--)
			len = (len << 8) | *p++;
	}
	if ((size_t)(end - p) < len)
		return -1;
	*value = p;
	*next = p + len;
	return 0;
}

int st_der_find_spki(const uint8_t *cert, size_t len, const uint8_t **spki,
                     size_t *spki_len)
{
	const uint8_t *end = cert + len, *v, *next;
	uint8_t tag;

	if (der_next(cert, end, &tag, &v, &next) || tag != 0x30)
		return -1; /* Certificate */
	if (der_next(v, next, &tag, &v, &next) || tag != 0x30)
		return -1; /* tbsCertificate */
	end = next;
	const uint8_t *p = v;
	if (der_next(p, end, &tag, &v, &next))
		return -1;
	if (tag == 0xA0) /* [0] version */
		p = next;
	/* serialNumber, signature, issuer, validity, subject */
	for (int i = 0; i < 5; i++) {
		if (der_next(p, end, &tag, &v, &next))
			return -1;
		p = next;
	}
	if (der_next(p, end, &tag, &v, &next) || tag != 0x30)
		return -1;
	*spki = p;
	*spki_len = (size_t)(next - p);
	return 0;
}

#define PIN_CTX(ctx) ((st_tls_pinning_x509 *)(void *)(ctx))
#define INNER(pc) (&(pc)->inner->vtable)

static void pin_start_chain(const br_x509_class **ctx, const char *server_name)
{
	st_tls_pinning_x509 *pc = PIN_CTX(ctx);

	pc->cert_index = 0;
	pc->leaf_len = 0;
	pc->leaf_overflow = 0;
	(*INNER(pc))->start_chain(INNER(pc), server_name);
}

static void pin_start_cert(const br_x509_class **ctx, uint32_t length)
{
	st_tls_pinning_x509 *pc = PIN_CTX(ctx);

	if (pc->cert_index == 0 && length > sizeof(pc->leaf))
		pc->leaf_overflow = 1;
	(*INNER(pc))->start_cert(INNER(pc), length);
}

static void pin_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	st_tls_pinning_x509 *pc = PIN_CTX(ctx);

	if (pc->cert_index == 0 && !pc->leaf_overflow) {
		if (len > sizeof(pc->leaf) - pc->leaf_len) {
			pc->leaf_overflow = 1;
		} else {
			memcpy(pc->leaf + pc->leaf_len, buf, len);
			pc->leaf_len += (uint32_t)len;
		}
	}
	(*INNER(pc))->append(INNER(pc), buf, len);
}

static void pin_end_cert(const br_x509_class **ctx)
{
	st_tls_pinning_x509 *pc = PIN_CTX(ctx);

	pc->cert_index++;
	(*INNER(pc))->end_cert(INNER(pc));
}

static unsigned pin_end_chain(const br_x509_class **ctx)
{
	st_tls_pinning_x509 *pc = PIN_CTX(ctx);
	unsigned err = (*INNER(pc))->end_chain(INNER(pc));
	const uint8_t *spki;
	size_t spki_len;
	uint8_t digest[32];

	if (err || !pc->npins)
		return err;
	if (pc->leaf_overflow || st_der_find_spki(pc->leaf, pc->leaf_len, &spki, &spki_len))
		return ST_TLS_ERR_PIN_MISMATCH;
	st_sha256(ST_SHA256_AUTO, spki, spki_len, digest);
	for (unsigned i = 0; i < pc->npins; i++)
		if (!memcmp(digest, pc->pins[i], 32))
			return 0;
	return ST_TLS_ERR_PIN_MISMATCH;
}

static const br_x509_pkey *pin_get_pkey(const br_x509_class *const *ctx,
                                        unsigned *usages)
{
	const st_tls_pinning_x509 *pc = (const void *)ctx;

	return (*(const br_x509_class *const *)&pc->inner->vtable)->get_pkey(
		(const br_x509_class *const *)&pc->inner->vtable, usages);
}

static const br_x509_class PIN_VTABLE = {
	sizeof(st_tls_pinning_x509), pin_start_chain, pin_start_cert, pin_append,
	pin_end_cert, pin_end_chain, pin_get_pkey,
};

/* ---- client ------------------------------------------------------------- */

static int host_ok(const char *host)
{
	size_t n = strnlen(host, ST_TLS_MAX_HOST + 1);

	if (n == 0 || n > ST_TLS_MAX_HOST)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c <= ' ' || c >= 0x7F || c == '/' || c == ':')
			return 0;
	}
	return 1;
}

int st_tls_init(st_tls_context *tls, const st_tls_trust *trust, const char *host)
{
	/* ECDHE only; AES-GCM first with AES-NI, ChaCha20 first without it. */
	static const uint16_t AES_FIRST[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	static const uint16_t CHACHA_FIRST[] = {
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	int aes = (st_cpu_features() & (ST_CPU_AES | ST_CPU_PCLMUL)) ==
	          (ST_CPU_AES | ST_CPU_PCLMUL);

	if (!host_ok(host))
		return ST_ETLS_BAD_HOST;
	memset(tls, 0, offsetof(st_tls_context, iobuf));
	memcpy(tls->host, host, strlen(host) + 1);
	br_ssl_client_init_full(&tls->cc, &tls->xc, trust->anchors, trust->count);
	br_ssl_engine_set_versions(&tls->cc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(&tls->cc.eng, aes ? AES_FIRST : CHACHA_FIRST,
	                         ST_ARRAY_LEN(AES_FIRST));
	tls->pin.vtable = &PIN_VTABLE;
	tls->pin.inner = &tls->xc;
	br_ssl_engine_set_x509(&tls->cc.eng, &tls->pin.vtable);
	br_ssl_engine_set_buffer(&tls->cc.eng, tls->iobuf, sizeof(tls->iobuf), 1);
	return 0;
}

int st_tls_add_pin(st_tls_context *tls, const uint8_t spki_sha256[32])
{
	if (tls->pin.npins == ST_TLS_MAX_PINS)
		return ST_ETLS_TOO_MANY_PINS;
	memcpy(tls->pin.pins[tls->pin.npins++], spki_sha256, 32);
	/* A resumed session skips the certificate: make the next one full. */
	tls->has_session = 0;
	return 0;
}

int st_tls_start(st_tls_context *tls)
{
	if (tls->has_session)
		br_ssl_engine_set_session_parameters(&tls->cc.eng, &tls->session);
	tls->resumed = 0;
	if (!br_ssl_client_reset(&tls->cc, tls->host, tls->has_session))
		return st_tls_error(tls);
	return 0;
}

void st_tls_handshake_done(st_tls_context *tls)
{
	br_ssl_session_parameters now;

	br_ssl_engine_get_session_parameters(&tls->cc.eng, &now);
	tls->resumed = tls->has_session && now.session_id_len &&
	               now.session_id_len == tls->session.session_id_len &&
	               !memcmp(now.session_id, tls->session.session_id,
	                       now.session_id_len);
	tls->session = now;
	tls->has_session = now.session_id_len > 0;
}

int st_tls_resumed(const st_tls_context *tls)
{
	return tls->resumed;
}

br_ssl_engine_context *st_tls_engine(st_tls_context *tls)
{
	return &tls->cc.eng;
}

int st_tls_error(const st_tls_context *tls)
{
	int err = br_ssl_engine_last_error(&tls->cc.eng);

	return err ? ST_TLS_CODE_BASE - err : 0;
}
