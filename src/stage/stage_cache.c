/* SPDX-License-Identifier: MIT */
/*
 * The staging layer's cache on local disk: its directories, lock and
 * published counters, the staged files' life (made, kept, dropped), the
 * space their copies take against the cap and the memory their state
 * takes against the budget.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volfs/backend_util.h"
#include "stage_int.h"

/* Maps cache/stats, where `volfs stats` reads the counters. */
static int stage_stats_init(struct stage *s)
{
	struct volfs_stage_stats *st = MAP_FAILED;
	int fd;

	fd = openat(s->dirfd, "stats",
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && ftruncate(fd, sizeof(*st)) == 0)
		st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED,
			  fd, 0);
	if (fd >= 0)
		close(fd);
	if (st == MAP_FAILED) {
		/* Counted all the same, for this process only. */
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
	} else {
		s->stats_mapped = 1;
		memset(st, 0, sizeof(*st));
	}
	st->size = sizeof(*st);
	st->pid = (uint64_t)getpid();
	st->mem_budget = STAGE_MEM_BUDGET;
	__atomic_store_n(&st->magic, VOLFS_STAGE_STATS_MAGIC, __ATOMIC_RELEASE);
	s->stats = st;
	return 0;
}

void stage_stats_fini(struct stage *s)
{
	if (!s->stats)
		return;
	s->stats->pid = 0;
	s->stats->uploading = 0;
	if (s->stats_mapped)
		munmap(s->stats, sizeof(*s->stats));
	else
		free(s->stats);
	s->stats = NULL;
}

void stage_publish(struct stage *s, int now)
{
	struct volfs_stage_stats *st = s->stats;
	uint64_t files = 0, bytes = 0, failed = 0;
	int64_t t = volfs_store_deadline(0);

	if (!now && t - s->published < 1000)
		return;
	s->published = t;
	for (size_t i = 0; i < s->nbuckets; i++) {
		for (struct stage_file *f = s->tab[i]; f; f = f->hnext) {
			if (f->gen == f->synced)
				continue;
			files++;
			bytes += (uint64_t)f->size;
			if (f->error)
				failed++;
		}
	}
	__atomic_store_n(&st->dirty_files, files, __ATOMIC_RELAXED);
	__atomic_store_n(&st->dirty_bytes, bytes, __ATOMIC_RELAXED);
	__atomic_store_n(&st->failed_files, failed, __ATOMIC_RELAXED);
	__atomic_store_n(&st->uploading, s->uploading, __ATOMIC_RELAXED);
	__atomic_store_n(&st->cache_used, s->used, __ATOMIC_RELAXED);
	__atomic_store_n(&st->cache_cap, s->cap, __ATOMIC_RELAXED);
	__atomic_store_n(&st->mem_used, s->mem, __ATOMIC_RELAXED);
}

int stage_dir_init(struct stage *s, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	if (snprintf(path, sizeof(path), "%s/cache", s->vi->state_dir) >=
	    (int)sizeof(path))
		return volfs_be_errf(err, errlen, -ENAMETOOLONG,
				     "state directory path too long");
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		goto err;
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (s->dirfd < 0)
		goto err;
	if ((mkdirat(s->dirfd, "data", 0700) != 0 && errno != EEXIST) ||
	    (mkdirat(s->dirfd, "journal", 0700) != 0 && errno != EEXIST))
		goto err;
	s->datafd = openat(s->dirfd, "data",
			   O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	s->jfd = openat(s->dirfd, "journal",
			O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	s->lockfd =
		openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->datafd < 0 || s->jfd < 0 || s->lockfd < 0)
		goto err;
	/* One process serves a volume's cache; a second waits a moment for
	 * one that is closing, then gives up. */
	for (int i = 0; i < 40; i++) {
		if (lockf(s->lockfd, F_TLOCK, 0) == 0)
			return stage_stats_init(s);
		if (errno != EACCES && errno != EAGAIN)
			goto err;
		usleep(50000);
	}
	return volfs_be_errf(err, errlen, -EBUSY,
			     "the cache of volume '%s' (%s) is in use by "
			     "another volfs process; unmount the volume there "
			     "first",
			     s->vi->name, path);
err:
	rc = -errno;
	return volfs_be_errf(err, errlen, rc, "cannot open the cache %s: %s",
			     path, volfs_be_strerror(rc));
}

/* LRU of clean, closed copies. */

void stage_lru_del(struct stage *s, struct stage_file *f)
{
	if (!f->lru_prev && s->lru_head != f)
		return;
	if (f->lru_prev)
		f->lru_prev->lru_next = f->lru_next;
	else
		s->lru_head = f->lru_next;
	if (f->lru_next)
		f->lru_next->lru_prev = f->lru_prev;
	else
		s->lru_tail = f->lru_prev;
	f->lru_prev = f->lru_next = NULL;
}

static void stage_lru_add(struct stage *s, struct stage_file *f)
{
	f->lru_prev = s->lru_tail;
	f->lru_next = NULL;
	if (s->lru_tail)
		s->lru_tail->lru_next = f;
	else
		s->lru_head = f;
	s->lru_tail = f;
}

void stage_file_stat(const struct stage_file *f, struct stat *st)
{
	struct stat cst;

	*st = f->st;
	st->st_size = f->size;
	/* A whole copy allocates what the file does (holes included);
	 * of a partial one only the size tells. */
	if (!f->present && f->fd >= 0 && fstat(f->fd, &cst) == 0)
		st->st_blocks = cst.st_blocks;
	else
		st->st_blocks = (f->size + 511) / 512;
	if (!f->path)
		st->st_nlink = 0;
}

int stage_parent_file(struct stage *s, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, path, n + 1);
	for (char *p = strrchr(buf, '/'); p; p = strrchr(buf, '/')) {
		struct stage_file *f;

		*p = '\0';
		f = stage_find(s, buf);
		if (f && stage_file_local(f))
			return 1;
	}
	return 0;
}

