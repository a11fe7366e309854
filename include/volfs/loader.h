/* SPDX-License-Identifier: MIT */
/*
 * Finds and loads backend modules: DIR/NAME.so, where DIR is
 * $VOLFS_BACKEND_DIR or the install directory, exporting volfs_backend_NAME.
 */
#ifndef VOLFS_LOADER_H
#define VOLFS_LOADER_H

#include "volfs/backend.h"
#include "volfs/err.h"

/*
 * Loads backend name (once per process; later calls return the same table)
 * into *out.  Fails with -ENOENT when the module is missing, -EINVAL when the
 * name is not a backend name, -EPROTO when the module is not a volfs backend
 * or was built for another ABI; the message names the module, the directory
 * searched and what to do.
 */
int volfs_backend_load(const char *name, const struct volfs_backend **out,
		       struct volfs_err *err);

/*
 * Checks a backend table that module what (its path, for messages) gave,
 * from its entry point or from open_as(): its abi_version must be this
 * core's and its size at most this core's table.  A smaller table is
 * completed with absent (NULL) members.  Stores the table to use in *out:
 * 0, or -EPROTO (or -ENOMEM) with a message in err.
 */
int volfs_backend_table(const struct volfs_backend *be, const char *what,
			const struct volfs_backend **out, struct volfs_err *err);

/* The directory modules are loaded from. */
const char *volfs_backend_dir(void);

/*
 * Calls fn for each NAME.so in the backend directory that loads, in name
 * order.  Returns the number found or -errno.
 */
int volfs_backend_foreach(void (*fn)(const struct volfs_backend *be,
				     void *ctx),
			  void *ctx);

#endif /* VOLFS_LOADER_H */
