/* SPDX-License-Identifier: MIT */
/*
 * The signing core and the WebSocket codec allocate nothing and make no
 * system call once set up.
 *
 * Allocations are counted by interposing malloc and friends (or, under
 * AddressSanitizer, which owns malloc, through its allocation hooks).
 * System calls are ruled out by running the calls in a child under
 * seccomp strict mode, where any syscall but read/write/exit kills it.
 */
#define _GNU_SOURCE
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "st_hmac.h"
#include "st_random.h"
#include "st_sha256.h"
#include "st_ws.h"
#include "t_util.h"

#include "t_alloc.h"

static const char PAYLOAD[] =
	"apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
	"&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL"
	"&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT";
static const char SECRET[] =
	"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
static const char EXPECTED[] =
	"aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24";

/* Runs fn in a child under seccomp strict mode; returns its wait status. */
static int run_strict(int (*fn)(void *), void *arg)
{
	int status = -1;

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
			syscall(SYS_exit, 3);
		syscall(SYS_exit, fn(arg));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static int makes_a_syscall(void *arg)
{
	(void)arg;
	return (int)syscall(SYS_getpid) > 0 ? 0 : 2;
}

/* One order-sized message framed (masked) and an ack-sized one parsed. */
static int ws_round(st_random_context *rng)
{
	static uint8_t frame[512], msg[512], control[ST_WS_MAX_CONTROL_FRAME];
	static const uint8_t ACK[] = "\x81\x1c{\"id\":1,\"status\":200,\"r\":[]}";
	st_ws_context ws;
	const uint8_t *m;
	size_t mlen;

	size_t n = st_ws_frame(frame, sizeof(frame), ST_WS_OP_TEXT, PAYLOAD,
	                       sizeof(PAYLOAD) - 1, st_random_u32(rng));
	st_ws_init(&ws, msg, sizeof(msg));
	long used = st_ws_recv(&ws, ACK, sizeof(ACK) - 1);
	int ok = n == sizeof(PAYLOAD) - 1 + 8 && used == (long)sizeof(ACK) - 1 &&
	         st_ws_message(&ws, &m, &mlen) == ST_WS_OP_TEXT && mlen == 28;
	st_ws_message_done(&ws);
	st_ws_close(&ws, ST_WS_CLOSE_NORMAL);
	ok &= st_ws_take_control(&ws, control, st_random_u32(rng)) == 8;
	return !ok;
}

/* The hot-path calls, many times over; returns 0 when every result matched. */
static int hot_calls(const st_hmac_sha256_key *keys, size_t nkeys,
                     st_random_context *rng)
{
	char hex[64];
	uint8_t digest[32];
	int bad = 0;

	for (int i = 0; i < 2000; i++) {
		for (size_t k = 0; k < nkeys; k++) {
			st_hmac_sha256_hex(&keys[k], PAYLOAD, sizeof(PAYLOAD) - 1, hex);
			bad |= memcmp(hex, EXPECTED, 64) != 0;
		}
		st_sha256d(PAYLOAD, sizeof(PAYLOAD) - 1, digest);
		(void)st_random_u32(rng); /* crosses many buffer refills */
		bad |= ws_round(rng);
	}
	return bad;
}

struct hot_args {
	const st_hmac_sha256_key *keys;
	size_t nkeys;
	st_random_context *rng;
};

static int hot_calls_strict(void *arg)
{
	struct hot_args *a = arg;
	return hot_calls(a->keys, a->nkeys, a->rng);
}

int main(void)
{
	st_hmac_sha256_key keys[2];
	size_t nkeys = 0;
	st_random_context rng;

	/* Set-up may do what it likes; the counting starts after it. */
	T_CHECK(st_hmac_sha256_key_init(&keys[nkeys++], ST_SHA256_PORTABLE,
	                                SECRET, sizeof(SECRET) - 1) == 0, "init");
	if (st_sha256_impl_available(ST_SHA256_SHANI))
		T_CHECK(st_hmac_sha256_key_init(&keys[nkeys++], ST_SHA256_SHANI,
		                                SECRET, sizeof(SECRET) - 1) == 0, "init");
	T_CHECK(st_random_init(&rng) == 0, "random init");
	T_CHECK(t_alloc_counter_ready(), "allocation counter is blind");

	long before = allocations;
	T_CHECK(hot_calls(keys, nkeys, &rng) == 0, "a signing or codec result was wrong");
	long during = allocations - before;
	T_CHECK(during == 0, "%ld allocations in the signing calls", during);
	printf("allocations during %d signing and codec calls: %ld\n", 2000 * (int)(nkeys + 1), during);

	/* Strict mode kills a child that makes any other syscall ... */
	int status = run_strict(makes_a_syscall, NULL);
	T_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	        "seccomp harness did not catch getpid (status %d)", status);
	/* ... and the signing calls run there to the end. */
	struct hot_args args = {keys, nkeys, &rng};
	status = run_strict(hot_calls_strict, &args);
	T_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	        "signing calls under seccomp strict: status %d%s", status,
	        WIFSIGNALED(status) ? " (killed: they made a syscall)" : "");
	return t_exit_code();
}
