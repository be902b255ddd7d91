/* SPDX-License-Identifier: MIT */
/*
 * A TLS WebSocket echo server for `stratum bench wsecho`, written so that it
 * is not the bottleneck: one connection at a time on 127.0.0.1, BearSSL
 * server (TLS 1.2), and with --spin it polls its socket without sleeping, so
 * no wake-up sits in the measured round trip. Text and binary frames come
 * back with the same opcode; pings get pongs; a close is answered.
 *
 *   ws_echo_server --cert CHAIN.pem --key KEY.pem [--port N]
 *                  [--ready-file PATH] [--spin]
 *
 * Prints "READY <port>" once listening. A bench tool, not part of the engine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "st_ws.h"

#define MAX_FRAME (1 << 20)

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* ---- credentials ------------------------------------------------------------ */

struct blob {
	unsigned char *p;
	size_t len, cap;
};

static void blob_append(void *ctx, const void *data, size_t len)
{
	struct blob *b = ctx;

	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static struct blob read_file(const char *path)
{
	struct blob b = {0};
	unsigned char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "ws_echo_server: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		blob_append(&b, buf, (size_t)n);
	close(fd);
	return b;
}

/* Calls on_object(name, der) for every PEM object in the file. */
static void for_each_pem(const char *path, void (*on_object)(const char *, struct blob *, void *),
                         void *arg)
{
	struct blob file = read_file(path), der = {0};
	br_pem_decoder_context pc;
	char name[128] = "";
	size_t off = 0;

	br_pem_decoder_init(&pc);
	while (off < file.len) {
		off += br_pem_decoder_push(&pc, file.p + off, file.len - off);
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			snprintf(name, sizeof(name), "%s", br_pem_decoder_name(&pc));
			der.len = 0;
			br_pem_decoder_setdest(&pc, blob_append, &der);
			break;
		case BR_PEM_END_OBJ:
			on_object(name, &der, arg);
			break;
		case BR_PEM_ERROR:
			fprintf(stderr, "ws_echo_server: %s: bad PEM\n", path);
			exit(2);
		}
	}
	free(file.p);
	free(der.p);
}

struct chain {
	br_x509_certificate certs[8];
	size_t n;
};

static void add_cert(const char *name, struct blob *der, void *arg)
{
	struct chain *c = arg;

	if (strcmp(name, "CERTIFICATE") || c->n == 8)
		return;
	c->certs[c->n].data = malloc(der->len);
	memcpy(c->certs[c->n].data, der->p, der->len);
	c->certs[c->n++].data_len = der->len;
}

struct key {
	br_skey_decoder_context dc;
	int found;
};

static void add_key(const char *name, struct blob *der, void *arg)
{
	struct key *k = arg;

	if (k->found || !strstr(name, "PRIVATE KEY"))
		return;
	br_skey_decoder_init(&k->dc);
	br_skey_decoder_push(&k->dc, der->p, der->len);
	k->found = br_skey_decoder_key_type(&k->dc) != 0;
	if (k->found) /* the decoder points into der: keep a copy alive */
		der->p = NULL, der->len = der->cap = 0;
}

/* ---- one connection ---------------------------------------------------------- */

struct session {
	int fd, spin, upgraded, closing;
	unsigned char in[MAX_FRAME + 64];
	size_t in_len;
	unsigned char out[2 * MAX_FRAME + 256];
	size_t out_len;
};

static void queue_out(struct session *s, const void *p, size_t n)
{
	if (s->out_len + n > sizeof(s->out)) {
		s->closing = 1; /* the client does not read: give up on it */
		return;
	}
	memcpy(s->out + s->out_len, p, n);
	s->out_len += n;
}

static void queue_frame(struct session *s, int b0, const unsigned char *payload, size_t n)
{
	unsigned char h[10];
	size_t hl = 2;

	h[0] = (unsigned char)b0;
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[9 - i] = (unsigned char)((uint64_t)n >> (8 * i));
		hl = 10;
	}
	queue_out(s, h, hl);
	queue_out(s, payload, n);
}

