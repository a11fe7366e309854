/* SPDX-License-Identifier: MIT */
/*
 * What the files of the staging layer share (stage.c: the volume, its
 * table of staged files and options; stage_names.c: names, directories
 * and listings; stage_cache.c: the cache directory, staged files' life,
 * the cap and the memory budget; stage_file.c: file data and the file
 * ops; stage_journal.c: the crash journal; stage_upload.c: the uploader).
 *
 * The layer is a struct volfs_pathops (pathfs.h) over a store
 * (volfs/store.h); the metadata cache and the path adapter sit above it.
 *
 * A staged file (struct stage_file) is one file whose data is on local
 * disk: open, dirty, or kept as a clean copy for later opens.  The files
 * with a name are in a hash table by path; a file whose name went while it
 * was open (unlink, rename over it) leaves the table and lives on through
 * its handles.  One mutex guards the table and every file's state; no
 * store call and no data I/O is made under it.
 *
 * Data.  A file's copy is STATE/volumes/NAME/cache/data/ID, a sparse file
 * as long as the file.  Of the bytes the store had when the copy was made
 * (the first rsize bytes), the blocks fetched so far are marked in a
 * bitmap; every byte past rsize is the copy's own (written here, or a
 * hole that reads as zeros).  Reads fetch missing blocks first, with a
 * read-ahead window that grows on sequential reads.
 *
 * Versions.  gen counts the changes of a file's data; synced is the gen
 * the store has.  A file is dirty while they differ.  An upload takes the
 * gen it starts at and, when the store has the data, makes it synced: a
 * write during the upload leaves the file dirty for another.
 */
#ifndef VOLFS_STAGE_INT_H
#define VOLFS_STAGE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "volfs/stage.h"
#include "pathfs.h"

/* The unit of fetching and of the presence bitmap. */
#define STAGE_BLOCK ((off_t)1 << 20)
/* Read-ahead: the first window and the largest it doubles up to. */
#define STAGE_RA_MIN ((off_t)1 << 20)
#define STAGE_RA_MAX ((off_t)32 << 20)
/* Blocks fetched in one request at most. */
#define STAGE_RUN_MAX 8
/* Uploader threads per volume: as many as a share's default
 * connections, so small files go up in parallel. */
#define STAGE_UPLOADERS 4
/* Retry backoff of a failed upload: from, doubling up to. */
#define STAGE_RETRY_MIN_MS 1000
#define STAGE_RETRY_MAX_MS 60000

enum { STAGE_CACHE_FULL, STAGE_CACHE_META, STAGE_CACHE_OFF };

/* Journal states of a dirty file. */
enum {
	/* Written while open, never closed or fsync'ed since: after a crash
	 * the store keeps what it has. */
	STAGE_J_OPEN,
	/* Closed (or renamed) dirty: uploaded after a crash. */
	STAGE_J_CLOSED,
};

struct stage_file {
	/* The path while the file has a name ("a/b"), NULL after. */
	char *path;
	struct stage_file *hnext;
	/* The clean, closed files, least recently used first. */
	struct stage_file *lru_prev, *lru_next;
	/* The uploader's queue. */
	struct stage_file *qnext;
	uint64_t id;
	/* The copy, O_RDWR; -1 once dropped. */
	int fd;
	/* The file's size here. */
	off_t size;
	/* What the store had when the copy was made: its version, whether
	 * the object exists at all, and how many of its bytes still belong
	 * to the file (a truncate lowers it). */
	char base[VOLFS_STORE_VERSION_MAX];
	int remote;
	off_t rsize;
	/* Presence of the blocks below rsize (NULL: all present), and those
	 * being fetched now. */
	uint8_t *present, *fetching;
	size_t nblocks;
	/* The attributes shown while the file is staged (size and times
	 * kept up to date here). */
	struct stat st;
	unsigned opens;
	/* Handles open for writing. */
	unsigned writers;
	uint64_t gen, synced;
	/* The journal entry's state, or -1 when there is none. */
	int jstate;
	int queued, uploading;
	int64_t due;
	unsigned failures;
	int error;
	/* Bytes of the copy counted in the cache's use. */
	uint64_t charged;
	/* Sequential read detection; a read-ahead running in the
	 * background. */
	off_t ra_next, ra_win;
	int prefetching;
	/* Memory charged for it in the volume's mem. */
	uint64_t mem;
};