int stage_file_local(const struct stage_file *f)
{
	return f->opens || f->gen != f->synced || !f->remote || f->uploading;
}

/* Memory held for files by every staged volume of this process. */
static uint64_t stage_mem_total;

void stage_mem(struct stage *s, int64_t delta)
{
	s->mem += (uint64_t)delta;
	__atomic_fetch_add(&stage_mem_total, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* What f holds in memory: the struct, its name, its bitmaps, as charged
 * when made (a rename or a truncate leaves the charge as it was). */
uint64_t stage_file_mem(const struct stage_file *f)
{
	return f->mem;
}

struct stage_file *stage_file_new(struct stage *s, const char *path)
{
	struct stage_file *f = calloc(1, sizeof(*f));
	char name[32];

	if (!f)
		return NULL;
	f->path = strdup(path);
	if (!f->path)
		goto err;
	f->mem = sizeof(*f) + strlen(path) + 1;
	f->id = s->next_id++;
	snprintf(name, sizeof(name), "%" PRIu64, f->id);
	f->fd = openat(s->datafd, name,
		       O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		       0600);
	if (f->fd < 0)
		goto err;
	f->jstate = -1;
	f->ra_win = STAGE_RA_MIN;
	stage_mem(s, (int64_t)stage_file_mem(f));
	return f;
err:
	free(f->path);
	free(f);
	return NULL;
}

void stage_file_free(struct stage *s, struct stage_file *f)
{
	char name[32];

	stage_lru_del(s, f);
	if (f->fd >= 0) {
		close(f->fd);
		snprintf(name, sizeof(name), "%" PRIu64, f->id);
		unlinkat(s->datafd, name, 0);
	}
	s->used -= f->charged;
	stage_mem(s, -(int64_t)stage_file_mem(f));
	free(f->present);
	free(f->fetching);
	free(f->path);
	free(f);
}

void stage_file_detach(struct stage *s, struct stage_file *f)
{
	stage_hash_del(s, f);
	free(f->path);
	f->path = NULL;
	stage_journal_del(s, f);
	stage_unqueue(s, f);
	stage_lru_del(s, f);
	/* Nothing of it is to reach the store any more. */
	f->synced = f->gen;
}

void stage_charge(struct stage *s, struct stage_file *f)
{
	struct stat st;

	if (fstat(f->fd, &st) != 0)
		return;
	s->used -= f->charged;
	f->charged = (uint64_t)st.st_blocks * 512;
	s->used += f->charged;
}

int stage_reserve(struct stage *s, uint64_t n)
{
	while (s->used + n > s->cap) {
		struct stage_file *f = s->lru_head;

		if (!f)
			return -ENOSPC;
		stage_lru_del(s, f);
		stage_hash_del(s, f);
		stage_file_free(s, f);
	}
	return 0;
}

void stage_file_unref(struct stage *s, struct stage_file *f)
{
	if (--f->opens)
		return;
	if (!f->path && !f->queued && !f->uploading)
		stage_file_free(s, f);
	else
		stage_file_idle(s, f);
}

void stage_file_idle(struct stage *s, struct stage_file *f)
{
	if (f->opens || f->gen != f->synced || f->queued || f->uploading)
		return;
	if (!f->path || s->mode != STAGE_CACHE_FULL || f->present) {
		/* A partial copy is not worth keeping: the next open
		 * checks the version and starts again anyway. */
		stage_hash_del(s, f);
		stage_file_free(s, f);
		return;
	}
	stage_lru_del(s, f);
	stage_lru_add(s, f);
	/* Kept copies cost memory too: the oldest go past the budget. */
	while ((s->mem > STAGE_MEM_BUDGET ||
		__atomic_load_n(&stage_mem_total, __ATOMIC_RELAXED) >
			STAGE_MEM_BUDGET_ALL) &&
	       s->lru_head) {
		struct stage_file *old = s->lru_head;

		stage_hash_del(s, old);
		stage_file_free(s, old);
	}
}
