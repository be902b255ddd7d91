/* SPDX-License-Identifier: MIT */
/*
 * Host failover in the native parts: risk refuses every order set at and
 * after the armed deadline (counted as "disarmed", reversible), and the
 * journal numbers a tenure's orders epoch x 10^9 + lane x 10^8 + n (the lane
 * is the venue's index) without ever reusing an
 * id, refusing an epoch its ids are already past.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "st_journal.h"
#include "st_risk.h"
#include "t_util.h"

static void test_risk(void)
{
	static st_risk r;   /* large (the trigger table): not on the stack */
	st_risk_limits l = {.max_quantity = 100, .max_notional = UINT64_MAX, .max_open_orders = 100,
	                     .burst = 100, .interval_ns = 1, .max_price_age_ns = 1000000};
	int64_t q[1] = {1}, p[1] = {10};

	T_CHECK(st_risk_init(&r, &l, 1) == 0, "init");
	T_CHECK(st_risk_armed_until(&r) == UINT64_MAX, "armed by default (no [ha])");
	T_CHECK(st_risk_check(&r, 1, q, p, 1000, 1000) == ST_RISK_OK, "default passes");

	st_risk_arm(&r, 0);
	T_CHECK(st_risk_check(&r, 1, q, p, 1000, 1000) == ST_RISK_DISARMED, "0 disarms");
	st_risk_arm(&r, 2000);
	T_CHECK(st_risk_check(&r, 1, q, p, 1999, 1999) == ST_RISK_OK, "before the deadline");
	T_CHECK(st_risk_check(&r, 2, (int64_t[]){1, 1}, (int64_t[]){10, 10}, 2000, 2000) ==
	        ST_RISK_DISARMED, "at the deadline");
	T_CHECK(st_risk_check(&r, 1, q, p, 2001, 2001) == ST_RISK_DISARMED, "after it");
	T_CHECK(st_risk_rejected(&r, ST_RISK_DISARMED) == 4, "counted per order: %llu",
	        (unsigned long long)st_risk_rejected(&r, ST_RISK_DISARMED));
	T_CHECK(st_risk_accepted(&r) == 2, "accepted %llu", (unsigned long long)st_risk_accepted(&r));
	T_CHECK(strcmp(st_risk_reason_name(ST_RISK_DISARMED), "disarmed") == 0, "name");
	st_risk_arm(&r, 5000);
	T_CHECK(st_risk_check(&r, 1, q, p, 3000, 3000) == ST_RISK_OK, "re-armed: reversible");
	/* the kill switch still wins over arming */
	st_risk_kill(&r, 1);
	T_CHECK(st_risk_check(&r, 1, q, p, 3000, 3000) == ST_RISK_KILLED, "killed first");
}

#define E9 ST_JOURNAL_EPOCH_IDS

static void test_journal(const char *dir)
{
	char path[512];
	st_journal j;
	st_journal_record rec = {.type = ST_JOURNAL_ORDER};

	snprintf(path, sizeof(path), "%s/ha.journal", dir);
	unlink(path);
	T_CHECK(st_journal_open(&j, path, 64) == 0, "open");
	uint64_t wall_start = st_journal_next_seq(&j);
	T_CHECK(wall_start > 1000000 * E9 / 1000, "a new journal starts at wall ms x 1000");
	T_CHECK(st_journal_set_epoch(&j, 0, 0) == -EINVAL, "epoch 0");
	T_CHECK(st_journal_set_epoch(&j, ST_JOURNAL_MAX_EPOCH + 1, 0) == -EINVAL, "8 digits");
	T_CHECK(st_journal_set_epoch(&j, 3, ST_JOURNAL_LANES) == -EINVAL, "lane 10");
	/* nothing taken yet: the tenure's range, whatever the start */
	T_CHECK(st_journal_set_epoch(&j, 7, 0) == 0, "unused journal");
	T_CHECK(st_journal_next_seq(&j) == 7 * E9 + 1, "first id of epoch 7: %llu",
	        (unsigned long long)st_journal_next_seq(&j));
	for (int i = 0; i < 3; i++) {
		rec.seq = st_journal_take_seq(&j);
		T_CHECK(st_journal_append(&j, &rec) == 0, "append");
	}
	T_CHECK(st_journal_set_epoch(&j, 7, 0) == 0 && st_journal_next_seq(&j) == 7 * E9 + 4,
	        "same tenure re-armed keeps its ids");
	T_CHECK(st_journal_set_epoch(&j, 5, 0) == ST_EJOURNAL_AHEAD, "a stale epoch is refused");
	T_CHECK(st_journal_next_seq(&j) == 7 * E9 + 4, "unchanged after a refusal");
	T_CHECK(st_journal_set_epoch(&j, 9, 0) == 0 && st_journal_next_seq(&j) == 9 * E9 + 1,
	        "a new tenure jumps up");
	rec.seq = st_journal_take_seq(&j);
	T_CHECK(st_journal_append(&j, &rec) == 0, "append");
	st_journal_close(&j);

	/* reopened: the ids taken are remembered, not the wall-clock start */
	T_CHECK(st_journal_open(&j, path, 64) == 0, "reopen");
	T_CHECK(st_journal_set_epoch(&j, 8, 0) == ST_EJOURNAL_AHEAD, "reopened: stale epoch");
	T_CHECK(st_journal_set_epoch(&j, 9, 0) == 0 && st_journal_next_seq(&j) == 9 * E9 + 2,
	        "reopened: same epoch continues after its last id: %llu",
	        (unsigned long long)st_journal_next_seq(&j));
	st_journal_close(&j);

	/* lanes: venue 3's ids of epoch 9 lie above lane 0's, below lane 4's */
	T_CHECK(st_journal_open(&j, path, 64) == 0, "reopen");
	T_CHECK(st_journal_set_epoch(&j, 9, 3) == 0 && st_journal_next_seq(&j) == 9 * E9 + 3 *
	        ST_JOURNAL_LANE_IDS + 1, "lane 3: %llu", (unsigned long long)st_journal_next_seq(&j));
	st_journal_close(&j);

	/* a journal of a run without [ha] has ids past any epoch */
	unlink(path);
	T_CHECK(st_journal_open(&j, path, 64) == 0, "open");
	rec.seq = st_journal_take_seq(&j);
	T_CHECK(st_journal_append(&j, &rec) == 0, "append");
	T_CHECK(st_journal_set_epoch(&j, 12, 0) == ST_EJOURNAL_AHEAD, "wall-clock ids are ahead");
	T_CHECK(st_journal_next_seq(&j) > wall_start, "unchanged");
	st_journal_close(&j);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/st-ha-arm-XXXXXX";

	test_risk();
	if (!mkdtemp(dir))
		return T_EXIT_FAIL;
	test_journal(dir);
	rmdir(dir);
	return t_exit_code();
}
