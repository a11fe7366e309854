/* SPDX-License-Identifier: MIT */
/*
 * The local backend's ops, for a module that keeps a volume as a directory
 * tree it opened itself (ram in a private tmpfs instance).  Such a module
 * links local.c and serves the volume through volfs_backend_local()'s ops.
 */
#ifndef VOLFS_BACKENDS_LOCAL_H
#define VOLFS_BACKENDS_LOCAL_H

#include "volfs/backend.h"

/* What any directory tree served by these ops can do. */
#define VOLFS_LOCAL_TREE_CAPS                                                  \
	(VOLFS_CAP_HARDLINKS | VOLFS_CAP_SYMLINKS | VOLFS_CAP_XATTRS |         \
	 VOLFS_CAP_ATOMIC_RENAME | VOLFS_CAP_RANDOM_WRITE |                    \
	 VOLFS_CAP_THREADSAFE | VOLFS_CAP_REAL_FD | VOLFS_CAP_STABLE_INO |     \
	 VOLFS_CAP_OWNERSHIP | VOLFS_CAP_LOCAL_DATA)

const struct volfs_backend *volfs_backend_local(void);

/*
 * A volume state for the local ops over the directory rootfd (an O_PATH or
 * directory descriptor), which is VOLFS_ROOT_NODE, reporting caps from
 * volume_caps().  owner is the opening module's own state for the volume,
 * which volfs_local_owner() gives back (the local ops never touch it).  On
 * success the state owns rootfd and the local table's close() closes it
 * (with the nodes still held, if any); on failure (-ENOMEM, or fstat()'s
 * -errno for rootfd) the caller still owns it.
 */
int volfs_local_open_root(int rootfd, unsigned caps, void *owner, void **vol);

/* The owner given to volfs_local_open_root(); NULL for a local volume. */
void *volfs_local_owner(void *vol);

#endif /* VOLFS_BACKENDS_LOCAL_H */