/* A handle: the file and how it was opened. */
struct stage_handle {
	struct stage_file *f;
	int flags;
};

/* Adds n to counter field of s's published statistics. */
#define STAGE_COUNT(s, field, n)                                               \
	__atomic_fetch_add(&(s)->stats->field, (uint64_t)(n), __ATOMIC_RELAXED)

/* Memory the layer may hold for the files of one volume before it drops
 * kept copies: their state, bitmaps and names. */
#define STAGE_MEM_BUDGET ((uint64_t)16 << 20)
/* The same, for every staged volume of the process together. */
#define STAGE_MEM_BUDGET_ALL ((uint64_t)64 << 20)

struct stage {
	const struct volfs_store *store;
	void *st;
	const struct volfs_volinfo *vi;
	int mode;
	int64_t timeout_ms;
	unsigned delay_ms;
	unsigned ttl_ms;
	uint64_t cap;
	/* STATE/volumes/NAME/cache and its data/ and journal/ folders. */
	int dirfd, datafd, jfd, lockfd;

	pthread_mutex_t lock;
	/* Signalled when a fetch or an upload ends, a file leaves the queue
	 * or the uploaders should look again. */
	pthread_cond_t changed;
	pthread_cond_t work;
	struct stage_file **tab;
	size_t nbuckets, count;
	struct stage_file *lru_head, *lru_tail;
	struct stage_file *queue;
	uint64_t used;
	uint64_t next_id;
	/* Files being uploaded; unlinks and renames under way (no upload
	 * starts while there are any). */
	unsigned uploading;
	unsigned moving;
	/* Read-aheads running in threads of their own. */
	unsigned prefetches;
	int stopping;
	pthread_t uploaders[STAGE_UPLOADERS];
	unsigned nuploaders;
	/* The published counters (a shared mapping of cache/stats, or
	 * memory of our own when it cannot be made). */
	struct volfs_stage_stats *stats;
	int stats_mapped;
	int64_t published;
	/* Memory held for files. */
	uint64_t mem;
	/* The root's attributes as of the open, shown while the store
	 * cannot be reached. */
	struct stat root_st;
};

