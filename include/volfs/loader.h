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
