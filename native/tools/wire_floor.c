/* SPDX-License-Identifier: MIT */
/*
 * The latency lab's floor: the least a program can do between the packet that
 * completes a triggering transaction and the packet of its order, so that the
 * engine has something honest to be compared with.
 *
 * What it does:
 *   - opens a plain TCP connection to the venue side (--venue) first, with
 *     TCP_NODELAY, and keeps it open; nothing is ever read from it;
 *   - connects to a Bitcoin peer (--peer), sends version and verack, and then
 *     frames the peer's stream (24-byte header, length <= 4,000,000);
 *   - answers each inv by sending the very same message back as getdata (the
 *     payloads have one format, so length and checksum stay valid), and each
 *     ping with a pong carrying its nonce;
 *   - on each complete tx message whose payload contains the marker bytes
 *     (--marker HEX: the deposit's serialized output, value + script), writes
 *     one pre-built record of --record-size bytes (a TLS application-data
 *     header and zeros) on the venue connection in a single send();
 *   - reads the peer with blocking recv() (default) or, with --spin, a
 *     non-blocking socket polled in a loop that never sleeps;
 *   - stops after --count triggers or --txs tx messages, or when the peer
 *     closes, and prints "triggers=N txs=M".
 *
 * What it does not do: no TLS, no WebSocket, no signing, no JSON, no journal,
 * no risk checks, no checksum verification, no transaction parsing (the
 * marker is found by memmem over the payload), no dedup of transactions, one
 * peer only, no reconnect. It is a floor, not a bot: every cost the engine
 * has on top of it is a cost of doing the real job.
 *
 *   wire_floor --peer IP:PORT --venue IP:PORT --marker HEX [--record-size N]
 *              [--spin] [--cpu N] [--count N] [--txs N] [--ready-file PATH]
 *
 * Exit 0 when it stopped as asked, 1 on a connection or protocol error, 2 on
 * bad arguments. A lab tool, not part of the engine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bearssl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEADER 24
#define MAX_PAYLOAD 4000000
#define BUF_SIZE (2 * (HEADER + MAX_PAYLOAD))
#define MAX_MARKER 256
#define MAX_RECORD 16384

static const unsigned char MAGIC[4] = { 0xf9, 0xbe, 0xb4, 0xd9 };
static unsigned char buf[BUF_SIZE];
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: wire_floor --peer IP:PORT --venue IP:PORT --marker HEX "
	                "[--record-size N] [--spin] [--cpu N] [--count N] [--txs N] "
	                "[--ready-file PATH]\n");
	exit(2);
}

static void le32(unsigned char *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

static uint32_t get_le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The message's command is `command` (its NUL included: "tx" is not "txfoo"). */
static int is_command(const unsigned char *m, const char *command)
{
	return !memcmp(m + 4, command, strlen(command) + 1);
}

/* A whole message: header (magic, NUL-padded command, length, checksum) + payload. */
static size_t message(unsigned char *out, const char *command, const void *payload, size_t len)
{
	br_sha256_context h;
	unsigned char d[32];

	memcpy(out, MAGIC, 4);
	memset(out + 4, 0, 12);
	memcpy(out + 4, command, strlen(command));
	le32(out + 16, len);
	br_sha256_init(&h);
	br_sha256_update(&h, payload, len);
	br_sha256_out(&h, d);
	br_sha256_init(&h);
	br_sha256_update(&h, d, 32);
	br_sha256_out(&h, d);
	memcpy(out + 20, d, 4);
	memcpy(out + HEADER, payload, len);
	return HEADER + len;
}

static void send_all(int fd, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len) {
		ssize_t n = send(fd, c, len, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			die("send");
		c += n;
		len -= n;
	}
}

/* IPv4:PORT, or exit 2 naming what is wrong. */
static struct sockaddr_in parse_addr(const char *spec)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int port = colon ? atoi(colon + 1) : 0;

	if (!colon || colon - spec >= (long)sizeof(host) || port <= 0 || port > 65535) {
		fprintf(stderr, "wire_floor: %s is not IPv4:PORT\n", spec);
		exit(2);
	}
	memcpy(host, spec, colon - spec);
	host[colon - spec] = 0;
	sa.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "wire_floor: %s is not an IPv4 address\n", host);
		exit(2);
	}
	return sa;
}

static int connect_to(const struct sockaddr_in *sa, const char *spec)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		die(spec);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static size_t parse_hex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (strlen(hex) % 2 || n == 0 || n > cap)
		usage();
	for (size_t i = 0; i < n; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			usage();
	return n;
}

