/* SPDX-License-Identifier: MIT */
/*
 * The file system: one opened volume presented through FUSE at a directory.
 * The FUSE glue (src/fuse_*.c, with src/ring.c) implements it and is the only
 * code that includes libfuse's headers.
 */
#ifndef VOLFS_FS_H
#define VOLFS_FS_H

#include <sys/types.h>

#include "volfs/err.h"
#include "volfs/volume.h"

struct volfs_fs_config {
	/* Refuse every change with EROFS and mount read-only. */
	int readonly;
	/* Mount with noexec: no program on the volume can be run. */
	int noexec;
	/* Let users other than the mounting one in (Docker needs it). */
	int allow_other;
	/* Present every file as owned by uid / gid when set. */
	int force_uid, force_gid;
	uid_t uid;
	gid_t gid;
	/* Kernel cache lifetimes in seconds; < 0 picks the default for the
	 * backend's capabilities. */
	double entry_timeout;
	double attr_timeout;
	/* Let the kernel gather writes in its page cache (volumes only volfs
	 * changes and without a size limit of their own): faster writes,
	 * slower stat() of files being written. */
	int writeback_cache;
	/* Worker threads at most (0: libfuse's default, 10, for one
	 * volume; FS_SERVE_THREADS for volfs_fs_mount_all()). */
	unsigned max_threads;
	/* FUSE over io_uring where the kernel offers it: 0 for volumes whose
	 * backend answers from this machine, 1 for any, -1 never. */
	int io_uring;
	/* Print every FUSE request (foreground only). */
	int debug;
	/* volfs_fs_mount_all(): seconds a volume may go unused before it is
	 * closed (0: the default, a minute). */
	unsigned idle_timeout;
};

/* Room for a volume's identity (struct volfs_volume.uuid) and its NUL. */
#define VOLFS_FS_ID_MAX 64

/*
 * Where volfs_fs_mount_all() finds its volumes (the catalog, for `volfs
 * serve`).  Called from many threads: the implementation serialises what
 * needs it.  A volume is known by its name and its identity: a volume
 * removed and created again under the same name is another volume.
 */
struct volfs_fs_source {
	void *ctx;
	/* Calls fn(arg, name, id) for every volume that can be served, id
	 * being its identity. */
	int (*list)(void *ctx,
		    void (*fn)(void *arg, const char *name, const char *id),
		    void *arg);
	/* Copies the identity of the servable volume name into id (size
	 * bytes): 0, or -ENOENT when there is none.  Never waits on a
	 * backend. */
	int (*ident)(void *ctx, const char *name, char *id, size_t size);
	/* Opens volume name for serving: -ENOENT when there is none.  May
	 * wait on a server for long: called with no lock of the fs held. */
	int (*open)(void *ctx, const char *name,
		    struct volfs_open_volume **ov, struct volfs_err *err);
	/* Optional: a descriptor that turns readable when the volumes may
	 * have changed (the janitor then looks at once, and drains it), or
	 * -1. */
	int (*watch)(void *ctx);
};

struct volfs_fs;

/*
 * Mounts ov at dir.  The mount exists when this returns 0; requests are
 * served once volfs_fs_run() runs.  ov stays owned by the caller and must
 * outlive the fs.
 */
int volfs_fs_mount(struct volfs_open_volume *ov, const char *dir,
		   const struct volfs_fs_config *cfg, struct volfs_fs **out,
		   struct volfs_err *err);

/*
 * Mounts every volume of src at dir, each as a directory named after it:
 * opened on first use, closed when unused for a while or removed.
 */
int volfs_fs_mount_all(const struct volfs_fs_source *src, const char *dir,
		       const struct volfs_fs_config *cfg,
		       struct volfs_fs **out, struct volfs_err *err);

/*
 * Serves requests until the file system is unmounted or SIGINT, SIGTERM or
 * SIGHUP arrives.  Returns 0, or -errno if serving failed.
 */
int volfs_fs_run(struct volfs_fs *fs);

/* Unmounts (if still mounted) and frees fs. */
void volfs_fs_destroy(struct volfs_fs *fs);

#endif /* VOLFS_FS_H */
