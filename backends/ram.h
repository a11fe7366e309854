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

/* The module's entry point: ram's own table (the daemon store's ops). */
const struct volfs_backend *volfs_backend_ram(void);

/* Where a volume's files are kept (store=). */
enum ram_store {
	/* The tmpfs store where the process may make one, else the daemon's. */
	RAM_STORE_AUTO,
	RAM_STORE_TMPFS,
	RAM_STORE_DAEMON,
};

/* A ram volume's options, parsed (ram.c); both stores are made from them. */
struct ram_params {
	enum ram_store store;
	/* size=, in bytes. */
	uint64_t size;
	/* The root directory's mode and owner. */
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

/*
 * Makes a tmpfs instance of its own for the volume vi, reachable only
 * through the descriptor the volume state keeps, and opens the volume on
 * it: *vol is that state and *table the table serving it (the local ops
 * under ram's name and options).  On failure nothing is left, err says
 * why, and the return is -errno: -EPERM without CAP_SYS_ADMIN (not root),
 * -ENOSYS when the kernel or C library has no fsopen().
 */
int volfs_ram_tmpfs_open(const struct volfs_volinfo *vi,
			 const struct ram_params *t, void **vol,
			 const struct volfs_backend **table, char *err,
			 size_t errlen);

#endif /* VOLFS_BACKENDS_RAM_H */