/* stage.c */
int64_t stage_deadline(const struct stage *s);
/* The deadline of a request that moves bytes bytes. */
int64_t stage_deadline_for(const struct stage *s, off_t bytes);
/* Whether rc says the store could not be reached (not that it refused). */
int stage_unreachable(int rc);
void stage_log(const struct stage *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "." (the adapter's root) as the store's "". */
const char *stage_path(const char *path);
struct stage_file *stage_find(struct stage *s, const char *path);
void stage_hash_add(struct stage *s, struct stage_file *f);
void stage_hash_del(struct stage *s, struct stage_file *f);
/* Whether path is below dir ("" is above everything). */
int stage_below(const char *path, const char *dir);

/* stage_names.c */
/* Calls fn on every named file at or below dir (lock held); fn may take
 * the file out of the table. */
void stage_each_below(struct stage *s, const char *dir,
		      void (*fn)(struct stage *, struct stage_file *, void *),
		      void *ctx);
int stage_mkdir(void *vol, const char *path, mode_t mode,
		const struct volfs_caller *who);
int stage_rmdir(void *vol, const char *path);
int stage_unlink(void *vol, const char *path);
int stage_rename(void *vol, const char *from, const char *to, unsigned flags);
int stage_readdir(void *vol, const char *path, volfs_path_fill_fn fill,
		  void *ctx);

/* stage_cache.c, stage_file.c */
struct stage_file *stage_file_new(struct stage *s, const char *path);
uint64_t stage_file_mem(const struct stage_file *f);
/* Counts delta bytes more (or less) of memory held for s's files, in s
 * and in the process's total.  lock held. */
void stage_mem(struct stage *s, int64_t delta);
void stage_stats_fini(struct stage *s);
/* Frees f (out of the table, not queued, not open); drops its copy. */
void stage_file_free(struct stage *s, struct stage_file *f);
/* Whether a directory above path is a staged file (lock held). */
int stage_parent_file(struct stage *s, const char *path);
/* f's attributes as staged. */
void stage_file_stat(const struct stage_file *f, struct stat *st);
/* Whether the layer must answer for f instead of the store. */
int stage_file_local(const struct stage_file *f);
/* Makes bytes [off, off + len) of f present, fetching what is missing;
 * whole: all of them and no read-ahead. */
int stage_fetch(struct stage *s, struct stage_file *f, off_t off, off_t len);
/* Counts the copy's allocation again after a change; lock held. */
void stage_charge(struct stage *s, struct stage_file *f);
/* Makes room for n more bytes in the cache, evicting clean copies;
 * -ENOSPC when it cannot.  lock held. */
int stage_reserve(struct stage *s, uint64_t n);
/* Gives back a reference taken with opens++ outside a handle (lock
 * held): the last one keeps or frees f as a release would. */
void stage_file_unref(struct stage *s, struct stage_file *f);
/* f is closed and clean: keep its copy or drop it.  lock held. */
void stage_file_idle(struct stage *s, struct stage_file *f);
void stage_lru_del(struct stage *s, struct stage_file *f);
/* f's name went (unlink, replaced by a rename): out of the table, its
 * journal entry and queued upload dropped.  lock held. */
void stage_file_detach(struct stage *s, struct stage_file *f);
int stage_dir_init(struct stage *s, char *err, size_t errlen);

int stage_getattr(void *vol, const char *path, uint64_t fh, struct stat *st);
int stage_open_file(void *vol, const char *path, int flags, uint64_t *fh);
int stage_create_file(void *vol, const char *path, int flags, mode_t mode,
		      const struct volfs_caller *who, uint64_t *fh);
ssize_t stage_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off);
ssize_t stage_write(void *vol, uint64_t fh, const void *buf, size_t size,
		    off_t off);
int stage_truncate(void *vol, const char *path, uint64_t fh, off_t size);
int stage_utimens(void *vol, const char *path, uint64_t fh,
		  const struct timespec tv[2]);
int stage_flush(void *vol, uint64_t fh);
int stage_fsync(void *vol, uint64_t fh, int datasync);
int stage_release(void *vol, uint64_t fh);
int stage_fd(void *vol, uint64_t fh);

/* Publishes the counters that need a walk of the files (lock held); at
 * most once a second unless now. */
void stage_publish(struct stage *s, int now);

/* stage_journal.c */
/* Records f's state (STAGE_J_*) durably enough to survive the daemon;
 * sync: to survive the machine too.  lock held. */
int stage_journal_put(struct stage *s, struct stage_file *f, int state,
		      int sync);
void stage_journal_del(struct stage *s, struct stage_file *f);
/* Reads the journal of an earlier process: queues the closed files,
 * drops the rest of the cache. */
int stage_journal_replay(struct stage *s);

/* stage_upload.c */
int stage_uploaders_start(struct stage *s);
/* Waits (bounded) for the queue to drain, then stops the uploaders. */
void stage_uploaders_stop(struct stage *s);
/* Queues f for upload at due (ms, CLOCK_MONOTONIC).  lock held. */
void stage_queue(struct stage *s, struct stage_file *f, int64_t due);
void stage_unqueue(struct stage *s, struct stage_file *f);
/* Uploads f now, waiting for an upload under way first; returns when the
 * store has every change made before the call.  lock held (let go while
 * waiting and uploading). */
int stage_upload(struct stage *s, struct stage_file *f);
/* Waits until no upload of a file at or below path is under way.  lock
 * held. */
void stage_wait_uploads(struct stage *s, const char *path);
/* Around an unlink or a rename: no upload starts meanwhile, so none puts
 * a file under a name that is going or moving.  lock held. */
void stage_names_begin(struct stage *s);
void stage_names_end(struct stage *s);

#endif /* VOLFS_STAGE_INT_H */
