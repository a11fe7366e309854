/* SPDX-License-Identifier: MIT */
/*
 * volfs remote store interface.
 *
 * A remote backend (a file share, a blob store) implements this small table
 * instead of the whole POSIX surface of volfs/backend.h.  The staging layer
 * (volfs/stage.h, linked into the module) turns an opened store into a
 * volume: the POSIX surface, attributes and listings cached for a TTL, and
 * file data staged on local disk, uploaded whole by a bounded uploader on
 * close and fsync, with a journal so that what was closed or fsync'ed is
 * uploaded after a crash.
 *
 * A store module exports, beside volfs_backend_NAME, volfs_store_NAME
 * returning its const struct volfs_store, so the store conformance suite
 * (test/unit/test_store.c) can check it through this table alone.
 *
 * Conventions:
 *
 *  - Objects are named by path relative to the store's root: "" for the
 *    root itself, else "a/b/c" (no leading or trailing '/', no empty, "."
 *    or ".." component, each component at most 255 bytes, the whole
 *    shorter than PATH_MAX).
 *
 *  - Every op returns 0 (or a count where said) or a negative errno value:
 *    -ENOENT (no such object), -ENOTDIR, -EISDIR, -EEXIST, -ENOTEMPTY,
 *    -EACCES (refused), -ESTALE (a condition on a version failed),
 *    -ETIMEDOUT (the deadline passed), -EHOSTUNREACH or -EIO (the server
 *    cannot be reached or answered garbage), -ENOSPC, -ENOMEM.  A store maps
 *    its protocol's errors in one place.  A NULL op means "not supported".
 *
 *  - Every op that may wait on the network takes a deadline: a
 *    CLOCK_MONOTONIC time in milliseconds (volfs_store_deadline()) after
 *    which it gives up with -ETIMEDOUT.  A store whose library only has a
 *    per-connection timeout bounds the wait with that.
 *
 *  - Every op may be called from many threads at once.
 *
 *  - A version identifies one content of an object: an ETag, a
 *    change time with size, whatever the store has.  With
 *    VOLFS_STORE_VERSIONS a version changes whenever the content changes
 *    and put() can be made conditional on one; without it a version is a
 *    hint (it may stay equal across a change the server does not show,
 *    such as a rewrite within its time granularity) and put() replaces
 *    unconditionally.  "" means "no version known".
 */
#ifndef VOLFS_STORE_H
#define VOLFS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "volfs/backend.h"

#define VOLFS_STORE_ABI 1

/* Room for a version, NUL included. */
#define VOLFS_STORE_VERSION_MAX 128
/* Room for a list() cursor, NUL included. */
#define VOLFS_STORE_CURSOR_MAX 1024

/* Capability bits (struct volfs_store.caps). */
enum {
	/* Directories are objects of their own: mkdir() and rmdir() work and
	 * an empty directory exists.  Without it a directory is the common
	 * prefix of its objects. */
	VOLFS_STORE_DIRS = 1u << 0,
	/* rename() works and replaces its target atomically, and renaming a
	 * directory moves everything below it in one step. */
	VOLFS_STORE_RENAME = 1u << 1,
	/* copy() works on the server, without the data passing through
	 * volfs. */
	VOLFS_STORE_COPY = 1u << 2,
	/* Versions change with every change of content, and put() honours
	 * if_version (see above). */
	VOLFS_STORE_VERSIONS = 1u << 3,
	/* setattr() keeps modification times. */
	VOLFS_STORE_TIMES = 1u << 4,
};

/* An object's attributes and version. */
struct volfs_store_attr {
	/*
	 * st_mode (S_IFREG or S_IFDIR, with permission bits: the store's own
	 * or those it was told to show), st_size, st_mtim and st_ctim
	 * (st_atim where the store has it, else st_mtim), st_uid and st_gid
	 * (those the store was told to show where it has no owners), st_ino
	 * (0 when the store has no inode numbers), st_nlink (1, or 2 for a
	 * directory, when the store has no link count).  Other members 0.
	 */
	struct stat st;
	char version[VOLFS_STORE_VERSION_MAX];
};

/*
 * Listing callback: called once per entry of a directory, "." and ".."
 * excluded, with the entry's name (one component) and attributes.
 * Returns 0 to go on, nonzero to stop the listing (list() then returns 0).
 */
typedef int (*volfs_store_fill_fn)(void *ctx, const char *name,
				   const struct volfs_store_attr *a);

/* setattr() members (a mask). */
enum {
	VOLFS_STORE_SET_MTIME = 1u << 0,
	VOLFS_STORE_SET_ATIME = 1u << 1,
};

struct volfs_store {
	/* VOLFS_STORE_ABI at the time the module was built. */
	int abi_version;
	/* sizeof(struct volfs_store) at the time the module was built; the
	 * table only grows at its end. */
	size_t size;
	/* The backend's name, as in struct volfs_backend. */
	const char *name;
	/* VOLFS_STORE_* bits. */
	unsigned caps;

