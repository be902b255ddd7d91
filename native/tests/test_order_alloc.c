/* SPDX-License-Identifier: MIT */
/*
 * Zero allocations per order, over the whole path and a real TLS server:
 * trigger -> risk -> build + sign -> journal -> frame + encrypt + submit ->
 * (the server echoes it) -> receive + decrypt -> answer parse -> journal.
 * Between orders the desk rehearses (st_desk_rehearse) REHEARSALS times:
 * no allocation either, nothing sent or journaled, and the next real record
 * still decrypts at the server (the TLS sequence number is intact).
 *
 * The server is our C BearSSL echo server (native/tools/ws_echo_server) on
 * 127.0.0.1 with a throwaway certificate made by the openssl CLI; without
 * openssl the test is skipped. Our order comes back as its own "answer":
 * it carries our request id, so the desk matches and journals it.
 *
 * ST_ORDER_ROW=<prefix> runs the same path with a venue's own order template
 * and answer schema instead of the built-in ones: <prefix>.message,
 * <prefix>.payload (present when the native side signs), <prefix>.schema (the
 * raw st_desk_schema) and <prefix>.decimals ("price quantity"), as
 * tests/test_native_c.py writes them for each venue adapter's example rows.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "st_conn.h"
#include "st_journal.h"
#include "st_loop.h"
#include "st_desk.h"
#include "t_alloc.h"
#include "t_util.h"

#define ORDERS 200
#define REHEARSALS 50
/* The whole test takes a few seconds; past this it has hung (a broken codec
 * the echo server cannot read): fail with a message, not a runner timeout. */
#define DEADLINE_S 60
#define STR_(x) #x
#define STR(x) STR_(x)

static const char MESSAGE[] =
	"{\"id\":\0\1,\"method\":\"order.place\",\"params\":{\"apiKey\":\"k\","
	"\"newClientOrderId\":\"st\0\2\",\"price\":\"\0\4\",\"quantity\":\"\0\5\","
	"\"side\":\"BUY\",\"signature\":\"\0\6\",\"symbol\":\"BTCUSDT\","
	"\"timeInForce\":\"IOC\",\"timestamp\":\"\0\3\",\"type\":\"LIMIT\"}}";
/* The echo comes back as the order itself: matched by its id, refused (no status). */
static const st_desk_schema SCHEMA = {
	.request_id = {.depth = 1, .key = "id"},
	.status = {.depth = 1, .key = "status"}, .ok_value = 200, .status_is_http = 1,
};

static const char PAYLOAD[] =
	"apiKey=k&newClientOrderId=st\0\2&price=\0\4&quantity=\0\5&side=BUY"
	"&symbol=BTCUSDT&timeInForce=IOC&timestamp=\0\3&type=LIMIT";

/* The order this run sends: the built-in one or a venue's (ST_ORDER_ROW). */
static struct {
	uint8_t message[8192], payload[8192];
	size_t message_len, payload_len;
	st_desk_schema schema;
	int sign, price_decimals, quantity_decimals;
} row;

/* Reads all of path into buf; its length, or -1 if missing or over cap. */
static long read_all(const char *path, void *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap, f);
	int more = fgetc(f) != EOF;
	fclose(f);
	return more ? -1 : (long)n;
}

