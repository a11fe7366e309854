/* SPDX-License-Identifier: MIT */
/*
 * The file system: one opened volume presented through FUSE at a directory.
 * src/fuse_ll.c implements it and is the only file that includes libfuse's
 * headers.
 */
#ifndef VOLFS_FS_H
#define VOLFS_FS_H

#include <sys/types.h>

#include "volfs/err.h"
#include "volfs/volume.h"

struct volfs_fs_config {
	/* Refuse every change with EROFS and mount read-only. */
	int readonly;
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
	/* Worker threads at most (0: default). */
	unsigned max_threads;
	/* Print every FUSE request (foreground only). */
	int debug;
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
 * Serves requests until the file system is unmounted or SIGINT, SIGTERM or
 * SIGHUP arrives.  Returns 0, or -errno if serving failed.
 */
int volfs_fs_run(struct volfs_fs *fs);

/* Unmounts (if still mounted) and frees fs. */
void volfs_fs_destroy(struct volfs_fs *fs);

#endif /* VOLFS_FS_H */
