/* SPDX-License-Identifier: MIT */
/* Names and descriptions of BearSSL's error codes, and of the TLS alerts a
 * peer may send or we may send, so every TLS failure reads like
 * "certificate not trusted (BR_ERR_X509_NOT_TRUSTED)". */
#include <bearssl.h>

#include "inner.h"
#include "st_tls.h"

struct entry {
	int code;
	const char *name;
	const char *text;
};

#define E(code, text) {code, #code, text}

static const struct entry ERRORS[] = {
	E(BR_ERR_OK, "no error"),
	E(BR_ERR_BAD_PARAM, "bad parameter given to the TLS engine"),
	E(BR_ERR_BAD_STATE, "TLS engine called in the wrong state"),
	E(BR_ERR_UNSUPPORTED_VERSION, "the server chose a protocol version we do not support (we speak TLS 1.2 only)"),
	E(BR_ERR_BAD_VERSION, "record with a wrong protocol version"),
	E(BR_ERR_BAD_LENGTH, "record with a wrong length"),
	E(BR_ERR_TOO_LARGE, "record too large"),
	E(BR_ERR_BAD_MAC, "record failed authentication (bad MAC)"),
	E(BR_ERR_NO_RANDOM, "no random source for TLS"),
	E(BR_ERR_UNKNOWN_TYPE, "record of unknown content type"),
	E(BR_ERR_UNEXPECTED, "unexpected message from the server"),
	E(BR_ERR_BAD_CCS, "bad ChangeCipherSpec message"),
	E(BR_ERR_BAD_ALERT, "malformed alert message"),
	E(BR_ERR_BAD_HANDSHAKE, "malformed handshake message"),
	E(BR_ERR_OVERSIZED_ID, "session ID too long"),
	E(BR_ERR_BAD_CIPHER_SUITE, "the server chose a cipher suite we did not offer"),
	E(BR_ERR_BAD_COMPRESSION, "the server chose a compression we did not offer"),
	E(BR_ERR_BAD_FRAGLEN, "bad maximum fragment length"),
	E(BR_ERR_BAD_SECRENEG, "bad secure renegotiation"),
	E(BR_ERR_EXTRA_EXTENSION, "the server sent an extension we did not ask for"),
	E(BR_ERR_BAD_SNI, "bad server name indication"),
	E(BR_ERR_BAD_HELLO_DONE, "bad ServerHelloDone"),
	E(BR_ERR_LIMIT_EXCEEDED, "TLS engine limit exceeded"),
	E(BR_ERR_BAD_FINISHED, "bad Finished message"),
	E(BR_ERR_RESUME_MISMATCH, "session resumption parameters mismatch"),
	E(BR_ERR_INVALID_ALGORITHM, "unsupported or invalid algorithm"),
	E(BR_ERR_BAD_SIGNATURE, "bad server key exchange signature"),
	E(BR_ERR_WRONG_KEY_USAGE, "server key not allowed for this key exchange"),
	E(BR_ERR_NO_CLIENT_AUTH, "the server wants a client certificate and we have none"),
	E(BR_ERR_IO, "I/O error on the TLS connection"),
	E(BR_ERR_X509_INVALID_VALUE, "certificate has an invalid value"),
	E(BR_ERR_X509_TRUNCATED, "certificate is truncated"),
	E(BR_ERR_X509_EMPTY_CHAIN, "the server sent no certificate"),
	E(BR_ERR_X509_INNER_TRUNC, "certificate has a truncated inner element"),
	E(BR_ERR_X509_BAD_TAG_CLASS, "certificate has a bad tag class"),
	E(BR_ERR_X509_BAD_TAG_VALUE, "certificate has a bad tag value"),
	E(BR_ERR_X509_INDEFINITE_LENGTH, "certificate uses an indefinite length"),
	E(BR_ERR_X509_EXTRA_ELEMENT, "certificate has an extra element"),
	E(BR_ERR_X509_UNEXPECTED, "certificate has an unexpected element"),
	E(BR_ERR_X509_NOT_CONSTRUCTED, "certificate element should be constructed"),
	E(BR_ERR_X509_NOT_PRIMITIVE, "certificate element should be primitive"),
	E(BR_ERR_X509_PARTIAL_BYTE, "certificate bit string has a partial byte"),
	E(BR_ERR_X509_BAD_BOOLEAN, "certificate has a bad boolean"),
	E(BR_ERR_X509_OVERFLOW, "certificate value overflows"),
	E(BR_ERR_X509_BAD_DN, "certificate has a bad distinguished name"),
	E(BR_ERR_X509_BAD_TIME, "certificate has a bad time"),
	E(BR_ERR_X509_UNSUPPORTED, "certificate uses an unsupported feature"),
	E(BR_ERR_X509_LIMIT_EXCEEDED, "certificate exceeds a decoder limit"),
	E(BR_ERR_X509_WRONG_KEY_TYPE, "certificate key type does not match"),
	E(BR_ERR_X509_BAD_SIGNATURE, "certificate signature is invalid"),
	E(BR_ERR_X509_TIME_UNKNOWN, "current time unknown, cannot check validity"),
	E(BR_ERR_X509_EXPIRED, "certificate expired or not yet valid"),
	E(BR_ERR_X509_DN_MISMATCH, "certificate chain names do not link"),
	E(BR_ERR_X509_BAD_SERVER_NAME, "certificate does not match the host name"),
	E(BR_ERR_X509_CRITICAL_EXTENSION, "certificate has an unsupported critical extension"),
	E(BR_ERR_X509_NOT_CA, "certificate issuer is not a CA"),
	E(BR_ERR_X509_FORBIDDEN_KEY_USAGE, "certificate key usage forbids this use"),
	E(BR_ERR_X509_WEAK_PUBLIC_KEY, "certificate public key is too weak"),
	E(BR_ERR_X509_NOT_TRUSTED, "certificate not trusted"),
	{ST_TLS_ERR_PIN_MISMATCH, "ST_TLS_PIN_MISMATCH",
	 "server key matches no configured SPKI pin"},
};