	/*
	 * Opens the store of a volume with its options (those of the
	 * module's backend table; the staging layer's own options, see
	 * volfs/stage.h, are among them and a store ignores them).  Checks
	 * that the store can be reached.  If it fails, it has allocated
	 * nothing, writes a message naming the option or the server's answer
	 * and what to do into err, and returns -errno.  vi stays valid until
	 * close().
	 */
	int (*open)(const struct volfs_volinfo *vi, void **st, char *err,
		    size_t errlen);
	/* Releases everything open() made. */
	void (*close)(void *st);

	/* Fills *sv for the store (block size, totals, free, name max). */
	int (*statfs)(void *st, struct statvfs *sv, int64_t deadline);

	/* Fills *a for path; -ENOENT when there is no such object. */
	int (*stat)(void *st, const char *path, struct volfs_store_attr *a,
		    int64_t deadline);

	/*
	 * Lists one page of directory path, calling fill per entry.  cursor
	 * (cursorlen bytes, at least VOLFS_STORE_CURSOR_MAX) is "" for the
	 * first page; on return it holds what the next call takes to go on,
	 * or "" when the listing is complete.  When fill stops the listing,
	 * the cursor goes on with the entry it stopped at.
	 * A store that lists a directory in one request completes in one
	 * call.  -ENOENT when path does not exist, -ENOTDIR when it is not a
	 * directory.
	 */
	int (*list)(void *st, const char *path, char *cursor, size_t cursorlen,
		    volfs_store_fill_fn fill, void *ctx, int64_t deadline);

	/*
	 * Reads up to len bytes of object path from offset off: into fd at
	 * the same offset off (pwrite) when fd >= 0, else into buf.  Returns
	 * the count, short only at the object's end.  When version is not ""
	 * and the store has VOLFS_STORE_VERSIONS, fails with -ESTALE if the
	 * object's version is another.
	 */
	ssize_t (*get)(void *st, const char *path, const char *version,
		       off_t off, size_t len, int fd, void *buf,
		       int64_t deadline);

	/*
	 * Makes object path hold the first size bytes of fd, replacing any
	 * object of that name at once and whole: a reader sees the old
	 * content or the new, and a failed put leaves the old (a share
	 * writes to a temporary name and renames; a blob store commits a
	 * block list or completes a multipart upload).  The store decides how
	 * to send it (one request, blocks, parts in parallel).  When fd holds
	 * fewer than size bytes the put fails with -EIO and the old object
	 * stays.  if_version NULL replaces unconditionally; where the store
	 * has VOLFS_STORE_VERSIONS, "" creates only when no such object
	 * exists (-EEXIST otherwise) and another value replaces only that
	 * version (-ESTALE otherwise); a store without versions treats both
	 * as NULL.
	 * Fills *out (when not NULL) with the new object's attributes.  mtime,
	 * when not NULL, is the modification time to give it, where the store
	 * keeps times.
	 */
	int (*put)(void *st, const char *path, int fd, off_t size,
		   const char *if_version, const struct timespec *mtime,
		   struct volfs_store_attr *out, int64_t deadline);

	/* Removes object path (not a directory: -EISDIR). */
	int (*remove)(void *st, const char *path, int64_t deadline);

	/* With VOLFS_STORE_DIRS: makes, removes an empty, directory path. */
	int (*mkdir)(void *st, const char *path, mode_t mode,
		     int64_t deadline);
	int (*rmdir)(void *st, const char *path, int64_t deadline);

	/* With VOLFS_STORE_RENAME: renames from to to, replacing a file or
	 * an empty directory there; flags are VOLFS_RENAME_* bits the store
	 * may refuse with -EINVAL. */
	int (*rename)(void *st, const char *from, const char *to,
		      unsigned flags, int64_t deadline);

	/* With VOLFS_STORE_COPY: copies object from to to on the server,
	 * replacing what is there. */
	int (*copy)(void *st, const char *from, const char *to,
		    int64_t deadline);

	/* With VOLFS_STORE_TIMES: sets the members of a->st that mask says
	 * (VOLFS_STORE_SET_*) on path, to the microsecond at least.  The
	 * object's version may change. */
	int (*setattr)(void *st, const char *path, unsigned mask,
		       const struct volfs_store_attr *a, int64_t deadline);

	/*
	 * Renews credentials that expire (a token from a metadata service)
	 * before they do; the staging layer calls it when an op failed with
	 * -EACCES and before long uploads.  NULL: credentials do not expire.
	 */
	int (*refresh)(void *st, int64_t deadline);
};

/* The type of volfs_store_NAME, the second symbol of a store module. */
typedef const struct volfs_store *(*volfs_store_entry_fn)(void);

/* The CLOCK_MONOTONIC time in milliseconds ms from now. */
static inline int64_t volfs_store_deadline(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + ms;
}

/* Milliseconds left before deadline (0 when it has passed). */
static inline int64_t volfs_store_left(int64_t deadline)
{
	int64_t left = deadline - volfs_store_deadline(0);

	return left > 0 ? left : 0;
}

#endif /* VOLFS_STORE_H */
