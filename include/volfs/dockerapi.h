/* SPDX-License-Identifier: MIT */
/*
 * The Docker API client module.  Asking Docker which containers still use
 * which volumes needs an HTTP client (libcurl); it lives in a module of its
 * own, PKGLIBDIR/dockerapi.so ($VOLFS_DOCKERAPI_MODULE overrides the path),
 * so the core package does not pull libcurl.  The module exports
 * volfs_dockerapi(), returning a constant table.
 */
#ifndef VOLFS_DOCKERAPI_H
#define VOLFS_DOCKERAPI_H

#include <stddef.h>

#define VOLFS_DOCKERAPI_ABI 1

/* One volume mount of one container, as Docker reports it. */
struct volfs_docker_mount {
	/* The container's id and state ("running", "exited", ...). */
	const char *container;
	const char *state;
	/* The volume's name and its driver ("local", "volfs", ...). */
	const char *volume;
	const char *driver;
};

typedef void (*volfs_docker_mount_fn)(void *ctx,
				      const struct volfs_docker_mount *m);

struct volfs_dockerapi {
	unsigned abi_version;
	/*
	 * Asks Docker's API on the unix socket at path for every container,
	 * stopped ones included, and calls fn for each of their volume
	 * mounts.  Gives up after timeout_ms.  Returns the number of
	 * containers, or -errno with a message in err: -ECONNREFUSED or
	 * -ENOENT when Docker does not run there, -ETIMEDOUT, -EPROTO when
	 * the answer is not Docker's.  Strings passed to fn live until fn
	 * returns.
	 */
	int (*volume_mounts)(const char *path, long timeout_ms,
			     volfs_docker_mount_fn fn, void *ctx, char *err,
			     size_t errlen);
};

typedef const struct volfs_dockerapi *(*volfs_dockerapi_entry_fn)(void);

/* The module's one exported symbol. */
const struct volfs_dockerapi *volfs_dockerapi(void);

#endif /* VOLFS_DOCKERAPI_H */