/* TLS alerts (RFC 5246 §7.2, RFC 8446 §6). */
static const struct entry ALERTS[] = {
	{0, "close_notify", NULL},
	{10, "unexpected_message", NULL},
	{20, "bad_record_mac", NULL},
	{22, "record_overflow", NULL},
	{40, "handshake_failure", "the server found no parameters it accepts"},
	{42, "bad_certificate", NULL},
	{43, "unsupported_certificate", NULL},
	{44, "certificate_revoked", NULL},
	{45, "certificate_expired", NULL},
	{46, "certificate_unknown", NULL},
	{47, "illegal_parameter", NULL},
	{48, "unknown_ca", NULL},
	{49, "access_denied", NULL},
	{50, "decode_error", NULL},
	{51, "decrypt_error", NULL},
	{70, "protocol_version",
	 "the server requires TLS 1.3 (or another version we do not speak; we speak TLS 1.2 only)"},
	{71, "insufficient_security", NULL},
	{80, "internal_error", NULL},
	{86, "inappropriate_fallback", NULL},
	{90, "user_canceled", NULL},
	{109, "missing_extension", NULL},
	{110, "unsupported_extension", NULL},
	{112, "unrecognized_name", "the server does not know the host name we sent (SNI)"},
	{116, "no_application_protocol", NULL},
};

/* Names like "BR_ERR_RECV_FATAL_ALERT(protocol_version)" must be static
 * strings, so the two families are spelled out by these macros. */
#define RECV(a) "BR_ERR_RECV_FATAL_ALERT(" a ")"
#define SENT(a) "BR_ERR_SEND_FATAL_ALERT(" a ")"

static const char *const RECV_NAMES[] = {
	RECV("close_notify"), RECV("unexpected_message"), RECV("bad_record_mac"),
	RECV("record_overflow"), RECV("handshake_failure"), RECV("bad_certificate"),
	RECV("unsupported_certificate"), RECV("certificate_revoked"),
	RECV("certificate_expired"), RECV("certificate_unknown"),
	RECV("illegal_parameter"), RECV("unknown_ca"), RECV("access_denied"),
	RECV("decode_error"), RECV("decrypt_error"), RECV("protocol_version"),
	RECV("insufficient_security"), RECV("internal_error"),
	RECV("inappropriate_fallback"), RECV("user_canceled"),
	RECV("missing_extension"), RECV("unsupported_extension"),
	RECV("unrecognized_name"), RECV("no_application_protocol"),
};
static const char *const SENT_NAMES[] = {
	SENT("close_notify"), SENT("unexpected_message"), SENT("bad_record_mac"),
	SENT("record_overflow"), SENT("handshake_failure"), SENT("bad_certificate"),
	SENT("unsupported_certificate"), SENT("certificate_revoked"),
	SENT("certificate_expired"), SENT("certificate_unknown"),
	SENT("illegal_parameter"), SENT("unknown_ca"), SENT("access_denied"),
	SENT("decode_error"), SENT("decrypt_error"), SENT("protocol_version"),
	SENT("insufficient_security"), SENT("internal_error"),
	SENT("inappropriate_fallback"), SENT("user_canceled"),
	SENT("missing_extension"), SENT("unsupported_extension"),
	SENT("unrecognized_name"), SENT("no_application_protocol"),
};

_Static_assert(ST_ARRAY_LEN(RECV_NAMES) == ST_ARRAY_LEN(ALERTS), "alert names");
_Static_assert(ST_ARRAY_LEN(SENT_NAMES) == ST_ARRAY_LEN(ALERTS), "alert names");

static int alert_index(int alert)
{
	for (size_t i = 0; i < ST_ARRAY_LEN(ALERTS); i++)
		if (ALERTS[i].code == alert)
			return (int)i;
	return -1;
}

static const struct entry *lookup(int br_err)
{
	for (size_t i = 0; i < ST_ARRAY_LEN(ERRORS); i++)
		if (ERRORS[i].code == br_err)
			return &ERRORS[i];
	return NULL;
}

const char *st_tls_error_name(int br_err)
{
	const struct entry *e = lookup(br_err);
	int a;

	if (e)
		return e->name;
	if (br_err >= BR_ERR_RECV_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT) {
		a = alert_index(br_err - BR_ERR_RECV_FATAL_ALERT);
		return a >= 0 ? RECV_NAMES[a] : "BR_ERR_RECV_FATAL_ALERT";
	}
	if (br_err >= BR_ERR_SEND_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT + 256) {
		a = alert_index(br_err - BR_ERR_SEND_FATAL_ALERT);
		return a >= 0 ? SENT_NAMES[a] : "BR_ERR_SEND_FATAL_ALERT";
	}
	return "BR_ERR_UNKNOWN";
}

const char *st_tls_error_text(int br_err)
{
	const struct entry *e = lookup(br_err);

	if (e)
		return e->text;
	if (br_err >= BR_ERR_RECV_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT) {
		int a = alert_index(br_err - BR_ERR_RECV_FATAL_ALERT);
		if (a >= 0 && ALERTS[a].text)
			return ALERTS[a].text;
		return "the server ended the handshake with a fatal alert";
	}
	if (br_err >= BR_ERR_SEND_FATAL_ALERT && br_err < BR_ERR_SEND_FATAL_ALERT + 256)
		return "we ended the connection with a fatal alert";
	return "unknown TLS error";
}
