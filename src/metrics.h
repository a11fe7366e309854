/* SPDX-License-Identifier: MIT */
/*
 * What volfs tells about itself while it runs: the counters a staged
 * volume's serving process publishes in STATE/volumes/NAME/cache/stats
 * (volfs/stage.h), read by `volfs stats` and `volfs umount`; and the
 * Prometheus endpoint of `volfs serve --metrics`, which shows those
 * counters for every staged volume of the catalog together with the
 * latency of the FUSE requests the serving process answers.
 */
#ifndef VOLFS_METRICS_H
#define VOLFS_METRICS_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "volfs/err.h"

struct volfs_stage_stats;

/*
 * Reads the counters of the staged volume whose state directory is
 * state_dir into *st; members the file's size does not cover are 0.
 * Returns 0; -ENOENT when there is no counters file (the volume is not
 * staged, or was never opened); -EINVAL when the file holds no counters
 * (its magic or size is wrong); or another -errno.
 */
int volfs_stage_stats_load(const char *state_dir,
			   struct volfs_stage_stats *st);

/*
 * The pid of the process that holds the cache lock of the staged volume at
 * state_dir, i.e. serves it now: > 0, 0 when none does, or -errno.  st is
 * its counters, whose pid stands in for a holder in another pid namespace
 * (0 if they have none).
 * Opens and closes the lock file, which drops every lockf() lock this
 * process holds on it: never to be called by a process that may serve the
 * volume.
 */
int volfs_stage_stats_holder(const char *state_dir,
			     const struct volfs_stage_stats *st);

/* The FUSE requests whose latency is measured, one histogram each. */
enum volfs_fuse_op {
	VOLFS_FUSE_LOOKUP,
	VOLFS_FUSE_FORGET,
	VOLFS_FUSE_BATCH_FORGET,
	VOLFS_FUSE_GETATTR,
	VOLFS_FUSE_SETATTR,
	VOLFS_FUSE_READLINK,
	VOLFS_FUSE_MKNOD,
	VOLFS_FUSE_MKDIR,
	VOLFS_FUSE_SYMLINK,
	VOLFS_FUSE_LINK,
	VOLFS_FUSE_UNLINK,
	VOLFS_FUSE_RMDIR,
	VOLFS_FUSE_RENAME,
	VOLFS_FUSE_OPEN,
	VOLFS_FUSE_CREATE,
	VOLFS_FUSE_READ,
	VOLFS_FUSE_WRITE,
	VOLFS_FUSE_FLUSH,
	VOLFS_FUSE_RELEASE,
	VOLFS_FUSE_FSYNC,
	VOLFS_FUSE_FALLOCATE,
	VOLFS_FUSE_LSEEK,
	VOLFS_FUSE_OPENDIR,
	VOLFS_FUSE_READDIR,
	VOLFS_FUSE_READDIRPLUS,
	VOLFS_FUSE_RELEASEDIR,
	VOLFS_FUSE_FSYNCDIR,
	VOLFS_FUSE_STATFS,
	VOLFS_FUSE_SETXATTR,
	VOLFS_FUSE_GETXATTR,
	VOLFS_FUSE_LISTXATTR,
	VOLFS_FUSE_REMOVEXATTR,
	VOLFS_FUSE_NOPS
};

/* Nonzero while FUSE requests are timed: set by volfs_metrics_start(). */
extern int volfs_metrics_timing_on;

/* Whether FUSE requests are to be timed; checked before anything else,
 * so that a request costs only this load when they are not. */
static inline int volfs_metrics_timing(void)
{
	return __atomic_load_n(&volfs_metrics_timing_on, __ATOMIC_RELAXED);
}

/*
 * Counts one request of op that started at start (CLOCK_MONOTONIC) and
 * ends now.  Any thread, no lock.
 */
void volfs_metrics_fuse_done(enum volfs_fuse_op op,
			     const struct timespec *start);

/*
 * Checks the address of a metrics endpoint: 127.0.0.1:PORT (any address
 * of 127.0.0.0/8), [::1]:PORT or unix:/PATH.  Anything else, every
 * address other hosts can reach included, is refused: the endpoint has no
 * authentication.  0, or -EINVAL with why in err.
 */
int volfs_metrics_check_addr(const char *addr, struct volfs_err *err);

struct volfs_metrics;

/*
 * Serves GET /metrics on addr (see volfs_metrics_check_addr()) from a
 * thread of its own, for the staged volumes of the catalog at root and the
 * FUSE requests of this process, which are timed from now on.  Returns 0
 * with the endpoint in *out, or -errno with why in err and nothing left
 * behind.
 */
int volfs_metrics_start(const char *addr, const char *root,
			struct volfs_metrics **out, struct volfs_err *err);

/* Stops serving (a unix socket is removed) and frees m; NULL is fine.
 * Requests stay timed: their handlers may still be running. */
void volfs_metrics_stop(struct volfs_metrics *m);

#endif /* VOLFS_METRICS_H */
