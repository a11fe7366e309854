/* SPDX-License-Identifier: MIT */
/*
 * The metadata cache of a store that names files by path (pathfs.h): a
 * decorator that wraps the store's struct volfs_pathops op by op, for a
 * store whose metadata costs a round trip (a file share).
 *
 * getattr() results (including "no such file") and whole directory listings
 * are kept for a time-to-live; everything else goes straight through.  Every
 * op that changes something through the cache (create, write, truncate,
 * rename, ...) drops what it may have made stale before it returns: the
 * entry of the path, the listing and attributes of its parent, and for
 * rename and rmdir everything below the names involved.  So this process
 * always sees its own changes at once, and changes made by others (another
 * client of the share) within the TTL.
 *
 * A result fetched while a change was being made is not kept: each change
 * bumps a generation counter, and a result is stored only if the counter
 * did not move while it was fetched.
 *
 * The wrapped table has exactly the inner table's ops (an op the inner
 * store lacks stays NULL).  File handles are the cache's own (they remember
 * their file's path, which follows renames, for invalidation) and map to
 * the inner store's.
 */
#ifndef VOLFS_PATHCACHE_H
#define VOLFS_PATHCACHE_H

#include <stdint.h>

#include "pathfs.h"

/*
 * Wraps the opened store (ops, vol) with a cache of ttl_ms milliseconds.
 * On success *ops_out and *vol_out replace ops and vol: calling
 * (*ops_out)->close(*vol_out) closes the inner store too and frees the
 * cache.  On failure (-ENOMEM) nothing was allocated and ops, vol stay as
 * they are.
 */
int pathcache_wrap(const struct volfs_pathops *ops, void *vol,
		   unsigned ttl_ms, const struct volfs_pathops **ops_out,
		   void **vol_out);

/* Counters of a cache, for tests and statistics. */
struct pathcache_stats {
	uint64_t attr_hits;
	uint64_t attr_misses;
	uint64_t list_hits;
	uint64_t list_misses;
	uint64_t invalidations;
};

/* Copies the counters of vol, a state made by pathcache_wrap(). */
void pathcache_get_stats(void *vol, struct pathcache_stats *out);

#endif /* VOLFS_PATHCACHE_H */
