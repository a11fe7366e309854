/* SPDX-License-Identifier: MIT */
/*
 * Between ram.c (options, the daemon store) and ram_tmpfs.c (the tmpfs
 * store).
 */
#ifndef VOLFS_BACKENDS_RAM_H
#define VOLFS_BACKENDS_RAM_H

#include <stdint.h>
#include <sys/types.h>

#include "volfs/backend.h"

/* What a ram volume's tmpfs instance is made with. */
struct volfs_ram_tmpfs {
	/* Bytes of data. */
	uint64_t size;
	/* Files, directories and links: at most this many. */
	uint64_t inodes;
	/* The root directory's mode and owner. */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/*
 * Makes a tmpfs instance of its own for the volume vi, reachable only
 * through the descriptor the volume state keeps, and opens the volume on
 * it: *vol is that state and *table the table serving it (the local ops
 * under ram's name and options, taken from ram).  On failure nothing is
 * left, err says why, and the return is -errno: -EPERM
 * when the process may not make a file system (no CAP_SYS_ADMIN), -ENOSYS
 * when the kernel or C library has no fsopen().
 */
int volfs_ram_tmpfs_open(const struct volfs_volinfo *vi,
			 const struct volfs_ram_tmpfs *t,
			 const struct volfs_backend *ram, void **vol,
			 const struct volfs_backend **table, char *err,
			 size_t errlen);

#endif /* VOLFS_BACKENDS_RAM_H */