/* The version message of a client that relays transactions (protocol 70016). */
static size_t version_message(unsigned char *out)
{
	unsigned char p[86 + 14];
	size_t n = 0;
	const char agent[] = "/wire_floor/";
	uint64_t now = (uint64_t)time(NULL);

	memset(p, 0, sizeof(p));
	le32(p, 70016);
	n = 4 + 8;                                 /* version, services 0 */
	for (int i = 0; i < 8; i++)
		p[n + i] = now >> (8 * i);
	n += 8;
	n += 26 + 26;                              /* addr_recv, addr_from: zero */
	n += 8;                                    /* nonce */
	p[n++] = sizeof(agent) - 1;
	memcpy(p + n, agent, sizeof(agent) - 1);
	n += sizeof(agent) - 1;
	n += 4;                                    /* start height 0 */
	p[n++] = 1;                                /* relay */
	return message(out, "version", p, n);
}

int main(int argc, char **argv)
{
	const char *peer = NULL, *venue = NULL, *ready = NULL;
	unsigned char marker[MAX_MARKER], record[MAX_RECORD], out[256];
	size_t marker_len = 0, record_size = 400, have = 0;
	long count = 0, max_txs = 0, triggers = 0, txs = 0;
	int spin = 0, cpu = -1, pfd, vfd;
	struct sigaction sa = { .sa_handler = on_signal };   /* no SA_RESTART */
	struct sockaddr_in peer_sa, venue_sa;

	for (int i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--peer"))
			peer = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--venue"))
			venue = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--marker"))
			marker_len = parse_hex(argv[++i], marker, sizeof(marker));
		else if (i + 1 < argc && !strcmp(argv[i], "--record-size"))
			record_size = strtoul(argv[++i], NULL, 10);
		else if (i + 1 < argc && !strcmp(argv[i], "--cpu"))
			cpu = atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--count"))
			count = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--txs"))
			max_txs = atol(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--ready-file"))
			ready = argv[++i];
		else if (!strcmp(argv[i], "--spin"))
			spin = 1;
		else
			usage();
	}
	if (!peer || !venue || !marker_len || record_size < 6 || record_size > MAX_RECORD)
		usage();
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die("sched_setaffinity");
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	/* The record: a TLS 1.2 application-data header and a body of zeros. */
	memset(record, 0, record_size);
	record[0] = 0x17;
	record[1] = record[2] = 0x03;
	record[3] = (record_size - 5) >> 8;
	record[4] = (record_size - 5) & 0xff;

	peer_sa = parse_addr(peer);
	venue_sa = parse_addr(venue);
	vfd = connect_to(&venue_sa, venue);
	pfd = connect_to(&peer_sa, peer);
	send_all(pfd, out, version_message(out));
	send_all(pfd, out, message(out, "verack", "", 0));
	if (spin && fcntl(pfd, F_SETFL, O_NONBLOCK) < 0)
		die("fcntl");
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f)
			die(ready);
		fprintf(f, "%d\n", getpid());
		fclose(f);
	}

	while (!stopping) {
		ssize_t n = recv(pfd, buf + have, sizeof(buf) - have, 0);
		size_t at = 0;

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;                       /* spinning, or a signal */
		if (n < 0)
			die("recv");
		if (n == 0)
			break;                          /* the peer closed */
		have += n;
		while (have - at >= HEADER) {
			unsigned char *m = buf + at;
			uint32_t len = get_le32(m + 16);

			if (memcmp(m, MAGIC, 4) || len > MAX_PAYLOAD) {
				fprintf(stderr, "wire_floor: not a Bitcoin P2P stream\n");
				return 1;
			}
			if (have - at < HEADER + len)
				break;                  /* the rest is still coming */
			if (is_command(m, "tx")) {
				txs++;
				if (memmem(m + HEADER, len, marker, marker_len)) {
					send_all(vfd, record, record_size);
					triggers++;
				}
			} else if (is_command(m, "inv")) {
				memcpy(m + 4, "getdata", 8);   /* rewritten in place, sent back */
				send_all(pfd, m, HEADER + len);
			} else if (is_command(m, "ping") && len == 8) {
				send_all(pfd, out, message(out, "pong", m + HEADER, 8));
			}
			at += HEADER + len;
			if ((count && triggers >= count) || (max_txs && txs >= max_txs))
				stopping = 1;
		}
		memmove(buf, buf + at, have - at);
		have -= at;
	}
	printf("triggers=%ld txs=%ld\n", triggers, txs);
	return 0;
}
