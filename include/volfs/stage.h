/* SPDX-License-Identifier: MIT */
/*
 * The staging layer: serves a remote store (volfs/store.h) as a volume of
 * volfs/backend.h.  Its code (src/stage/) is a convenience library linked
 * into each store module, so the module's backend table is its options,
 * validate() and open() plus the ops below.
 *
 * What a volume on a store gets:
 *  - attributes and listings kept for cache_ttl, dropped by every change
 *    made through the volume;
 *  - file data on local disk under STATE/volumes/NAME/cache/, fetched by
 *    ranges on demand with read-ahead; an open file is a real descriptor
 *    on that copy, so cached reads go at local-disk speed;
 *  - writes acknowledged from that copy and uploaded whole by a bounded
 *    uploader after close (upload_delay later, so rewrites coalesce) and
 *    on fsync, which returns only when the store has the data; a failed
 *    upload is retried with backoff, never dropped;
 *  - a journal (one small file per dirty file, replaced by rename) so
 *    that after a crash the next open of the volume uploads every file
 *    that was closed or fsync'ed; a file open and never fsync'ed then is
 *    left as the store has it;
 *  - a hard cap on the cache (cache_size): clean closed files are evicted
 *    oldest first; dirty data is never evicted; when nothing can go, the
 *    writer gets ENOSPC.
 * doc/backends.md describes the design.
 */
#ifndef VOLFS_STAGE_H
#define VOLFS_STAGE_H

#include <stddef.h>
#include <stdint.h>

#include "volfs/backend.h"
#include "volfs/store.h"

/* The staging layer's options, for the module's option table (the store
 * ignores them).  timeout=, in seconds, is read from the store's options
 * when it has one. */
#define VOLFS_STAGE_OPTDESCS                                                   \
	{                                                                      \
		.key = "cache",                                                \
		.help = "full (default): keep file data on local disk; "       \
			"meta: keep attributes and listings only; off: keep " \
			"nothing past a close",                                \
	},                                                                     \
	{                                                                      \
		.key = "cache_size",                                           \
		.help = "cap of the local data cache, e.g. 2G or 500M "       \
			"(default: a quarter of the free space, at most 10G)", \
	},                                                                     \
	{                                                                      \
		.key = "cache_ttl",                                            \
		.help = "seconds attributes and listings are kept "            \
			"(default 1, 0 to ask the server every time)",         \
	},                                                                     \
	{                                                                      \
		.key = "upload_delay",                                         \
		.help = "milliseconds between a close and the upload, so "     \
			"rewrites coalesce (default 0)",                       \
	}

/*
 * Checks the staging layer's options of vi.  On failure writes a message
 * naming the option into err and returns -EINVAL.
 */
int volfs_stage_validate(const struct volfs_volinfo *vi, char *err,
			 size_t errlen);

/*
 * Opens the store (store->open) and the volume that serves it, and stores
 * it in *vol, to be used with the volfs_stage_* ops below.  Replays the
 * journal: files left dirty by an earlier process are queued for upload.
 * On failure nothing is left open, a message is in err and -errno is
 * returned.
 */
int volfs_stage_open(const struct volfs_store *store,
		     const struct volfs_volinfo *vi, void **vol, char *err,
		     size_t errlen);

/*
 * The counters of a staged volume, published by the process serving it in
 * STATE/volumes/NAME/cache/stats (a shared mapping of this struct, updated
 * in place), for `volfs stats` and the metrics of `volfs serve`.  Every
 * member after size is a uint64_t; readers check magic and take what
 * their size covers.  The cache/lock file is locked (lockf) while a
 * process serves the volume.
 */
#define VOLFS_STAGE_STATS_MAGIC 0x7374617473666c76ull
#define VOLFS_STAGE_STATS_FILE "cache/stats"
#define VOLFS_STAGE_LOCK_FILE "cache/lock"

struct volfs_stage_stats {
	uint64_t magic;
	uint64_t size;
	/* The serving process. */
	uint64_t pid;
	/* Files changed here and not on the store yet, and their bytes. */
	uint64_t dirty_files;
	uint64_t dirty_bytes;
	/* Uploads under way; files whose last upload failed (retried). */
	uint64_t uploading;
	uint64_t failed_files;
	/* Uploads done and failed since the volume was opened. */
	uint64_t uploads;
	uint64_t upload_failures;
	/* Bytes of local disk the cache uses, and its cap. */
	uint64_t cache_used;
	uint64_t cache_cap;
	/* Opens served from a kept copy, and those that fetched anew. */
	uint64_t hits;
	uint64_t misses;
	/* Bytes fetched from and sent to the store, requests made, and
	 * requests that failed. */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t requests;
	uint64_t errors;
	/* Memory the staging layer holds for its files, and its budget. */
	uint64_t mem_used;
	uint64_t mem_budget;
};

/* Capabilities a staged volume has (the module's caps). */
#define VOLFS_STAGE_CAPS                                                       \
	(VOLFS_CAP_RANDOM_WRITE | VOLFS_CAP_PERSISTENT | VOLFS_CAP_THREADSAFE | \
	 VOLFS_CAP_EXTERNAL_CHANGES | VOLFS_CAP_REAL_FD)

/* The backend ops of a staged volume, for the module's table (which
 * includes src/stage/pathfs.h, where they are declared). */
#define VOLFS_STAGE_BACKEND_OPS                                                \
	.close = pathfs_close, .statfs = pathfs_statfs,                        \
	.lookup = pathfs_lookup, .forget = pathfs_forget,                      \
	.getattr = pathfs_getattr, .mkdir = pathfs_mkdir,                      \
	.unlink = pathfs_unlink, .rmdir = pathfs_rmdir,                        \
	.rename = pathfs_rename, .truncate = pathfs_truncate,                  \
	.utimens = pathfs_utimens, .open_file = pathfs_open_file,              \
	.create_file = pathfs_create_file, .read = pathfs_read,                \
	.write = pathfs_write, .flush = pathfs_flush, .fsync = pathfs_fsync,   \
	.release = pathfs_release, .fd = pathfs_fd,                            \
	.opendir = pathfs_opendir, .readdir = pathfs_readdir,                  \
	.releasedir = pathfs_releasedir

#endif /* VOLFS_STAGE_H */