/* The upgrade request: answer 101 with the accept for its key. */
static int on_request(struct session *s)
{
	unsigned char *end = memmem(s->in, s->in_len, "\r\n\r\n", 4);
	char accept[29], response[256];

	if (!end)
		return s->in_len < 8192 ? 0 : -1;
	*end = 0;
	char *key = strcasestr((char *)s->in, "\r\nSec-WebSocket-Key:");
	if (!key)
		return -1;
	key += 20;
	while (*key == ' ')
		key++;
	size_t klen = strcspn(key, "\r");
	if (st_ws_accept_for_key(key, klen, accept) < 0)
		return -1;
	int n = snprintf(response, sizeof(response),
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	queue_out(s, response, (size_t)n);
	size_t used = (size_t)(end + 4 - s->in);
	memmove(s->in, s->in + used, s->in_len - used);
	s->in_len -= used;
	s->upgraded = 1;
	return 0;
}

/* Echoes every whole client frame in s->in. */
static int on_frames(struct session *s)
{
	for (;;) {
		unsigned char *p = s->in;
		size_t have = s->in_len, hl = 2, n;

		if (have < 2)
			return 0;
		if (!(p[1] & 0x80))
			return -1; /* clients must mask */
		n = p[1] & 0x7F;
		if (n == 126) {
			if (have < 4)
				return 0;
			n = (size_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (n == 127) {
			if (have < 10)
				return 0;
			n = 0;
			for (int i = 2; i < 10; i++)
				n = n << 8 | p[i];
			hl = 10;
		}
		if (n > MAX_FRAME)
			return -1;
		if (have < hl + 4 + n)
			return 0;
		unsigned char *mask = p + hl, *payload = p + hl + 4;
		for (size_t i = 0; i < n; i++)
			payload[i] ^= mask[i & 3];
		int op = p[0] & 0x0F;
		if (op == 0x9)
			queue_frame(s, 0x8A, payload, n);
		else if (op == 0x8) {
			queue_frame(s, 0x88, payload, n < 2 ? 0 : 2);
			s->closing = 1;
		} else if (op != 0xA)
			queue_frame(s, p[0] & 0x8F, payload, n); /* same FIN and opcode */
		size_t used = hl + 4 + n;
		memmove(s->in, s->in + used, have - used);
		s->in_len -= used;
	}
}

static void serve(int fd, const struct chain *chain, struct key *key, int spin)
{
	static struct session s;
	static br_ssl_server_context sc;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	br_ssl_engine_context *eng = &sc.eng;

	memset(&s, 0, sizeof(s));
	s.fd = fd;
	s.spin = spin;
	if (br_skey_decoder_key_type(&key->dc) == BR_KEYTYPE_EC)
		br_ssl_server_init_full_ec(&sc, chain->certs, chain->n, BR_KEYTYPE_EC,
		                           br_skey_decoder_get_ec(&key->dc));
	else
		br_ssl_server_init_full_rsa(&sc, chain->certs, chain->n,
		                            br_skey_decoder_get_rsa(&key->dc));
	/* Every client gets the same suite, whatever order it offers. */
	static const uint16_t SUITES[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	};
	br_ssl_engine_set_suites(eng, SUITES, 2);
	br_ssl_engine_add_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffer(eng, iobuf, sizeof(iobuf), 1);
	br_ssl_server_reset(&sc);

	while (!stopping) {
		unsigned st = br_ssl_engine_current_state(eng);
		int progress = 0;
		size_t len;
		unsigned char *buf;

		if (st & BR_SSL_CLOSED)
			break;
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				progress = 1;
			} else if (n < 0 && errno != EAGAIN) {
				break;
			}
		}
		if (st & BR_SSL_RECVAPP) {
			buf = br_ssl_engine_recvapp_buf(eng, &len);
			if (len > sizeof(s.in) - s.in_len)
				len = sizeof(s.in) - s.in_len;
			memcpy(s.in + s.in_len, buf, len);
			s.in_len += len;
			br_ssl_engine_recvapp_ack(eng, len);
			if ((s.upgraded ? on_frames(&s) : on_request(&s)) < 0)
				break;
			if (s.upgraded && s.in_len && on_frames(&s) < 0)
				break;
			progress = 1;
		}
		if ((st & BR_SSL_SENDAPP) && s.out_len) {
			buf = br_ssl_engine_sendapp_buf(eng, &len);
			if (len > s.out_len)
				len = s.out_len;
			memcpy(buf, s.out, len);
			memmove(s.out, s.out + len, s.out_len - len);
			s.out_len -= len;
			br_ssl_engine_sendapp_ack(eng, len);
			br_ssl_engine_flush(eng, 0);
			if (!s.out_len && s.closing)
				br_ssl_engine_close(eng);
			progress = 1;
		}
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				progress = 1;
			} else if (n == 0 || errno != EAGAIN) {
				break;
			}
		}
		if (!progress && !spin) {
			struct pollfd pfd = {fd, POLLIN | ((st & BR_SSL_SENDREC) ? POLLOUT : 0), 0};
			poll(&pfd, 1, 100);
		}
	}
	close(fd);
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *keyfile = NULL, *ready = NULL;
	int port = 0, spin = 0;
	struct chain chain = {0};
	struct key key = {0};

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spin"))
			spin = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--cert"))
			cert = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--key"))
			keyfile = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--ready-file"))
			ready = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--port"))
			port = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: ws_echo_server --cert PEM --key PEM [--port N] "
			                "[--ready-file PATH] [--spin]\n");
			return 2;
		}
	}
	if (!cert || !keyfile || port < 0 || port > 65535) {
		fprintf(stderr, "ws_echo_server: --cert and --key are required, port 0..65535\n");
		return 2;
	}
	for_each_pem(cert, add_cert, &chain);
	for_each_pem(keyfile, add_key, &key);
	if (!chain.n || !key.found) {
		fprintf(stderr, "ws_echo_server: no certificate in %s or no usable key in %s\n",
		        cert, keyfile);
		return 2;
	}

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	socklen_t alen = sizeof(addr);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* loopback only, by design */
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 8) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
		perror("ws_echo_server: listen");
		return 1;
	}
	printf("READY %d\n", ntohs(addr.sin_port));
	fflush(stdout);
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f) {
			fprintf(f, "%d\n", ntohs(addr.sin_port));
			fclose(f);
		}
	}
	while (!stopping) {
		struct pollfd pfd = {lfd, POLLIN, 0};
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve(fd, &chain, &key, spin);
	}
	close(lfd);
	return 0;
}
