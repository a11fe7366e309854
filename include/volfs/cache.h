/* SPDX-License-Identifier: MIT */
/*
 * The metadata cache of remote backends: a decorator that wraps another
 * backend's table op by op.
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
 * backend lacks stays NULL), its name, options and capabilities.  File
 * handles are the cache's own (they remember their path for invalidation)
 * and map to the inner backend's.
 */
#ifndef VOLFS_CACHE_H
#define VOLFS_CACHE_H

#include <stdint.h>

#include "volfs/backend.h"

/* What a volume with VOLFS_CAP_META_CACHE gets when it sets no cache_ttl. */
#define VOLFS_CACHE_TTL_DEFAULT_MS 1000u

/*
 * Wraps the opened volume (be, vol) with a cache of ttl_ms milliseconds.
 * On success *be_out and *vol_out replace be and vol: calling
 * (*be_out)->close(*vol_out) closes the inner volume too and frees the
 * table.  On failure (-ENOMEM) nothing was allocated and be, vol stay as
 * they are.
 */
int volfs_cache_wrap(const struct volfs_backend *be, void *vol,
		     unsigned ttl_ms, const struct volfs_backend **be_out,
		     void **vol_out);

/* Counters of a cache state, for tests and statistics. */
struct volfs_cache_stats {
	uint64_t attr_hits;
	uint64_t attr_misses;
	uint64_t list_hits;
	uint64_t list_misses;
	uint64_t invalidations;
};

/* Copies the counters of vol, a state made by volfs_cache_wrap(). */
void volfs_cache_get_stats(void *vol, struct volfs_cache_stats *out);

#endif /* VOLFS_CACHE_H */
