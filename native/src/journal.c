/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "st_journal.h"

_Static_assert(sizeof(st_journal_record) == ST_JOURNAL_RECORD_SIZE, "journal record size");

struct journal_header {
	uint64_t magic;
	uint32_t version;
	uint32_t record_size;
	uint64_t capacity;
	uint64_t first_seq;
};

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static st_journal_record *record_at(const st_journal *j, uint64_t i)
{
	return (st_journal_record *)(j->map + ST_JOURNAL_HEADER_SIZE +
	                             i * ST_JOURNAL_RECORD_SIZE);
}

static int map_file(st_journal *j, int fd, size_t len)
{
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	j->map = map;
	j->map_len = len;
	return 0;
}

/* Sizes and maps a new file; writes the header last of all. */
static int create(st_journal *j, int fd, uint64_t capacity)
{
	size_t len = ST_JOURNAL_HEADER_SIZE + capacity * ST_JOURNAL_RECORD_SIZE;
	int rc = posix_fallocate(fd, 0, (off_t)len);
	if (rc)
		return -rc;
	if ((rc = map_file(j, fd, len)))
		return rc;
	struct journal_header h = {
		.magic = ST_JOURNAL_MAGIC, .version = ST_JOURNAL_VERSION,
		.record_size = ST_JOURNAL_RECORD_SIZE, .capacity = capacity,
		.first_seq = wall_ms() * 1000,
	};
	memcpy(j->map, &h, sizeof(h));
	if (msync(j->map, ST_JOURNAL_HEADER_SIZE, MS_SYNC))
		return -errno;
	return 0;
}

/* Maps an existing file and checks its header. */
static int attach(st_journal *j, int fd, size_t file_len)
{
	struct journal_header h;
	if (file_len < ST_JOURNAL_HEADER_SIZE || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		return ST_EJOURNAL_CORRUPT;
	if (h.magic != ST_JOURNAL_MAGIC || h.version != ST_JOURNAL_VERSION ||
	    h.record_size != ST_JOURNAL_RECORD_SIZE || h.capacity == 0 ||
	    h.capacity > (file_len - ST_JOURNAL_HEADER_SIZE) / ST_JOURNAL_RECORD_SIZE)
		return ST_EJOURNAL_CORRUPT;
	return map_file(j, fd, ST_JOURNAL_HEADER_SIZE + h.capacity * ST_JOURNAL_RECORD_SIZE);
}

/* Counts the committed records and the highest id used. */
static void find_end(st_journal *j)
{
	const struct journal_header *h = (const struct journal_header *)j->map;
	j->capacity = h->capacity;
	j->next_seq = h->first_seq;
	j->used_below = 0;
	j->count = 0;
	while (j->count < j->capacity) {
		const st_journal_record *r = record_at(j, j->count);
		if (__atomic_load_n(&r->commit, __ATOMIC_ACQUIRE) != ST_JOURNAL_COMMIT)
			break;
		if (r->type == ST_JOURNAL_ORDER && r->seq >= j->used_below)
			j->used_below = r->seq + 1;
		j->count++;
	}
	if (j->used_below > j->next_seq)
		j->next_seq = j->used_below;
}

int st_journal_open(st_journal *j, const char *path, uint64_t capacity)
{
	if (!j || !path)
		return -EINVAL;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return st_journal_open_fd(j, fd, capacity);
}

int st_journal_open_fd(st_journal *j, int fd, uint64_t capacity)
{
	struct stat st;
	int rc;

	if (!j || fd < 0 || !capacity || capacity > (1ull << 32)) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	memset(j, 0, sizeof(*j));
	j->fd = fd;
	if (fstat(j->fd, &st)) {
		rc = -errno;
		goto fail;
	}
	rc = st.st_size == 0 ? create(j, j->fd, capacity) : attach(j, j->fd, (size_t)st.st_size);
	if (rc)
		goto fail;
	find_end(j);
	return 0;
fail:
	st_journal_close(j);
	return rc;
}

int st_journal_append(st_journal *j, const st_journal_record *rec)
{
	if (j->count >= j->capacity)
		return ST_EJOURNAL_FULL;
	st_journal_record *r = record_at(j, j->count);
	memcpy((uint8_t *)r + sizeof(r->commit), (const uint8_t *)rec + sizeof(rec->commit),
	       sizeof(*r) - sizeof(r->commit));
	__atomic_store_n(&r->commit, ST_JOURNAL_COMMIT, __ATOMIC_RELEASE);
	j->count++;
	return 0;
}

uint64_t st_journal_take_seq(st_journal *j)
{
	uint64_t seq = j->next_seq++;
	if (seq >= j->used_below)
		j->used_below = seq + 1;
	return seq;
}

uint64_t st_journal_next_seq(const st_journal *j)
{
	return j->next_seq;
}

int st_journal_set_epoch(st_journal *j, uint64_t epoch, unsigned lane)
{
	if (epoch == 0 || epoch > ST_JOURNAL_MAX_EPOCH || lane >= ST_JOURNAL_LANES)
		return -EINVAL;
	uint64_t low = epoch * ST_JOURNAL_EPOCH_IDS + lane * ST_JOURNAL_LANE_IDS;
	uint64_t high = low + ST_JOURNAL_LANE_IDS;
	/* Never below an id taken already: ids do not repeat. */
	uint64_t next = j->used_below > low + 1 ? j->used_below : low + 1;

	if (next >= high)
		return ST_EJOURNAL_AHEAD;
	if (j->next_seq < next || j->next_seq >= high)
		j->next_seq = next;
	return 0;
}

uint64_t st_journal_count(const st_journal *j)
{
	return j->count;
}

void st_journal_touch(const st_journal *j)
{
	if (j->count < j->capacity)
		(void)__atomic_load_n(&record_at(j, j->count)->commit, __ATOMIC_RELAXED);
}

const st_journal_record *st_journal_get(const st_journal *j, uint64_t i)
{
	return i < j->count ? record_at(j, i) : NULL;
}

int st_journal_sync(st_journal *j)
{
	if (j->map && msync(j->map, j->map_len, MS_SYNC))
		return -errno;
	return 0;
}

void st_journal_close(st_journal *j)
{
	if (j->map)
		munmap(j->map, j->map_len);
	if (j->fd >= 0)
		close(j->fd);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}
