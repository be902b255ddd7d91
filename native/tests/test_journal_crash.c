/* SPDX-License-Identifier: MIT */
/*
 * kill -9 at random moments while a child appends to the journal as fast as
 * it can: after each kill, every record the reopened journal counts as
 * committed must be whole. A journal that stored the commit word before the
 * record's fields would leave committed records of zeros, and with appends
 * this dense a random kill lands in that window often. The moment is chosen
 * by progress, not time (the machine may be busy): the kill follows the
 * commit of a random record, seen through the page cache the child writes.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "st_journal.h"
#include "t_util.h"

#define KILLS 300
#define CAPACITY (1u << 14)

/* Every field is a function of the record's index, so a torn record shows. */
static void fill(st_journal_record *r, uint64_t i)
{
	uint64_t seq = i + 1;

	memset(r, 0, sizeof(*r));
	r->type = ST_JOURNAL_ORDER;
	r->venue = (uint16_t)(seq | 1);
	r->seq = seq;
	r->time_ns = seq * 7;
	r->price = (int64_t)seq * 3;
	r->quantity = -(int64_t)seq;
	r->venue_order_id = ~seq;
	r->http_status = (int32_t)(seq & 0x7fffffff) | 1;
	r->error_code = -(int32_t)(seq & 0xffff) - 1;
	r->order_status = (uint8_t)(seq | 1);
	r->leg = (uint8_t)(seq >> 8 | 1);
	r->side = 1;
	memset(r->trigger, (int)(seq | 1) & 0xff, sizeof(r->trigger));
	memset(r->detail, 'a' + (int)(seq % 26), sizeof(r->detail) - 1);
}

static int whole(const st_journal_record *got, uint64_t i)
{
	st_journal_record want;

	fill(&want, i);
	want.commit = ST_JOURNAL_COMMIT;
	return memcmp(got, &want, sizeof(want)) == 0;
}

static void append_forever(const char *path)
{
	st_journal j;
	st_journal_record r;

	if (st_journal_open(&j, path, CAPACITY))
		_exit(2);
	for (uint64_t i = 0;; i++) {
		fill(&r, i);
		if (st_journal_append(&j, &r))
			break;
	}
	for (;;)
		pause(); /* full: wait for the kill */
}

/* Waits until record i is committed (or the child has gone); 0 on timeout. */
static int wait_committed(const char *path, uint64_t i, pid_t pid)
{
	uint32_t commit = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct timespec pause_ = {0, 20000};

	for (int tries = 0; fd >= 0 && tries < 250000; tries++) { /* 5 s at most */
		if (pread(fd, &commit, sizeof(commit),
		          (off_t)(ST_JOURNAL_HEADER_SIZE + i * ST_JOURNAL_RECORD_SIZE)) ==
		            sizeof(commit) && commit == ST_JOURNAL_COMMIT)
			break;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		nanosleep(&pause_, NULL);
	}
	if (fd >= 0)
		close(fd);
	return commit == ST_JOURNAL_COMMIT;
}

int main(void)
{
	char path[] = "/tmp/st-journal-crash-XXXXXX";
	int fd = mkstemp(path);
	unsigned mid_stream = 0;
	st_journal j;

	if (fd < 0) {
		perror("mkstemp");
		return T_EXIT_FAIL;
	}
	close(fd);
	alarm(60); /* a failure guard: the loop below takes about a second */
	srand((unsigned)getpid());
	for (int k = 0; k < KILLS && !t_failures; k++) {
		unlink(path);
		if (st_journal_open(&j, path, CAPACITY)) { /* the child appends to it */
			perror("st_journal_open");
			return T_EXIT_FAIL;
		}
		st_journal_close(&j);
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return T_EXIT_FAIL;
		}
		if (pid == 0)
			append_forever(path);
		T_CHECK(wait_committed(path, (uint64_t)rand() % (CAPACITY - CAPACITY / 8), pid),
		        "kill %d: the child never reached its record", k);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		T_CHECK(WIFSIGNALED(status), "child %d ended on its own (status %d)", k, status);
		if (st_journal_open(&j, path, CAPACITY)) {
			T_CHECK(0, "kill %d: the journal does not reopen", k);
			break;
		}
		uint64_t n = st_journal_count(&j);
		if (n > 0 && n < CAPACITY)
			mid_stream++;
		for (uint64_t i = 0; i < n; i++) {
			if (!whole(st_journal_get(&j, i), i)) {
				T_CHECK(0, "kill %d: committed record %llu of %llu is not whole", k,
				        (unsigned long long)i, (unsigned long long)n);
				break;
			}
		}
		st_journal_close(&j);
	}
	unlink(path);
	/* The test means something only if kills landed while records were going in. */
	T_CHECK(t_failures || mid_stream >= KILLS / 5, "only %u of %d kills hit mid-stream",
	        mid_stream, KILLS);
	printf("%u of %d kills landed mid-stream\n", mid_stream, KILLS);
	return t_exit_code();
}
