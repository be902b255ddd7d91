/* SPDX-License-Identifier: MIT */
/*
 * The order journal: fixed-size records appended to an mmap'd file. A
 * record is written whole and then committed by storing its magic last, so a
 * reader (the next process, after a crash) sees only whole records. The
 * kernel keeps the pages of a MAP_SHARED file when the process dies, so a
 * kill -9 loses nothing already appended; st_journal_sync() (off the hot
 * path) makes it survive a power loss too.
 *
 * The file starts with a header page; records follow. Client order ids are
 * the journal's sequence numbers: a new file starts above any id an earlier
 * file could have used (the wall clock in ms x 1000), so ids never repeat.
 *
 * Appending allocates nothing, takes no lock and makes no system call.
 */
#ifndef ST_JOURNAL_H
#define ST_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

/* cdef-begin */
#define ST_JOURNAL_MAGIC        0x4c4e524a54535453ull  /* "STSTJRNL" */
#define ST_JOURNAL_VERSION      1
#define ST_JOURNAL_HEADER_SIZE  4096
#define ST_JOURNAL_RECORD_SIZE  128
#define ST_JOURNAL_COMMIT       0x52454331u            /* "1CER" */

/* Record types. */
#define ST_JOURNAL_ORDER        1   /* queued for send */
#define ST_JOURNAL_SEND_FAILED  2   /* never left: connection not open */
#define ST_JOURNAL_ACK          3   /* the venue's answer */
#define ST_JOURNAL_RESOLVED     4   /* outcome found by asking the venue */
#define ST_JOURNAL_TIMEOUT      5   /* no answer in time: outcome unknown */

#define ST_EJOURNAL_FULL        (-10800)
#define ST_EJOURNAL_CORRUPT     (-10801)
#define ST_EJOURNAL_AHEAD       (-10802)

/* Host failover: client id = epoch x 10^9 + lane x 10^8 + order number, the
 * lane being the venue's index, so two desks on one account never share an id. */
#define ST_JOURNAL_EPOCH_IDS    1000000000ull
#define ST_JOURNAL_LANE_IDS     100000000ull
#define ST_JOURNAL_LANES        10
#define ST_JOURNAL_MAX_EPOCH    9999999ull      /* 7 digits: ids stay 16 digits */

typedef struct st_journal_record {
	/* cdef-visible */
	uint32_t commit;          /* ST_JOURNAL_COMMIT once the record is whole */
	uint16_t type;
	uint16_t venue;
	uint64_t seq;             /* the order's client id */
	uint64_t time_ns;         /* CLOCK_REALTIME */
	int64_t price;
	int64_t quantity;
	uint64_t venue_order_id;  /* Binance orderId (0: unknown) */
	int32_t http_status;      /* ACK / RESOLVED: 200, 400, 429, ... */
	int32_t error_code;       /* ACK / RESOLVED: venue error code, 0 if none */
	uint8_t order_status;     /* ST_ORDER_STATUS_* of st_desk.h */
	uint8_t leg;
	uint8_t side;             /* 0 buy, 1 sell */
	uint8_t reserved[5];
	uint8_t trigger[32];      /* the txid that fired the order */
	char detail[32];          /* Kraken order id or error text, NUL padded */
} st_journal_record;

typedef struct st_journal {
	uint8_t *map;
	size_t map_len;
	uint64_t capacity;        /* records */
	uint64_t count;           /* records committed */
	uint64_t next_seq;
	uint64_t used_below;      /* 1 + the highest id taken (0: none) */
	int fd;
} st_journal;

/*
 * Opens (or creates, sized for capacity records) the journal at path and
 * finds its end; a symlink at path is refused (-ELOOP). Returns 0, -errno,
 * ST_EJOURNAL_CORRUPT (not a journal, or another record size) or -EINVAL.
 */
int st_journal_open(st_journal *j, const char *path, uint64_t capacity);

/*
 * The same over fd, a file open for reading and writing that the caller
 * opened safely (an empty one is created as a journal). The journal owns fd
 * from here: closed by st_journal_close, or before an error return.
 */
int st_journal_open_fd(st_journal *j, int fd, uint64_t capacity);

/* Appends one record (its commit field is set here). Returns 0 or
 * ST_EJOURNAL_FULL. */
int st_journal_append(st_journal *j, const st_journal_record *rec);

/* The next unused client order id, and takes it. */
uint64_t st_journal_take_seq(st_journal *j);
/* The next unused client order id, left unused. */
uint64_t st_journal_next_seq(const st_journal *j);

/*
 * Host failover: the next ids belong to tenure `epoch` (1..ST_JOURNAL_MAX_EPOCH)
 * and lane (0..9), i.e. lie in [epoch x 10^9 + lane x 10^8 + 1,
 * epoch x 10^9 + (lane + 1) x 10^8). Ids in use already in
 * that range are kept (the same tenure armed again); ids below it jump up;
 * a journal that has taken no id yet takes the range whatever its start.
 * Returns 0, -EINVAL (epoch out of range) or ST_EJOURNAL_AHEAD (the journal
 * has used ids past this epoch: a stale epoch, or a journal of a run without
 * [ha]); nothing changes on an error.
 */
int st_journal_set_epoch(st_journal *j, uint64_t epoch, unsigned lane);

/* Records committed so far and the i-th of them (NULL past the end). */
uint64_t st_journal_count(const st_journal *j);
const st_journal_record *st_journal_get(const st_journal *j, uint64_t i);

/* Reads the slot the next record will take (its page mapped and cached
 * before an order needs it); writes nothing. */
void st_journal_touch(const st_journal *j);

/* msync: make appended records durable against power loss (not hot path). */
int st_journal_sync(st_journal *j);

void st_journal_close(st_journal *j);
/* cdef-end */

#endif