/* Fills `row`; 0, or -1 naming what is wrong on stdout. */
static int load_row(void)
{
	const char *prefix = getenv("ST_ORDER_ROW");
	if (!prefix) {
		memcpy(row.message, MESSAGE, sizeof(MESSAGE) - 1);
		row.message_len = sizeof(MESSAGE) - 1;
		memcpy(row.payload, PAYLOAD, sizeof(PAYLOAD) - 1);
		row.payload_len = sizeof(PAYLOAD) - 1;
		row.schema = SCHEMA;
		row.sign = ST_ORDER_SIGN_HMAC_HEX;
		row.price_decimals = 2;
		row.quantity_decimals = 8;
		return 0;
	}
	char path[600], decimals[32] = {0};
	long n;
	snprintf(path, sizeof(path), "%s.message", prefix);
	if ((n = read_all(path, row.message, sizeof(row.message))) <= 0)
		return printf("%s: missing, empty or too big\n", path), -1;
	row.message_len = (size_t)n;
	snprintf(path, sizeof(path), "%s.payload", prefix);
	n = read_all(path, row.payload, sizeof(row.payload));
	row.payload_len = n > 0 ? (size_t)n : 0;
	row.sign = n > 0 ? ST_ORDER_SIGN_HMAC_HEX : ST_ORDER_SIGN_NONE;
	snprintf(path, sizeof(path), "%s.schema", prefix);
	if (read_all(path, &row.schema, sizeof(row.schema)) != (long)sizeof(row.schema))
		return printf("%s: not a st_desk_schema of %zu bytes\n", path,
		              sizeof(row.schema)), -1;
	snprintf(path, sizeof(path), "%s.decimals", prefix);
	if (read_all(path, decimals, sizeof(decimals) - 1) <= 0 ||
	    sscanf(decimals, "%d %d", &row.price_decimals, &row.quantity_decimals) != 2)
		return printf("%s: not \"price quantity\"\n", path), -1;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int make_cert(const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
	         "-keyout %s/key.pem -out %s/cert.pem -days 2 -subj /CN=localhost "
	         "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
	         "-addext basicConstraints=critical,CA:TRUE >/dev/null 2>&1", dir, dir);
	return system(cmd);
}

