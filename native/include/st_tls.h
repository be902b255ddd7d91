/* SPDX-License-Identifier: MIT */
/*
 * TLS client on BearSSL, I/O-free: the loop pumps the engine through
 * BearSSL's own buf/ack pairs (br_ssl_engine_sendrec_buf() and friends on
 * st_tls_engine()).
 *
 * TLS 1.2 only (BearSSL's maximum), ECDHE suites with AES-GCM first when the
 * CPU has AES-NI (ChaCha20-Poly1305 first otherwise), SNI and host name
 * verification always on, optional SHA-256 pins of the server's
 * SubjectPublicKeyInfo, session resumption on reconnect.
 */
#ifndef ST_TLS_H
#define ST_TLS_H

#include <bearssl.h>
#include <stddef.h>
#include <stdint.h>

#include "st_error.h"

/* cdef-begin */
#define ST_TLS_MAX_PINS      4
#define ST_TLS_MAX_LEAF      16384
#define ST_TLS_MAX_HOST      253

/* A TLS failure as an ST code: ST_TLS_CODE_BASE - (BearSSL error code). */
#define ST_TLS_CODE_BASE         (-20000)
#define ST_TLS_CODE_LAST         (-22047)
/* BearSSL-range code our X.509 wrapper returns when no pin matches. */
#define ST_TLS_ERR_PIN_MISMATCH 1024

/* Errors of trust loading. */
#define ST_ETLS_PEM          (-10200)
#define ST_ETLS_NO_ANCHORS   (-10201)
#define ST_ETLS_BAD_HOST     (-10202)
#define ST_ETLS_TOO_MANY_PINS (-10203)

/* Trust anchors, decoded once at start-up (the only part that allocates). */
typedef struct st_tls_trust {
	br_x509_trust_anchor *anchors;
	size_t count;
	size_t cap;
	size_t skipped;   /* certificates whose key BearSSL cannot use */
} st_tls_trust;

/* The X.509 engine we hand BearSSL: the minimal one plus pin checking. */
typedef struct st_tls_pinning_x509 {
	const br_x509_class *vtable;
	br_x509_minimal_context *inner;
	uint32_t cert_index;
	uint32_t leaf_len;
	uint8_t leaf_overflow;
	uint8_t npins;
	uint8_t pins[ST_TLS_MAX_PINS][32];
	uint8_t leaf[ST_TLS_MAX_LEAF];
} st_tls_pinning_x509;

typedef struct st_tls_context {
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	st_tls_pinning_x509 pin;
	br_ssl_session_parameters session;
	uint8_t has_session;
	uint8_t resumed;
	char host[ST_TLS_MAX_HOST + 1];
	uint8_t iobuf[BR_SSL_BUFSIZE_BIDI];
} st_tls_context;

/* Path of the system CA bundle (Debian's ca-certificates). */
const char *st_tls_system_bundle(void);

/* Empty set of anchors. */
void st_tls_trust_init(st_tls_trust *trust);

/*
 * Adds every certificate of a PEM file (or of pem[0..len)) as a trust
 * anchor. Returns the number added, -errno (file), ST_ETLS_PEM (malformed
 * PEM or DER), ST_ETLS_NO_ANCHORS (nothing usable) or -ENOMEM.
 */
int st_tls_trust_load_file(st_tls_trust *trust, const char *path);
int st_tls_trust_load_pem(st_tls_trust *trust, const void *pem, size_t len);

/* Frees the anchors. */
void st_tls_trust_free(st_tls_trust *trust);

/*
 * Sets up a client for host (SNI and certificate name check) trusting
 * `trust`, which must outlive the context and not change while it is used
 * (BearSSL keeps a pointer to its array). Returns 0 or ST_ETLS_BAD_HOST.
 */
int st_tls_init(st_tls_context *tls, const st_tls_trust *trust, const char *host);

/*
 * Requires the server key's SPKI SHA-256 to equal one of the pins added.
 * Returns 0 or ST_ETLS_TOO_MANY_PINS.
 */
int st_tls_add_pin(st_tls_context *tls, const uint8_t spki_sha256[32]);

/* Starts a handshake (resuming the last session if there is one).
 * Returns 0 or an ST_ETLS_* code. */
int st_tls_start(st_tls_context *tls);

/* Call once the handshake is done: saves the session, notes resumption. */
void st_tls_handshake_done(st_tls_context *tls);

/* 1 when the last handshake resumed a session. */
int st_tls_resumed(const st_tls_context *tls);

/* The engine's last error as an ST code (0 when none). */
int st_tls_error(const st_tls_context *tls);

/* Name and description of a BearSSL error code (not an ST code). */
const char *st_tls_error_name(int br_err);
const char *st_tls_error_text(int br_err);
/* cdef-end */

/* The engine, for the buf/ack pumping (C only: cffi does not see BearSSL). */
br_ssl_engine_context *st_tls_engine(st_tls_context *tls);

#endif