/* Starts the echo server from the tools directory beside ours; its port. */
static int start_server(const char *dir, pid_t *pid)
{
	char self[PATH_MAX], server[PATH_MAX + 32], cert[600], key[600], ready[600];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = 0;
	snprintf(server, sizeof(server), "%s/../tools/ws_echo_server", dirname(self));
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(ready, sizeof(ready), "%s/port", dir);
	*pid = fork();
	if (*pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		execl(server, server, "--cert", cert, "--key", key, "--ready-file", ready,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		FILE *f = fopen(ready, "r");
		int port = 0;
		if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
			fclose(f);
			return port;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	return -1;
}

/* Runs the loop and the desk until `answers` answers arrived (or 10 s). */
static int pump_until(st_loop *loop, st_desk *v, uint64_t answers)
{
	uint64_t deadline = now_ns() + 10000000000ull;
	while (v->stats.acks + v->stats.rejects < answers) {
		if (now_ns() > deadline)
			return -1;
		st_loop_run(loop, 1000000);
		st_desk_poll(v, now_ns());
	}
	return 0;
}

static volatile pid_t server_pid = -1;

static void on_deadline(int sig)
{
	static const char msg[] = "test_order_alloc: no result after " STR(DEADLINE_S)
	                          " s: the echoes stopped coming back\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) { /* nothing more to do */ }
	if (server_pid > 0)
		kill(server_pid, SIGTERM);
	_exit(T_EXIT_FAIL);
}

static st_loop loop;
static st_tls_trust trust;
static st_conn conn;
static st_conn_pair pair;
static st_journal journal;
static st_desk venue;
static uint8_t msgbuf[65536];

int main(void)
{
	char dir[] = "/tmp/st-order-alloc-XXXXXX", path[600];
	pid_t pid = -1;

	signal(SIGALRM, on_deadline);
	alarm(DEADLINE_S);
	if (load_row() != 0)
		return T_EXIT_FAIL;

	if (!mkdtemp(dir) || make_cert(dir) != 0) {
		printf("no openssl CLI to make a certificate\n");
		return T_EXIT_SKIP;
	}
	int port = start_server(dir, &pid);
	server_pid = pid;
	T_CHECK(port > 0, "echo server did not start");
	if (port <= 0)
		goto out;
	if (st_loop_init(&loop, ST_LOOP_INTERRUPT, -1) != 0) {
		printf("no io_uring here\n");
		kill(pid, SIGTERM);
		return T_EXIT_SKIP;
	}
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	st_tls_trust_init(&trust);
	T_CHECK(st_tls_trust_load_file(&trust, path) == 1, "trust");
	T_CHECK(st_conn_init(&conn, &loop, &trust, "localhost", "127.0.0.1", port,
	                     ST_CONN_PROTO_WS, "/", NULL, msgbuf, sizeof(msgbuf)) == 0, "conn init");
	T_CHECK(st_conn_open(&conn) == 0, "open");
	for (uint64_t end = now_ns() + 10000000000ull; conn.state != ST_CONN_OPEN && now_ns() < end;)
		st_loop_run(&loop, 1000000);
	T_CHECK(conn.state == ST_CONN_OPEN, "connection not open (error %d)", conn.last_error);

	snprintf(path, sizeof(path), "%s/journal", dir);
	T_CHECK(st_journal_open(&journal, path, 10000) == 0, "journal");
	st_conn_pair_init(&pair, &conn, NULL);
	st_risk_limits limits = {
		.max_quantity = 1000000000, .max_notional = UINT64_MAX / 2, .max_open_orders = 1000,
		.burst = 1000000, .interval_ns = 1, .max_price_age_ns = UINT64_MAX / 4,
	};
	T_CHECK(st_desk_init(&venue, &row.schema, 0, &pair, &journal, &limits,
	                     5000000000ull, 1) == 0, "venue init");
	T_CHECK(st_desk_set_key(&venue, "secret", 6) == 0, "key");
	st_desk_leg_spec leg = {.side = ST_SIDE_BUY, .quantity = 1000000, .offset_bps = 10,
	                         .tick = 1, .has_price = 1};
	T_CHECK(st_desk_add_leg(&venue, &leg, row.message, row.message_len,
	                        row.payload_len ? row.payload : NULL, row.payload_len, row.sign,
	                        row.price_decimals, row.quantity_decimals) == 0, "leg");
	st_desk_set_ready(&venue, 0);
	if (t_failures)
		goto out;

	/* Warm-up: the first order and its echo, outside the count. */
	uint8_t txid[32] = {1};
	st_desk_set_book(&venue, 5200000, 5200010, now_ns());
	T_CHECK(st_desk_fire(&venue, txid, now_ns()) == 1, "warm-up order not sent");
	T_CHECK(pump_until(&loop, &venue, 1) == 0, "warm-up echo did not come back within 10 s");
	if (t_failures)
		goto out;

	T_CHECK(t_alloc_counter_ready(), "allocation counter is blind");

	static const uint8_t untouched[64];
	T_CHECK(!memcmp(conn.rehearsal + ST_CONN_REHEARSAL_ROOM, untouched, sizeof(untouched)),
	        "rehearsal record written before any rehearsal");
	uint64_t sent_before = conn.stats.msgs_sent, bytes_before = conn.stats.bytes_sent;
	long before = allocations;
	for (uint32_t i = 0; i < ORDERS; i++) {
		for (int k = 0; k < REHEARSALS; k++)
			st_desk_rehearse(&venue);
		T_CHECK(conn.stats.msgs_sent == sent_before + i && conn.stats.bytes_sent >=
		        bytes_before && st_journal_count(&journal) == 2 * (i + 1),
		        "a rehearsal sent or journaled something (order %u)", i);
		txid[0] = (uint8_t)(i + 2);
		txid[1] = (uint8_t)((i + 2) >> 8);
		st_desk_set_book(&venue, 5200000 + i, 5200010 + i, now_ns());
		T_CHECK(st_desk_fire(&venue, txid, now_ns()) == 1, "order %u not sent", i);
		if (pump_until(&loop, &venue, i + 2) != 0) {
			T_CHECK(0, "echo %u did not come back within 10 s", i);
			goto out; /* the rest would wait 10 s each */
		}
	}
	long during = allocations - before;
	T_CHECK(memcmp(conn.rehearsal + ST_CONN_REHEARSAL_ROOM, untouched, sizeof(untouched)),
	        "the rehearsals encrypted nothing");
	T_CHECK(during == 0, "%ld allocations for %d orders", during, ORDERS);
	T_CHECK(venue.stats.orders_sent == ORDERS + 1 && venue.stats.unmatched == 0,
	        "sent %lu, unmatched %lu", (unsigned long)venue.stats.orders_sent,
	        (unsigned long)venue.stats.unmatched);
	/* Every order and every answer is in the journal. */
	T_CHECK(st_journal_count(&journal) == 2 * (ORDERS + 1), "journal holds %lu records",
	        (unsigned long)st_journal_count(&journal));
	printf("allocations during %d orders (fire, sign, send, echo, parse, journal) and "
	       "%d rehearsals: %ld\n", ORDERS, ORDERS * REHEARSALS, during);
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_exit_code();
}
